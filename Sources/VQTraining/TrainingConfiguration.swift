import Foundation
import VQModels

/// Everything that defines a VQ-VAE training run: the model, the data, the optimiser and the schedule.
/// Saved as `train-config.json` next to the checkpoints, so `--resume` needs nothing else.
public struct VQVAETrainingConfiguration: Codable, Sendable, Equatable {
    public enum Dataset: String, Codable, Sendable {
        /// IDX files of the MNIST layout in the data folder (train for training, t10k for evaluation).
        case mnist
        /// PNG photographs: `train/` and `val/` for training (random crops with flips), `test/` for evaluation.
        case photo
    }

    /// "conv-vqvae" or "photo-vqvae".
    public var modelKind: String
    /// The model configuration (JSON of `ConvVQVAE.Configuration` or `PhotoVQVAE.Configuration`).
    public var model: String
    public var dataset: Dataset
    public var batchSize: Int
    public var epochs: Int
    public var learningRate: Double
    /// The learning rate follows a cosine from `learningRate` down to `learningRate * finalLearningRateFactor`.
    public var finalLearningRateFactor: Double
    /// Photos: side of the square training crops; crops per training image per epoch.
    public var cropSize: Int
    public var cropsPerImage: Int
    /// Held-out images evaluated after each epoch (0: all).
    public var evaluationImages: Int
    /// Steps between `last.h5` checkpoints (epoch ends always write one).
    public var checkpointEvery: Int
    public var seed: UInt64
    /// Compute threads (OpenBLAS and the engine's loops).
    public var threads: Int

    public init(modelKind: String, model: String, dataset: Dataset, batchSize: Int, epochs: Int, learningRate: Double,
                finalLearningRateFactor: Double = 1, cropSize: Int = 64, cropsPerImage: Int = 8, evaluationImages: Int = 0,
                checkpointEvery: Int = 500, seed: UInt64 = 0, threads: Int = 2) {
        self.modelKind = modelKind
        self.model = model
        self.dataset = dataset
        self.batchSize = batchSize
        self.epochs = epochs
        self.learningRate = learningRate
        self.finalLearningRateFactor = finalLearningRateFactor
        self.cropSize = cropSize
        self.cropsPerImage = cropsPerImage
        self.evaluationImages = evaluationImages
        self.checkpointEvery = checkpointEvery
        self.seed = seed
        self.threads = threads
    }

    /// The built-in MNIST tokenizer's recipe: the reference ConvVQVAE layout (7x7 grid, K = 512, D = 64) with
    /// 64 hidden channels, an EMA codebook, k-means initialisation and dead-code restarts.
    public static var mnist: VQVAETrainingConfiguration {
        let model = ConvVQVAE.Configuration(hiddenChannels: 64, latentChannels: 64, codes: 512,
                                            quantizer: QuantizerOptions(kind: .ema, commitmentWeight: 0.25, deadCodeSteps: 100, kmeansInit: true))
        return VQVAETrainingConfiguration(modelKind: ConvVQVAE.kind, model: json(model), dataset: .mnist, batchSize: 64, epochs: 5,
                                          learningRate: 1e-3, finalLearningRateFactor: 0.05, evaluationImages: 0, checkpointEvery: 200)
    }

    /// The built-in photo tokenizer's recipe: downsampling 8, channels 32 -> 64, four residual levels of 512
    /// codes (9 bits each, 0.14 bpp per level), EMA codebooks with k-means init, dead-code restarts and level
    /// dropout; 32x32 crops; 30 epochs (9,000 steps, about 20 minutes on one thread of this machine).
    public static var photo: VQVAETrainingConfiguration {
        let model = PhotoVQVAE.Configuration(hiddenChannels: 32, maximumChannels: 64, downsampling: 8, residualBlocks: 2,
                                             latentChannels: 32, codes: 512,
                                             quantizer: QuantizerOptions(kind: .ema, levels: 4, deadCodeSteps: 100, kmeansInit: true, levelDropout: 0.5))
        return VQVAETrainingConfiguration(modelKind: PhotoVQVAE.kind, model: json(model), dataset: .photo, batchSize: 16,
                                          epochs: 30, learningRate: 1e-3, finalLearningRateFactor: 0.1, cropSize: 32, cropsPerImage: 16,
                                          evaluationImages: 4, checkpointEvery: 100, threads: 1)
    }

    static func json<C: Encodable>(_ value: C) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// The learning rate at `step` of `totalSteps` (cosine decay).
    public func learningRate(step: Int, totalSteps: Int) -> Double {
        cosineLearningRate(peak: learningRate, finalFactor: finalLearningRateFactor, step: step, totalSteps: totalSteps)
    }

    /// A description of what is wrong, or nil.
    public var problem: String? {
        if batchSize < 1 { return "batchSize is \(batchSize); expected at least 1" }
        if epochs < 1 { return "epochs is \(epochs); expected at least 1" }
        if !(learningRate > 0) { return "learningRate is \(learningRate); expected a positive number" }
        if !(finalLearningRateFactor > 0 && finalLearningRateFactor <= 1) { return "finalLearningRateFactor is \(finalLearningRateFactor); expected (0, 1]" }
        if cropSize < 8 || cropSize > 1024 { return "cropSize is \(cropSize); expected 8...1024" }
        if cropsPerImage < 1 { return "cropsPerImage is \(cropsPerImage); expected at least 1" }
        if checkpointEvery < 1 { return "checkpointEvery is \(checkpointEvery); expected at least 1" }
        if threads < 1 { return "threads is \(threads); expected at least 1" }
        return nil
    }
}

/// A cosine decay from `peak` at step 0 to `peak * finalFactor` at `totalSteps`.
public func cosineLearningRate(peak: Double, finalFactor: Double, step: Int, totalSteps: Int) -> Double {
    guard finalFactor != 1, totalSteps > 0 else { return peak }
    let progress = Swift.min(1, Double(step) / Double(totalSteps))
    return peak * (finalFactor + (1 - finalFactor) * 0.5 * (1 + cos(Double.pi * progress)))
}

/// Saves a run's settings as `train-config.json` in its output folder (what `--resume` reads back). Best effort:
/// a run that cannot write it still trains, and its checkpoints hold the model configuration.
func writeTrainConfiguration<C: Encodable>(_ configuration: C, to folder: URL) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try? encoder.encode(configuration).write(to: folder.appendingPathComponent("train-config.json"))
}
