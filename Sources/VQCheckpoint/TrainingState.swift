import Foundation
import VQEngine
import VQLayers

/// A tensor with its PyTorch `state_dict` path.
public struct NamedTensor: Sendable, Equatable {
    public var name: String
    public var tensor: StoredTensor

    public init(name: String, tensor: StoredTensor) {
        self.name = name
        self.tensor = tensor
    }
}

/// Adam's (or AdamW's) complete state: what `torch.optim.Adam.state_dict()` holds, keyed by parameter path.
public struct OptimizerState: Sendable, Equatable {
    /// "adam" or "adamw".
    public var kind: String
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var weightDecay: Double
    /// Updates taken so far.
    public var step: Int
    /// exp_avg and exp_avg_sq per parameter, named and shaped as the parameters.
    public var firstMoments: [NamedTensor]
    public var secondMoments: [NamedTensor]

    public static let kinds = ["adam", "adamw"]

    public init(kind: String, learningRate: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double,
                step: Int, firstMoments: [NamedTensor], secondMoments: [NamedTensor]) {
        self.kind = kind
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.step = step
        self.firstMoments = firstMoments
        self.secondMoments = secondMoments
    }

    /// The state of `optimizer`, whose parameters are `model`'s in `namedParameters` order.
    public init(_ optimizer: Adam, model: any Layer) {
        let names = model.namedParameters.map(\.name)
        let shapes = model.namedParameters.map(\.tensor.shape)
        kind = optimizer.style.rawValue
        learningRate = optimizer.learningRate
        beta1 = optimizer.beta1
        beta2 = optimizer.beta2
        eps = optimizer.eps
        weightDecay = optimizer.weightDecay
        step = optimizer.step
        firstMoments = zip(names, zip(shapes, optimizer.firstMoments)).map {
            NamedTensor(name: $0, tensor: StoredTensor(float32: $1.1, shape: $1.0))
        }
        secondMoments = zip(names, zip(shapes, optimizer.secondMoments)).map {
            NamedTensor(name: $0, tensor: StoredTensor(float32: $1.1, shape: $1.0))
        }
    }

    /// An optimiser over `model`'s parameters, continuing exactly where this state left off. Every parameter
    /// needs both moments with its shape.
    public func makeOptimizer(for model: any Layer) throws(CheckpointError) -> Adam {
        guard let style = Adam.WeightDecayStyle(rawValue: kind) else {
            throw .invalidMetadata(name: "optimizer/kind", detail: "'\(kind)'; expected one of \(Self.kinds.joined(separator: ", "))")
        }
        let parameters = model.namedParameters
        let moments = (first: try Self.values(firstMoments, group: "optimizer/exp_avg", for: parameters),
                       second: try Self.values(secondMoments, group: "optimizer/exp_avg_sq", for: parameters))
        let optimizer = Adam(parameters: parameters.map(\.tensor), learningRate: learningRate, beta1: beta1, beta2: beta2,
                             eps: eps, weightDecay: weightDecay, style: style, moments: moments)
        optimizer.step = step
        return optimizer
    }

    private static func values(_ moments: [NamedTensor], group: String,
                               for parameters: [(name: String, tensor: Tensor)]) throws(CheckpointError) -> [[Float]] {
        let byName = Dictionary(moments.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        let known = Set(parameters.map(\.name))
        let extra = moments.map(\.name).filter { !known.contains($0) }
        if !extra.isEmpty { throw .unexpectedTensors(names: extra.map { "\(group)/\($0)" }) }
        var result: [[Float]] = []
        for (name, parameter) in parameters {
            guard let stored = byName[name] else { throw .missingTensor(name: "\(group)/\(name)") }
            guard stored.shape == parameter.shape else {
                throw .shapeMismatch(name: "\(group)/\(name)", expected: parameter.shape, found: stored.shape)
            }
            result.append(try stored.float32Values(name: "\(group)/\(name)"))
        }
        return result
    }
}

/// Where a training run is, beyond the weights and the optimiser: enough to continue it bit for bit.
public struct TrainingState: Sendable, Equatable {
    /// Optimiser steps completed.
    public var globalStep: Int
    /// The epoch in progress (0-based).
    public var epoch: Int
    /// The random generator's four xoshiro256** words (`RandomGenerator.stateWords`).
    public var randomState: [UInt64]
    /// The order in which this epoch visits the training samples.
    public var dataOrder: [Int]
    /// How many entries of `dataOrder` were consumed.
    public var dataPosition: Int
    /// Metric name -> one value per record, oldest first (e.g. "loss" per step).
    public var metrics: [String: [Double]]

    public init(globalStep: Int, epoch: Int, randomState: [UInt64], dataOrder: [Int], dataPosition: Int,
                metrics: [String: [Double]] = [:]) {
        self.globalStep = globalStep
        self.epoch = epoch
        self.randomState = randomState
        self.dataOrder = dataOrder
        self.dataPosition = dataPosition
        self.metrics = metrics
    }

    /// A generator that continues exactly where the saved one stopped.
    public func makeRandomGenerator() throws(CheckpointError) -> RandomGenerator {
        guard randomState.count == 4 else {
            throw .invalidMetadata(name: "training/rng_state", detail: "\(randomState.count) words; expected 4")
        }
        var rng = RandomGenerator(seed: 0)
        rng.stateWords = randomState
        return rng
    }

    /// Checks the invariants a resumed run relies on.
    func validate() throws(CheckpointError) {
        guard randomState.count == 4 else {
            throw .invalidMetadata(name: "training/rng_state", detail: "\(randomState.count) words; expected 4")
        }
        guard globalStep >= 0, epoch >= 0 else {
            throw .invalidMetadata(name: "training", detail: "global_step \(globalStep) and epoch \(epoch) must not be negative")
        }
        guard dataPosition >= 0, dataPosition <= dataOrder.count else {
            throw .invalidMetadata(name: "training/data_position", detail: "\(dataPosition); expected 0...\(dataOrder.count)")
        }
        guard dataOrder.allSatisfy({ $0 >= 0 }) else {
            throw .invalidMetadata(name: "training/data_order", detail: "holds negative sample indices")
        }
    }
}
