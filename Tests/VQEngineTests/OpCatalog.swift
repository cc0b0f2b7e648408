import Foundation
import VQEngine

/// The engine side of every op case, shared by the PyTorch fixture tests and the finite-difference checks.
/// Op names and parameter keys match Tools/reference/make_op_fixtures.py.

/// Parameters of a case, decoded from the fixture file's per-case JSON (`params`).
struct OpParams: Codable, Sendable, Equatable {
    var scalar: Float?
    var transposeSelf: Bool?
    var transposeOther: Bool?
    var stride: Int?
    var padding: Int?
    var outputPadding: Int?
    var slope: Float?
    var axis: Int?
    var axes: [Int]?
    var keepDims: Bool?
    var shape: [Int]?
    var order: [Int]?
    var a: Int?
    var b: Int?
    var start: Int?
    var length: Int?
    var sizes: [Int]?
    var scale: Int?
    var eps: Float?
    var groups: Int?
    var heads: Int?
    var reduction: String?
}

/// The integer input of ops that take one (embedding indices, class targets, gather indices).
struct IndexInput: Sendable, Equatable {
    var values: [Int]
    var shape: [Int]
}

struct OpCatalogError: Error, CustomStringConvertible {
    var description: String
}

enum OpCatalog {
    /// Runs `op` on `inputs` with the engine. Most ops give one output; `split` gives several.
    static func apply(_ op: String, _ p: OpParams, _ x: [Tensor], indices: IndexInput? = nil) throws -> [Tensor] {
        func need<T>(_ value: T?, _ key: String) throws -> T {
            guard let value else { throw OpCatalogError(description: "op \(op): parameter '\(key)' is missing") }
            return value
        }
        func index() throws -> IndexInput { try need(indices, "indices") }
        func reduction() throws -> Reduction {
            switch try need(p.reduction, "reduction") {
            case "mean": return .mean
            case "sum": return .sum
            case let other: throw OpCatalogError(description: "op \(op): unknown reduction \(other)")
            }
        }
        func optional(_ i: Int) -> Tensor? { x.count > i ? x[i] : nil }

        switch op {
        // Arithmetic
        case "add": return [x[0] + x[1]]
        case "sub": return [x[0] - x[1]]
        case "mul": return [x[0] * x[1]]
        case "div": return [x[0] / x[1]]
        case "neg": return [-x[0]]
        case "square": return [x[0].squared()]
        case "add_scalar": return [x[0] + (try need(p.scalar, "scalar"))]
        case "sub_scalar": return [x[0] - (try need(p.scalar, "scalar"))]
        case "rsub_scalar": return [(try need(p.scalar, "scalar")) - x[0]]
        case "mul_scalar": return [x[0] * (try need(p.scalar, "scalar"))]
        case "div_scalar": return [x[0] / (try need(p.scalar, "scalar"))]

        // Products
        case "matmul":
            return [x[0].matmul(x[1], transposeSelf: p.transposeSelf ?? false, transposeOther: p.transposeOther ?? false)]
        case "linear": return [x[0].linear(weight: x[1], bias: optional(2))]
        case "conv2d":
            return [x[0].conv2d(weight: x[1], bias: optional(2), stride: try need(p.stride, "stride"),
                                padding: try need(p.padding, "padding"))]
        case "conv_transpose2d":
            return [x[0].convTranspose2d(weight: x[1], bias: optional(2), stride: try need(p.stride, "stride"),
                                         padding: try need(p.padding, "padding"), outputPadding: p.outputPadding ?? 0)]

        // Elementwise functions
        case "relu": return [x[0].relu()]
        case "leaky_relu": return [x[0].leakyRelu(slope: p.slope ?? 0.01)]
        case "sigmoid": return [x[0].sigmoid()]
        case "tanh": return [x[0].tanh()]
        case "gelu": return [x[0].gelu()]
        case "silu": return [x[0].silu()]
        case "softplus": return [x[0].softplus()]
        case "exp": return [x[0].exp()]
        case "log": return [x[0].log()]
        case "sqrt": return [x[0].sqrt()]
        case "abs": return [x[0].abs()]

        // Reductions
        case "sum_axis": return [x[0].sum(axis: try need(p.axis, "axis"), keepDims: p.keepDims ?? false)]
        case "sum_axes": return [x[0].sum(axes: try need(p.axes, "axes"), keepDims: p.keepDims ?? false)]
        case "mean_axes": return [x[0].mean(axes: try need(p.axes, "axes"), keepDims: p.keepDims ?? false)]
        case "max_axis": return [x[0].max(axis: try need(p.axis, "axis"), keepDims: p.keepDims ?? false)]
        case "sum_all": return [x[0].sum()]
        case "mean_all": return [x[0].mean()]

        // Shape ops
        case "reshape": return [x[0].reshaped(try need(p.shape, "shape"))]
        case "permute": return [x[0].permuted(try need(p.order, "order"))]
        case "transpose": return [x[0].transposed(try need(p.a, "a"), try need(p.b, "b"))]
        case "slice":
            let start = try need(p.start, "start")
            return [x[0].slice(axis: try need(p.axis, "axis"), start..<(start + (try need(p.length, "length"))))]
        case "concat": return [concatenate(x, axis: try need(p.axis, "axis"))]
        case "split": return x[0].split(try need(p.sizes, "sizes"), axis: try need(p.axis, "axis"))
        case "upsample_nearest": return [x[0].upsampledNearest(scale: try need(p.scale, "scale"))]

        // Index ops
        case "embedding":
            let i = try index()
            return [x[0].embeddingLookup(i.values, indexShape: i.shape)]
        case "gather": return [x[0].gather(rows: try index().values)]

        // Softmax family
        case "softmax": return [x[0].softmax()]
        case "log_softmax": return [x[0].logSoftmax()]
        case "causal_softmax": return [x[0].causallyMasked().softmax()]
        case "causal_attention": return [x[0].causalSelfAttention(heads: try need(p.heads, "heads"))]

        // Normalisation
        case "layer_norm": return [x[0].layerNorm(weight: optional(1), bias: optional(2), eps: try need(p.eps, "eps"))]
        case "group_norm":
            return [x[0].groupNorm(groups: try need(p.groups, "groups"), weight: optional(1), bias: optional(2),
                                   eps: try need(p.eps, "eps"))]

        // Losses
        case "mse_loss": return [mseLoss(x[0], x[1], reduction: try reduction())]
        case "binary_cross_entropy": return [binaryCrossEntropy(x[0], x[1], reduction: try reduction())]
        case "binary_cross_entropy_with_logits":
            return [binaryCrossEntropyWithLogits(x[0], x[1], reduction: try reduction())]
        case "cross_entropy": return [crossEntropy(x[0], targets: try index().values, reduction: try reduction())]

        // Stop-gradient
        case "stop_gradient_mul": return [x[0].stopGradient() * x[1]]
        case "stop_gradient_self": return [x[0] * x[0].stopGradient()]

        // Composites: a tensor used several times, so gradients from several consumers must add up on the tape.
        case "self_matmul": return [x[0].matmul(x[0], transposeOther: true)]
        case "diamond":
            let a = x[0].tanh()
            return [a * a + a.matmul(x[1])]

        default:
            throw OpCatalogError(description: "unknown op '\(op)'")
        }
    }

    /// The integer-valued ops (no gradient).
    static func applyIndexOp(_ op: String, _ p: OpParams, _ x: Tensor) throws -> [Int] {
        guard let axis = p.axis else { throw OpCatalogError(description: "op \(op): parameter 'axis' is missing") }
        switch op {
        case "argmin": return x.argmin(axis: axis)
        case "argmax": return x.argmax(axis: axis)
        default: throw OpCatalogError(description: "unknown index op '\(op)'")
        }
    }

    /// Back-propagates `sum_i sum(outputs[i] * upstream[i])`: with one output through `backward(seed:)`,
    /// with several through that scalar built on the tape.
    static func backpropagate(_ outputs: [Tensor], upstream: [[Float]]) {
        precondition(outputs.count == upstream.count, "backpropagate: \(outputs.count) outputs, \(upstream.count) upstreams")
        if outputs.count == 1 {
            outputs[0].backward(seed: upstream[0])
            return
        }
        var total: Tensor?
        for (out, up) in zip(outputs, upstream) {
            let term = (out * Tensor(shape: out.shape, data: up)).sum()
            total = total.map { $0 + term } ?? term
        }
        total?.backward()
    }
}

/// The comparison used by the fixture tests: the largest absolute difference divided by the reference's
/// largest magnitude (floored at 1e-3, so all-zero or tiny references are compared absolutely at that scale).
/// Normalising by the whole tensor's scale, not per element, keeps elements that cancel to ~0 from dominating.
struct Discrepancy: CustomStringConvertible {
    var relativeError: Double
    var worstIndex: Int
    var actual: Double
    var expected: Double
    var shape: [Int]
    var description: String {
        "rel err \(String(format: "%.3g", relativeError)) at element \(coordinates(of: worstIndex, in: shape)) of shape \(shape): engine \(actual), reference \(expected)"
    }

    init(actual a: [Float], expected b: [Float], shape: [Int]) {
        self.shape = shape
        precondition(a.count == b.count, "Discrepancy: \(a.count) against \(b.count) elements")
        var scale = 1e-3
        for v in b { scale = Swift.max(scale, Swift.abs(Double(v))) }
        var worst = -1.0, index = 0
        for i in 0..<a.count {
            let d = Swift.abs(Double(a[i]) - Double(b[i]))
            let bad = d.isNaN || a[i].isNaN != b[i].isNaN
            if bad || d > worst { worst = bad ? .infinity : d; index = i }
            if bad { break }
        }
        relativeError = a.isEmpty ? 0 : worst / scale
        worstIndex = index
        actual = a.isEmpty ? 0 : Double(a[index])
        expected = b.isEmpty ? 0 : Double(b[index])
    }
}

/// The multi-index of flat row-major position `index` in `shape`, for messages.
func coordinates(of index: Int, in shape: [Int]) -> [Int] {
    var rest = index
    var result = [Int](repeating: 0, count: shape.count)
    for axis in stride(from: shape.count - 1, through: 0, by: -1) where shape[axis] > 0 {
        result[axis] = rest % shape[axis]
        rest /= shape[axis]
    }
    return result
}
