import Foundation
import VQEngine
import VQLayers

/// `vqcodec checkpoint convert`: HDF5 <-> safetensors by extension, optional dtype change (round to nearest
/// even) and dropping of optimiser and training state.
public struct CheckpointConversion: Sendable {
    public var dtype: TensorDType?
    public var weightsOnly: Bool
    /// The model kind and configuration to record when the input (a plain PyTorch `state_dict`) has none.
    public var modelKind: String?
    public var modelConfiguration: String?

    public init(dtype: TensorDType? = nil, weightsOnly: Bool = false, modelKind: String? = nil, modelConfiguration: String? = nil) {
        self.dtype = dtype
        self.weightsOnly = weightsOnly
        self.modelKind = modelKind
        self.modelConfiguration = modelConfiguration
    }

    /// The checkpoint `input` becomes.
    public func apply(to input: Checkpoint) throws(CheckpointError) -> Checkpoint {
        var output = weightsOnly ? input.weightsOnly : input
        if let modelKind {
            guard input.modelKind.isEmpty || input.modelKind == modelKind else {
                throw .conversionRefused("the input records model kind '\(input.modelKind)', not '\(modelKind)'; drop --model-kind or pick the right file")
            }
            output.modelKind = modelKind
        }
        if let modelConfiguration {
            if !input.modelConfiguration.isEmpty,
               Checkpoint.canonicalJSON(input.modelConfiguration) != Checkpoint.canonicalJSON(modelConfiguration) {
                throw .conversionRefused("the input records configuration \(input.modelConfiguration), which differs from --model-config \(modelConfiguration)")
            }
            output.modelConfiguration = modelConfiguration
        }
        if let dtype { output = output.converted(to: dtype) }
        output.created = Checkpoint.timestamp()
        output.softwareVersion = Checkpoint.softwareVersion
        output.formatVersion = Checkpoint.formatVersion
        return output
    }

    /// Converts the file at `input` into `output` (written atomically); returns what was written.
    @discardableResult
    public func convert(_ input: URL, to output: URL) throws(CheckpointError) -> Checkpoint {
        guard let kind = CheckpointFileKind(output) else { throw .unsupportedExtension(path: output.path) }
        let converted = try apply(to: try Checkpoint(contentsOf: input))
        if kind == .hdf5 {
            guard !converted.modelKind.isEmpty, !converted.modelConfiguration.isEmpty else {
                throw .conversionRefused("\(input.path) does not record its model; a vqcodec checkpoint needs one. Pass --model-kind (\(ModelRegistry.kinds.joined(separator: ", "))) and --model-config (JSON, e.g. '{\"channels\":1,\"hiddenChannels\":32,\"latentChannels\":64,\"codes\":512,\"commitmentWeight\":0.25}').")
            }
            // A vqcodec checkpoint must load into its model: names, shapes and types are checked now.
            try converted.checkCompleteness()
        }
        if kind == .safetensors, converted.optimizer != nil || converted.training != nil {
            throw .conversionRefused("\(output.path): safetensors holds model weights only, and \(input.path) also has optimizer or training state. Pass --weights-only to drop it.")
        }
        try converted.write(to: output)
        return converted
    }
}

/// A model, optimiser and random generator rebuilt from a checkpoint: everything a run needs to continue.
public struct RestoredRun {
    public var checkpoint: Checkpoint
    public var model: any Layer
    public var optimizer: Adam?
    public var training: TrainingState?
    public var randomGenerator: RandomGenerator?

    /// Loads `url` and rebuilds every part it holds (checking names, shapes, types and checksums).
    public init(contentsOf url: URL) throws(CheckpointError) {
        checkpoint = try Checkpoint(contentsOf: url)
        model = try checkpoint.makeModel()
        optimizer = checkpoint.optimizer == nil ? nil : try checkpoint.makeOptimizer(for: model)
        training = checkpoint.training
        randomGenerator = try training?.makeRandomGenerator()
    }

    public var summary: String {
        var parts = ["\(checkpoint.modelKind) with \(groupedInteger(checkpoint.parameterCount)) parameters"]
        if let optimizer { parts.append("\(optimizer.style.rawValue) at step \(optimizer.step)") }
        if let training { parts.append("training at step \(training.globalStep), epoch \(training.epoch)") }
        return "loaded " + parts.joined(separator: ", ")
    }
}
