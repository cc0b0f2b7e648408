import Foundation
import VQCheckpoint
import VQData
import VQEngine
import VQLayers
import VQModels
import VQTokenizer

/// Everything that defines a prior training run. Saved as `train-config.json` beside the checkpoints.
public struct PriorTrainingConfiguration: Codable, Sendable, Equatable {
    /// The tokenizer whose tokens are modelled: a built-in name or a checkpoint path.
    public var tokenizer: String
    /// The prior's architecture (vocabulary and sequence length are set from the tokenizer).
    public var model: TokenPrior.Configuration
    public var batchSize: Int
    public var epochs: Int
    public var learningRate: Double
    /// Cosine decay to `learningRate * finalLearningRateFactor`.
    public var finalLearningRateFactor: Double
    /// Conditional priors: the share of training sequences that start with BOS instead of their class token,
    /// so one model also serves when the class is unknown (coding).
    public var classDropout: Double
    /// Gradients are clipped to this global L2 norm (0: no clipping).
    public var gradientClip: Double
    public var checkpointEvery: Int
    public var seed: UInt64
    public var threads: Int

    public init(tokenizer: String = "mnist", model: TokenPrior.Configuration = .init(), batchSize: Int = 128, epochs: Int = 10,
                learningRate: Double = 1e-3, finalLearningRateFactor: Double = 0.05, classDropout: Double = 0.1,
                gradientClip: Double = 1, checkpointEvery: Int = 200, seed: UInt64 = 0, threads: Int = 2) {
        self.tokenizer = tokenizer
        self.model = model
        self.batchSize = batchSize
        self.epochs = epochs
        self.learningRate = learningRate
        self.finalLearningRateFactor = finalLearningRateFactor
        self.classDropout = classDropout
        self.gradientClip = gradientClip
        self.checkpointEvery = checkpointEvery
        self.seed = seed
        self.threads = threads
    }

    /// The built-in MNIST prior's recipe: the TokenPrior of MISSION.md with a class token (10 classes,
    /// 10% of sequences unconditional), Adam 1e-3 with cosine decay, batch 128.
    public static var mnist: PriorTrainingConfiguration {
        PriorTrainingConfiguration(model: TokenPrior.Configuration(classes: 10), epochs: 12)
    }

    public var problem: String? {
        if batchSize < 1 { return "batchSize is \(batchSize); expected at least 1" }
        if epochs < 1 { return "epochs is \(epochs); expected at least 1" }
        if !(learningRate > 0) { return "learningRate is \(learningRate); expected a positive number" }
        if !(finalLearningRateFactor > 0 && finalLearningRateFactor <= 1) { return "finalLearningRateFactor is \(finalLearningRateFactor); expected (0, 1]" }
        if !(classDropout >= 0 && classDropout <= 1) { return "classDropout is \(classDropout); expected 0...1" }
        if !(gradientClip >= 0) { return "gradientClip is \(gradientClip); expected >= 0" }
        if checkpointEvery < 1 { return "checkpointEvery is \(checkpointEvery); expected at least 1" }
        if threads < 1 { return "threads is \(threads); expected at least 1" }
        return nil
    }
}

/// Held-out negative log-likelihood of a prior.
public struct PriorEvaluation: Sendable, Codable {
    public var sequences: Int
    public var tokensPerSequence: Int
    public var codebookSize: Int
    /// Mean over all test tokens, in bits.
    public var bitsPerToken: Double
    /// With each sequence's class token (conditional priors only).
    public var conditionalBitsPerToken: Double?
    public var bitsPerImage: Double { bitsPerToken * Double(tokensPerSequence) }
    public var uniformBitsPerToken: Double { log2(Double(codebookSize)) }

    /// Evaluates `prior` on `tokens` (row-major sequences) in batches, without recording gradients.
    public static func measure(prior: TokenPrior, tokens: [Int32], labels: [Int], batch: Int = 500) -> PriorEvaluation {
        let length = prior.configuration.sequenceLength
        let count = tokens.count / length
        func nats(conditional: Bool) -> Double {
            var total = 0.0
            Autograd.withoutRecording {
                for first in stride(from: 0, to: count, by: batch) {
                    let n = min(batch, count - first)
                    let slice = tokens[(first * length)..<((first + n) * length)].map { Int($0) }
                    let l = conditional ? Array(labels[first..<(first + n)]) : nil
                    total += Double(prior.loss(tokens: slice, batch: n, labels: l).total.scalar) * Double(n * length)
                }
            }
            return total / Double(max(1, count * length))
        }
        let conditional = prior.configuration.classes > 0 && labels.allSatisfy { $0 >= 0 && $0 < prior.configuration.classes }
        return PriorEvaluation(sequences: count, tokensPerSequence: length, codebookSize: prior.configuration.vocabulary,
                               bitsPerToken: nats(conditional: false) / log(2),
                               conditionalBitsPerToken: conditional ? nats(conditional: true) / log(2) : nil)
    }
}

/// Trains a `TokenPrior` on a tokenized dataset: Adam with a cosine learning rate, held-out bits per token
/// after each epoch, HDF5 checkpoints (`last.h5`, `epoch-NNN.h5`) that resume bit-exactly, and the final
/// weights as `model.safetensors`.
public final class PriorTrainer: PriorTrainingRun {
    public let configuration: PriorTrainingConfiguration
    public let prior: TokenPrior
    public let cache: TokenCache
    let optimizer: Adam
    let outputDirectory: URL
    var rng: RandomGenerator
    var order: DataOrder
    var globalStep: Int
    var metrics: [String: [Double]]
    let progress: ProgressDisplay
    /// Stop after this many steps in this process (tests, smoke runs); nil runs to the end.
    public var stepLimit: Int?

    /// `cache` holds the tokens (see `TokenCache.loadOrBuild`); `tokenizerFingerprint` is recorded in the model.
    public init(configuration: PriorTrainingConfiguration, cache: TokenCache, output: URL, resume: URL? = nil,
                output log: @escaping @Sendable (String) -> Void = { print($0) }) throws {
        if let problem = configuration.problem { throw TrainingError.invalidConfiguration(problem) }
        var configuration = configuration
        configuration.model.vocabulary = cache.codebookSize
        configuration.model.sequenceLength = cache.sequenceLength
        configuration.model.tokenizerFingerprint = cache.tokenizerFingerprint
        if configuration.model.classes > 0, let bad = cache.trainLabels.first(where: { !(0..<configuration.model.classes).contains($0) }) {
            throw TrainingError.invalidConfiguration("a conditional prior with \(configuration.model.classes) classes needs labels 0..<\(configuration.model.classes); the data has \(bad)")
        }
        self.configuration = configuration
        self.cache = cache
        outputDirectory = output
        ComputeThreads.set(configuration.threads)
        do { try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true) } catch {
            throw TrainingError.failed("cannot create the output folder \(output.path): \((error as NSError).localizedDescription)")
        }
        if let resume {
            let checkpoint = try Checkpoint(contentsOf: resume)
            guard let state = checkpoint.training else {
                throw TrainingError.resumeMismatch("\(resume.path) holds no training state (weights-only)")
            }
            prior = try checkpoint.makeModel(TokenPrior.self)
            guard prior.configuration == configuration.model else {
                throw TrainingError.resumeMismatch("\(resume.path) holds a prior configured as \(ModelRegistry.configurationJSON(of: prior)); this run wants \(configuration.model)")
            }
            optimizer = try checkpoint.makeOptimizer(for: prior)
            rng = try state.makeRandomGenerator()
            globalStep = state.globalStep
            metrics = state.metrics
            order = try restoredOrder(state, seed: configuration.seed, batchSize: configuration.batchSize)
            guard order.count == cache.trainCount else {
                throw TrainingError.resumeMismatch("the checkpoint's epoch has \(order.count) sequences, the token cache \(cache.trainCount)")
            }
        } else {
            var initRNG = RandomGenerator(seed: configuration.seed)
            prior = TokenPrior(configuration: configuration.model, rng: &initRNG)
            optimizer = Adam(parameters: prior.parameters, learningRate: configuration.learningRate)
            rng = RandomGenerator(seed: configuration.seed ^ 0x7072_696F)
            globalStep = 0
            metrics = [:]
            order = DataOrder(count: cache.trainCount, seed: configuration.seed)
        }
        progress = ProgressDisplay(output: log)
    }

    var loop: PriorEpochLoop {
        PriorEpochLoop(batchSize: configuration.batchSize, epochs: configuration.epochs, peakLearningRate: configuration.learningRate,
                       finalLearningRateFactor: configuration.finalLearningRateFactor, gradientClip: configuration.gradientClip,
                       checkpointEvery: configuration.checkpointEvery, stepsPerEpoch: cache.trainCount / configuration.batchSize)
    }

    /// The mean cross-entropy of the training sequences at `indices`; conditional priors drop each class token
    /// with probability `classDropout`, a draw made for every sequence whatever the outcome so the generator's
    /// path is fixed.
    func batchLoss(_ indices: [Int]) -> Tensor {
        let c = configuration.model, length = cache.sequenceLength
        var tokens = [Int]()
        tokens.reserveCapacity(indices.count * length)
        var labels: [Int]? = c.classes > 0 ? [] : nil
        for i in indices {
            tokens += cache.trainTokens[(i * length)..<((i + 1) * length)].map { Int($0) }
            if c.classes > 0 {
                let drop = Double(rng.nextUnitFloat()) < configuration.classDropout
                labels!.append(drop ? -1 : cache.trainLabels[i])
            }
        }
        return prior.loss(tokens: tokens, batch: indices.count, labels: labels).total
    }

    public func run() throws {
        writeTrainConfiguration(configuration, to: outputDirectory)
        let c = configuration.model
        progress.line("prior: \(prior.parameterCount) parameters, \(c.layers) blocks of width \(c.dimension), \(c.sequenceLength) tokens of \(c.vocabulary) codes"
                      + (c.classes > 0 ? ", \(c.classes) classes" : "") + "; \(loop.stepsPerEpoch) steps of \(configuration.batchSize) per epoch, "
                      + "\(configuration.epochs) epochs, \(configuration.threads) threads")
        var stepsThisRun = 0
        while order.epoch < configuration.epochs {
            let outcome = try loop.run(self, stepsThisRun: &stepsThisRun)
            if outcome.stopped { return }
            let evaluation = PriorEvaluation.measure(prior: prior, tokens: cache.testTokens, labels: cache.testLabels)
            let trainBits = outcome.trainBitsPerToken
            metrics["epoch_train_bits_per_token", default: []].append(trainBits)
            metrics["eval_bits_per_token", default: []].append(evaluation.bitsPerToken)
            if let conditional = evaluation.conditionalBitsPerToken { metrics["eval_conditional_bits_per_token", default: []].append(conditional) }
            progress.line(String(format: "epoch %d: train %.4f bits/token; test (%d sequences) %.4f bits/token = %.1f bits/image",
                                 order.epoch + 1, trainBits, evaluation.sequences,
                                 evaluation.bitsPerToken, evaluation.bitsPerImage)
                          + (evaluation.conditionalBitsPerToken.map { String(format: ", with the class token %.4f bits/token", $0) } ?? ""))
            try save(to: outputDirectory.appendingPathComponent(String(format: "epoch-%03d.h5", order.epoch + 1)), position: order.count)
            order.nextEpoch()
            try save(to: outputDirectory.appendingPathComponent("last.h5"))
        }
        try Checkpoint(model: prior).write(to: outputDirectory.appendingPathComponent("model.safetensors"))
        progress.line("done: \(outputDirectory.appendingPathComponent("model.safetensors").path)")
    }

    func saveLast() throws { try save(to: outputDirectory.appendingPathComponent("last.h5")) }

    func save(to url: URL, position: Int? = nil) throws {
        let state = TrainingState(globalStep: globalStep, epoch: order.epoch, randomState: rng.stateWords, dataOrder: order.permutation,
                                  dataPosition: position ?? order.position, metrics: metrics)
        try Checkpoint(model: prior, optimizer: optimizer, training: state).write(to: url)
    }
}
