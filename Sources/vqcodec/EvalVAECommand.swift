import ArgumentParser
import Foundation
import VQData
import VQEngine
import VQModels
import VQVAEFamily

/// `vqcodec eval`: the codec's rate-distortion evaluation stays the default (`vqcodec eval --data ...`);
/// `vqcodec eval vae CKPT` evaluates a VAE.
struct EvalGroupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate the codec against PNG/JPEG/WebP (default: `eval codec`), a VAE (`eval vae`) or a token prior (`eval prior`).",
        subcommands: [EvalCommand.self, EvalVAECommand.self, EvalPriorCommand.self],
        defaultSubcommand: EvalCommand.self
    )
}

struct EvalVAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "Test negative ELBO per image (reconstruction + KL) and the importance-weighted estimate of log p(x).",
        discussion: """
        The negative ELBO uses one reparameterised sample per test image, as the PyTorch example's test loss. \
        The importance-weighted estimate is log (1/K) sum_k p(x, z_k) / q(z_k|x) with z_k ~ q(z|x) (the IWAE \
        bound; with K in the thousands, the marginal-likelihood estimate of Kingma & Welling); it is printed \
        beside the ELBO from the same samples, which it never falls below. All values in nats per image. \
        For the Bernoulli likelihood on grey-level pixels these are the BCE-based quantities of the examples, \
        not densities of a discrete model.
        """
    )

    @Argument(help: "A checkpoint written by `vqcodec train vae`.")
    var checkpoint: String

    @Option(help: "Folder with t10k-images-idx3-ubyte[.gz] (and the labels, for conditional models).")
    var data: String

    @Option(name: .customLong("iw-samples"), help: "Importance samples K per image (0 skips the estimate; at most 5000).")
    var iwSamples: Int = 0

    @Option(help: "Use only the first N test images (for the importance-weighted estimate too).")
    var limit: Int?

    @Option(name: .customLong("iw-limit"), help: "Importance-weighted estimate on only the first N of those images.")
    var iwLimit: Int?

    @Option(help: "Seed for the sampled z.")
    var seed: UInt64 = 0

    @Option(help: "Compute threads.")
    var threads: Int = 2

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard (0...5000).contains(iwSamples) else { throw ValidationError("--iw-samples must be in 0...5000, found \(iwSamples)") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, found \(limit)") }
        if let iwLimit, iwLimit < 1 { throw ValidationError("--iw-limit must be at least 1, found \(iwLimit)") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, found \(threads)") }
    }

    struct Report: Codable {
        var checkpoint: String
        var modelKind: String
        var images: Int
        var negativeELBO: Double
        var reconstruction: Double
        var kl: Double
        var importanceWeighted: VAEEstimators.ImportanceWeighted?
        var seconds: Double
    }

    func run() throws {
        ComputeThreads.set(threads)
        do { try execute() } catch { throw vaeFailure(error) }
    }

    func execute() throws {
        let loaded = try LoadedVAE(contentsOf: URL(fileURLWithPath: checkpoint))
        var test = try LabeledImages.mnist(directory: URL(fileURLWithPath: data), split: .test)
        if let limit { test = test.prefix(limit) }
        let model = loaded.model
        try VAEEvaluation.check(test, for: model, source: data)
        let start = Date()
        var rng = RandomGenerator(seed: seed)
        let terms = VAEEstimators.negativeELBO(model, on: test, rng: &rng)
        var iw: VAEEstimators.ImportanceWeighted?
        if iwSamples > 0 {
            let subset = iwLimit.map { test.prefix($0) } ?? test
            let iwStart = Date()
            iw = VAEEstimators.importanceWeighted(model, on: subset, samples: iwSamples, rng: &rng) { done in
                if done % 100 == 0 || done == subset.count {
                    let rate = Double(done) / Date().timeIntervalSince(iwStart)
                    FileHandle.standardError.write(Data(String(format: "importance weighting: %d/%d images, %.1f images/s\n", done, subset.count, rate).utf8))
                }
            }
        }
        let report = Report(checkpoint: checkpoint, modelKind: loaded.checkpoint.modelKind, images: test.count,
                            negativeELBO: terms.total, reconstruction: terms.reconstruction, kl: terms.kl,
                            importanceWeighted: iw, seconds: Date().timeIntervalSince(start))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("\(loaded.checkpoint.modelKind) \(checkpoint), \(test.count) test images")
        print(String(format: "negative ELBO  %.2f nats/image  (reconstruction %.2f + KL %.2f)", terms.total, terms.reconstruction, terms.kl))
        if let iw {
            print(String(format: "log p(x) >= %.2f nats/image  (importance-weighted, K = %d, %d images)", iw.logLikelihood, iw.samples, iw.images))
            print(String(format: "ELBO from the same samples  %.2f nats/image  (IWAE - ELBO = %.2f)", iw.elbo, iw.logLikelihood - iw.elbo))
        }
        print(String(format: "%.1f s", report.seconds))
    }
}
