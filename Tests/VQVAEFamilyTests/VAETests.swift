import Foundation
import Testing
import VQCheckpoint
import VQData
import VQEngine
import VQImage
import VQModels
@testable import VQVAEFamily

let mnistFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../../shared/data/mnist").standardized
let hasMNIST = FileManager.default.fileExists(atPath: mnistFolder.appendingPathComponent("t10k-images-idx3-ubyte.gz").path)

/// The MNIST test split, read once (the tests train on its first images to stay fast).
let mnistTest: LabeledImages? = try? LabeledImages.mnist(directory: mnistFolder, split: .test)

func temporaryFolder() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("vae-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite(.enabled(if: hasMNIST, "needs MNIST in ../shared/data/mnist"), .serialized)
struct VAETests {
    @Test func importanceWeightedBoundIsAtLeastTheELBO() throws {
        var rng = RandomGenerator(seed: 5)
        let model = MLPVAE(configuration: .init(hiddenSize: 64, latentSize: 4), rng: &rng)
        let images = mnistTest!.prefix(8)
        let k1 = VAEEstimators.importanceWeighted(model, on: images, samples: 1, rng: &rng)
        #expect(Swift.abs(k1.logLikelihood - k1.elbo) < 1e-6, "with K = 1 the bound is the ELBO")
        let k = VAEEstimators.importanceWeighted(model, on: images, samples: 64, rng: &rng)
        #expect(k.logLikelihood >= k.elbo, "IWAE \(k.logLikelihood) < ELBO \(k.elbo)")
        // Against the engine's negative ELBO (BCE + closed-form KL): the bound is above -ELBO up to Monte Carlo noise.
        let engine = VAEEstimators.negativeELBO(model, on: images, rng: &rng)
        #expect(k.logLikelihood >= -engine.total - 1, "IWAE \(k.logLikelihood), -ELBO \(-engine.total)")
    }

    /// 512 images, 2 epochs of 8 steps of 64 with the reference MLPVAE: the first step costs about 545 nats per
    /// image, the first epoch averages about 440 and the second about 250; we require the second epoch's mean to
    /// be at least 30% below the first's.
    @Test func shortTrainingReducesTheLoss() throws {
        var options = VAETrainingOptions(outputDirectory: temporaryFolder())
        options.epochs = 2
        options.batchSize = 64
        options.seed = 11
        let trainer = try VAETrainer(options: options, train: mnistTest!.prefix(512), test: nil)
        let records = try trainer.run()
        let first = records.first!.train.total, last = records.last!.train.total
        #expect(last < 0.7 * first, "first epoch \(first), last \(last) nats/image")
        try? FileManager.default.removeItem(at: options.outputDirectory)
    }

    @Test func sameSeedGivesTheSameCheckpointAndResumeIsExact() throws {
        let data = mnistTest!.prefix(192)
        func train(epochs: Int, resume: URL? = nil, folder: URL) throws -> Checkpoint {
            var options = VAETrainingOptions(outputDirectory: folder)
            options.epochs = epochs
            options.batchSize = 64
            options.seed = 7
            options.resume = resume
            try VAETrainer(options: options, train: data, test: nil).run()
            return try Checkpoint(contentsOf: folder.appendingPathComponent("last.h5"))
        }
        let a = temporaryFolder(), b = temporaryFolder(), c = temporaryFolder()
        defer { for f in [a, b, c] { try? FileManager.default.removeItem(at: f) } }
        let first = try train(epochs: 2, folder: a)
        let second = try train(epochs: 2, folder: b)
        #expect(first.tensors == second.tensors)
        #expect(first.optimizer == second.optimizer)
        // Everything but the measured seconds.
        func withoutTimes(_ c: Checkpoint) -> TrainingState? {
            var state = c.training
            state?.metrics["train_seconds"] = nil
            return state
        }
        #expect(withoutTimes(first) == withoutTimes(second))
        // One epoch, then a resumed second: the same as two in one go.
        _ = try train(epochs: 1, folder: c)
        let resumed = try train(epochs: 2, resume: c.appendingPathComponent("epoch-001.h5"), folder: c)
        #expect(resumed.tensors == first.tensors)
        #expect(resumed.optimizer == first.optimizer)
        #expect(withoutTimes(resumed) == withoutTimes(first))
    }

    @Test func plotFilesHaveTheExpectedSize() throws {
        var rng = RandomGenerator(seed: 2)
        let test = mnistTest!.prefix(64)
        let conv = ConvVAE(rng: &rng)
        let conditional = MLPVAE(configuration: .init(hiddenSize: 32, latentSize: 2, classes: 10), rng: &rng)
        var options = VAEPlotOptions()
        options.manifoldSize = 15
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let cases: [(VAEPlotKind, any VariationalAutoencoder, Int, Int)] = [
            (.manifold, conv, 15 * 28, 15 * 28),
            (.reconstructions, conv, 10 * 30 + 2, 8 * 30 + 2),
            (.samples, conv, 10 * 30 + 2, 8 * 30 + 2),
            (.interpolation, conv, 12 * 30 + 2, 8 * 30 + 2),
            (.scatter, conv, 720, 600),
            (.analogies, conditional, 11 * 30 + 2, 8 * 30 + 2),
        ]
        for (kind, model, width, height) in cases {
            let url = folder.appendingPathComponent("\(kind.rawValue).png")
            try VAEPlots.draw(kind, model: model, test: test, options: options).write(to: url)
            let image = try Image(contentsOf: url)
            #expect(image.width == width && image.height == height, "\(kind): \(image.width)x\(image.height)")
        }
        #expect(throws: VAEError.self) { try VAEPlots.draw(.analogies, model: conv, test: test) }
        #expect(throws: VAEError.self) { try VAEPlots.draw(.manifold, model: MLPVAE(rng: &rng), test: test) }
    }

    @Test func scoreFunctionEstimatorHasTheLargerVariance() {
        var rng = RandomGenerator(seed: 4)
        let model = MLPVAE(configuration: .init(hiddenSize: 32, latentSize: 4), rng: &rng)
        let images = mnistTest!.prefix(2)
        let x = Tensor(shape: [2, 1, 28, 28], data: images.pixels)
        let rows = GradientVarianceExperiment.run(model: model, images: x, labels: nil, sampleCounts: [1, 8], repetitions: 8, rng: &rng)
        for row in rows { #expect(row.ratio > 10, "S = \(row.samples): ratio \(row.ratio)") }
        #expect(rows[1].reparameterisationVariance < rows[0].reparameterisationVariance)
    }

    @Test func referenceConfigurationKeepsItsJSONAndNames() throws {
        var rng = RandomGenerator(seed: 0)
        let model = MLPVAE(rng: &rng)
        #expect(ModelRegistry.configurationJSON(of: model) == #"{"hiddenSize":400,"inputSize":784,"latentSize":20}"#)
        #expect(model.namedParameters.map(\.name) == ["fc1.weight", "fc1.bias", "fc21.weight", "fc21.bias", "fc22.weight",
                                                     "fc22.bias", "fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias"])
        let cvae = MLPVAE(configuration: .init(classes: 10), rng: &rng)
        #expect(cvae.fc1.weight.shape == [400, 794] && cvae.fc3.weight.shape == [400, 30])
        let json = ModelRegistry.configurationJSON(of: cvae)
        #expect(try Checkpoint(model: cvae).makeModel(MLPVAE.self).configuration == cvae.configuration, "\(json)")
        #expect(try ModelRegistry.validate(kind: ConvVAE.kind, configurationJSON: ModelRegistry.configurationJSON(of: ConvVAE(rng: &rng)))
                == ConvVAE(rng: &rng).parameterCount)
    }

    /// The loader takes IDX files of any count, size and channel count, gzipped or not, and names the problem
    /// when a file is malformed.
    @Test func loaderReadsAnyIDXShapeGzippedOrNot() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // 3 RGB images of 4x8, channels last as IDX stores them.
        var bytes: [UInt8] = [0, 0, 8, 4, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 8, 0, 0, 0, 3]
        bytes += (0..<(3 * 4 * 8 * 3)).map { UInt8($0 % 256) }
        let raw = folder.appendingPathComponent("images-idx4-ubyte")
        try Data(bytes).write(to: raw)
        let images = try LabeledImages(images: raw, labels: nil)
        #expect(images.count == 3 && images.channels == 3 && images.height == 4 && images.width == 8)
        // Pixel (y 0, x 1) of image 0, channel 2 is byte 1 * 3 + 2 = 5.
        #expect(images.pixels[2 * 32 + 1] == Float(5) / 255)
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gzip.arguments = ["-k", raw.path]
        try gzip.run()
        gzip.waitUntilExit()
        let zipped = try LabeledImages(images: folder.appendingPathComponent("images-idx4-ubyte.gz"), labels: nil)
        #expect(zipped.pixels == images.pixels)
        let broken = folder.appendingPathComponent("broken")
        try Data(bytes.prefix(30)).write(to: broken)
        #expect(throws: IDXError.self) { try LabeledImages(images: broken, labels: nil) }
        #expect(throws: IDXError.self) { try LabeledImages.mnist(directory: folder, split: .train) }
    }
}
