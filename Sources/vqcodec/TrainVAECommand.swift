import ArgumentParser
import Foundation
import VQCheckpoint
import VQData
import VQLayers
import VQEngine
import VQModels
import VQVAEFamily

extension VAEArchitecture: ExpressibleByArgument {}
extension Likelihood: ExpressibleByArgument {}

struct TrainVAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "Train a VAE (MLP or convolutional, optionally class-conditional) on IDX image files such as MNIST.",
        discussion: """
        The loss is the negative ELBO per image: reconstruction (BCE for --likelihood bernoulli, the Gaussian \
        negative log-likelihood with variance --variance for gaussian) plus the closed-form KL to N(0, I), with \
        z = mu + sigma * eps. After every epoch an HDF5 checkpoint (weights, Adam state, RNG, data order, metrics) \
        is written to --out as epoch-NNN.h5 and last.h5; --resume continues one of them exactly.
        Example: vqcodec train vae --arch mlp --data ../shared/data/mnist --epochs 10 --out /tmp/vae-runs/mlp
        """
    )

    @Option(help: "mlp: the 784-400-20 MLPVAE; conv: stride-2 convolutions (32, 64 channels) and a 2-D latent.")
    var arch: VAEArchitecture = .mlp

    @Option(help: "Latent dimensions (default 20 for mlp, 2 for conv).")
    var latent: Int?

    @Flag(help: "Feed the one-hot class label to encoder and decoder (a CVAE).")
    var conditional = false

    @Option(help: "bernoulli (BCE on grey levels) or gaussian (fixed variance, see --variance).")
    var likelihood: Likelihood = .bernoulli

    @Option(help: "The Gaussian likelihood's variance per pixel (pixels in [0, 1]).")
    var variance: Float = 0.1

    @Option(help: "Folder with train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz] and the t10k files.")
    var data: String

    @Option(help: "Epochs to train (in total, counting those of a resumed checkpoint).")
    var epochs: Int

    @Option(help: "Images per batch (the last partial batch of an epoch is dropped).")
    var batch: Int = 128

    @Option(help: "Adam learning rate.")
    var lr: Double = 1e-3

    @Option(help: "Seed for initialisation, noise and shuffling (at most 2^53).")
    var seed: UInt64 = 1

    @Option(help: "Folder for the checkpoints.")
    var out: String

    @Option(help: "Continue from this checkpoint (written by this command).")
    var resume: String?

    @Option(help: "Use only the first N training images (quick runs).")
    var trainLimit: Int?

    @Option(help: "Use only the first N test images for the per-epoch test loss (0: skip it).")
    var testLimit: Int?

    @Option(help: "Compute threads (BLAS and the engine's loops).")
    var threads: Int = 2

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, found \(epochs)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, found \(batch)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number, found \(lr)") }
        if let latent, latent < 1 { throw ValidationError("--latent must be at least 1, found \(latent)") }
        guard variance > 0, variance.isFinite else { throw ValidationError("--variance must be positive, found \(variance)") }
        guard seed <= VAETrainer.maximumSeed else { throw ValidationError("--seed must be at most 2^53, found \(seed)") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, found \(threads)") }
        if let trainLimit, trainLimit < 1 { throw ValidationError("--train-limit must be at least 1, found \(trainLimit)") }
    }

    func run() throws {
        ComputeThreads.set(threads)
        do { try execute() } catch { throw vaeFailure(error) }
    }

    func execute() throws {
        let directory = URL(fileURLWithPath: data)
        var train = try LabeledImages.mnist(directory: directory, split: .train)
        if let trainLimit { train = train.prefix(trainLimit) }
        var test: LabeledImages? = try LabeledImages.mnist(directory: directory, split: .test)
        if let testLimit { test = testLimit == 0 ? nil : test!.prefix(testLimit) }
        var options = VAETrainingOptions(outputDirectory: URL(fileURLWithPath: out))
        options.architecture = arch
        options.latentSize = latent
        options.conditional = conditional
        options.likelihood = likelihood
        options.outputVariance = variance
        options.epochs = epochs
        options.batchSize = batch
        options.learningRate = lr
        options.seed = seed
        options.resume = resume.map { URL(fileURLWithPath: $0) }
        let trainer = try VAETrainer(options: options, train: train, test: test)
        printFlushed("training \(type(of: trainer.model).kind) \(configurationText(trainer.model)) (\(trainer.model.parameterCount) parameters) on \(train.count) images, \(trainer.stepsPerEpoch) steps per epoch, from epoch \(trainer.epoch + 1) of \(epochs)")
        let progress = ProgressDisplay(totalEpochs: epochs, stepsPerEpoch: trainer.stepsPerEpoch, batchSize: batch)
        let start = Date()
        let records = try trainer.run(progress: progress)
        let trainSeconds = records.reduce(0) { $0 + $1.trainSeconds }
        printFlushed(String(format: "finished: %d epochs in %.1f s wall-clock (%.1f s in training steps)", records.count,
                     Date().timeIntervalSince(start), trainSeconds))
    }
}

/// The model's configuration as its checkpoint records it.
func configurationText(_ model: any VariationalAutoencoder) -> String {
    func json<M: VariationalAutoencoder>(_ m: M) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(m.configuration)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
    return json(model)
}

/// Prints and flushes, so lines keep their order with the progress display's direct writes.
func printFlushed(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Prints a VAE command's error and returns its exit code: 2 for bad input (missing or malformed data,
/// an unreadable or wrong checkpoint, a picture the model cannot make), 1 for anything else.
func vaeFailure(_ error: Error) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    switch error {
    case is VAEError, is IDXError, is CheckpointError, is ParameterLoadError: return ExitCode(2)
    default: return ExitCode(1)
    }
}
