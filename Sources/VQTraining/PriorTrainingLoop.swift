import Foundation
import VQData
import VQEngine
import VQLayers

/// What `PriorEpochLoop` reads and advances in a trainer.
protocol PriorTrainingRun: AnyObject {
    var order: DataOrder { get set }
    var globalStep: Int { get set }
    var metrics: [String: [Double]] { get set }
    var optimizer: Adam { get }
    var progress: ProgressDisplay { get }
    var stepLimit: Int? { get }
    /// The mean cross-entropy (nats) of the training examples at `indices`.
    func batchLoss(_ indices: [Int]) -> Tensor
    /// Writes `last.h5`.
    func saveLast() throws
}

/// The steps of one epoch shared by the prior trainers: cosine learning rate, backward pass, clipping, Adam,
/// the loss history, progress in bits per token, `last.h5` every `checkpointEvery` steps, and the step limit.
struct PriorEpochLoop {
    let batchSize: Int
    let epochs: Int
    let peakLearningRate: Double
    let finalLearningRateFactor: Double
    let gradientClip: Double
    let checkpointEvery: Int
    let stepsPerEpoch: Int
    var totalSteps: Int { stepsPerEpoch * epochs }

    /// What an epoch left: the mean training loss in bits per token, and whether the step limit stopped it
    /// (then `last.h5` holds the state).
    struct Outcome {
        var trainBitsPerToken: Double
        var stopped: Bool
    }

    /// Runs the rest of the epoch of `run.order`; `stepsThisRun` counts the steps of this process.
    func run(_ run: some PriorTrainingRun, stepsThisRun: inout Int) throws -> Outcome {
        let epochStart = Date()
        let optimizer = run.optimizer, progress = run.progress
        var seen = 0, lossSum = 0.0, count = 0
        while let indices = run.order.nextBatch(size: batchSize) {
            optimizer.learningRate = cosineLearningRate(peak: peakLearningRate, finalFactor: finalLearningRateFactor,
                                                        step: run.globalStep, totalSteps: totalSteps)
            let value = run.batchLoss(Array(indices))
            value.backward()
            if gradientClip > 0 { _ = clipGradientNorm(optimizer.parameters, maxNorm: Float(gradientClip)) }
            optimizer.update()
            optimizer.zeroGradients()
            run.globalStep += 1
            stepsThisRun += 1
            seen += indices.count
            count += 1
            lossSum += Double(value.scalar)
            run.metrics["loss", default: []].append(Double(value.scalar))
            let done = stepsPerEpoch - run.order.batchesLeft(batchSize: batchSize)
            let rate = Double(seen) / Swift.max(1e-9, Date().timeIntervalSince(epochStart))
            progress.step(epoch: run.order.epoch + 1, epochs: epochs, step: done, steps: stepsPerEpoch,
                          terms: ["bits/token": lossSum / Double(count) / log(2)], imagesPerSecond: rate,
                          eta: Double((totalSteps - run.globalStep) * batchSize) / Swift.max(rate, 1e-9))
            if run.globalStep % checkpointEvery == 0 { try run.saveLast() }
            if let stepLimit = run.stepLimit, stepsThisRun >= stepLimit {
                try run.saveLast()
                progress.finish()
                return Outcome(trainBitsPerToken: lossSum / Double(count) / log(2), stopped: true)
            }
        }
        progress.finish()
        return Outcome(trainBitsPerToken: lossSum / Double(Swift.max(1, count)) / log(2), stopped: false)
    }
}
