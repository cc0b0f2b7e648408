import VQEngine

/// Layer normalisation over the last axis (PyTorch `nn.LayerNorm`; weight ones, bias zeros).
public final class LayerNorm: Layer {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(_ dimension: Int, eps: Float = 1e-5) {
        weight = filledParameter([dimension], 1)
        bias = filledParameter([dimension], 0)
        self.eps = eps
    }

    public var namedParameters: [(name: String, tensor: Tensor)] { [("weight", weight), ("bias", bias)] }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps) }
}

/// Group normalisation over [B, C, ...] (PyTorch `nn.GroupNorm`; per-channel weight ones, bias zeros).
public final class GroupNorm: Layer {
    public let groups: Int
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(groups: Int, channels: Int, eps: Float = 1e-5) {
        precondition(groups >= 1 && channels % groups == 0, "GroupNorm: \(channels) channels cannot form \(groups) groups")
        self.groups = groups
        weight = filledParameter([channels], 1)
        bias = filledParameter([channels], 0)
        self.eps = eps
    }

    public var namedParameters: [(name: String, tensor: Tensor)] { [("weight", weight), ("bias", bias)] }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.groupNorm(groups: groups, weight: weight, bias: bias, eps: eps) }
}
