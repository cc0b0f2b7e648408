import Foundation
import VQCheckpoint
import VQData
import VQEngine
import VQImage
import VQLayers
import VQModels
import VQTokenizer

/// Why a training run could not start or continue.
public enum TrainingError: Error, CustomStringConvertible {
    case invalidConfiguration(String)
    case resumeMismatch(String)
    case failed(String)

    public var description: String {
        switch self {
        case let .invalidConfiguration(detail): return "invalid training configuration: \(detail)"
        case let .resumeMismatch(detail): return "cannot resume: \(detail)"
        case let .failed(detail): return detail
        }
    }
}

/// The data order of a checkpoint's training state, replayed to its position; throws when the seed does not
/// reproduce the recorded permutation (a different configuration) or the position is not on a batch boundary.
func restoredOrder(_ state: TrainingState, seed: UInt64, batchSize: Int) throws -> DataOrder {
    var order = DataOrder(count: state.dataOrder.count, seed: seed, epoch: state.epoch)
    guard order.permutation == state.dataOrder else {
        throw TrainingError.resumeMismatch("the checkpoint's data order differs from the one seed \(seed) gives; resume with the run's own train-config.json")
    }
    guard state.dataPosition % batchSize == 0 else {
        throw TrainingError.resumeMismatch("data position \(state.dataPosition) is not a multiple of batch size \(batchSize)")
    }
    for _ in 0..<(state.dataPosition / batchSize) { _ = order.nextBatch(size: batchSize) }
    return order
}

/// Trains a VQ-VAE tokenizer: Adam with a cosine learning rate, the quantiser's maintenance (EMA, restarts,
/// k-means) in training passes, a held-out evaluation and a reconstruction PNG after each epoch, and HDF5
/// checkpoints (`last.h5` every `checkpointEvery` steps, `epoch-NNN.h5` per epoch) that resume bit-exactly:
/// weights and quantiser buffers, Adam moments, the crop RNG, the data order and position, and the metrics.
public final class VQVAETrainer {
    public let configuration: VQVAETrainingConfiguration
    public let model: any ImageTokenizerModel
    let optimizer: Adam
    let dataDirectory: URL
    let outputDirectory: URL
    var rng: RandomGenerator
    var order: DataOrder
    var globalStep: Int
    var metrics: [String: [Double]]
    let source: any TrainingSource
    let evaluationImages: [Image]
    let progress: ProgressDisplay
    /// Stop after this many steps in this process (tests, smoke runs); nil runs to the end.
    public var stepLimit: Int?

    /// Sets up a run: a fresh model from `configuration`, or the state of `resume`.
    public init(configuration: VQVAETrainingConfiguration, data: URL, output: URL, resume: URL? = nil,
                output log: @escaping @Sendable (String) -> Void = { print($0) }) throws {
        if let problem = configuration.problem { throw TrainingError.invalidConfiguration(problem) }
        self.configuration = configuration
        dataDirectory = data
        outputDirectory = output
        ComputeThreads.set(configuration.threads)
        do { try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true) } catch {
            throw TrainingError.failed("cannot create the output folder \(output.path): \((error as NSError).localizedDescription)")
        }

        let channels: Int
        if let resume {
            let checkpoint = try Checkpoint(contentsOf: resume)
            guard let state = checkpoint.training else {
                throw TrainingError.resumeMismatch("\(resume.path) holds no training state (weights-only); start a new run from it instead")
            }
            guard checkpoint.modelKind == configuration.modelKind else {
                throw TrainingError.resumeMismatch("\(resume.path) holds a '\(checkpoint.modelKind)' model; the configuration trains '\(configuration.modelKind)'")
            }
            model = try TokenizerModels.make(kind: checkpoint.modelKind, configurationJSON: checkpoint.modelConfiguration)
            try checkpoint.load(into: model)
            optimizer = try checkpoint.makeOptimizer(for: model)
            rng = try state.makeRandomGenerator()
            globalStep = state.globalStep
            metrics = state.metrics
            channels = model.imageChannels
            order = try restoredOrder(state, seed: configuration.seed, batchSize: configuration.batchSize)
        } else {
            model = try TokenizerModels.make(kind: configuration.modelKind, configurationJSON: configuration.model, seed: configuration.seed)
            optimizer = Adam(parameters: model.parameters, learningRate: configuration.learningRate)
            rng = RandomGenerator(seed: configuration.seed ^ 0x7261_6E64)
            globalStep = 0
            metrics = [:]
            channels = model.imageChannels
            order = DataOrder(count: 0, seed: configuration.seed)
        }

        switch configuration.dataset {
        case .mnist:
            source = MNISTSource(images: try LabeledImages.mnist(directory: data, split: .train))
        case .photo:
            let train = try loadPNGFolders([data.appendingPathComponent("train"), data.appendingPathComponent("val")], channels: channels)
            for (i, image) in train.enumerated() where image.width < configuration.cropSize || image.height < configuration.cropSize {
                throw TrainingDataError.tooSmall(path: "training image \(i)", width: image.width, height: image.height, crop: configuration.cropSize)
            }
            source = PhotoCropSource(images: train, crop: configuration.cropSize, cropsPerImage: configuration.cropsPerImage)
        }
        evaluationImages = try loadEvaluationImages(configuration.dataset, data: data, channels: channels, limit: configuration.evaluationImages)
        if resume == nil { order = DataOrder(count: source.count, seed: configuration.seed) }
        guard order.count == source.count else {
            throw TrainingError.resumeMismatch("the checkpoint's epoch has \(order.count) examples, the data has \(source.count)")
        }
        progress = ProgressDisplay(output: log)
    }

    var stepsPerEpoch: Int { source.count / configuration.batchSize }
    var totalSteps: Int { stepsPerEpoch * configuration.epochs }

    /// Runs to the last epoch (or `stepLimit`), writing checkpoints, evaluations and pictures.
    public func run() throws {
        writeTrainConfiguration(configuration, to: outputDirectory)
        progress.line("model \(configuration.modelKind): \(model.parameterCount) parameters, codebooks \(model.codebookSizes), "
                      + "\(stepsPerEpoch) steps of \(configuration.batchSize) per epoch, \(configuration.epochs) epochs, \(configuration.threads) threads")
        var stepsThisRun = 0
        while order.epoch < configuration.epochs {
            let epochStart = Date()
            var imagesSeen = 0
            var sums: [String: Double] = [:], count = 0
            while let indices = order.nextBatch(size: configuration.batchSize) {
                optimizer.learningRate = configuration.learningRate(step: globalStep, totalSteps: totalSteps)
                let x = source.batch(indices, rng: &rng)
                model.quantizer.isTraining = true
                let out = model.trainingOutput(x)
                model.quantizer.isTraining = false
                out.loss.total.backward()
                optimizer.update()
                optimizer.zeroGradients()
                globalStep += 1
                stepsThisRun += 1
                imagesSeen += indices.count
                count += 1
                sums["loss", default: 0] += Double(out.loss.total.scalar)
                for (name, value) in out.loss.terms { sums[name, default: 0] += Double(value.scalar) }
                metrics["loss", default: []].append(Double(out.loss.total.scalar))
                let done = stepsPerEpoch - order.batchesLeft(batchSize: configuration.batchSize)
                let rate = Double(imagesSeen) / Swift.max(1e-9, Date().timeIntervalSince(epochStart))
                let remainingSteps = totalSteps - globalStep
                progress.step(epoch: order.epoch + 1, epochs: configuration.epochs, step: done, steps: stepsPerEpoch,
                              terms: sums.mapValues { $0 / Double(count) }, imagesPerSecond: rate,
                              eta: Double(remainingSteps * configuration.batchSize) / Swift.max(rate, 1e-9))
                if globalStep % configuration.checkpointEvery == 0 {
                    try save(to: outputDirectory.appendingPathComponent("last.h5"))
                }
                if let stepLimit, stepsThisRun >= stepLimit {
                    try save(to: outputDirectory.appendingPathComponent("last.h5"))
                    progress.finish()
                    return
                }
            }
            progress.finish()
            let usage = model.quantizer.usageCounts.map { CodebookStatistics(counts: $0) }
            try endOfEpoch(trainingUsage: usage, terms: sums.mapValues { $0 / Double(Swift.max(1, count)) })
            model.quantizer.resetStatistics()
            order.nextEpoch()
            try save(to: outputDirectory.appendingPathComponent("last.h5"))
        }
        try exportWeights(to: outputDirectory.appendingPathComponent("model.safetensors"))
        progress.line("done: \(outputDirectory.appendingPathComponent("model.safetensors").path)")
    }

    private func endOfEpoch(trainingUsage: [CodebookStatistics], terms: [String: Double]) throws {
        let epoch = order.epoch
        let tokenizer = Tokenizer(model: model)
        let evaluation = try TokenizerEvaluation(tokenizer: tokenizer, images: evaluationImages)
        for (name, value) in terms { metrics["epoch_\(name)", default: []].append(value) }
        var parts: [String] = []
        for (i, level) in evaluation.levels.enumerated() {
            let suffix = evaluation.levels.count > 1 ? "_l\(level.levels)" : ""
            metrics["eval_psnr\(suffix)", default: []].append(level.meanPSNR)
            metrics["eval_bpp\(suffix)", default: []].append(level.bitsPerPixel)
            let train = i < trainingUsage.count ? trainingUsage[i] : nil
            metrics["train_usage\(suffix)", default: []].append(train?.usage ?? 0)
            metrics["train_perplexity\(suffix)", default: []].append(train?.perplexity ?? 0)
            metrics["eval_usage\(suffix)", default: []].append(level.codebook.usage)
            parts.append(String(format: "L%d %.2f dB %.3f bpp | codebook %d: train usage %.1f%% perplexity %.1f, eval usage %.1f%%",
                                level.levels, level.meanPSNR, level.bitsPerPixel, i, 100 * (train?.usage ?? 0),
                                train?.perplexity ?? 0, 100 * level.codebook.usage))
        }
        let dead = model.quantizer.deadCodeCounts
        metrics["dead_codes", default: []].append(Double(dead.reduce(0, +)))
        progress.line("epoch \(epoch + 1) evaluation on \(evaluation.images) held-out images: " + parts.joined(separator: "; ")
                      + (dead.isEmpty ? "" : "; dead codes \(dead)"))
        try reconstructionPicture(tokenizer).write(to: outputDirectory.appendingPathComponent(String(format: "reconstruction-epoch-%03d.png", epoch + 1)))
        try save(to: outputDirectory.appendingPathComponent(String(format: "epoch-%03d.h5", epoch + 1)), position: order.count)
    }

    /// Originals in the first row, then one row per level count.
    private func reconstructionPicture(_ tokenizer: Tokenizer) throws -> Image {
        let originals: [Image]
        if configuration.dataset == .mnist {
            originals = Array(evaluationImages.prefix(16))
        } else {
            originals = evaluationImages.prefix(4).map { centreCrop($0, size: 128) }
        }
        let grids = try tokenizer.encode(originals)
        var rows = originals
        for levels in 1...tokenizer.levels {
            rows += try tokenizer.decode(grids.map { $0.truncated(toLevels: levels) })
        }
        return Image.grid(rows, columns: originals.count)
    }

    private func centreCrop(_ image: Image, size: Int) -> Image {
        let s = Swift.min(size, image.width, image.height)
        let x0 = (image.width - s) / 2, y0 = (image.height - s) / 2, c = image.channels
        var pixels: [UInt8] = []
        for y in 0..<s {
            let start: Int = ((y0 + y) * image.width + x0) * c
            pixels += image.pixels[start..<(start + s * c)]
        }
        return Image(width: s, height: s, channels: c, pixels: pixels)
    }

    /// Writes the complete state; `position` overrides the data position (an epoch's end).
    func save(to url: URL, position: Int? = nil) throws {
        let state = TrainingState(globalStep: globalStep, epoch: order.epoch, randomState: rng.stateWords, dataOrder: order.permutation,
                                  dataPosition: position ?? order.position, metrics: metrics)
        try snapshot(model, state: state).write(to: url)
    }

    private func snapshot<M: ImageTokenizerModel>(_ model: M, state: TrainingState?) -> Checkpoint {
        Checkpoint(model: model, optimizer: state == nil ? nil : optimizer, training: state)
    }

    /// The weights alone (with quantiser buffers), as the built-in models are shipped.
    public func exportWeights(to url: URL) throws {
        try snapshot(model, state: nil).write(to: url)
    }
}
