import Foundation
import VQEngine

/// y = x W^T + b over the last axis (PyTorch `nn.Linear`; weight [out, in]).
public final class Linear: Layer {
    public let weight: Tensor
    public let bias: Tensor?

    /// PyTorch's default initialisation: weight and bias U(-1/sqrt(in), 1/sqrt(in)).
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout RandomGenerator) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = uniformParameter([outFeatures, inFeatures], bound: bound, rng: &rng)
        self.bias = bias ? uniformParameter([outFeatures], bound: bound, rng: &rng) : nil
    }

    /// Initialisation N(0, std) for the weight and zero bias (GPT-style models).
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, normalStd std: Float, rng: inout RandomGenerator) {
        weight = rng.normal([outFeatures, inFeatures], std: std)
        weight.requiresGrad = true
        self.bias = bias ? filledParameter([outFeatures], 0) : nil
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.linear(weight: weight, bias: bias) }
}

/// A lookup table of `count` vectors of size `dimension` (PyTorch `nn.Embedding`, default init N(0, 1)).
public final class Embedding: Layer {
    public let weight: Tensor

    public init(_ count: Int, _ dimension: Int, std: Float = 1, rng: inout RandomGenerator) {
        weight = rng.normal([count, dimension], std: std)
        weight.requiresGrad = true
    }

    public var namedParameters: [(name: String, tensor: Tensor)] { [("weight", weight)] }

    /// The rows for `indices`, shaped `shape + [dimension]`.
    public func callAsFunction(_ indices: [Int], shape: [Int]) -> Tensor {
        weight.embeddingLookup(indices, indexShape: shape)
    }
}
