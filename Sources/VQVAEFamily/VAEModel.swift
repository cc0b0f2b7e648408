import Foundation
import VQCheckpoint
import VQData
import VQEngine
import VQLayers
import VQModels

/// Errors of the VAE tools: each says what was expected, what was found and what to do.
public enum VAEError: Error, CustomStringConvertible {
    case notAVAE(path: String, kind: String)
    case needsLabels(what: String)
    case needsConditionalModel(kind: String)
    case needsLatentSize(expected: Int, found: Int, kind: String)
    case shapeMismatch(model: [Int], data: [Int], path: String)
    case resumeMismatch(detail: String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .notAVAE(path, kind):
            return "\(path) holds a '\(kind)' model, not a VAE; expected one of \(VAEArchitecture.kinds.joined(separator: ", ")) (train one with `vqcodec train vae`)"
        case let .needsLabels(what):
            return "\(what) needs class labels, but the data has none; give --data a folder with the labels IDX file too"
        case let .needsConditionalModel(kind):
            return "the '\(kind)' picture needs a class-conditional model (trained with --conditional); this checkpoint is unconditional"
        case let .needsLatentSize(expected, found, kind):
            return "the '\(kind)' picture needs a \(expected)-D latent; this model's latent has \(found) dimensions (train with --latent \(expected))"
        case let .shapeMismatch(model, data, path):
            return "the model expects images of shape \(model) (channels, height, width), the data in \(path) has \(data); use a matching dataset or model"
        case let .resumeMismatch(detail):
            return "cannot resume: \(detail)"
        case let .invalidArgument(detail):
            return detail
        }
    }
}

/// The VAE architectures `vqcodec train vae --arch` offers.
public enum VAEArchitecture: String, CaseIterable, Sendable {
    case mlp, conv

    public static let kinds = [MLPVAE.kind, ConvVAE.kind]

    /// A freshly initialised model from `rng`.
    public func makeModel(latentSize: Int?, classes: Int, likelihood: Likelihood, outputVariance: Float,
                          imageShape: [Int], rng: inout RandomGenerator) -> any VariationalAutoencoder {
        switch self {
        case .mlp:
            return MLPVAE(configuration: .init(inputSize: imageShape.reduce(1, *), hiddenSize: 400, latentSize: latentSize ?? 20,
                                               classes: classes, likelihood: likelihood, outputVariance: outputVariance), rng: &rng)
        case .conv:
            return ConvVAE(configuration: .init(channels: imageShape[0], height: imageShape[1], width: imageShape[2],
                                                latentSize: latentSize ?? 2, classes: classes, likelihood: likelihood,
                                                outputVariance: outputVariance), rng: &rng)
        }
    }
}

/// A VAE loaded from a checkpoint file, with the file's optimiser and training state when present.
public struct LoadedVAE {
    public let model: any VariationalAutoencoder
    public let checkpoint: Checkpoint

    public init(contentsOf url: URL) throws {
        let checkpoint = try Checkpoint(contentsOf: url)
        self.checkpoint = checkpoint
        switch checkpoint.modelKind {
        case MLPVAE.kind: model = try checkpoint.makeModel(MLPVAE.self)
        case ConvVAE.kind: model = try checkpoint.makeModel(ConvVAE.self)
        default: throw VAEError.notAVAE(path: url.path, kind: checkpoint.modelKind)
        }
    }
}

/// A snapshot of any VAE (the checkpoint initialiser is generic over the concrete model type).
func makeCheckpoint(_ model: any VariationalAutoencoder, optimizer: Adam?, training: TrainingState?) -> Checkpoint {
    func open<M: VariationalAutoencoder>(_ m: M) -> Checkpoint { Checkpoint(model: m, optimizer: optimizer, training: training) }
    return open(model)
}

extension LabeledImages {
    /// Checks that these images fit `model`, and that labels exist when the model is conditional.
    func check(for model: any VariationalAutoencoder, source: String) throws {
        guard [channels, height, width] == model.imageShape || channels * height * width == model.imageSize && model is MLPVAE else {
            throw VAEError.shapeMismatch(model: model.imageShape, data: [channels, height, width], path: source)
        }
        if model.classes > 0 {
            guard labels.count == count else { throw VAEError.needsLabels(what: "a conditional model") }
            if let bad = labels.first(where: { $0 >= model.classes }) {
                throw VAEError.invalidArgument("label \(bad) in \(source) is outside the model's \(model.classes) classes")
            }
        }
    }

    /// The images at `indices` as a [B, C, H, W] tensor, with their labels when the model needs them.
    func batch(_ indices: some Collection<Int>, conditional: Bool) -> (images: Tensor, labels: [Int]?) {
        let images = Tensor(shape: [indices.count, channels, height, width], data: batch(indices))
        return (images, conditional ? indices.map { labels[$0] } : nil)
    }
}

/// Checks shared by the evaluation tools.
public enum VAEEvaluation {
    /// Throws a clear error when `images` do not fit `model` (shape, or labels for a conditional model).
    public static func check(_ images: LabeledImages, for model: any VariationalAutoencoder, source: String) throws {
        try images.check(for: model, source: source)
    }
}
