import VQEngine
import VQLayers

/// A model that can be rebuilt from its kind and configuration, which is how checkpoints name it.
public protocol ConfigurableModel: Layer {
    associatedtype Configuration: Codable & Sendable & Equatable
    /// The model kind stored in checkpoints ("mlp-vae", "conv-vqvae", "token-prior").
    static var kind: String { get }
    var configuration: Configuration { get }
    /// A freshly initialised model (PyTorch's default initialisation, drawn from `rng`).
    init(configuration: Configuration, rng: inout RandomGenerator)
}

/// A scalar objective and the named terms it is made of (for logs, checks and fixtures).
public struct LossTerms {
    public let total: Tensor
    public let terms: [(name: String, value: Tensor)]

    public func term(_ name: String) -> Tensor? { terms.first { $0.name == name }?.value }
}
