import Foundation
import Testing
import VQCheckpoint
import VQEngine
import VQModels
import VQTokenizer
@testable import VQTraining

/// A tiny MNIST-layout folder: `count` random 12x12 "digits" in both splits.
private func writeTinyMNIST(to directory: URL, count: Int) throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    var rng = RandomGenerator(seed: 11)
    func header(_ words: [UInt32]) -> Data { Data(words.flatMap { w in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: w >> UInt32($0)) } }) }
    for prefix in ["train", "t10k"] {
        var images = header([0x0803, UInt32(count), 12, 12])
        images.append(contentsOf: (0..<(count * 144)).map { i in (i % 12) > 3 && (i % 12) < 8 ? UInt8(128 + rng.next() % 128) : UInt8(rng.next() % 40) })
        try images.write(to: directory.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
        var labels = header([0x0801, UInt32(count)])
        labels.append(contentsOf: (0..<count).map { UInt8($0 % 10) })
        try labels.write(to: directory.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
    }
}

private func tinyConfiguration() -> VQVAETrainingConfiguration {
    let model = ConvVQVAE.Configuration(hiddenChannels: 4, latentChannels: 4, codes: 8,
                                        quantizer: QuantizerOptions(kind: .ema, deadCodeSteps: 2, kmeansInit: true))
    return VQVAETrainingConfiguration(modelKind: ConvVQVAE.kind, model: VQVAETrainingConfiguration.json(model), dataset: .mnist,
                                      batchSize: 8, epochs: 2, learningRate: 1e-2, finalLearningRateFactor: 0.1,
                                      evaluationImages: 8, checkpointEvery: 2, seed: 3, threads: 1)
}

@Suite struct TrainingTests {
    @Test func resumeIsBitExact() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vqtrain-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("data")
        try writeTinyMNIST(to: data, count: 32)
        let quiet: @Sendable (String) -> Void = { _ in }

        let straight = try VQVAETrainer(configuration: tinyConfiguration(), data: data, output: root.appendingPathComponent("a"), output: quiet)
        try straight.run()

        let first = try VQVAETrainer(configuration: tinyConfiguration(), data: data, output: root.appendingPathComponent("b"), output: quiet)
        first.stepLimit = 3
        try first.run()
        let resumed = try VQVAETrainer(configuration: tinyConfiguration(), data: data, output: root.appendingPathComponent("b"),
                                       resume: root.appendingPathComponent("b/last.h5"), output: quiet)
        try resumed.run()

        let a = straight.model.namedParameters, b = resumed.model.namedParameters
        #expect(a.map(\.name) == b.map(\.name))
        for (x, y) in zip(a, b) { #expect(x.tensor.data == y.tensor.data, "\(x.name) differs after resume") }
        for file in ["epoch-001.h5", "epoch-002.h5", "reconstruction-epoch-002.png", "model.safetensors", "train-config.json"] {
            #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("a/\(file)").path), "\(file)")
        }
        let exported = try Tokenizer(checkpoint: root.appendingPathComponent("a/model.safetensors"))
        #expect(exported.fingerprint == Tokenizer(model: straight.model).fingerprint)
    }

    @Test func ppmReader() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("t-\(UUID().uuidString).ppm")
        defer { try? FileManager.default.removeItem(at: url) }
        try (Data("P6\n# comment\n2 1\n255\n".utf8) + Data([1, 2, 3, 4, 5, 6])).write(to: url)
        let image = try readPPM(url)
        #expect(image.width == 2 && image.height == 1 && image.pixels == [1, 2, 3, 4, 5, 6])
    }
}
