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

    public static func builtinURL(_ builtin: BuiltinContextPrior) -> URL? {
        Bundle.module.url(forResource: builtin.resourceName, withExtension: "safetensors", subdirectory: "Models")
    }

    /// A built-in prior (loaded once per process).
    public static func builtin(_ builtin: BuiltinContextPrior) throws -> ContextPriorModel {
        try ContextPriorCache.shared.get(builtin) {
            guard let url = builtinURL(builtin) else { throw PriorError.builtinMissing(name: builtin.rawValue) }
            return try ContextPriorModel(checkpoint: url, name: builtin.rawValue)
        }
    }
}

final class ContextPriorCache: @unchecked Sendable {
    static let shared = ContextPriorCache()
    private let lock = NSLock()
    private var loaded: [BuiltinContextPrior: ContextPriorModel] = [:]
    func get(_ b: BuiltinContextPrior, load: () throws -> ContextPriorModel) throws -> ContextPriorModel {
        try lock.withLock {
            if let model = loaded[b] { return model }
            let model = try load()
            loaded[b] = model
            return model
        }
    }
}
