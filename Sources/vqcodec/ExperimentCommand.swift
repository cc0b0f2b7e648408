import ArgumentParser
import Foundation
import VQData
import VQEngine
import VQVAEFamily

/// `vqcodec experiment <name>`: small experiments from the course notes.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run an experiment from the course notes on a trained model.",
        subcommands: [GradientVarianceCommand.self]
    )
}

struct GradientVarianceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradient-variance",
        abstract: "Variance of the score-function and reparameterisation estimators of the ELBO gradient w.r.t. the encoder.",
        discussion: """
        For each sample count S, runs --repetitions independent S-sample estimates of the gradient of \
        E_q(z|x)[log p(x|z)] with respect to the encoder's parameters, summed over --images test images, with \
        the score-function estimator (1/S) sum log p(x|z_s) grad log q(z_s|x) and with the reparameterisation \
        estimator (1/S) sum grad log p(x|mu + sigma eps_s). Prints the total variance (sum over parameters) of \
        each, their ratio, the squared norm of the mean gradient, and how far the two estimators' means are apart.
        """
    )

    @Argument(help: "A checkpoint written by `vqcodec train vae`.")
    var checkpoint: String

    @Option(help: "Folder with the t10k IDX files.")
    var data: String = "../shared/data/mnist"

    @Option(parsing: .upToNextOption, help: "Sample counts S to compare.")
    var samples: [Int] = [1, 10, 100]

    @Option(help: "Independent estimates per estimator and S.")
    var repetitions: Int = 50

    @Option(help: "Test images the gradient is summed over.")
    var images: Int = 4

    @Option(help: "Seed.")
    var seed: UInt64 = 0

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard !samples.isEmpty, samples.allSatisfy({ (1...10_000).contains($0) }) else {
            throw ValidationError("--samples needs counts in 1...10000, found \(samples)")
        }
        guard repetitions >= 2 else { throw ValidationError("--repetitions must be at least 2 (a variance needs two), found \(repetitions)") }
        guard (1...1000).contains(images) else { throw ValidationError("--images must be in 1...1000, found \(images)") }
    }

    func run() throws {
        ComputeThreads.set(2)
        do { try execute() } catch { throw vaeFailure(error) }
    }

    func execute() throws {
        let loaded = try LoadedVAE(contentsOf: URL(fileURLWithPath: checkpoint))
        let test = try LabeledImages.mnist(directory: URL(fileURLWithPath: data), split: .test).prefix(images)
        try VAEEvaluation.check(test, for: loaded.model, source: data)
        let x = Tensor(shape: [test.count, test.channels, test.height, test.width], data: test.pixels)
        var rng = RandomGenerator(seed: seed)
        let rows = GradientVarianceExperiment.run(model: loaded.model, images: x, labels: loaded.model.classes > 0 ? test.labels : nil,
                                                  sampleCounts: samples, repetitions: repetitions, rng: &rng)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        print("gradient of E_q[log p(x|z)] w.r.t. the encoder (\(loaded.model.encoderParameters.reduce(0) { $0 + $1.tensor.count }) parameters), \(test.count) test images, \(repetitions) estimates each")
        print("     S   reparam. variance   score-fn variance     ratio   |mean grad|^2   rel. diff. of means")
        for r in rows {
            print(String(format: "%6d   %17.4g   %17.4g   %7.3g   %13.4g   %19.3f", r.samples, r.reparameterisationVariance,
                         r.scoreFunctionVariance, r.ratio, r.meanGradientNormSquared, r.relativeDifferenceOfMeans))
        }
    }
}
