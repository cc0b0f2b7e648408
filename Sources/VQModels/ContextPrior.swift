import VQEngine
import VQLayers

/// A prior over the token grids of a multi-level (residual) tokenizer with a bounded causal context, so that
/// images of any size can be coded: the token at level l, row y, column x is predicted from six neighbours
/// already coded at the same level (up-left, up, up-right, left, two left, two up) and from the tokens of
/// all lower levels at the same position. Each context slot has its own embedding table (one extra row,
/// `vocabulary`, for "outside the grid" or "level absent"); the concatenated embeddings go through
/// Linear -> + level embedding -> GELU -> Linear to the logits over the codebook.
///
/// Why this and not the transformer of `TokenPrior`: a photo's grid has thousands of tokens per level and
/// its size varies, so a full-sequence model would be slow and bounded in length; VQ tokens of photographs
/// depend mostly on their immediate surroundings and on the coarser levels at the same place, which this
/// context holds, and one step costs two small matrix-vector products.
public final class ContextPrior: ConfigurableModel {
    public struct Configuration: Codable, Sendable, Equatable {
        public var vocabulary = 512
        /// Residual levels modelled (level l sees levels 0..<l at its position).
        public var levels = 4
        public var embedding = 32
        public var hiddenSize = 256
        /// The hex fingerprint of the tokenizer whose tokens this prior models, when known.
        public var tokenizerFingerprint: String?

        public init(vocabulary: Int = 512, levels: Int = 4, embedding: Int = 32, hiddenSize: Int = 256, tokenizerFingerprint: String? = nil) {
            self.vocabulary = vocabulary
            self.levels = levels
            self.embedding = embedding
            self.hiddenSize = hiddenSize
            self.tokenizerFingerprint = tokenizerFingerprint
        }

        /// The same-level neighbours (row offset, column offset), all before the token in raster order.
        /// Fixed: `.vqc` method 5 depends on it.
        public static let neighbours: [(dy: Int, dx: Int)] = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, -2), (-2, 0)]
        /// Context slots: the neighbours, then one per lower level.
        public var slots: Int { Self.neighbours.count + levels - 1 }
        /// The token standing for "outside the grid" or "level absent".
        public var noneToken: Int { vocabulary }
        /// Rows of each slot's embedding table.
        public var rowsPerSlot: Int { vocabulary + 1 }
    }

    public static let kind = "context-prior"
    public let configuration: Configuration
    /// All slots' tables stacked: slot s, token t is row s * (vocabulary + 1) + t.
    public let embeddings: Embedding
    public let levelEmbedding: Embedding
    public let fc1: Linear
    public let head: Linear

    public init(configuration: Configuration = .init(), rng: inout RandomGenerator) {
        self.configuration = configuration
        let c = configuration, std: Float = 0.02
        embeddings = Embedding(c.slots * c.rowsPerSlot, c.embedding, std: std, rng: &rng)
        levelEmbedding = Embedding(c.levels, c.hiddenSize, std: std, rng: &rng)
        fc1 = Linear(c.slots * c.embedding, c.hiddenSize, normalStd: std, rng: &rng)
        head = Linear(c.hiddenSize, c.vocabulary, normalStd: std, rng: &rng)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        prefixed("emb", embeddings) + prefixed("level_emb", levelEmbedding) + prefixed("fc1", fc1) + prefixed("head", head)
    }

    /// Writes the context rows (already offset into `embeddings`) of the token at (`level`, `y`, `x`) of a grid
    /// to `rows[0..<slots]`. `indices` is level-major then row-major (`TokenGrid`); only tokens before this one
    /// in coding order (all of lower levels, earlier positions of this level) are read.
    @inline(__always)
    public static func contextRows(_ indices: UnsafeBufferPointer<Int32>, height: Int, width: Int, level: Int, y: Int, x: Int,
                                   configuration c: Configuration, into rows: UnsafeMutablePointer<Int>) {
        let plane = height * width
        for (s, offset) in Configuration.neighbours.enumerated() {
            let (ny, nx) = (y + offset.dy, x + offset.dx)
            let inside = ny >= 0 && nx >= 0 && nx < width
            rows[s] = s * c.rowsPerSlot + (inside ? Int(indices[level * plane + ny * width + nx]) : c.noneToken)
        }
        for lower in 0..<(c.levels - 1) {
            let s = Configuration.neighbours.count + lower
            rows[s] = s * c.rowsPerSlot + (lower < level ? Int(indices[lower * plane + y * width + x]) : c.noneToken)
        }
    }

    /// Logits [N, vocabulary] for N contexts (`rows`: N x slots, from `contextRows`) at `levels` (N).
    public func logits(rows: [Int], levels: [Int]) -> Tensor {
        let c = configuration, n = levels.count
        precondition(rows.count == n * c.slots, "ContextPrior: \(rows.count) context rows for \(n) tokens of \(c.slots) slots")
        let x = embeddings(rows, shape: [n, c.slots]).reshaped([n, c.slots * c.embedding])
        return head((fc1(x) + levelEmbedding(levels, shape: [n])).gelu())
    }

    /// Mean cross-entropy (nats per token) of `targets`. Term: "cross_entropy".
    public func loss(rows: [Int], levels: [Int], targets: [Int]) -> LossTerms {
        let ce = crossEntropy(logits(rows: rows, levels: levels), targets: targets)
        return LossTerms(total: ce, terms: [("cross_entropy", ce)])
    }
}

/// A `ContextPrior`'s weights for coding: logits in the fixed float32 arithmetic of `Deterministic`, the
/// same on every machine, build and thread count (`.vqc` method 5).
public struct ContextPriorWeights: Sendable {
    public let configuration: ContextPrior.Configuration
    let embeddings: [Float]       // [slots * (vocabulary + 1), E]
    let levelEmbedding: [Float]   // [levels, H]
    let fc1: PriorWeights.Dense
    let head: PriorWeights.Dense

    public init(_ prior: ContextPrior) {
        configuration = prior.configuration
        embeddings = prior.embeddings.weight.data
        levelEmbedding = prior.levelEmbedding.weight.data
        func dense(_ l: Linear) -> PriorWeights.Dense {
            PriorWeights.Dense(weight: l.weight.data, bias: l.bias?.data ?? [Float](repeating: 0, count: l.weight.shape[0]),
                               inputs: l.weight.shape[1], outputs: l.weight.shape[0])
        }
        fc1 = dense(prior.fc1)
        head = dense(prior.head)
    }

    /// The logits for one context (`rows`: `slots` rows from `ContextPrior.contextRows`) at `level`:
    /// hidden[o] = gelu((dot(fc1[o], x) + fc1.bias[o]) + level_emb[level][o]), logits[k] = dot(head[k], hidden) + head.bias[k].
    public func logits(rows: UnsafePointer<Int>, level: Int) -> [Float] {
        let c = configuration, e = c.embedding
        var x = [Float](repeating: 0, count: c.slots * e)
        for s in 0..<c.slots {
            let row = rows[s] * e
            for i in 0..<e { x[s * e + i] = embeddings[row + i] }
        }
        var hidden = Deterministic.linear(fc1, x)
        for o in 0..<hidden.count { hidden[o] = Deterministic.gelu(hidden[o] + levelEmbedding[level * c.hiddenSize + o]) }
        return Deterministic.linear(head, hidden)
    }

    /// The logits for the token at (`level`, `y`, `x`) of `grid` (level-major, then row-major), from the tokens
    /// before it in coding order; `rows` is scratch space of `slots` entries.
    public func logits(at level: Int, _ y: Int, _ x: Int, of grid: [Int32], height: Int, width: Int, rows: inout [Int]) -> [Float] {
        grid.withUnsafeBufferPointer { g in
            rows.withUnsafeMutableBufferPointer { r in
                ContextPrior.contextRows(g, height: height, width: width, level: level, y: y, x: x, configuration: configuration, into: r.baseAddress!)
                return logits(rows: UnsafePointer(r.baseAddress!), level: level)
            }
        }
    }
}
