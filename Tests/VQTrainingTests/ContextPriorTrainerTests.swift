import Foundation
import Testing
import VQCheckpoint
import VQEngine
import VQModels
@testable import VQTraining

/// Grids a context prior can learn fast: level 0 repeats its left neighbour plus one, level 1 copies level 0.
private func syntheticCache(count: Int) -> PhotoTokenCache {
    var rng = RandomGenerator(seed: 4)
    let grids = (0..<count).map { _ -> PhotoTokenCache.Grid in
        let (h, w) = (4, 6)
        var level0: [Int32] = []
        for _ in 0..<h {
            var t = Int32(rng.next() % 8)
            for _ in 0..<w {
                level0.append(t)
                t = (t + 1) % 8
            }
        }
        return PhotoTokenCache.Grid(height: h, width: w, indices: level0 + level0)
    }
    return PhotoTokenCache(tokenizerFingerprint: "c0ffee" + String(repeating: "0", count: 58), levels: 2, codebookSize: 8,
                           train: grids, test: Array(grids.prefix(8)))
}

private func tinyConfiguration(epochs: Int) -> ContextPriorTrainingConfiguration {
    ContextPriorTrainingConfiguration(tokenizer: "unused", model: ContextPrior.Configuration(embedding: 8, hiddenSize: 32), batchSize: 32,
                                      epochs: epochs, learningRate: 1e-2, checkpointEvery: 3, testImages: 8, seed: 3, threads: 1)
}

private func temporaryFolder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("vqcontext-\(UUID().uuidString)")
}

@Suite struct ContextPriorTrainerTests {
    let quiet: @Sendable (String) -> Void = { _ in }

    @Test("a few epochs on learnable grids cut the held-out bits per token by more than half, on both levels")
    func trainingLowersTheLoss() throws {
        let root = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = syntheticCache(count: 64)
        let trainer = try ContextPriorTrainer(configuration: tinyConfiguration(epochs: 6), cache: cache, output: root, output: quiet)
        let before = ContextPriorEvaluation.measure(prior: trainer.prior, samples: trainer.test)
        try trainer.run()
        let after = ContextPriorEvaluation.measure(prior: trainer.prior, samples: trainer.test)
        #expect(before.meanBitsPerToken > 2.5)
        #expect(after.bitsPerToken.allSatisfy { $0 < before.meanBitsPerToken / 2 }, "\(before.bitsPerToken) -> \(after.bitsPerToken)")
        let exported = try Checkpoint(contentsOf: root.appendingPathComponent("model.safetensors")).makeModel(ContextPrior.self)
        #expect(exported.configuration.tokenizerFingerprint == cache.tokenizerFingerprint && exported.configuration.levels == 2)
    }

    @Test("a run stopped mid-epoch and resumed reaches bit-identical parameters")
    func resumeIsBitExact() throws {
        let root = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = syntheticCache(count: 16)  // 768 tokens: 24 steps of 32 per epoch
        let straight = try ContextPriorTrainer(configuration: tinyConfiguration(epochs: 2), cache: cache, output: root.appendingPathComponent("a"), output: quiet)
        try straight.run()
        let first = try ContextPriorTrainer(configuration: tinyConfiguration(epochs: 2), cache: cache, output: root.appendingPathComponent("b"), output: quiet)
        first.stepLimit = 30
        try first.run()
        let resumed = try ContextPriorTrainer(configuration: tinyConfiguration(epochs: 2), cache: cache, output: root.appendingPathComponent("b"),
                                              resume: root.appendingPathComponent("b/last.h5"), output: quiet)
        try resumed.run()
        for (a, b) in zip(straight.prior.namedParameters, resumed.prior.namedParameters) {
            #expect(a.tensor.data.map(\.bitPattern) == b.tensor.data.map(\.bitPattern), "\(a.name) differs after resume")
        }
    }

    @Test("the photo token cache round-trips through HDF5 and refuses damaged files")
    func tokenCacheFile() throws {
        let root = temporaryFolder()
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = syntheticCache(count: 5)
        let url = root.appendingPathComponent("photo-tokens.h5")
        try cache.write(to: url)
        #expect(try PhotoTokenCache(contentsOf: url) == cache)
        var bytes = [UInt8](try Data(contentsOf: url))
        bytes[bytes.count - 40] ^= 0xff  // inside the last dataset's data
        try Data(bytes).write(to: url)
        #expect(throws: (any Error).self) { try PhotoTokenCache(contentsOf: url) }
    }
}
