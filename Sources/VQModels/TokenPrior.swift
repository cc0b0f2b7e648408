import VQEngine
import VQLayers

/// One pre-LayerNorm transformer block: x + attn(ln1(x)), then x + fc2(gelu(fc1(ln2(x)))).
public final class TransformerBlock: Layer {
    public let ln1: LayerNorm
    public let attn: CausalSelfAttention
    public let ln2: LayerNorm
    public let fc1, fc2: Linear

    public init(dimension: Int, heads: Int, hiddenSize: Int, initStd: Float, rng: inout RandomGenerator) {
        ln1 = LayerNorm(dimension)
        attn = CausalSelfAttention(dimension: dimension, heads: heads, initStd: initStd, rng: &rng)
        ln2 = LayerNorm(dimension)
        fc1 = Linear(dimension, hiddenSize, normalStd: initStd, rng: &rng)
        fc2 = Linear(hiddenSize, dimension, normalStd: initStd, rng: &rng)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        prefixed("ln1", ln1) + prefixed("attn", attn) + prefixed("ln2", ln2) + prefixed("fc1", fc1) + prefixed("fc2", fc2)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = x + attn(ln1(x))
        return h + fc2(fc1(ln2(h)).gelu())
    }
}

/// A small causal transformer over a token grid in raster order: input [BOS, t0 .. t(n-2)], target
/// [t0 .. t(n-1)], so position i predicts token i from the tokens before it.
public final class TokenPrior: ConfigurableModel {
    public struct Configuration: Codable, Sendable, Equatable {
        public var vocabulary = 512
        public var sequenceLength = 49
        public var dimension = 128
        public var heads = 4
        public var layers = 2
        public var hiddenSize = 512
        /// Classes of a class-conditional prior (0: unconditional). Class c starts a sequence with token
        /// `vocabulary + 1 + c` instead of BOS; BOS stays usable for "class unknown".
        public var classes = 0
        /// The hex fingerprint of the tokenizer whose tokens this prior models, when known.
        public var tokenizerFingerprint: String?

        public init(vocabulary: Int = 512, sequenceLength: Int = 49, dimension: Int = 128, heads: Int = 4,
                    layers: Int = 2, hiddenSize: Int = 512, classes: Int = 0, tokenizerFingerprint: String? = nil) {
            self.vocabulary = vocabulary
            self.sequenceLength = sequenceLength
            self.dimension = dimension
            self.heads = heads
            self.layers = layers
            self.hiddenSize = hiddenSize
            self.classes = classes
            self.tokenizerFingerprint = tokenizerFingerprint
        }
        /// The begin-of-sequence token, one past the codebook.
        public var beginToken: Int { vocabulary }
        /// The first input token for `label` (nil: unconditional, BOS).
        public func startToken(label: Int?) -> Int {
            guard let label, classes > 0 else { return beginToken }
            precondition((0..<classes).contains(label), "TokenPrior: class \(label) outside 0..<\(classes)")
            return vocabulary + 1 + label
        }
        /// Rows of the token embedding: codes, BOS, classes.
        public var embeddingRows: Int { vocabulary + 1 + classes }

        private enum CodingKeys: String, CodingKey {
            case vocabulary, sequenceLength, dimension, heads, layers, hiddenSize, classes, tokenizerFingerprint
        }

        // The two later fields are optional in JSON and omitted at their defaults, so the reference
        // architecture's configuration reads and writes exactly as before.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            vocabulary = try c.decode(Int.self, forKey: .vocabulary)
            sequenceLength = try c.decode(Int.self, forKey: .sequenceLength)
            dimension = try c.decode(Int.self, forKey: .dimension)
            heads = try c.decode(Int.self, forKey: .heads)
            layers = try c.decode(Int.self, forKey: .layers)
            hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
            classes = try c.decodeIfPresent(Int.self, forKey: .classes) ?? 0
            tokenizerFingerprint = try c.decodeIfPresent(String.self, forKey: .tokenizerFingerprint)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(vocabulary, forKey: .vocabulary)
            try c.encode(sequenceLength, forKey: .sequenceLength)
            try c.encode(dimension, forKey: .dimension)
            try c.encode(heads, forKey: .heads)
            try c.encode(layers, forKey: .layers)
            try c.encode(hiddenSize, forKey: .hiddenSize)
            if classes != 0 { try c.encode(classes, forKey: .classes) }
            try c.encodeIfPresent(tokenizerFingerprint, forKey: .tokenizerFingerprint)
        }
    }

    public static let kind = "token-prior"
    public let configuration: Configuration
    public let tokEmb: Embedding
    public let posEmb: Tensor
    public let blocks: [TransformerBlock]
    public let lnF: LayerNorm
    public let head: Linear

    /// GPT-style initialisation: linear and embedding weights N(0, 0.02), biases 0.
    public init(configuration: Configuration = .init(), rng: inout RandomGenerator) {
        self.configuration = configuration
        let c = configuration, std: Float = 0.02
        tokEmb = Embedding(c.embeddingRows, c.dimension, std: std, rng: &rng)
        posEmb = rng.normal([c.sequenceLength, c.dimension], std: std)
        posEmb.requiresGrad = true
        blocks = (0..<c.layers).map { _ in
            TransformerBlock(dimension: c.dimension, heads: c.heads, hiddenSize: c.hiddenSize, initStd: std, rng: &rng)
        }
        lnF = LayerNorm(c.dimension)
        head = Linear(c.dimension, c.vocabulary, normalStd: std, rng: &rng)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        var all = prefixed("tok_emb", tokEmb) + [("pos_emb", posEmb)]
        for (i, block) in blocks.enumerated() { all += prefixed("blocks.\(i)", block) }
        return all + prefixed("ln_f", lnF) + prefixed("head", head)
    }

    /// Logits [B, T, vocabulary] for input tokens [B, T] (row-major), T <= sequenceLength.
    public func logits(inputs: [Int], batch: Int) -> Tensor {
        let t = inputs.count / batch
        precondition(t * batch == inputs.count && t <= configuration.sequenceLength,
                     "TokenPrior: \(inputs.count) tokens do not form \(batch) sequences of at most \(configuration.sequenceLength)")
        var x = tokEmb(inputs, shape: [batch, t]) + (t == configuration.sequenceLength ? posEmb : posEmb.slice(axis: 0, 0..<t))
        for block in blocks { x = block(x) }
        return head(lnF(x))
    }

    /// The model's input for token sequences [B, n]: BOS (or the class token of `labels[b]`; a nil or
    /// negative label means unconditional) followed by all but the last token.
    public func shiftedInputs(_ tokens: [Int], batch: Int, labels: [Int]? = nil) -> [Int] {
        let n = tokens.count / batch
        var inputs = [Int]()
        inputs.reserveCapacity(tokens.count)
        for b in 0..<batch {
            let label = labels.flatMap { $0[b] >= 0 ? $0[b] : nil }
            inputs.append(configuration.startToken(label: label))
            inputs.append(contentsOf: tokens[(b * n)..<(b * n + n - 1)])
        }
        return inputs
    }

    /// Mean cross-entropy (nats per token) of predicting `tokens` [B, sequenceLength]. Term: "cross_entropy".
    public func loss(tokens: [Int], batch: Int, labels: [Int]? = nil) -> LossTerms {
        let logits = logits(inputs: shiftedInputs(tokens, batch: batch, labels: labels), batch: batch)
        let ce = crossEntropy(logits.reshaped([-1, configuration.vocabulary]), targets: tokens)
        return LossTerms(total: ce, terms: [("cross_entropy", ce)])
    }
}
