import Foundation
import VQCheckpoint
import VQEngine
import VQModels

/// The autoregressive priors that ship inside the package, by the tokenizer they model.
public enum BuiltinPrior: String, CaseIterable, Sendable {
    /// A class-conditional TokenPrior over the `mnist` tokenizer's 7x7 grids (also usable without a class).
    case mnist

    /// Resource name: `Models/<tokenizer>-prior.safetensors`.
    var resourceName: String { "\(rawValue)-prior" }
}

/// Why a prior could not be loaded or used.
public enum PriorError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case notAPrior(path: String, kind: String)
    case builtinMissing(name: String)
    case classOutOfRange(requested: Int, classes: Int)
    case invalidSampling(String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "cannot load a prior from \(path): \(reason)"
        case let .notAPrior(path, kind):
            return "\(path) holds a '\(kind)' model, not a prior of the kind asked for; train one with `vqcodec train prior`"
        case let .builtinMissing(name):
            return "the built-in '\(name)' prior is not in this build's resources; run Tools/train/prior.sh to train and install it, or pass a checkpoint path"
        case let .classOutOfRange(requested, classes):
            return classes == 0 ? "class \(requested) requested, but this prior is unconditional; leave out --class"
                : "class \(requested) requested; this prior knows classes 0...\(classes - 1)"
        case let .invalidSampling(detail): return "invalid sampling settings: \(detail)"
        }
    }
}

/// A trained `TokenPrior` ready for inference: probabilities of the next token with a key/value cache, in
/// arithmetic that is bit-identical everywhere (`PriorSession`), sampling, and a fingerprint that names it
/// in `.vqc` files. Immutable after loading; safe to share between threads.
public final class Prior: @unchecked Sendable {
    /// The built-in name, or nil for a prior loaded from a checkpoint.
    public let name: String?
    public let model: TokenPrior
    public let weights: PriorWeights
    /// Hex SHA-256 over the model kind and every tensor (name, shape, float32 bits) by sorted name.
    public let fingerprint: String
    public var configuration: TokenPrior.Configuration { model.configuration }

    public init(model: TokenPrior, name: String? = nil) {
        self.model = model
        self.name = name
        weights = PriorWeights(model)
        fingerprint = priorFingerprint(model)
    }

    /// Loads the prior of a vqcodec checkpoint (HDF5 or weights-only safetensors).
    public convenience init(checkpoint url: URL, name: String? = nil) throws {
        self.init(model: try loadPrior(TokenPrior.self, from: url), name: name)
    }

    public static func builtinURL(_ builtin: BuiltinPrior) -> URL? { builtinModelURL(builtin.resourceName) }

    /// A built-in prior (loaded once per process).
    public static func builtin(_ builtin: BuiltinPrior) throws -> Prior {
        try loadedBuiltins.value(for: builtin) {
            guard let url = builtinURL(builtin) else { throw PriorError.builtinMissing(name: builtin.rawValue) }
            return try Prior(checkpoint: url, name: builtin.rawValue)
        }
    }

    private static let loadedBuiltins = LoadedOnce<BuiltinPrior, Prior>()

    /// A built-in name (`mnist`) or a checkpoint path.
    public static func named(_ spec: String) throws -> Prior {
        if let builtin = BuiltinPrior(rawValue: spec) { return try Prior.builtin(builtin) }
        return try Prior(checkpoint: URL(fileURLWithPath: spec))
    }

    /// The built-in tokenizer whose fingerprint this prior recorded, if this build ships it.
    public func builtinTokenizer() -> Tokenizer? { Tokenizer.builtin(fingerprint: configuration.tokenizerFingerprint) }

    /// `count` token sequences drawn from the prior, at `temperature`, from the `topK` most likely codes (nil:
    /// all), for class `label` (nil: unconditional). Sequence i uses its own generator seeded from `seed` and
    /// i, so the result does not depend on how many threads share the work.
    public func sample(count: Int, label: Int? = nil, temperature: Float = 1, topK: Int? = nil, seed: UInt64 = 0) throws -> [[Int]] {
        let c = configuration
        if let label, !(0..<c.classes).contains(label) { throw PriorError.classOutOfRange(requested: label, classes: c.classes) }
        guard temperature > 0, temperature.isFinite else { throw PriorError.invalidSampling("temperature \(temperature); expected a positive number") }
        if let topK, !(1...c.vocabulary).contains(topK) { throw PriorError.invalidSampling("top-k \(topK); expected 1...\(c.vocabulary)") }
        guard count >= 0 else { throw PriorError.invalidSampling("count \(count); expected 0 or more") }
        let start = c.startToken(label: label)
        nonisolated(unsafe) let results = UnsafeMutableBufferPointer<[Int]>.allocate(capacity: count)
        results.initialize(repeating: [])
        defer { results.deallocate() }
        let weights = self.weights
        DispatchQueue.concurrentPerform(iterations: count) { i in
            var rng = RandomGenerator(seed: seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15)
            var session = PriorSession(weights: weights)
            var token = start
            var sequence: [Int] = []
            for _ in 0..<c.sequenceLength {
                var logits = session.next(token)
                for k in 0..<logits.count { logits[k] /= temperature }
                if let topK, topK < logits.count {
                    let threshold = logits.sorted(by: >)[topK - 1]
                    for k in 0..<logits.count where logits[k] < threshold { logits[k] = -.infinity }
                }
                Deterministic.softmaxInPlace(&logits)
                token = drawIndex(logits, rng.nextUnitFloat())
                sequence.append(token)
            }
            results[i] = sequence
        }
        return Array(results)
    }
}

/// The index whose cumulative probability first exceeds `u` (uniform in [0, 1)); the last one if rounding leaves
/// the total below `u`.
func drawIndex(_ probabilities: [Float], _ u: Float) -> Int {
    var cumulative: Float = 0
    for k in 0..<probabilities.count {
        cumulative += probabilities[k]
        if u < cumulative { return k }
    }
    return probabilities.count - 1
}

/// Hex SHA-256 over the model's kind, a zero byte, then every tensor (name, shape, float32 bits) by sorted name:
/// what names a prior in `.vqc` files.
func priorFingerprint<M: ConfigurableModel>(_ model: M) -> String {
    var bytes: [UInt8] = Array(M.kind.utf8) + [0]
    for (tensorName, t) in model.namedParameters.sorted(by: { $0.name < $1.name }) {
        appendFingerprintBytes(name: tensorName, t, to: &bytes)
    }
    return SHA256.hex(bytes)
}

/// The prior of kind `M` in a vqcodec checkpoint (HDF5 or weights-only safetensors), with `PriorError`s.
func loadPrior<M: ConfigurableModel>(_ type: M.Type, from url: URL) throws -> M {
    let checkpoint: Checkpoint
    do { checkpoint = try Checkpoint(contentsOf: url) } catch {
        throw PriorError.unreadable(path: url.path, reason: error.description)
    }
    guard checkpoint.modelKind == M.kind else { throw PriorError.notAPrior(path: url.path, kind: checkpoint.modelKind) }
    do { return try checkpoint.makeModel(M.self) } catch {
        throw PriorError.unreadable(path: url.path, reason: "\(error)")
    }
}

