import Foundation
import Testing
import VQData
import VQEngine
import VQLayers
import VQModels
@testable import VQCheckpoint

private let mnistImages = URL(fileURLWithPath: "/work/shared/data/mnist/train-images-idx3-ubyte.gz")

/// The first `count` MNIST training images as floats in [0, 1], [count, 784].
private func mnistSubset(_ count: Int) throws -> [Float] {
    let images = try IDXArray(data: try gunzip(try Data(contentsOf: mnistImages)), path: mnistImages.path)
    return images.bytes.prefix(count * 784).map { Float($0) / 255 }
}

/// A small training run whose every source of randomness is the run's own generator: the shuffle at each
/// epoch and (for the VAE) the reparameterisation noise. Its complete state is model, Adam and TrainingState.
private final class TinyRun {
    let model: any Layer
    let adam: Adam
    let pixels: [Float]
    let count: Int
    let batchSize = 32
    var rng: RandomGenerator
    var order: [Int]
    var position = 0
    var epoch = 0
    var step = 0
    var losses: [Double] = []

    init(model: any Layer, pixels: [Float], seed: UInt64) {
        self.model = model
        self.pixels = pixels
        count = pixels.count / 784
        adam = Adam(parameters: model.parameters, learningRate: 1e-3)
        rng = RandomGenerator(seed: seed)
        order = rng.permutation(count)
    }

    /// Continues a run from a checkpoint, in fresh objects.
    init(checkpoint: Checkpoint, pixels: [Float]) throws {
        model = try checkpoint.makeModel()
        adam = try checkpoint.makeOptimizer(for: model)
        guard let training = checkpoint.training else {
            throw CheckpointError.invalidMetadata(name: "training", detail: "the checkpoint has no training state")
        }
        rng = try training.makeRandomGenerator()
        order = training.dataOrder
        position = training.dataPosition
        epoch = training.epoch
        step = training.globalStep
        losses = training.metrics["loss"] ?? []
        self.pixels = pixels
        count = pixels.count / 784
    }

    func train(until last: Int) {
        while step < last {
            if position + batchSize > count {
                epoch += 1
                order = rng.permutation(count)
                position = 0
            }
            var batch = [Float]()
            for i in order[position..<(position + batchSize)] { batch += pixels[(i * 784)..<((i + 1) * 784)] }
            position += batchSize
            let loss: Tensor
            switch model {
            case let vae as MLPVAE:
                let noise = rng.normal([batchSize, vae.configuration.latentSize])
                loss = vae.loss(Tensor(shape: [batchSize, 784], data: batch), noise: noise).total
            case let vqvae as ConvVQVAE:
                loss = vqvae(Tensor(shape: [batchSize, 1, 28, 28], data: batch)).loss.total
            default:
                fatalError("TinyRun: unsupported model")
            }
            loss.backward()
            adam.update()
            adam.zeroGradients()
            losses.append(Double(loss.scalar))
            step += 1
        }
    }

    var state: TrainingState {
        TrainingState(globalStep: step, epoch: epoch, randomState: rng.stateWords, dataOrder: order, dataPosition: position,
                      metrics: ["loss": losses])
    }

    func checkpoint() -> Checkpoint {
        switch model {
        case let vae as MLPVAE: Checkpoint(model: vae, optimizer: adam, training: state)
        case let vqvae as ConvVQVAE: Checkpoint(model: vqvae, optimizer: adam, training: state)
        default: fatalError("TinyRun: unsupported model")
        }
    }
}

@Suite("exact resume")
struct ExactResumeTests {
    enum Case: String, CaseIterable { case mlpVAE, convVQVAE }

    /// Stops at step N (mid-epoch), saves everything, reloads into fresh objects and continues to M (past an
    /// epoch boundary, so the reshuffle comes from the restored generator); compares with an uninterrupted run.
    @Test("a run stopped at N and resumed from its checkpoint matches an uninterrupted run to M, bit for bit",
          .enabled(if: FileManager.default.fileExists(atPath: mnistImages.path), "needs MNIST in /work/shared/data/mnist"),
          arguments: Case.allCases)
    func resumeIsExact(_ which: Case) throws {
        let pixels = try mnistSubset(256)  // 8 batches of 32 per epoch
        func freshModel() -> any Layer {
            var rng = RandomGenerator(seed: 11)
            switch which {
            case .mlpVAE: return MLPVAE(configuration: .init(hiddenSize: 64, latentSize: 8), rng: &rng)
            case .convVQVAE: return ConvVQVAE(configuration: .init(hiddenChannels: 8, latentChannels: 16, codes: 32), rng: &rng)
            }
        }
        let (stop, end) = (5, 12)
        let uninterrupted = TinyRun(model: freshModel(), pixels: pixels, seed: 5)
        uninterrupted.train(until: end)

        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("run.h5")
            let first = TinyRun(model: freshModel(), pixels: pixels, seed: 5)
            first.train(until: stop)
            try first.checkpoint().write(to: url)

            let resumed = try TinyRun(checkpoint: Checkpoint(contentsOf: url), pixels: pixels)
            #expect(resumed.step == stop && resumed.epoch == 0)
            resumed.train(until: end)
            #expect(resumed.epoch == 1)

            for ((name, a), (_, b)) in zip(uninterrupted.model.namedParameters, resumed.model.namedParameters) {
                #expect(bits(a.data) == bits(b.data), "\(name) differs after resuming")
            }
            #expect(uninterrupted.adam.firstMoments.map(bits) == resumed.adam.firstMoments.map(bits))
            #expect(uninterrupted.adam.secondMoments.map(bits) == resumed.adam.secondMoments.map(bits))
            #expect(uninterrupted.adam.step == resumed.adam.step)
            #expect(uninterrupted.rng.stateWords == resumed.rng.stateWords)
            #expect(uninterrupted.losses.map(\.bitPattern) == resumed.losses.map(\.bitPattern))

            // And the saved files agree too: the checkpoints at M are identical, tensor for tensor.
            let a = dir.appendingPathComponent("a.h5"), b = dir.appendingPathComponent("b.h5")
            try uninterrupted.checkpoint().write(to: a)
            try resumed.checkpoint().write(to: b)
            let diff = try DiffReport(a: a, b: b, tolerance: 0)
            #expect(diff.isEqual, "\(diff.text)")
        }
    }
}
