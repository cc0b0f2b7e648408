import Foundation
import VQCheckpoint
import VQData
import VQEngine
import VQLayers
import VQModels
import VQTokenizer

/// Everything that defines a bounded-context prior training run. Saved as `train-config.json`.
public struct ContextPriorTrainingConfiguration: Codable, Sendable, Equatable {
    /// The tokenizer whose tokens are modelled: a built-in name or a checkpoint path.
    public var tokenizer: String
    /// The prior's architecture (vocabulary and levels are set from the tokenizer).
    public var model: ContextPrior.Configuration
    public var batchSize: Int
    public var epochs: Int
    public var learningRate: Double
    /// Cosine decay to `learningRate * finalLearningRateFactor`.
    public var finalLearningRateFactor: Double
    /// Gradients are clipped to this global L2 norm (0: no clipping).
    public var gradientClip: Double
    public var checkpointEvery: Int
    /// Held-out photographs (the first ones of the test folder) for the bits per token after each epoch.
    public var testImages: Int
    public var seed: UInt64
    public var threads: Int

    public init(tokenizer: String = "photo", model: ContextPrior.Configuration = .init(), batchSize: Int = 512, epochs: Int = 4,
                learningRate: Double = 2e-3, finalLearningRateFactor: Double = 0.05, gradientClip: Double = 1,
                checkpointEvery: Int = 1000, testImages: Int = 50, seed: UInt64 = 0, threads: Int = 2) {
        self.tokenizer = tokenizer
        self.model = model
        self.batchSize = batchSize
        self.epochs = epochs
        self.learningRate = learningRate
        self.finalLearningRateFactor = finalLearningRateFactor
        self.gradientClip = gradientClip
        self.checkpointEvery = checkpointEvery
        self.testImages = testImages
        self.seed = seed
        self.threads = threads
    }

    /// The built-in photo prior's recipe: embeddings of 32 per context slot, hidden 256, batch 512, Adam 2e-3
    /// with cosine decay, 4 epochs over every token of every level of BSDS500 train + val.
    public static var photo: ContextPriorTrainingConfiguration { ContextPriorTrainingConfiguration() }

    public var problem: String? {
        if batchSize < 1 { return "batchSize is \(batchSize); expected at least 1" }
        if epochs < 1 { return "epochs is \(epochs); expected at least 1" }
        if !(learningRate > 0) { return "learningRate is \(learningRate); expected a positive number" }
        if !(finalLearningRateFactor > 0 && finalLearningRateFactor <= 1) { return "finalLearningRateFactor is \(finalLearningRateFactor); expected (0, 1]" }
        if !(gradientClip >= 0) { return "gradientClip is \(gradientClip); expected >= 0" }
        if checkpointEvery < 1 { return "checkpointEvery is \(checkpointEvery); expected at least 1" }
        if testImages < 1 { return "testImages is \(testImages); expected at least 1" }
        if threads < 1 { return "threads is \(threads); expected at least 1" }
        return nil
    }
}

/// Held-out cross-entropy of a `ContextPrior`, per level, in bits per token.
public struct ContextPriorEvaluation: Sendable, Codable {
    public var tokens: Int
    public var codebookSize: Int
    public var bitsPerToken: [Double]
    public var meanBitsPerToken: Double

    static func measure(prior: ContextPrior, samples: ContextSamples, batch: Int = 4096) -> ContextPriorEvaluation {
        let levels = prior.configuration.levels
        var nats = [Double](repeating: 0, count: levels), counts = [Int](repeating: 0, count: levels)
        Autograd.withoutRecording {
            for first in stride(from: 0, to: samples.count, by: batch) {
                let range = first..<min(samples.count, first + batch)
                let (rows, lv, targets) = samples.batch(range)
                let logProbabilities = prior.logits(rows: rows, levels: lv).logSoftmax().data
                let k = prior.configuration.vocabulary
                for (i, t) in targets.enumerated() {
                    nats[lv[i]] -= Double(logProbabilities[i * k + t])
                    counts[lv[i]] += 1
                }
            }
        }
        let bits = zip(nats, counts).map { $1 == 0 ? 0 : $0 / Double($1) / log(2) }
        return ContextPriorEvaluation(tokens: samples.count, codebookSize: prior.configuration.vocabulary, bitsPerToken: bits,
                                      meanBitsPerToken: nats.reduce(0, +) / Double(max(1, samples.count)) / log(2))
    }
}

/// Trains a `ContextPrior` on every token of every level of a set of tokenized photographs: Adam with a
/// cosine learning rate, held-out bits per token per level after each epoch, HDF5 checkpoints (`last.h5`,
/// `epoch-NNN.h5`) that resume bit-exactly, and the final weights as `model.safetensors`.
public final class ContextPriorTrainer: PriorTrainingRun {
    public let configuration: ContextPriorTrainingConfiguration
    public let prior: ContextPrior
    let optimizer: Adam
    let outputDirectory: URL
    let train: ContextSamples
    let test: ContextSamples
    var order: DataOrder
    var globalStep: Int
    var metrics: [String: [Double]]
    let progress: ProgressDisplay
    /// Stop after this many steps in this process (tests, smoke runs); nil runs to the end.
    public var stepLimit: Int?

    public init(configuration: ContextPriorTrainingConfiguration, cache: PhotoTokenCache, output: URL, resume: URL? = nil,
                output log: @escaping @Sendable (String) -> Void = { print($0) }) throws {
        if let problem = configuration.problem { throw TrainingError.invalidConfiguration(problem) }
        var configuration = configuration
        configuration.model.vocabulary = cache.codebookSize
        configuration.model.levels = cache.levels
        configuration.model.tokenizerFingerprint = cache.tokenizerFingerprint
        self.configuration = configuration
        outputDirectory = output
        ComputeThreads.set(configuration.threads)
        do { try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true) } catch {
            throw TrainingError.failed("cannot create the output folder \(output.path): \((error as NSError).localizedDescription)")
        }
        train = ContextSamples(grids: cache.train, configuration: configuration.model)
        test = ContextSamples(grids: cache.test, configuration: configuration.model)
        guard train.count >= configuration.batchSize else {
            throw TrainingError.invalidConfiguration("the photographs give \(train.count) tokens, fewer than one batch of \(configuration.batchSize); use a smaller --batch-size or more photographs")
        }
        if let resume {
            let checkpoint = try Checkpoint(contentsOf: resume)
            guard let state = checkpoint.training else { throw TrainingError.resumeMismatch("\(resume.path) holds no training state (weights-only)") }
            prior = try checkpoint.makeModel(ContextPrior.self)
            guard prior.configuration == configuration.model else {
                throw TrainingError.resumeMismatch("\(resume.path) holds a prior configured as \(ModelRegistry.configurationJSON(of: prior)); this run wants \(configuration.model)")
            }
            optimizer = try checkpoint.makeOptimizer(for: prior)
            globalStep = state.globalStep
            metrics = state.metrics
            order = try restoredOrder(state, seed: configuration.seed, batchSize: configuration.batchSize)
            guard order.count == train.count else {
                throw TrainingError.resumeMismatch("the checkpoint's epoch has \(order.count) tokens, the token cache \(train.count)")
            }
        } else {
            var initRNG = RandomGenerator(seed: configuration.seed)
            prior = ContextPrior(configuration: configuration.model, rng: &initRNG)
            optimizer = Adam(parameters: prior.parameters, learningRate: configuration.learningRate)
            globalStep = 0
            metrics = [:]
            order = DataOrder(count: train.count, seed: configuration.seed)
        }
        progress = ProgressDisplay(output: log)
    }

    var loop: PriorEpochLoop {
        PriorEpochLoop(batchSize: configuration.batchSize, epochs: configuration.epochs, peakLearningRate: configuration.learningRate,
                       finalLearningRateFactor: configuration.finalLearningRateFactor, gradientClip: configuration.gradientClip,
                       checkpointEvery: configuration.checkpointEvery, stepsPerEpoch: train.count / configuration.batchSize)
    }

    public func run() throws {
        writeTrainConfiguration(configuration, to: outputDirectory)
        let c = configuration.model
        progress.line("context prior: \(prior.parameterCount) parameters, \(c.slots) context slots of \(c.embedding), hidden \(c.hiddenSize), "
                      + "\(c.levels) levels of \(c.vocabulary) codes; \(train.count) training tokens, \(test.count) held out; "
                      + "\(loop.stepsPerEpoch) steps of \(configuration.batchSize) per epoch, \(configuration.epochs) epochs, \(configuration.threads) threads")
        var stepsThisRun = 0
        while order.epoch < configuration.epochs {
            let outcome = try loop.run(self, stepsThisRun: &stepsThisRun)
            if outcome.stopped { return }
            let evaluation = ContextPriorEvaluation.measure(prior: prior, samples: test)
            let trainBits = outcome.trainBitsPerToken
            metrics["epoch_train_bits_per_token", default: []].append(trainBits)
            metrics["eval_bits_per_token", default: []].append(evaluation.meanBitsPerToken)
            progress.line(String(format: "epoch %d: train %.4f bits/token; held out (%d tokens) %.4f bits/token; per level ",
                                 order.epoch + 1, trainBits, evaluation.tokens, evaluation.meanBitsPerToken)
                          + evaluation.bitsPerToken.map { String(format: "%.3f", $0) }.joined(separator: " / ")
                          + String(format: " (log2 K = %.3f)", log2(Double(c.vocabulary))))
            try save(to: outputDirectory.appendingPathComponent(String(format: "epoch-%03d.h5", order.epoch + 1)), position: order.count)
            order.nextEpoch()
            try save(to: outputDirectory.appendingPathComponent("last.h5"))
        }
        try Checkpoint(model: prior).write(to: outputDirectory.appendingPathComponent("model.safetensors"))
        progress.line("done: \(outputDirectory.appendingPathComponent("model.safetensors").path)")
    }

    func batchLoss(_ indices: [Int]) -> Tensor {
        let (rows, levels, targets) = train.batch(indices)
        return prior.loss(rows: rows, levels: levels, targets: targets).total
    }

    func saveLast() throws { try save(to: outputDirectory.appendingPathComponent("last.h5")) }

    func save(to url: URL, position: Int? = nil) throws {
        // The run draws no random numbers after initialisation; the generator state is recorded for the format.
        let state = TrainingState(globalStep: globalStep, epoch: order.epoch, randomState: RandomGenerator(seed: configuration.seed).stateWords,
                                  dataOrder: order.permutation, dataPosition: position ?? order.position, metrics: metrics)
        try Checkpoint(model: prior, optimizer: optimizer, training: state).write(to: url)
    }
}
