import Foundation
import Testing
import VQCheckpoint
import VQEngine
import VQModels
@testable import VQTraining

/// Sequences with structure a prior can learn fast: each token follows from the previous one and the class.
private func syntheticCache(count: Int) -> TokenCache {
    var rng = RandomGenerator(seed: 2)
    var tokens: [Int32] = [], labels: [Int] = []
    for _ in 0..<count {
        let label = Int(rng.next() % 3)
        var t = Int(rng.next() % 4)
        for _ in 0..<9 {
            tokens.append(Int32(t))
            t = (t + 1 + label) % 16
        }
        labels.append(label)
    }
    return TokenCache(tokenizerFingerprint: "feedface" + String(repeating: "0", count: 56), gridHeight: 3, gridWidth: 3, codebookSize: 16,
                      trainTokens: tokens, trainLabels: labels, testTokens: Array(tokens.prefix(9 * 32)), testLabels: Array(labels.prefix(32)))
}

private func tinyConfiguration(epochs: Int = 3) -> PriorTrainingConfiguration {
    PriorTrainingConfiguration(tokenizer: "unused", model: TokenPrior.Configuration(dimension: 16, heads: 2, layers: 1, hiddenSize: 32, classes: 3),
                               batchSize: 16, epochs: epochs, learningRate: 1e-2, checkpointEvery: 3, seed: 7, threads: 1)
}

private func temporaryFolder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("vqprior-\(UUID().uuidString)")
}

@Suite struct PriorTrainerTests {
    let quiet: @Sendable (String) -> Void = { _ in }

    @Test("a few epochs on learnable sequences cut the held-out bits per token by more than half")
    func trainingLowersTheLoss() throws {
        let root = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = syntheticCache(count: 256)
        let trainer = try PriorTrainer(configuration: tinyConfiguration(epochs: 6), cache: cache, output: root, output: quiet)
        let before = PriorEvaluation.measure(prior: trainer.prior, tokens: cache.testTokens, labels: cache.testLabels)
        try trainer.run()
        let after = PriorEvaluation.measure(prior: trainer.prior, tokens: cache.testTokens, labels: cache.testLabels)
        #expect(before.bitsPerToken > 3.5)
        #expect(after.conditionalBitsPerToken! < before.bitsPerToken / 2, "\(before.bitsPerToken) -> \(after.conditionalBitsPerToken!)")
        #expect(after.conditionalBitsPerToken! < after.bitsPerToken, "the class token should help on class-dependent sequences")
        let exported = try Checkpoint(contentsOf: root.appendingPathComponent("model.safetensors")).makeModel(TokenPrior.self)
        #expect(exported.configuration.tokenizerFingerprint == cache.tokenizerFingerprint && exported.configuration.classes == 3)
    }

    @Test("a run stopped mid-epoch and resumed reaches bit-identical parameters")
    func resumeIsBitExact() throws {
        let root = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = syntheticCache(count: 64)
        let straight = try PriorTrainer(configuration: tinyConfiguration(epochs: 2), cache: cache, output: root.appendingPathComponent("a"), output: quiet)
        try straight.run()
        let first = try PriorTrainer(configuration: tinyConfiguration(epochs: 2), cache: cache, output: root.appendingPathComponent("b"), output: quiet)
        first.stepLimit = 5  // 4 steps per epoch: stops inside the second epoch
        try first.run()
        let resumed = try PriorTrainer(configuration: tinyConfiguration(epochs: 2), cache: cache, output: root.appendingPathComponent("b"),
                                       resume: root.appendingPathComponent("b/last.h5"), output: quiet)
        try resumed.run()
        for (a, b) in zip(straight.prior.namedParameters, resumed.prior.namedParameters) {
            #expect(a.tensor.data.map(\.bitPattern) == b.tensor.data.map(\.bitPattern), "\(a.name) differs after resume")
        }
    }

    @Test("the token cache round-trips through HDF5 and refuses other files")
    func tokenCacheFile() throws {
        let root = temporaryFolder()
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = syntheticCache(count: 20)
        let url = root.appendingPathComponent("tokens.h5")
        try cache.write(to: url)
        #expect(try TokenCache(contentsOf: url) == cache)
        let other = root.appendingPathComponent("other.h5")
        try TensorFile.write(to: other, attributes: ["format": "something-else"], tensors: [])
        #expect(throws: (any Error).self) { try TokenCache(contentsOf: other) }
        var bytes = [UInt8](try Data(contentsOf: url))
        bytes[bytes.count - 40] ^= 0xff  // inside the last dataset's data
        try Data(bytes).write(to: url)
        #expect(throws: (any Error).self) { try TokenCache(contentsOf: url) }
    }
}
