import Foundation
import VQModels
import VQTokenizer

/// `.vqc` method 4: tokens arithmetic-coded with an autoregressive prior's next-token probabilities
/// (Formats/vqc.md). The probabilities come from `PriorSession`, whose float32 arithmetic is fixed
/// operation by operation, and are quantised to integer frequencies, so encoder and decoder build the same
/// tables whatever the thread count, BLAS or build configuration.
public struct PriorCoder: Sendable {
    public let prior: Prior
    /// The first bytes of the prior's fingerprint, as a file records them.
    public let fingerprintPrefix: [UInt8]

    public init(prior: Prior) {
        self.prior = prior
        fingerprintPrefix = Codec.fingerprintPrefix(prior.fingerprint)
    }

    /// Probabilities are scaled to this many units before `FrequencyTable` gives every code at least 1 of
    /// its 2^16 (Formats/vqc.md, method 4).
    static let probabilityScale: Float = 16_777_216  // 2^24

    /// Whether this prior can code a file with these levels made by the model with `modelFingerprint`.
    func covers(_ levels: [LevelShape], modelFingerprint: [UInt8]) -> Bool {
        let c = prior.configuration
        guard levels.count == 1, levels[0].count == c.sequenceLength, levels[0].codebookSize == c.vocabulary else { return false }
        if let recorded = c.tokenizerFingerprint { return Codec.fingerprintPrefix(recorded) == modelFingerprint }
        return true
    }

    /// The coding table for the token after those fed to `session` so far.
    static func table(_ logits: [Float]) -> FrequencyTable {
        var probabilities = logits
        Deterministic.softmaxInPlace(&probabilities)
        // A damaged prior can produce NaN; such codes get only the floor of one unit (never a trap).
        return FrequencyTable(counts: probabilities.map { p in p.isFinite && p > 0 ? UInt64((p * probabilityScale).rounded(.down)) : 0 })
    }

    /// The tables for coding `indices` (one per token), from an unconditional start (BOS).
    func tables(for indices: [Int]) -> [FrequencyTable] {
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

    /// The information content of `indices` under the coding tables, in bits: what an ideal coder would need.
    public func estimatedBits(_ indices: [Int]) -> Double { PriorCoder.bits(indices, tables: tables(for: indices)) }

    static func bits(_ indices: [Int], tables: [FrequencyTable]) -> Double {
        zip(indices, tables).reduce(0) { bits, pair in
            let (v, t) = pair
            return bits - log2(Double(t.cumulative[v + 1] - t.cumulative[v]) / Double(t.total))
        }
    }

    /// The built-in prior whose fingerprint starts with `prefix`, if this build ships it.
    static func shipped(fingerprintPrefix prefix: [UInt8]) -> PriorCoder? {
        ShippedPriors.shared.coders().first { $0.fingerprintPrefix == prefix }
    }

    /// The built-in prior that models `tokenizer`'s tokens, if any.
    public static func builtin(for tokenizer: Tokenizer) -> PriorCoder? {
        let fingerprint = Codec.fingerprintPrefix(tokenizer.fingerprint)
        return ShippedPriors.shared.coders().first { coder in
            coder.prior.configuration.tokenizerFingerprint.map { Codec.fingerprintPrefix($0) == fingerprint } ?? false
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
        let shape = LevelShape(height: gridHeight, width: gridWidth, codebookSize: coder.prior.configuration.vocabulary)
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
