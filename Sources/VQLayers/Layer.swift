import VQEngine

/// A building block with parameters addressed by PyTorch `state_dict` paths ("fc1.weight",
/// "blocks.0.attn.qkv.bias"), so checkpoints convert to and from PyTorch without renaming.
public protocol Layer: AnyObject {
    /// Every parameter and buffer, by its dotted path relative to this layer, in a stable order.
    var namedParameters: [(name: String, tensor: Tensor)] { get }
}

extension Layer {
    /// The parameters alone, in `namedParameters` order.
    public var parameters: [Tensor] { namedParameters.map(\.tensor) }

    /// The total number of scalar parameters.
    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.tensor.count } }

    /// The parameter at `path`, if there is one.
    public func parameter(named path: String) -> Tensor? {
        namedParameters.first { $0.name == path }?.tensor
    }

    /// Clears every parameter's gradient.
    public func zeroGradients() {
        for p in parameters { p.zeroGrad() }
    }

    /// Overwrites parameters from `values` (path -> shape and elements). Every parameter must be present
    /// with its exact shape; extra entries are an error too, as `load_state_dict(strict=True)`.
    public func loadParameters(_ values: [String: (shape: [Int], data: [Float])]) throws(ParameterLoadError) {
        let own = namedParameters
        let ownNames = Set(own.map(\.name))
        let missing = own.map(\.name).filter { values[$0] == nil }
        let unexpected = values.keys.filter { !ownNames.contains($0) }.sorted()
        if !missing.isEmpty || !unexpected.isEmpty { throw .namesDiffer(missing: missing, unexpected: unexpected) }
        for (name, tensor) in own {
            let value = values[name]!
            if value.shape != tensor.shape { throw .shapeMismatch(name: name, expected: tensor.shape, found: value.shape) }
        }
        for (name, tensor) in own { tensor.data = values[name]!.data }
    }
}

/// Why parameters could not be loaded into a layer.
public enum ParameterLoadError: Error, CustomStringConvertible, Equatable {
    case namesDiffer(missing: [String], unexpected: [String])
    case shapeMismatch(name: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case let .namesDiffer(missing, unexpected):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
            if !unexpected.isEmpty { parts.append("unexpected \(unexpected.joined(separator: ", "))") }
            return "parameters do not match the model: \(parts.joined(separator: "; ")). Was the checkpoint made for another model or configuration?"
        case let .shapeMismatch(name, expected, found):
            return "parameter '\(name)' has shape \(found), the model expects \(expected). Check the model configuration."
        }
    }
}

/// The parameters of `child`, with `prefix.` in front of each path.
public func prefixed(_ prefix: String, _ child: any Layer) -> [(name: String, tensor: Tensor)] {
    child.namedParameters.map { ("\(prefix).\($0.name)", $0.tensor) }
}

/// Draws a parameter U(-bound, bound), PyTorch's default for linear and convolution layers
/// (kaiming_uniform with a = sqrt(5) gives bound = 1 / sqrt(fan_in) for weights; biases use the same bound).
func uniformParameter(_ shape: [Int], bound: Float, rng: inout RandomGenerator) -> Tensor {
    let t = rng.uniform(shape, low: -bound, high: bound)
    t.requiresGrad = true
    return t
}

func filledParameter(_ shape: [Int], _ value: Float) -> Tensor {
    Tensor(repeating: value, shape: shape, requiresGrad: true)
}
