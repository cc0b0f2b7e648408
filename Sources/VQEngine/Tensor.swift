/// A float32 tensor: contiguous, row-major storage (images are NCHW), with an optional gradient and the
/// tape entry that produced it.
///
/// Reverse-mode autodiff follows micrograd: every op that has an input requiring a gradient records its
/// inputs and a closure that pushes the output's gradient back into them. `backward()` sorts that graph
/// and runs the closures. Inside `Autograd.withoutRecording` (inference) no op records anything.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    /// Sizes of each axis, outermost first.
    public let shape: [Int]
    /// The elements in row-major order; `data.count == shape.product`.
    public var data: [Float]
    /// Whether gradients flow into this tensor. Parameters set it; op results inherit it.
    public var requiresGrad: Bool
    /// The accumulated gradient after `backward()`, same layout as `data`; `nil` until something flows in.
    public var grad: [Float]?
    /// Name of the op that produced this tensor ("leaf" for inputs and parameters), for messages.
    public let op: String

    var parents: [Tensor] = []
    var pushGradient: ((Tensor) -> Void)?

    /// A tensor of the given shape over `data` (row-major).
    public init(shape: [Int], data: [Float], requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative size in shape \(shape)")
        precondition(data.count == shape.elementCount,
                     "Tensor: shape \(shape) holds \(shape.elementCount) elements, but \(data.count) were given")
        self.shape = shape
        self.data = data
        self.requiresGrad = requiresGrad
        self.op = "leaf"
    }

    init(shape: [Int], data: [Float], op: String) {
        self.shape = shape
        self.data = data
        self.requiresGrad = false
        self.op = op
    }

    /// A tensor of zeros.
    public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.elementCount), requiresGrad: requiresGrad)
    }

    /// A tensor with every element equal to `value`.
    public convenience init(repeating value: Float, shape: [Int], requiresGrad: Bool = false) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.elementCount), requiresGrad: requiresGrad)
    }

    /// A rank-0 tensor holding one value.
    public convenience init(scalar value: Float) {
        self.init(shape: [], data: [value])
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }

    /// The single element of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar: needs a one-element tensor, found shape \(shape)")
        return data[0]
    }

    public var description: String {
        let head = data.prefix(6).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(\(shape), op: \(op), [\(head)\(count > 6 ? ", ..." : "")])"
    }

    /// The same values, cut off from the tape: gradients never flow through the result.
    public func detached() -> Tensor {
        Tensor(shape: shape, data: data, op: "detach")
    }

    // MARK: Gradient bookkeeping used by the ops' backward closures.

    /// Adds `gradient` into this tensor's gradient (taking it over when there was none).
    @inline(__always)
    func accumulate(_ gradient: [Float]) {
        guard requiresGrad else { return }
        if grad == nil {
            grad = gradient
        } else {
            add(gradient, into: &grad!)
        }
    }

    /// Runs `body` with this tensor's gradient buffer (zero-filled on first use), for kernels that
    /// accumulate in place.
    @inline(__always)
    func accumulateInPlace(_ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        guard requiresGrad else { return }
        if grad == nil { grad = [Float](repeating: 0, count: count) }
        grad!.withUnsafeMutableBufferPointer { body($0) }
    }

    /// Runs `body` with this tensor's gradient buffer and whether it is fresh. A fresh buffer is
    /// uninitialised: `body` must write every element (e.g. a GEMM with beta 0) instead of adding. This saves
    /// the zero-fill and the extra read of the usual first accumulation.
    @inline(__always)
    func accumulateInPlace(_ body: (UnsafeMutableBufferPointer<Float>, _ fresh: Bool) -> Void) {
        guard requiresGrad else { return }
        if grad == nil {
            grad = uninitializedFloats(count) { body($0, true) }
        } else {
            grad!.withUnsafeMutableBufferPointer { body($0, false) }
        }
    }

    /// Clears the gradient (optimisers call it between steps).
    public func zeroGrad() { grad = nil }

    /// Makes a tensor produced by `op` and, when recording and any input needs a gradient, puts it on the tape.
    static func recorded(_ op: String, shape: [Int], data: [Float], inputs: [Tensor],
                         backward: @escaping (Tensor) -> Void) -> Tensor {
        let result = Tensor(shape: shape, data: data, op: op)
        if Autograd.isRecording && inputs.contains(where: { $0.requiresGrad }) {
            result.requiresGrad = true
            result.parents = inputs
            result.pushGradient = backward
        }
        return result
    }
}

extension Array where Element == Int {
    /// The number of elements a tensor of this shape holds (1 for rank 0).
    public var elementCount: Int { reduce(1, *) }
}

@inline(__always)
func add(_ source: [Float], into target: inout [Float]) {
    precondition(source.count == target.count, "gradient of \(source.count) elements added to \(target.count)")
    source.withUnsafeBufferPointer { s in
        target.withUnsafeMutableBufferPointer { t in
            parallelRanges(t.count) { range in for i in range { t[i] += s[i] } }
        }
    }
}

/// Runs `body` with a pointer to the bias values, or nil without a bias.
@inline(__always)
func withBias<R>(_ bias: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let bias else { return body(nil) }
    return bias.data.withUnsafeBufferPointer { body($0.baseAddress!) }
}
