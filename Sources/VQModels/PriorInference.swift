import VQEngine
import VQLayers

/// Token-by-token inference of a `TokenPrior` with a key/value cache, in plain float32 arithmetic whose
/// every operation and summation order is fixed here: no BLAS, no threads, no libm. The same weights and
/// tokens give bit-identical logits in any build configuration, on any thread count, which is what coding
/// tokens with the prior's probabilities needs (`.vqc` method 4). Sampling uses it too, for the cache.
///
/// The results agree with the engine's batched forward pass to float rounding (about 1e-6 relative); they
/// are not bit-identical to it, and need not be: encoder and decoder both use this path.
public struct PriorWeights: Sendable {
    public let configuration: TokenPrior.Configuration
    let tokenEmbedding: [Float]      // [rows, D]
    let positionEmbedding: [Float]   // [L, D]
    let blocks: [Block]
    let finalNorm: Norm
    let head: Dense

    struct Norm: Sendable { let weight: [Float], bias: [Float], eps: Float }
    /// Linear layer [out, in] row-major, bias [out].
    struct Dense: Sendable { let weight: [Float], bias: [Float], inputs: Int, outputs: Int }
    struct Block: Sendable { let ln1: Norm, qkv: Dense, proj: Dense, ln2: Norm, fc1: Dense, fc2: Dense }

    /// A copy of the prior's current weights.
    public init(_ prior: TokenPrior) {
        configuration = prior.configuration
        func norm(_ n: LayerNorm) -> Norm { Norm(weight: n.weight.data, bias: n.bias.data, eps: n.eps) }
        func dense(_ l: Linear) -> Dense {
            Dense(weight: l.weight.data, bias: l.bias?.data ?? [Float](repeating: 0, count: l.weight.shape[0]),
                  inputs: l.weight.shape[1], outputs: l.weight.shape[0])
        }
        tokenEmbedding = prior.tokEmb.weight.data
        positionEmbedding = prior.posEmb.data
        blocks = prior.blocks.map { b in
            Block(ln1: norm(b.ln1), qkv: dense(b.attn.qkv), proj: dense(b.attn.proj), ln2: norm(b.ln2), fc1: dense(b.fc1), fc2: dense(b.fc2))
        }
        finalNorm = norm(prior.lnF)
        head = dense(prior.head)
    }
}

/// One sequence being decoded: feed tokens in order, read the logits of the next one.
public struct PriorSession: Sendable {
    public let weights: PriorWeights
    /// Tokens fed so far (the start token included).
    public private(set) var position = 0
    private var keys: [[Float]]    // per layer [L, D]
    private var values: [[Float]]

    public init(weights: PriorWeights) {
        self.weights = weights
        let c = weights.configuration
        keys = Array(repeating: [Float](repeating: 0, count: c.sequenceLength * c.dimension), count: c.layers)
        values = keys
    }

    /// Feeds `token` at the next position and returns the logits over the codebook for the token after it.
    /// The first token is the start token (`configuration.startToken(label:)`).
    public mutating func next(_ token: Int) -> [Float] {
        let c = weights.configuration
        precondition(position < c.sequenceLength, "PriorSession: the sequence already has \(c.sequenceLength) positions")
        precondition((0..<c.embeddingRows).contains(token), "PriorSession: token \(token) outside 0..<\(c.embeddingRows)")
        let d = c.dimension, t = position
        var h = [Float](repeating: 0, count: d)
        for i in 0..<d { h[i] = weights.tokenEmbedding[token * d + i] + weights.positionEmbedding[t * d + i] }
        let heads = c.heads, headSize = d / heads
        let scale = 1 / Float(headSize).squareRoot()
        for (layer, block) in weights.blocks.enumerated() {
            let qkv = Deterministic.linear(block.qkv, Deterministic.layerNorm(h, block.ln1))
            for i in 0..<d {
                keys[layer][t * d + i] = qkv[d + i]
                values[layer][t * d + i] = qkv[2 * d + i]
            }
            var mixed = [Float](repeating: 0, count: d)
            var scores = [Float](repeating: 0, count: t + 1)
            keys[layer].withUnsafeBufferPointer { k in
                values[layer].withUnsafeBufferPointer { v in
                    qkv.withUnsafeBufferPointer { q in
                        for head in 0..<heads {
                            let offset = head * headSize
                            for j in 0...t {
                                scores[j] = Deterministic.dot(q.baseAddress! + offset, k.baseAddress! + j * d + offset, headSize) * scale
                            }
                            Deterministic.softmaxInPlace(&scores)
                            for j in 0...t {
                                let p = scores[j]
                                for i in 0..<headSize { mixed[offset + i] += p * v[j * d + offset + i] }
                            }
                        }
                    }
                }
            }
            let attended = Deterministic.linear(block.proj, mixed)
            for i in 0..<d { h[i] += attended[i] }
            var hidden = Deterministic.linear(block.fc1, Deterministic.layerNorm(h, block.ln2))
            for i in 0..<hidden.count { hidden[i] = Deterministic.gelu(hidden[i]) }
            let out = Deterministic.linear(block.fc2, hidden)
            for i in 0..<d { h[i] += out[i] }
        }
        position += 1
        return Deterministic.linear(weights.head, Deterministic.layerNorm(h, weights.finalNorm))
    }
}

/// Float32 kernels with a fixed order of operations (see `PriorWeights`).
public enum Deterministic {
    /// Sum of a[i] * b[i] in eight interleaved partial sums (element i goes to sum i mod 8), combined as
    /// ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)), then the tail elements in order.
    /// Lane k of one SIMD8 accumulator is partial sum k: the same IEEE operations in the same order as eight
    /// scalar sums (Swift never fuses the multiply and the add), in one vector instruction per step.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var sums = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            let x = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            let y = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            sums = sums + x * y
            i += 8
        }
        var total = ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]))
        while i < n { total += a[i] * b[i]; i += 1 }
        return total
    }

    static func linear(_ layer: PriorWeights.Dense, _ x: [Float]) -> [Float] {
        precondition(x.count == layer.inputs)
        var y = [Float](repeating: 0, count: layer.outputs)
        layer.weight.withUnsafeBufferPointer { w in
            x.withUnsafeBufferPointer { xs in
                for o in 0..<layer.outputs { y[o] = dot(w.baseAddress! + o * layer.inputs, xs.baseAddress!, layer.inputs) + layer.bias[o] }
            }
        }
        return y
    }

    static func layerNorm(_ x: [Float], _ norm: PriorWeights.Norm) -> [Float] {
        let n = x.count
        var sum: Float = 0
        for v in x { sum += v }
        let mean = sum / Float(n)
        var squares: Float = 0
        for v in x { squares += (v - mean) * (v - mean) }
        let inverse = 1 / (squares / Float(n) + norm.eps).squareRoot()
        var y = [Float](repeating: 0, count: n)
        for i in 0..<n { y[i] = (x[i] - mean) * inverse * norm.weight[i] + norm.bias[i] }
        return y
    }

    /// exp(x) by Cody-Waite range reduction (x = n ln2 + r, |r| <= ln2 / 2) and a degree-7 Taylor polynomial;
    /// relative error below 1e-6 in the normal range (a few float ulps; tested). Used instead of libm, whose
    /// results may differ between versions.
    public static func exp(_ x: Float) -> Float {
        if x.isNaN { return x }
        if x < -103 { return 0 }
        if x > 88.72 { return .infinity }
        let n = (x * 1.442_695_04).rounded()
        let r = (x - n * 0.693_145_751_953_125) - n * 1.428_606_765_330_187e-06
        var p: Float = 1.0 / 5040
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // 2^n in two steps so that results in the subnormal range stay exact powers of two.
        let k = Int(n)
        let half = k / 2
        return p * Float(sign: .plus, exponent: half, significand: 1) * Float(sign: .plus, exponent: k - half, significand: 1)
    }

    /// erf by Abramowitz & Stegun 7.1.26 refined: erf(x) = 1 - t poly(t) exp(-x^2), t = 1 / (1 + p|x|)
    /// (1.5e-7 in exact arithmetic; below 1e-6 in float, tested).
    public static func erf(_ x: Float) -> Float {
        let a = abs(x)
        let t = 1 / (1 + 0.327_591_1 * a)
        var poly: Float = 1.061_405_429
        poly = poly * t - 1.453_152_027
        poly = poly * t + 1.421_413_741
        poly = poly * t - 0.284_496_736
        poly = poly * t + 0.254_829_592
        let y = 1 - poly * t * exp(-a * a)
        return x < 0 ? -y : y
    }

    /// Exact (erf) GELU: x/2 (1 + erf(x / sqrt 2)).
    public static func gelu(_ x: Float) -> Float { 0.5 * x * (1 + erf(x * 0.707_106_781_186_547_5)) }

    /// Softmax with the maximum subtracted, the exponentials summed in index order.
    public static func softmaxInPlace(_ x: inout [Float]) {
        guard var m = x.first else { return }
        for v in x where v > m { m = v }
        var sum: Float = 0
        for i in 0..<x.count {
            x[i] = exp(x[i] - m)
            sum += x[i]
        }
        let inverse = 1 / sum
        for i in 0..<x.count { x[i] *= inverse }
    }
}
