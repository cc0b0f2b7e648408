import Foundation
import VQEngine
import VQLayers
import VQModels

/// A model's weights and, optionally, the rest of a training run's state, as vqcodec stores them.
/// `Formats/checkpoint.md` specifies the HDF5 layout; `write(to:)` and `init(contentsOf:)` choose HDF5 or
/// safetensors by the file's extension and contents.
public struct Checkpoint: Sendable, Equatable {
    /// The value of the root attribute `format`.
    public static let formatName = "vqcodec-checkpoint"
    /// The layout version this code writes and the newest it reads.
    public static let formatVersion = 1
    /// Recorded in every checkpoint (`software_version`).
    public static let softwareVersion = "vqcodec 0.1.0"

    /// The model kind ("mlp-vae", "conv-vqvae", "token-prior"); empty when the source (a plain safetensors
    /// `state_dict`) does not record one.
    public var modelKind: String
    /// The model configuration as JSON; empty when unknown.
    public var modelConfiguration: String
    public var softwareVersion: String
    /// Creation time, ISO 8601 in UTC.
    public var created: String
    public var formatVersion: Int
    /// Every parameter and buffer, by `state_dict` path, in the model's order.
    public var tensors: [NamedTensor]
    public var optimizer: OptimizerState?
    public var training: TrainingState?

    public init(modelKind: String, modelConfiguration: String, tensors: [NamedTensor], optimizer: OptimizerState? = nil,
                training: TrainingState? = nil, softwareVersion: String = Checkpoint.softwareVersion,
                created: String = Checkpoint.timestamp(), formatVersion: Int = Checkpoint.formatVersion) {
        self.modelKind = modelKind
        self.modelConfiguration = modelConfiguration
        self.tensors = tensors
        self.optimizer = optimizer
        self.training = training
        self.softwareVersion = softwareVersion
        self.created = created
        self.formatVersion = formatVersion
    }

    /// A snapshot of `model` (copies of its float32 weights), with its optimiser and run state if given.
    public init<M: ConfigurableModel>(model: M, optimizer: Adam? = nil, training: TrainingState? = nil) {
        self.init(modelKind: M.kind, modelConfiguration: ModelRegistry.configurationJSON(of: model),
                  tensors: model.namedParameters.map { NamedTensor(name: $0.name, tensor: StoredTensor(float32: $0.tensor.data, shape: $0.tensor.shape)) },
                  optimizer: optimizer.map { OptimizerState($0, model: model) }, training: training)
    }

    /// The current time as ISO 8601 UTC ("2025-01-31T12:00:00Z").
    public static func timestamp(_ date: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// The model tensor at `path`, if present.
    public func tensor(named path: String) -> StoredTensor? {
        tensors.first { $0.name == path }?.tensor
    }

    /// Total elements of the model tensors.
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.tensor.elementCount } }

    /// The same checkpoint without optimiser and training state.
    public var weightsOnly: Checkpoint {
        var copy = self
        copy.optimizer = nil
        copy.training = nil
        return copy
    }

    /// Floating-point model tensors converted to `dtype` (round to nearest even); integer tensors and the
    /// optimiser and training state are unchanged, so a resumed run stays exact.
    public func converted(to dtype: TensorDType) -> Checkpoint {
        var copy = self
        copy.tensors = tensors.map { NamedTensor(name: $0.name, tensor: $0.tensor.converted(to: dtype)) }
        return copy
    }

    // MARK: Models

    /// Overwrites `model`'s parameters, as `load_state_dict(strict=True)`: every parameter present with its
    /// shape and a floating-point type, nothing extra. Nothing is changed unless everything matches.
    public func load(into model: any Layer) throws(CheckpointError) {
        let own = model.namedParameters
        let known = Set(own.map(\.name))
        let extra = tensors.map(\.name).filter { !known.contains($0) }
        let byName = Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { first, _ in first })
        var values: [[Float]] = []
        for (name, parameter) in own {
            guard let stored = byName[name] else { throw .missingTensor(name: name) }
            guard stored.shape == parameter.shape else { throw .shapeMismatch(name: name, expected: parameter.shape, found: stored.shape) }
            // float32 tensors read from HDF5 are arrays already: the parameter shares it (copy on write).
            values.append(try stored.float32Values(name: name))
        }
        if !extra.isEmpty { throw .unexpectedTensors(names: extra) }
        // Everything matched: now overwrite.
        for ((_, parameter), data) in zip(own, values) { parameter.data = data }
    }

    /// Loads the weights of the checkpoint at `url` into `model`, reading float32 tensors of an HDF5
    /// checkpoint straight into new parameter arrays (the fastest way to load a model; optimiser and training
    /// state are not read). The same checks as `init(contentsOf:)` and `load(into:)` apply, including the
    /// model kind; nothing is changed unless every tensor was read and verified.
    public static func loadWeights(from url: URL, into model: any Layer) throws(CheckpointError) {
        guard case .hdf5 = try CheckpointSource.detect(url.path) else {
            try Checkpoint(contentsOf: url).load(into: model)
            return
        }
        let reader = try HDF5CheckpointReader(path: url.path)
        if let configurable = model as? any ConfigurableModel, type(of: configurable).kind != reader.header["model_kind"] {
            throw .invalidMetadata(name: "model_kind", detail: "'\(reader.header["model_kind"] ?? "")'; expected '\(type(of: configurable).kind)'")
        }
        let entries = Dictionary(try reader.entries(in: Layout.model).map { (String($0.path.dropFirst(Layout.model.count + 1)), $0) },
                                 uniquingKeysWith: { first, _ in first })
        let own = model.namedParameters
        let known = Set(own.map(\.name))
        for (name, parameter) in own {
            guard let entry = entries[name] else { throw .missingTensor(name: name) }
            guard entry.shape == parameter.shape else { throw .shapeMismatch(name: name, expected: parameter.shape, found: entry.shape) }
        }
        let extra = entries.keys.filter { !known.contains($0) }.sorted()
        if !extra.isEmpty { throw .unexpectedTensors(names: extra) }
        let values = try reader.readFloat32(own.map { entries[$0.name]! })
        for ((_, parameter), data) in zip(own, values) { parameter.data = data }
    }

    /// The recorded model, rebuilt from its kind and configuration and loaded with these weights.
    public func makeModel() throws(CheckpointError) -> any Layer {
        guard !modelKind.isEmpty else {
            throw .invalidMetadata(name: "model_kind", detail: "the file does not name its model kind; convert it with --model-kind and --model-config")
        }
        let model = try ModelRegistry.makeModel(kind: modelKind, configurationJSON: modelConfiguration)
        try load(into: model)
        return model
    }

    /// The recorded model as `M`; fails when the checkpoint holds another kind.
    public func makeModel<M: ConfigurableModel>(_ type: M.Type) throws(CheckpointError) -> M {
        guard modelKind == M.kind else {
            throw .invalidMetadata(name: "model_kind", detail: "'\(modelKind)'; expected '\(M.kind)'")
        }
        try ModelRegistry.validate(kind: modelKind, configurationJSON: modelConfiguration)
        var rng = RandomGenerator(seed: 0)
        let model = M(configuration: try ModelRegistry.decode(M.Configuration.self, kind: modelKind, json: modelConfiguration), rng: &rng)
        try load(into: model)
        return model
    }

    /// The optimiser for `model` (already loaded from this checkpoint), continuing where it stopped.
    public func makeOptimizer(for model: any Layer) throws(CheckpointError) -> Adam {
        guard let optimizer else { throw .invalidMetadata(name: "optimizer", detail: "the checkpoint holds no optimizer state (saved weights-only)") }
        return try optimizer.makeOptimizer(for: model)
    }

    /// Checks names and shapes against the model the checkpoint names, without loading (verify, convert).
    public func checkCompleteness() throws(CheckpointError) {
        let model = try ModelRegistry.makeModel(kind: modelKind, configurationJSON: modelConfiguration)
        let own = model.namedParameters
        let known = Set(own.map(\.name))
        for (name, parameter) in own {
            guard let stored = tensor(named: name) else { throw .missingTensor(name: name) }
            guard stored.shape == parameter.shape else { throw .shapeMismatch(name: name, expected: parameter.shape, found: stored.shape) }
            guard stored.dataType?.isFloatingPoint == true else {
                throw .unsupportedDType(name: name, found: stored.dtype, expected: "a floating-point type (F32, F16, BF16, F64)")
            }
        }
        let extra = tensors.map(\.name).filter { !known.contains($0) }
        if !extra.isEmpty { throw .unexpectedTensors(names: extra) }
        if let optimizer {
            for (group, moments) in [("optimizer/exp_avg", optimizer.firstMoments), ("optimizer/exp_avg_sq", optimizer.secondMoments)] {
                let byName = Dictionary(moments.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
                for (name, parameter) in own {
                    guard let stored = byName[name] else { throw .missingTensor(name: "\(group)/\(name)") }
                    guard stored.shape == parameter.shape else {
                        throw .shapeMismatch(name: "\(group)/\(name)", expected: parameter.shape, found: stored.shape)
                    }
                }
                let extraMoments = moments.map(\.name).filter { !known.contains($0) }
                if !extraMoments.isEmpty { throw .unexpectedTensors(names: extraMoments.map { "\(group)/\($0)" }) }
            }
            guard OptimizerState.kinds.contains(optimizer.kind) else {
                throw .invalidMetadata(name: "optimizer/kind", detail: "'\(optimizer.kind)'; expected one of \(OptimizerState.kinds.joined(separator: ", "))")
            }
        }
        try training?.validate()
    }
}
