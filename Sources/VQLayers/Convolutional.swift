import VQEngine

/// 2-D convolution over NCHW images (PyTorch `nn.Conv2d`; weight [out, in, kh, kw]).
public final class Conv2d: Layer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int

    /// PyTorch's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in * k * k.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, rng: inout RandomGenerator) {
        let bound = 1 / Float(inChannels * kernelSize * kernelSize).squareRoot()
        weight = uniformParameter([outChannels, inChannels, kernelSize, kernelSize], bound: bound, rng: &rng)
        self.bias = bias ? uniformParameter([outChannels], bound: bound, rng: &rng) : nil
        self.stride = stride
        self.padding = padding
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding)
    }

    /// The convolution followed by ReLU, fused (the same values and gradients as `self(x).relu()`).
    public func withReLU(_ x: Tensor) -> Tensor {
        x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding, relu: true)
    }
}

/// Transposed 2-D convolution (PyTorch `nn.ConvTranspose2d`; weight [in, out, kh, kw]).
public final class ConvTranspose2d: Layer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int
    public let outputPadding: Int

    /// PyTorch's default initialisation, whose fan_in for this layer is out * k * k (weight.size(1) * k * k).
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                outputPadding: Int = 0, bias: Bool = true, rng: inout RandomGenerator) {
        let bound = 1 / Float(outChannels * kernelSize * kernelSize).squareRoot()
        weight = uniformParameter([inChannels, outChannels, kernelSize, kernelSize], bound: bound, rng: &rng)
        self.bias = bias ? uniformParameter([outChannels], bound: bound, rng: &rng) : nil
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.convTranspose2d(weight: weight, bias: bias, stride: stride, padding: padding, outputPadding: outputPadding)
    }

    /// The transposed convolution followed by ReLU, fused (the same values and gradients as `self(x).relu()`).
    public func withReLU(_ x: Tensor) -> Tensor {
        x.convTranspose2d(weight: weight, bias: bias, stride: stride, padding: padding, outputPadding: outputPadding, relu: true)
    }
}
