import Foundation
import VQEngine
import VQLayers
import VQModels

/// Runs a model on fixed inputs and names every output, so the same inputs through the PyTorch mirror
/// (`Tools/reference/models.py`) can be compared tensor by tensor (`Tools/reference/torch_roundtrip.py`).
///
/// Inputs and outputs by model kind:
/// - mlp-vae: `x` [B, 784], `noise` [B, latent] -> `mean`, `logvar`, `reconstruction` (decode of
///   mean + exp(logvar / 2) * noise), `loss`, `loss.reconstruction`, `loss.kl`.
/// - conv-vqvae: `x` [B, 1, 28, 28] -> `reconstruction`, `indices` (I64 [B, 7, 7]), `loss` and its terms.
/// - token-prior: `tokens` (I64 [B, T]) -> `logits` [B, T, vocabulary] of the shifted input, `loss`.
public enum ModelProbe {
    public static func outputs(of model: any Layer, inputs: [String: StoredTensor]) throws(CheckpointError) -> [NamedTensor] {
        func input(_ name: String) throws(CheckpointError) -> StoredTensor {
            guard let tensor = inputs[name] else { throw .missingTensor(name: "input '\(name)'") }
            return tensor
        }
        func floats(_ name: String) throws(CheckpointError) -> Tensor {
            let stored = try input(name)
            return Tensor(shape: stored.shape, data: try stored.float32Values(name: name))
        }
        func named(_ name: String, _ t: Tensor) -> NamedTensor { NamedTensor(name: name, tensor: StoredTensor(float32: t.data, shape: t.shape)) }
        func terms(_ loss: LossTerms) -> [NamedTensor] {
            [named("loss", loss.total)] + loss.terms.map { named("loss.\($0.name)", $0.value) }
        }

        switch model {
        case let vae as MLPVAE:
            let x = try floats("x").reshaped([-1, vae.configuration.inputSize]), noise = try floats("noise")
            guard noise.shape == [x.shape[0], vae.configuration.latentSize] else {
                throw .shapeMismatch(name: "input 'noise'", expected: [x.shape[0], vae.configuration.latentSize], found: noise.shape)
            }
            return Autograd.withoutRecording {
                let (mean, logVariance) = vae.encode(x)
                let z = MLPVAE.reparameterize(mean: mean, logVariance: logVariance, noise: noise)
                return [named("mean", mean), named("logvar", logVariance), named("reconstruction", vae.decode(z))]
                    + terms(vae.loss(x, noise: noise))
            }
        case let vqvae as ConvVQVAE:
            let x = try floats("x")
            let c = vqvae.configuration
            guard x.rank == 4, x.shape[1] == c.channels, x.shape[2] % 4 == 0, x.shape[3] % 4 == 0 else {
                throw .shapeMismatch(name: "input 'x'", expected: [-1, c.channels, 28, 28], found: x.shape)
            }
            return Autograd.withoutRecording {
                let out = vqvae(x)
                let indices = Checkpoint.integers(out.indices.map { Int64($0) }, as: .i64)
                let grid = StoredTensor(dtype: indices.dtype, shape: [x.shape[0], x.shape[2] / 4, x.shape[3] / 4], bytes: indices.bytes)
                return [named("reconstruction", out.reconstruction), NamedTensor(name: "indices", tensor: grid)] + terms(out.loss)
            }
        case let prior as TokenPrior:
            let stored = try input("tokens")
            guard stored.dataType == .i64, stored.shape.count == 2, stored.shape[1] >= 1,
                  stored.shape[1] <= prior.configuration.sequenceLength else {
                throw .shapeMismatch(name: "input 'tokens' (I64)", expected: [-1, prior.configuration.sequenceLength], found: stored.shape)
            }
            let tokens = stored.doubles().map { Int($0) }
            guard tokens.allSatisfy({ $0 >= 0 && $0 < prior.configuration.vocabulary }) else {
                throw .invalidMetadata(name: "input 'tokens'", detail: "tokens must lie in 0..<\(prior.configuration.vocabulary)")
            }
            let batch = stored.shape[0]
            return Autograd.withoutRecording {
                var result = [named("logits", prior.logits(inputs: prior.shiftedInputs(tokens, batch: batch), batch: batch))]
                if stored.shape[1] == prior.configuration.sequenceLength { result += terms(prior.loss(tokens: tokens, batch: batch)) }
                return result
            }
        default:
            throw .conversionRefused("probe: model kind \(type(of: model)) has no probe; supported are mlp-vae, conv-vqvae, token-prior")
        }
    }

    /// Loads `checkpoint`, runs it on the tensors of the safetensors file `inputs`, and writes the outputs as
    /// safetensors to `outputs`.
    public static func run(checkpoint: URL, inputs: URL, outputs: URL) throws(CheckpointError) -> [NamedTensor] {
        let model = try Checkpoint(contentsOf: checkpoint).makeModel()
        let file = try CheckpointSource.readSafetensors(inputs.path)
        let result = try Self.outputs(of: model, inputs: file.tensors)
        try AtomicFile.write(try SafetensorsFile.serialize(result, metadata: [:]), to: outputs)
        return result
    }
}

extension Checkpoint {
    /// A snapshot of a model known only as `any Layer` (it must be one of the registry's configurable models).
    public static func snapshot(of model: any Layer, optimizer: Adam? = nil, training: TrainingState? = nil) throws(CheckpointError) -> Checkpoint {
        guard let configurable = model as? any ConfigurableModel else {
            throw .conversionRefused("\(type(of: model)) has no model kind and configuration, so it cannot be saved as a checkpoint")
        }
        return Checkpoint(model: configurable, optimizer: optimizer, training: training)
    }

    /// Every tensor of `allTensors` (model, optimiser, training) in one safetensors file under its full name,
    /// for tools that check another reader against this one (`Tools/reference/check_h5py.py`).
    public func exportAllTensors(to url: URL) throws(CheckpointError) {
        try AtomicFile.write(try SafetensorsFile.serialize(allTensors, metadata: [:]), to: url)
    }
}
