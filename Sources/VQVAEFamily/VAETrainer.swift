import Foundation
import VQCheckpoint
import VQData
import VQEngine
import VQLayers
import VQModels

/// The settings of a `vqcodec train vae` run.
public struct VAETrainingOptions: Sendable {
    public var architecture = VAEArchitecture.mlp
    /// Latent dimensions; nil takes the architecture's default (20 for mlp, 2 for conv).
    public var latentSize: Int?
    public var conditional = false
    public var likelihood = Likelihood.bernoulli
    public var outputVariance: Float = 0.1
    public var epochs = 10
    public var batchSize = 128
    public var learningRate = 1e-3
    public var seed: UInt64 = 1
    /// Folder for the per-epoch checkpoints (`epoch-NNN.h5`, and `last.h5`).
    public var outputDirectory: URL
    public var resume: URL?

    public init(outputDirectory: URL) { self.outputDirectory = outputDirectory }
}

/// One finished epoch: per-image averages in nats.
public struct VAEEpochRecord: Codable, Sendable {
    public var epoch: Int
    public var train: ELBOTerms
    public var test: ELBOTerms?
    /// Seconds spent in training steps (without the test pass and the checkpoint).
    public var trainSeconds: Double
    public var checkpoint: String
}

/// Trains a VAE with Adam on the negative ELBO (summed over the batch, as the PyTorch example), saving an
/// HDF5 checkpoint after every epoch with everything needed to continue bit for bit: weights, Adam moments,
/// step, random generator, the epoch's data order and position, and the metric history.
public final class VAETrainer {
    public let options: VAETrainingOptions
    public let model: any VariationalAutoencoder
    public let optimizer: Adam
    let train: LabeledImages
    let test: LabeledImages?
    var rng: RandomGenerator
    var order: DataOrder
    var globalStep = 0
    var metrics: [String: [Double]]

    /// Seeds are stored as float64 metrics, exact up to 2^53.
    public static let maximumSeed: UInt64 = 1 << 53

    public init(options: VAETrainingOptions, train: LabeledImages, test: LabeledImages?) throws {
        guard options.seed <= Self.maximumSeed else {
            throw VAEError.invalidArgument("--seed must be at most 2^53 (\(Self.maximumSeed)), found \(options.seed)")
        }
        guard options.batchSize >= 1, options.batchSize <= train.count else {
            throw VAEError.invalidArgument("--batch must be in 1...\(train.count) (the training images), found \(options.batchSize)")
        }
        self.options = options
        self.train = train
        self.test = test
        let imageShape = [train.channels, train.height, train.width]
        if let resume = options.resume {
            let loaded = try LoadedVAE(contentsOf: resume)
            guard let state = loaded.checkpoint.training else {
                throw VAEError.resumeMismatch(detail: "\(resume.path) holds no training state (it was saved weights-only)")
            }
            model = loaded.model
            optimizer = try loaded.checkpoint.makeOptimizer(for: model)
            rng = try state.makeRandomGenerator()
            metrics = state.metrics
            globalStep = state.globalStep
            guard let seed = metrics["run_seed"]?.first, let batch = metrics["run_batch_size"]?.first else {
                throw VAEError.resumeMismatch(detail: "\(resume.path) was not written by `vqcodec train vae` (no run_seed / run_batch_size metrics)")
            }
            guard Int(batch) == options.batchSize else {
                throw VAEError.resumeMismatch(detail: "the run used --batch \(Int(batch)), this call asks for \(options.batchSize); resume with the same batch size")
            }
            order = DataOrder(count: train.count, seed: UInt64(seed), epoch: state.epoch)
            guard order.permutation == state.dataOrder else {
                throw VAEError.resumeMismatch(detail: "the saved data order does not match \(train.count) training images with seed \(UInt64(seed)); resume with the same --data")
            }
            guard state.dataPosition % options.batchSize == 0 else {
                throw VAEError.resumeMismatch(detail: "data position \(state.dataPosition) is not a multiple of the batch size \(options.batchSize)")
            }
            for _ in 0..<(state.dataPosition / options.batchSize) { _ = order.nextBatch(size: options.batchSize) }
        } else {
            rng = RandomGenerator(seed: options.seed)
            model = options.architecture.makeModel(latentSize: options.latentSize, classes: options.conditional ? 10 : 0,
                                                   likelihood: options.likelihood, outputVariance: options.outputVariance,
                                                   imageShape: imageShape, rng: &rng)
            optimizer = Adam(parameters: model.parameters, learningRate: options.learningRate)
            order = DataOrder(count: train.count, seed: options.seed)
            metrics = ["run_seed": [Double(options.seed)], "run_batch_size": [Double(options.batchSize)]]
        }
        try train.check(for: model, source: "the training data")
        if let test { try test.check(for: model, source: "the test data") }
        if model.classes > 0, let bad = train.labels.first(where: { $0 >= model.classes }) {
            throw VAEError.invalidArgument("training label \(bad) is outside the model's \(model.classes) classes")
        }
    }

    /// The epoch the next step belongs to (0-based).
    public var epoch: Int { order.epoch }
    public var stepsPerEpoch: Int { train.count / options.batchSize }

    /// One optimiser step on the next batch; returns the batch's per-image loss terms.
    func step() -> ELBOTerms? {
        guard let indices = order.nextBatch(size: options.batchSize) else { return nil }
        let (x, labels) = train.batch(indices, conditional: model.classes > 0)
        let noise = rng.normal([indices.count, model.latentSize])
        let loss = model.negativeELBO(x, labels: labels, noise: noise)
        loss.total.backward()
        optimizer.update()
        optimizer.zeroGradients()
        globalStep += 1
        let n = Double(indices.count)
        return ELBOTerms(reconstruction: Double(loss.term("reconstruction")!.scalar) / n, kl: Double(loss.term("kl")!.scalar) / n)
    }

    /// Trains until `options.epochs` epochs are complete, checkpointing after each.
    @discardableResult
    public func run(progress: ProgressDisplay? = nil, log: (String) -> Void = { _ in }) throws -> [VAEEpochRecord] {
        try FileManager.default.createDirectory(at: options.outputDirectory, withIntermediateDirectories: true)
        // Steps run on this thread; denormal Adam moments would otherwise slow the late epochs about twofold.
        FloatingPointMode.flushDenormalsToZero()
        var records: [VAEEpochRecord] = []
        while order.epoch < options.epochs {
            let epoch = order.epoch
            let startStep = order.position / options.batchSize
            progress?.beginEpoch(epoch, atStep: startStep)
            var sum = ELBOTerms(reconstruction: 0, kl: 0), steps = 0
            let start = DispatchTime.now().uptimeNanoseconds
            while let terms = step() {
                sum.reconstruction += terms.reconstruction
                sum.kl += terms.kl
                steps += 1
                progress?.update(epoch: epoch, step: startStep + steps,
                                 values: [("loss", (sum.total) / Double(steps)), ("rec", sum.reconstruction / Double(steps)),
                                          ("kl", sum.kl / Double(steps))])
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let trainTerms = ELBOTerms(reconstruction: sum.reconstruction / Double(Swift.max(steps, 1)), kl: sum.kl / Double(Swift.max(steps, 1)))
            var testTerms: ELBOTerms?
            if let test {
                // The test pass draws from its own generator so evaluating never changes the training run.
                var testRNG = RandomGenerator(seed: 0x7E57 &+ UInt64(epoch))
                testTerms = VAEEstimators.negativeELBO(model, on: test, rng: &testRNG)
            }
            order.nextEpoch()
            for (name, value) in [("train_loss", trainTerms.total), ("train_reconstruction", trainTerms.reconstruction),
                                  ("train_kl", trainTerms.kl), ("train_seconds", seconds)] {
                metrics[name, default: []].append(value)
            }
            if let testTerms {
                for (name, value) in [("test_loss", testTerms.total), ("test_reconstruction", testTerms.reconstruction), ("test_kl", testTerms.kl)] {
                    metrics[name, default: []].append(value)
                }
            }
            let url = options.outputDirectory.appendingPathComponent(String(format: "epoch-%03d.h5", epoch + 1))
            try save(to: url)
            try save(to: options.outputDirectory.appendingPathComponent("last.h5"))
            let record = VAEEpochRecord(epoch: epoch + 1, train: trainTerms, test: testTerms, trainSeconds: seconds, checkpoint: url.path)
            records.append(record)
            var summary = String(format: "train %.2f (rec %.2f, kl %.2f)", trainTerms.total, trainTerms.reconstruction, trainTerms.kl)
            if let testTerms {
                summary += String(format: ", test %.2f (rec %.2f, kl %.2f)", testTerms.total, testTerms.reconstruction, testTerms.kl)
            }
            summary += String(format: " nats/image; %.1f s training, %.0f img/s; saved %@", seconds,
                              Double(steps * options.batchSize) / Swift.max(seconds, 1e-9), url.lastPathComponent)
            if let progress { progress.endEpoch(epoch, summary: summary) } else { log(summary) }
        }
        return records
    }

    /// The complete state, as a checkpoint file.
    public func save(to url: URL) throws {
        let state = TrainingState(globalStep: globalStep, epoch: order.epoch, randomState: rng.stateWords,
                                  dataOrder: order.permutation, dataPosition: order.position, metrics: metrics)
        try makeCheckpoint(model, optimizer: optimizer, training: state).write(to: url)
    }
}
