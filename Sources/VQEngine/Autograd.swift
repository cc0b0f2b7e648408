/// Switches for the tape, and the reverse pass.
public enum Autograd {
    /// Whether ops record themselves for `backward()`. Task-local (thread-local outside tasks), so
    /// inference on one thread never affects training on another.
    @TaskLocal public static var isRecording = true

    /// Runs `body` with recording off: the inference mode, which builds no graph and keeps no closures.
    public static func withoutRecording<T>(_ body: () throws -> T) rethrows -> T {
        try $isRecording.withValue(false, operation: body)
    }
}

extension Tensor {
    /// Back-propagates from this tensor. Without `seed`, the tensor must hold one element and its gradient
    /// is taken as 1. Gradients accumulate into every tensor with `requiresGrad` that has no parents
    /// (parameters and inputs); intermediate gradients and the tape are released as the pass goes.
    public func backward(seed: [Float]? = nil) {
        if let seed {
            precondition(seed.count == count, "backward: seed has \(seed.count) elements, tensor has shape \(shape)")
        } else {
            precondition(count == 1, "backward: without a seed the tensor must be a scalar, found shape \(shape)")
        }
        guard requiresGrad else { return }
        let order = topologicalOrder()
        accumulate(seed ?? [1])
        for node in order.reversed() {
            guard let push = node.pushGradient else { continue }
            if node.grad != nil { push(node) }
            node.pushGradient = nil
            node.parents = []
            node.grad = nil
        }
    }

    /// Inputs before the ops that use them, iteratively (deep graphs must not overflow the stack).
    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            if !visited.insert(ObjectIdentifier(node)).inserted { continue }
            stack.append((node, true))
            for parent in node.parents where parent.requiresGrad && !visited.contains(ObjectIdentifier(parent)) {
                stack.append((parent, false))
            }
        }
        return order
    }
}
