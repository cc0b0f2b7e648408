import Foundation
import VQCheckpoint
import VQEngine
import VQModels

/// The bounded-context priors that ship inside the package, by the tokenizer they model.
public enum BuiltinContextPrior: String, CaseIterable, Sendable {
    /// Over the `photo` tokenizer's residual levels, trained on BSDS500 (`Tools/train/photo-prior.sh`).
    case photo

    /// Resource name: `Models/<tokenizer>-prior.safetensors`.
    var resourceName: String { "\(rawValue)-prior" }
}

/// A trained `ContextPrior` ready for coding: its deterministic weights and the fingerprint that names it in
/// `.vqc` files. Immutable after loading; safe to share between threads.
public final class ContextPriorModel: @unchecked Sendable {
    /// The built-in name, or nil for a prior loaded from a checkpoint.
    public let name: String?
    public let model: ContextPrior
    public let weights: ContextPriorWeights
    /// Hex SHA-256 over the model kind and every tensor (name, shape, float32 bits) by sorted name.
    public let fingerprint: String
    public var configuration: ContextPrior.Configuration { model.configuration }

    public init(model: ContextPrior, name: String? = nil) {
        self.model = model
        self.name = name
        weights = ContextPriorWeights(model)
        fingerprint = priorFingerprint(model)
    }

    /// Loads the prior of a vqcodec checkpoint (HDF5 or weights-only safetensors).
    public convenience init(checkpoint url: URL, name: String? = nil) throws {
        self.init(model: try loadPrior(ContextPrior.self, from: url), name: name)
    }

    public static func builtinURL(_ builtin: BuiltinContextPrior) -> URL? { builtinModelURL(builtin.resourceName) }

    /// A built-in prior (loaded once per process).
    public static func builtin(_ builtin: BuiltinContextPrior) throws -> ContextPriorModel {
        try loadedBuiltins.value(for: builtin) {
            guard let url = builtinURL(builtin) else { throw PriorError.builtinMissing(name: builtin.rawValue) }
            return try ContextPriorModel(checkpoint: url, name: builtin.rawValue)
        }
    }

    private static let loadedBuiltins = LoadedOnce<BuiltinContextPrior, ContextPriorModel>()
}

extension ContextPriorModel {
    /// `count` token grids of `levels` x `height` x `width` drawn from the prior in coding order (level by level,
    /// raster order), at `temperature`. Grid i uses its own generator seeded from `seed` and i, so the result
    /// does not depend on how many threads share the work. Indices are level-major, then row-major.
    public func sample(count: Int, height: Int, width: Int, levels: Int, temperature: Float = 1, seed: UInt64 = 0) throws -> [[Int]] {
        let c = configuration
        guard temperature > 0, temperature.isFinite else { throw PriorError.invalidSampling("temperature \(temperature); expected a positive number") }
        guard (1...c.levels).contains(levels) else { throw PriorError.invalidSampling("levels \(levels); this prior models 1...\(c.levels)") }
        guard (1...512).contains(height), (1...512).contains(width) else {
            throw PriorError.invalidSampling("a \(height)x\(width) token grid; expected 1...512 on each side")
        }
        guard count >= 0 else { throw PriorError.invalidSampling("count \(count); expected 0 or more") }
        nonisolated(unsafe) let results = UnsafeMutableBufferPointer<[Int]>.allocate(capacity: count)
        results.initialize(repeating: [])
        defer { results.deallocate() }
        let weights = self.weights
        DispatchQueue.concurrentPerform(iterations: count) { i in
            var rng = RandomGenerator(seed: seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15)
            let plane = height * width
            var grid = [Int32](repeating: 0, count: levels * plane)
            var rows = [Int](repeating: 0, count: c.slots)
            for level in 0..<levels {
                for y in 0..<height {
                    for x in 0..<width {
                        var logits = weights.logits(at: level, y, x, of: grid, height: height, width: width, rows: &rows)
                        for k in 0..<logits.count { logits[k] /= temperature }
                        Deterministic.softmaxInPlace(&logits)
                        grid[level * plane + y * width + x] = Int32(drawIndex(logits, rng.nextUnitFloat()))
                    }
                }
            }
            results[i] = grid.map { Int($0) }
        }
        return Array(results)
    }
}
