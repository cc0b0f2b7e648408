import Foundation
import VQModels
import VQTokenizer

/// `.vqc` methods 4 and 5: tokens arithmetic-coded with a prior's probabilities (Formats/vqc.md): method 4
/// with a `TokenPrior` over one fixed-size grid (next-token probabilities from `PriorSession`), method 5 with
/// a `ContextPrior` over the residual levels of a grid of any size. The float32 arithmetic of both is fixed
/// operation by operation, and the probabilities are quantised to integer frequencies, so encoder and decoder
/// build the same tables whatever the thread count, BLAS or build configuration.
public struct PriorCoder: Sendable {
    public enum Model: Sendable {
        case sequence(Prior)
        case context(ContextPriorModel)
    }
    public let model: Model
    /// The first bytes of the prior's fingerprint, as a file records them.
    public let fingerprintPrefix: [UInt8]

    public init(prior: Prior) {
        model = .sequence(prior)
        fingerprintPrefix = Codec.fingerprintPrefix(prior.fingerprint)
    }

    public init(contextPrior: ContextPriorModel) {
        model = .context(contextPrior)
        fingerprintPrefix = Codec.fingerprintPrefix(contextPrior.fingerprint)
    }

    /// The method of the files this coder writes.
    public var method: EntropyMethod {
        if case .context = model { return .contextPrior }
        return .prior
    }

    /// The transformer prior (method 4), if that is what this coder uses.
    public var prior: Prior? {
        if case let .sequence(prior) = model { return prior }
        return nil
    }

    public var fingerprint: String {
        switch model {
        case let .sequence(prior): return prior.fingerprint
        case let .context(prior): return prior.fingerprint
        }
    }

    /// What grids the prior codes, for error messages.
    var coverage: String {
        switch model {
        case let .sequence(prior):
            return "one level of \(prior.configuration.sequenceLength) tokens of \(prior.configuration.vocabulary) codes, for the model it was trained on"
        case let .context(prior):
            return "1 to \(prior.configuration.levels) levels of any size with \(prior.configuration.vocabulary) codes, for the model it was trained on"
        }
    }

    /// Probabilities are scaled to this many units before `FrequencyTable` gives every code at least 1 of
    /// its 2^16 (Formats/vqc.md, method 4).
    static let probabilityScale: Float = 16_777_216  // 2^24

    /// Whether this prior can code a file with these levels made by the model with `modelFingerprint`.
    func covers(_ levels: [LevelShape], modelFingerprint: [UInt8]) -> Bool {
        let recorded: String?
        switch model {
        case let .sequence(prior):
            let c = prior.configuration
            guard levels.count == 1, levels[0].count == c.sequenceLength, levels[0].codebookSize == c.vocabulary else { return false }
            recorded = c.tokenizerFingerprint
        case let .context(prior):
            let c = prior.configuration
            guard (1...c.levels).contains(levels.count), levels.allSatisfy({ $0.codebookSize == c.vocabulary }),
                  levels.allSatisfy({ $0.height == levels[0].height && $0.width == levels[0].width }) else { return false }
            recorded = c.tokenizerFingerprint
        }
        if let recorded { return ContainerHeader.fingerprint(modelFingerprint, matches: Codec.fingerprintPrefix(recorded)) }
        return true
    }

    /// The payload for `indices` (one array per level, row-major).
    func encode(levels: [LevelShape], indices: [[Int]]) -> [UInt8] {
        switch model {
        case .sequence: return encode(indices[0])
        case let .context(prior): return ContextCoding.encode(indices, levels: levels, weights: prior.weights)
        }
    }

    /// The indices of each level from a payload of this coder's method.
    func decode(_ payload: [UInt8], levels: [LevelShape]) throws(ContainerError) -> [[Int]] {
        switch model {
        case .sequence: return [try decode(payload, count: levels[0].count)]
        case let .context(prior): return try ContextCoding.decode(payload, levels: levels, weights: prior.weights)
        }
    }

    /// The information content of `indices` under the coding tables, in bits.
    public func estimatedBits(levels: [LevelShape], indices: [[Int]]) -> Double {
        switch model {
        case .sequence: return estimatedBits(indices[0])
        case let .context(prior):
            let tables = ContextCoding.tables(indices, levels: levels, weights: prior.weights)
            return PriorCoder.bits(indices.flatMap { $0 }, tables: tables)
        }
    }

    /// The coding table for the token after those fed to `session` so far.
    static func table(_ logits: [Float]) -> FrequencyTable {
        var probabilities = logits
        Deterministic.softmaxInPlace(&probabilities)
        // A damaged prior can produce NaN; such codes get only the floor of one unit (never a trap).
        return FrequencyTable(counts: probabilities.map { p in p.isFinite && p > 0 ? UInt64((p * probabilityScale).rounded(.down)) : 0 })
    }

    /// The tables for coding `indices` (one per token), from an unconditional start (BOS) (method 4).
    func tables(for indices: [Int]) -> [FrequencyTable] {
        guard let prior = self.prior else { preconditionFailure("PriorCoder: method 4 needs a transformer prior; use the levels variants for a context prior") }
        var session = PriorSession(weights: prior.weights)
        var token = prior.configuration.beginToken
        var tables: [FrequencyTable] = []
        tables.reserveCapacity(indices.count)
        for index in indices {
            tables.append(PriorCoder.table(session.next(token)))
            token = index
        }
        return tables
    }

    func encode(_ indices: [Int]) -> [UInt8] { PriorCoder.encode(indices, tables: tables(for: indices)) }

    static func encode(_ indices: [Int], tables: [FrequencyTable]) -> [UInt8] {
        var encoder = ArithmeticEncoder()
        for (index, table) in zip(indices, tables) { encoder.encode(index, table) }
        return encoder.finish()
    }

    func decode(_ payload: [UInt8], count: Int) throws(ContainerError) -> [Int] {
        guard let prior = self.prior else { preconditionFailure("PriorCoder: method 4 needs a transformer prior; use the levels variants for a context prior") }
        var decoder = ArithmeticDecoder(payload)
        var session = PriorSession(weights: prior.weights)
        var token = prior.configuration.beginToken
        var indices: [Int] = []
        indices.reserveCapacity(count)
        for _ in 0..<count {
            token = decoder.decode(PriorCoder.table(session.next(token)))
            indices.append(token)
        }
        guard decoder.overrun == 0 else { throw .payloadCorrupt("the prior-coded tokens end early") }
        return indices
    }

    /// The information content of one grid of `indices` under a transformer prior's tables (method 4), in bits: what an
    /// ideal coder would need. Context priors: `estimatedBits(levels:indices:)`.
    public func estimatedBits(_ indices: [Int]) -> Double { PriorCoder.bits(indices, tables: tables(for: indices)) }

    static func bits(_ indices: [Int], tables: [FrequencyTable]) -> Double {
        zip(indices, tables).reduce(0) { bits, pair in
            let (v, t) = pair
            return bits - log2(Double(t.cumulative[v + 1] - t.cumulative[v]) / Double(t.total))
        }
    }

    /// The built-in prior whose fingerprint starts with `prefix`, if this build ships it.
    static func shipped(fingerprintPrefix prefix: [UInt8]) -> PriorCoder? {
        ShippedPriors.shared.coders().first { ContainerHeader.fingerprint(prefix, matches: $0.fingerprintPrefix) }
    }

    /// The tokenizer fingerprint the prior recorded.
    var tokenizerFingerprint: String? {
        switch model {
        case let .sequence(prior): return prior.configuration.tokenizerFingerprint
        case let .context(prior): return prior.configuration.tokenizerFingerprint
        }
    }

    /// The built-in prior that models `tokenizer`'s tokens, if any.
    public static func builtin(for tokenizer: Tokenizer) -> PriorCoder? {
        let fingerprint = Codec.fingerprintPrefix(tokenizer.fingerprint)
        return ShippedPriors.shared.coders().first { coder in
            coder.tokenizerFingerprint.map { Codec.fingerprintPrefix($0) == fingerprint } ?? false
        }
    }
}

/// The built-in priors of this build, loaded on first use.
final class ShippedPriors: @unchecked Sendable {
    static let shared = ShippedPriors()
    private let lock = NSLock()
    private var loaded: [PriorCoder]?

    func coders() -> [PriorCoder] {
        lock.withLock {
            if loaded == nil {
                loaded = BuiltinPrior.allCases.compactMap { builtin in
                    guard Prior.builtinURL(builtin) != nil, let prior = try? Prior.builtin(builtin) else { return nil }
                    return PriorCoder(prior: prior)
                } + BuiltinContextPrior.allCases.compactMap { builtin in
                    guard ContextPriorModel.builtinURL(builtin) != nil, let prior = try? ContextPriorModel.builtin(builtin) else { return nil }
                    return PriorCoder(contextPrior: prior)
                }
            }
            return loaded!
        }
    }
}

/// Real file sizes of token grids under each payload method, beside the prior's ideal code length: what
/// `vqcodec eval prior` reports.
public struct PriorCodingReport: Codable, Sendable {
    public var images: Int
    /// Mean whole-file bytes (header, payload and checksum) per method.
    public var zstdFileBytes: Double
    public var statisticsFileBytes: Double?
    public var priorFileBytes: Double
    /// Mean payload bytes of the prior-coded files, and the mean ideal code length under the quantised tables.
    public var priorPayloadBytes: Double
    public var estimatedBits: Double
    /// The largest excess of a payload over ceil(estimated bits / 8), in bytes.
    public var worstExcessBytes: Int
    public var priorToZstd: Double { priorFileBytes / zstdFileBytes }

    /// Codes each grid (one level, `gridHeight` x `gridWidth`, row-major) of `tokenizer`'s tokens as the file of
    /// an image of the size they decode to, with methods 0, 3 (when the model's statistics ship) and 4.
    public static func measure(coder: PriorCoder, tokenizer: Tokenizer, grids: [[Int]], gridHeight: Int, gridWidth: Int) throws -> PriorCodingReport {
        guard let prior = coder.prior else { throw ContainerError.priorUnusable(fingerprint: String(tokenizer.fingerprint.prefix(16))) }
        let shape = LevelShape(height: gridHeight, width: gridWidth, codebookSize: prior.configuration.vocabulary)
        let (width, height, channels) = (gridWidth * tokenizer.downsampling, gridHeight * tokenizer.downsampling, tokenizer.channels)
        let fingerprint = Codec.fingerprintPrefix(tokenizer.fingerprint)
        guard coder.covers([shape], modelFingerprint: fingerprint) else { throw ContainerError.priorUnusable(fingerprint: String(tokenizer.fingerprint.prefix(16))) }
        let statistics = TokenStatistics.shipped(fingerprintPrefix: fingerprint)
        let rows = try parallelMap(grids.count) { i -> Result<(Int, Int?, Int, Int, Double), Error> in
            Result {
                func fileBytes(_ method: EntropyMethod) throws -> Int {
                    try ContainerFile.encode(fingerprint: fingerprint, modelName: tokenizer.name, width: width, height: height, channels: channels,
                                             levels: [shape], indices: [grids[i]], method: method, statistics: statistics).count
                }
                // One pass of the prior gives both the payload and its ideal length; the file is its header,
                // that payload and the 4-byte checksum.
                let tables = coder.tables(for: grids[i])
                let payload = PriorCoder.encode(grids[i], tables: tables)
                let header = ContainerHeader(method: .prior, fingerprint: fingerprint, priorFingerprint: coder.fingerprintPrefix,
                                             modelName: tokenizer.name, width: width, height: height, channels: channels,
                                             levels: [shape], payloadLength: payload.count)
                return (try fileBytes(.zstd), statistics == nil ? nil : try fileBytes(.statistics),
                        header.serialized().count + payload.count + 4, payload.count, PriorCoder.bits(grids[i], tables: tables))
            }
        }.map { try $0.get() }
        let n = Double(max(1, rows.count))
        return PriorCodingReport(images: rows.count, zstdFileBytes: Double(rows.reduce(0) { $0 + $1.0 }) / n,
                                 statisticsFileBytes: statistics == nil ? nil : Double(rows.reduce(0) { $0 + ($1.1 ?? 0) }) / n,
                                 priorFileBytes: Double(rows.reduce(0) { $0 + $1.2 }) / n,
                                 priorPayloadBytes: Double(rows.reduce(0) { $0 + $1.3 }) / n,
                                 estimatedBits: rows.reduce(0) { $0 + $1.4 } / n,
                                 worstExcessBytes: rows.map { $0.3 - Int(($0.4 / 8).rounded(.up)) }.max() ?? 0)
    }
}
