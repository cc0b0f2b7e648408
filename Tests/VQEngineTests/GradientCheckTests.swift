import Foundation
import Testing
import VQEngine

/// Finite-difference checks of every differentiable op, independent of PyTorch.
///
/// For a case with inputs x_k and a fixed random upstream u, the scalar loss is L = sum(op(x) * u), accumulated in
/// Double from the engine's float32 outputs. Each input element is perturbed by +-h (h = 1e-3 unless the case says
/// otherwise); the central difference divides by the perturbation actually stored in float32, not by the nominal
/// 2h. An element passes when |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|), with atol 1e-3
/// and rtol 1e-2: float32 rounding of the forward pass alone gives errors of about 1e-7 * |L| / h.
/// Inputs stay away from kinks (relu/abs at 0, max ties) by more than h.

/// How a case's input is drawn.
enum InputDraw: Sendable {
    case normal(std: Float)
    case uniform(Float, Float)
    /// |v| in [low, high], random sign: away from 0 (kinks, division).
    case awayFromZero(Float, Float)
    /// Distinct values spaced by at least `spacing`, in random order: no ties for max.
    case distinct(spacing: Float)
    case values([Float])
}

struct InputSpec: Sendable {
    var shape: [Int]
    var draw: InputDraw
    init(_ shape: [Int], _ draw: InputDraw = .normal(std: 1)) {
        self.shape = shape
        self.draw = draw
    }
}

struct GradientCase: Sendable, CustomTestStringConvertible {
    var name: String
    var op: String
    var params = OpParams()
    var inputs: [InputSpec]
    var indices: IndexInput?
    var step: Double = 1e-3
    /// Inputs whose gradient is compared with finite differences (default: all).
    var checked: [Int]?
    var testDescription: String { name }
}

/// A small convenience for building `OpParams` inline.
private func P(_ build: (inout OpParams) -> Void) -> OpParams {
    var p = OpParams()
    build(&p)
    return p
}

enum GradientCases {
    static let all: [GradientCase] = {
        var cases: [GradientCase] = []
        func add(_ name: String, _ op: String, _ inputs: [InputSpec], params: OpParams = OpParams(),
                 indices: IndexInput? = nil, step: Double = 1e-3, checked: [Int]? = nil) {
            cases.append(GradientCase(name: name, op: op, params: params, inputs: inputs, indices: indices, step: step,
                                      checked: checked))
        }

        // Arithmetic with broadcasting.
        for op in ["add", "sub", "mul", "div"] {
            let denominator: InputDraw = op == "div" ? .awayFromZero(0.5, 2) : .normal(std: 1)
            add("\(op) [2,3,4] by [3,1]", op, [InputSpec([2, 3, 4]), InputSpec([3, 1], denominator)])
            add("\(op) [2,3] by [3]", op, [InputSpec([2, 3]), InputSpec([3], denominator)])
            add("\(op) [3,1] by [2,3,4]", op, [InputSpec([3, 1]), InputSpec([2, 3, 4], denominator)])
            add("\(op) same shape", op, [InputSpec([2, 3]), InputSpec([2, 3], denominator)])
        }
        add("neg", "neg", [InputSpec([2, 3])])
        add("square", "square", [InputSpec([2, 3])])
        for (op, s) in [("add_scalar", Float(2.5)), ("sub_scalar", 0.75), ("rsub_scalar", 1.25), ("mul_scalar", -1.5),
                        ("div_scalar", 4)] {
            add(op, op, [InputSpec([2, 3])], params: P { $0.scalar = s })
        }

        // Matrix products.
        for (name, a, b, ts, to) in [
            ("matmul batched", [2, 3, 4], [2, 4, 2], false, false),
            ("matmul shared right", [2, 3, 4], [4, 2], false, false),
            ("matmul transposeSelf", [2, 4, 3], [2, 4, 2], true, false),
            ("matmul transposeOther", [2, 3, 4], [2, 2, 4], false, true),
            ("matmul both transposed", [2, 4, 3], [2, 2, 4], true, true),
            ("matmul shared transposeSelf", [2, 4, 3], [4, 2], true, false),
            ("matmul shared transposeOther", [2, 3, 4], [2, 4], false, true),
            ("matmul rank 4", [2, 1, 3, 2], [2, 1, 2, 3], false, false),
        ] {
            add(name, "matmul", [InputSpec(a), InputSpec(b)], params: P { $0.transposeSelf = ts; $0.transposeOther = to })
        }
        add("linear with bias", "linear", [InputSpec([2, 2, 3]), InputSpec([4, 3]), InputSpec([4])])
        add("linear without bias", "linear", [InputSpec([3, 3]), InputSpec([2, 3])])

        // Convolutions.
        for (name, x, w, bias, s, p) in [
            ("conv2d k4 s2 p1", [1, 2, 6, 6], [2, 2, 4, 4], true, 2, 1),
            ("conv2d k3 s1 p1", [2, 2, 4, 4], [3, 2, 3, 3], true, 1, 1),
            ("conv2d k3 s2 p0 non-square", [1, 2, 5, 7], [2, 2, 3, 3], true, 2, 0),
            ("conv2d k2x3 s1 p1 no bias", [1, 1, 4, 3], [2, 1, 2, 3], false, 1, 1),
            ("conv2d k1 s2 p1", [1, 2, 5, 4], [2, 2, 1, 1], true, 2, 1),
        ] {
            add(name, "conv2d", [InputSpec(x), InputSpec(w, .normal(std: 0.5))] + (bias ? [InputSpec([w[0]])] : []),
                params: P { $0.stride = s; $0.padding = p })
        }
        for (name, x, w, bias, s, p, op) in [
            ("conv_transpose2d k4 s2 p1", [1, 2, 3, 3], [2, 2, 4, 4], true, 2, 1, 0),
            ("conv_transpose2d k3 s1 p1", [2, 2, 3, 3], [2, 3, 3, 3], true, 1, 1, 0),
            ("conv_transpose2d k3 s2 p1 output padding 1", [1, 2, 3, 3], [2, 2, 3, 3], true, 2, 1, 1),
            ("conv_transpose2d k2x3 s2 p0 non-square no bias", [1, 2, 2, 3], [2, 1, 2, 3], false, 2, 0, 0),
        ] {
            add(name, "conv_transpose2d", [InputSpec(x), InputSpec(w, .normal(std: 0.5))] + (bias ? [InputSpec([w[1]])] : []),
                params: P { $0.stride = s; $0.padding = p; $0.outputPadding = op })
        }

        // Elementwise functions.
        add("relu", "relu", [InputSpec([3, 4], .awayFromZero(0.05, 2))])
        add("leaky_relu", "leaky_relu", [InputSpec([3, 4], .awayFromZero(0.05, 2))], params: P { $0.slope = 0.2 })
        add("sigmoid", "sigmoid", [InputSpec([3, 4], .normal(std: 3))])
        add("tanh", "tanh", [InputSpec([3, 4], .normal(std: 1.5))])
        add("gelu", "gelu", [InputSpec([3, 4], .normal(std: 2))])
        add("silu", "silu", [InputSpec([3, 4], .normal(std: 3))])
        add("softplus", "softplus", [InputSpec([2, 6], .values([-30, -5, -1, -0.2, 0.3, 2, 8, 15, 19.5, 20.6, 25, 35]))])
        add("exp", "exp", [InputSpec([3, 4], .uniform(-3, 3))])
        add("log", "log", [InputSpec([3, 4], .uniform(0.1, 5))])
        add("sqrt", "sqrt", [InputSpec([3, 4], .uniform(0.1, 5))])
        add("abs", "abs", [InputSpec([3, 4], .awayFromZero(0.05, 2))])

        // Reductions.
        add("sum axis 1", "sum_axis", [InputSpec([2, 3, 4])], params: P { $0.axis = 1 })
        add("sum axis -1 keepDims", "sum_axis", [InputSpec([2, 3, 4])], params: P { $0.axis = -1; $0.keepDims = true })
        add("sum axes [0, 2]", "sum_axes", [InputSpec([2, 3, 4])], params: P { $0.axes = [0, 2] })
        add("mean axes [1]", "mean_axes", [InputSpec([2, 3, 4])], params: P { $0.axes = [1] })
        add("mean axes [0, 2] keepDims", "mean_axes", [InputSpec([2, 3, 4])], params: P { $0.axes = [0, 2]; $0.keepDims = true })
        add("max axis 1", "max_axis", [InputSpec([2, 3, 4], .distinct(spacing: 0.05))], params: P { $0.axis = 1 })
        add("max axis -1 keepDims", "max_axis", [InputSpec([2, 3, 4], .distinct(spacing: 0.05))],
            params: P { $0.axis = -1; $0.keepDims = true })
        add("sum all", "sum_all", [InputSpec([2, 3, 4])])
        add("mean all", "mean_all", [InputSpec([2, 3, 4])])

        // Shape ops.
        add("reshape", "reshape", [InputSpec([2, 3, 2])], params: P { $0.shape = [3, -1] })
        add("permute", "permute", [InputSpec([2, 3, 2, 2])], params: P { $0.order = [0, 2, 3, 1] })
        add("transpose", "transpose", [InputSpec([2, 3, 4])], params: P { $0.a = 0; $0.b = 2 })
        add("slice axis 1", "slice", [InputSpec([2, 5, 2])], params: P { $0.axis = 1; $0.start = 1; $0.length = 3 })
        add("slice axis -1", "slice", [InputSpec([3, 4])], params: P { $0.axis = -1; $0.start = 2; $0.length = 2 })
        add("concat axis 1", "concat", [InputSpec([2, 1, 3]), InputSpec([2, 2, 3]), InputSpec([2, 3, 3])], params: P { $0.axis = 1 })
        add("concat axis 0", "concat", [InputSpec([1, 3]), InputSpec([2, 3])], params: P { $0.axis = 0 })
        add("split axis 1", "split", [InputSpec([2, 6, 2])], params: P { $0.sizes = [1, 3, 2]; $0.axis = 1 })
        add("upsample nearest x2", "upsample_nearest", [InputSpec([1, 2, 2, 3])], params: P { $0.scale = 2 })

        // Index ops.
        add("embedding with repeated indices", "embedding", [InputSpec([5, 3])],
            indices: IndexInput(values: [0, 3, 3, 4, 1, 3], shape: [2, 3]))
        add("gather rows", "gather", [InputSpec([3, 4])], indices: IndexInput(values: [2, 0, 2], shape: [3]))

        // Softmax family.
        add("softmax", "softmax", [InputSpec([2, 3, 5], .normal(std: 2))])
        add("log_softmax", "log_softmax", [InputSpec([2, 3, 5], .normal(std: 2))])
        add("causal mask + softmax", "causal_softmax", [InputSpec([2, 4, 4], .normal(std: 2))])
        add("causal self-attention, 2 heads", "causal_attention", [InputSpec([2, 5, 12], .normal(std: 1))],
            params: P { $0.heads = 2 })

        // Normalisation.
        add("layer_norm affine", "layer_norm",
            [InputSpec([2, 2, 5], .normal(std: 2)), InputSpec([5], .uniform(0.5, 1.5)), InputSpec([5])],
            params: P { $0.eps = 1e-5 })
        add("layer_norm plain", "layer_norm", [InputSpec([3, 4], .normal(std: 2))], params: P { $0.eps = 1e-5 })
        add("group_norm 2 groups affine", "group_norm",
            [InputSpec([2, 4, 2, 2], .normal(std: 2)), InputSpec([4], .uniform(0.5, 1.5)), InputSpec([4])],
            params: P { $0.groups = 2; $0.eps = 1e-5 })
        add("group_norm instance (4 groups)", "group_norm",
            [InputSpec([1, 4, 3, 2], .normal(std: 2)), InputSpec([4], .uniform(0.5, 1.5)), InputSpec([4])],
            params: P { $0.groups = 4; $0.eps = 1e-5 })
        add("group_norm 1 group plain", "group_norm", [InputSpec([2, 3, 4], .normal(std: 2))],
            params: P { $0.groups = 1; $0.eps = 1e-5 })

        // Losses, each reduction.
        for reduction in ["mean", "sum"] {
            let r = P { $0.reduction = reduction }
            add("mse_loss \(reduction)", "mse_loss", [InputSpec([2, 3]), InputSpec([2, 3])], params: r)
            add("binary_cross_entropy \(reduction)", "binary_cross_entropy",
                [InputSpec([2, 3], .uniform(0.05, 0.95)), InputSpec([2, 3], .uniform(0, 1))], params: r)
            add("binary_cross_entropy_with_logits \(reduction)", "binary_cross_entropy_with_logits",
                [InputSpec([2, 3], .normal(std: 3)), InputSpec([2, 3], .uniform(0, 1))], params: r)
            add("cross_entropy \(reduction)", "cross_entropy", [InputSpec([3, 4], .normal(std: 2))],
                params: r, indices: IndexInput(values: [1, 3, 1], shape: [3]))
        }

        // Stop-gradient: only the input that gradients may reach is checked numerically; `StopGradientTests`
        // asserts that the other receives exactly nothing.
        add("stopGradient(x) * y, gradient of y", "stop_gradient_mul", [InputSpec([2, 3]), InputSpec([2, 3])], checked: [1])

        // Composites: one tensor feeding several consumers.
        add("x matmul x^T (same tensor twice)", "self_matmul", [InputSpec([2, 3, 4])])
        add("diamond: tanh(x)^2 + tanh(x) W", "diamond", [InputSpec([3, 4]), InputSpec([4, 4])])
        return cases
    }()
}

/// The outcome of one finite-difference comparison.
struct GradientCheckResult {
    /// max over elements of |analytic - numeric| / (atol + rtol * max(|analytic|, |numeric|)); passes when <= 1.
    var worstRatio = 0.0
    var message = ""
}

enum GradientChecker {
    static let absoluteTolerance = 1e-3
    static let relativeTolerance = 1e-2

    static func draw(_ spec: InputSpec, _ rng: inout RandomGenerator) -> [Float] {
        let n = spec.shape.elementCount
        switch spec.draw {
        case let .normal(std): return rng.normal(spec.shape, std: std).data
        case let .uniform(low, high): return rng.uniform(spec.shape, low: low, high: high).data
        case let .awayFromZero(low, high):
            return (0..<n).map { _ in
                let v = low + (high - low) * rng.nextUnitFloat()
                return rng.nextUnitFloat() < 0.5 ? -v : v
            }
        case let .distinct(spacing):
            return rng.permutation(n).map { (Float($0) - Float(n) / 2) * spacing }
        case let .values(values):
            precondition(values.count == n, "InputSpec: \(values.count) values for shape \(spec.shape)")
            return values
        }
    }

    static func check(_ c: GradientCase, seed: UInt64 = 7) throws -> GradientCheckResult {
        var rng = RandomGenerator(seed: seed)
        let values = c.inputs.map { draw($0, &rng) }
        let shapes = c.inputs.map(\.shape)

        // Analytic gradients.
        let leaves = zip(shapes, values).map { Tensor(shape: $0, data: $1, requiresGrad: true) }
        let outputs = try OpCatalog.apply(c.op, c.params, leaves, indices: c.indices)
        let upstream = outputs.map { rng.normal($0.shape).data }
        OpCatalog.backpropagate(outputs, upstream: upstream)

        // The loss sum(out * upstream) in Double, with recording off.
        func loss(_ inputs: [[Float]]) throws -> Double {
            try Autograd.withoutRecording {
                let tensors = zip(shapes, inputs).map { Tensor(shape: $0, data: $1) }
                let outs = try OpCatalog.apply(c.op, c.params, tensors, indices: c.indices)
                var total = 0.0
                for (out, up) in zip(outs, upstream) {
                    for i in 0..<out.count { total += Double(out.data[i]) * Double(up[i]) }
                }
                return total
            }
        }

        var result = GradientCheckResult()
        for k in c.checked ?? Array(c.inputs.indices) {
            let analytic = leaves[k].grad ?? [Float](repeating: 0, count: values[k].count)
            var perturbed = values
            for i in 0..<values[k].count {
                let x = values[k][i]
                let plus = Float(Double(x) + c.step), minus = Float(Double(x) - c.step)
                perturbed[k][i] = plus
                let up = try loss(perturbed)
                perturbed[k][i] = minus
                let down = try loss(perturbed)
                perturbed[k][i] = x
                let numeric = (up - down) / (Double(plus) - Double(minus))
                let a = Double(analytic[i])
                let allowed = absoluteTolerance + relativeTolerance * Swift.max(Swift.abs(a), Swift.abs(numeric))
                let ratio = Swift.abs(a - numeric) / allowed
                if !(ratio <= result.worstRatio) {
                    result.worstRatio = ratio.isNaN ? .infinity : ratio
                    result.message = "input \(k) element \(coordinates(of: i, in: shapes[k])) (value \(x)): analytic \(a), numeric \(numeric)"
                }
            }
        }
        return result
    }
}

@Suite("Finite-difference gradient checks")
struct GradientCheckTests {
    @Test("analytic gradient matches central differences", arguments: GradientCases.all)
    func matchesFiniteDifferences(_ c: GradientCase) throws {
        let result = try GradientChecker.check(c)
        #expect(result.worstRatio <= 1, "\(c.name) [\(c.op)]: worst error \(String(format: "%.3g", result.worstRatio))x the tolerance at \(result.message)")
        if ProcessInfo.processInfo.environment["VQ_FIXTURE_REPORT"] != nil {
            print("[fd] \(c.op) \(c.name): worst \(String(format: "%.3g", result.worstRatio))x tolerance (\(result.message))")
        }
    }

    /// Every differentiable op of the catalog has at least one finite-difference case.
    @Test func everyOpIsCovered() {
        let covered = Set(GradientCases.all.map(\.op))
        let expected: Set<String> = [
            "add", "sub", "mul", "div", "neg", "square", "add_scalar", "sub_scalar", "rsub_scalar", "mul_scalar",
            "div_scalar", "matmul", "linear", "conv2d", "conv_transpose2d", "relu", "leaky_relu", "sigmoid", "tanh",
            "gelu", "silu", "softplus", "exp", "log", "sqrt", "abs", "sum_axis", "sum_axes", "mean_axes", "max_axis",
            "sum_all", "mean_all", "reshape", "permute", "transpose", "slice", "concat", "split", "upsample_nearest",
            "embedding", "gather", "softmax", "log_softmax", "causal_softmax", "causal_attention", "layer_norm", "group_norm", "mse_loss",
            "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "stop_gradient_mul",
            "self_matmul", "diamond",
        ]
        #expect(expected.subtracting(covered).isEmpty, "ops without a gradient check: \(expected.subtracting(covered).sorted())")
    }

    /// Gradients never pass through `stopGradient`: the stopped input receives none, the rest flows as usual.
    @Test func stopGradientBlocksGradients() {
        let x = Tensor(shape: [2, 2], data: [1, -2, 3, 0.5], requiresGrad: true)
        let y = Tensor(shape: [2, 2], data: [0.5, 1, -1, 2], requiresGrad: true)
        (x.stopGradient() * y).backward(seed: [1, 1, 1, 1])
        #expect(x.grad == nil || x.grad! == [0, 0, 0, 0], "stopGradient let \(x.grad ?? []) through")
        #expect(y.grad == [1, -2, 3, 0.5])

        // x * sg(x): d/dx = sg(x) only, not 2x.
        let z = Tensor(shape: [3], data: [1, 2, -3], requiresGrad: true)
        (z * z.stopGradient()).backward(seed: [1, 1, 1])
        #expect(z.grad == [1, 2, -3])

        // A stopped tensor alone produces nothing to back-propagate.
        let w = Tensor(shape: [2], data: [1, 2], requiresGrad: true)
        let stopped = w.stopGradient()
        #expect(!stopped.requiresGrad)
        stopped.backward(seed: [1, 1])
        #expect(w.grad == nil)
    }
}
