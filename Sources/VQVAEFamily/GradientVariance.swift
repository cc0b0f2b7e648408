import Foundation
import VQData
import VQEngine
import VQModels

/// The experiment of the notes on gradient estimators: the gradient of E_q(z|x)[log p(x|z)] with respect to
/// the encoder's parameters, estimated from S samples by
/// - the score-function (log-derivative, REINFORCE) estimator: (1/S) sum_s log p(x|z_s) grad log q(z_s|x), and
/// - the reparameterisation estimator: (1/S) sum_s grad log p(x | mu + sigma eps_s).
/// Both are unbiased; their variances differ by orders of magnitude. (The KL term has a closed form whose
/// gradient is exact in both, so it is left out.)
public enum GradientVarianceExperiment {
    public struct Row: Codable, Sendable {
        public var samples: Int
        /// Total variance: the sum over encoder parameters of the variance of the S-sample estimate.
        public var reparameterisationVariance: Double
        public var scoreFunctionVariance: Double
        public var ratio: Double { scoreFunctionVariance / reparameterisationVariance }
        /// Squared norm of the mean gradient (the signal), from the reparameterisation runs.
        public var meanGradientNormSquared: Double
        /// ||mean score-function gradient - mean reparameterisation gradient|| / ||mean reparameterisation gradient||:
        /// both estimate the same gradient, so this shrinks with more repetitions.
        public var relativeDifferenceOfMeans: Double
    }

    /// Runs `repetitions` independent S-sample estimates of each kind, for each S in `sampleCounts`, on the
    /// images `x` [B, C, H, W] (gradients summed over the images).
    public static func run(model: any VariationalAutoencoder, images x: Tensor, labels: [Int]?, sampleCounts: [Int],
                           repetitions: Int, rng: inout RandomGenerator) -> [Row] {
        let encoder = model.encoderParameters.map(\.tensor)
        let size = encoder.reduce(0) { $0 + $1.count }
        var rows: [Row] = []
        for s in sampleCounts {
            var rep = Moments(size: size), score = Moments(size: size)
            for _ in 0..<repetitions {
                rep.add(gradient(model, x, labels, samples: s, scoreFunction: false, rng: &rng, encoder: encoder))
                score.add(gradient(model, x, labels, samples: s, scoreFunction: true, rng: &rng, encoder: encoder))
            }
            let mr = rep.mean, ms = score.mean
            var signal = 0.0, difference = 0.0
            for i in 0..<size { signal += mr[i] * mr[i]; difference += (ms[i] - mr[i]) * (ms[i] - mr[i]) }
            rows.append(Row(samples: s, reparameterisationVariance: rep.totalVariance, scoreFunctionVariance: score.totalVariance,
                            meanGradientNormSquared: signal, relativeDifferenceOfMeans: (difference / signal).squareRoot()))
        }
        return rows
    }

    /// One S-sample estimate of the gradient of sum over images of E_q[log p(x|z)], flattened over `encoder`.
    static func gradient(_ model: any VariationalAutoencoder, _ x: Tensor, _ labels: [Int]?, samples s: Int, scoreFunction: Bool,
                         rng: inout RandomGenerator, encoder: [Tensor]) -> [Double] {
        let b = x.shape[0], d = model.imageSize, l = model.latentSize
        // Every image repeated S times: rows i*S ..< (i+1)*S belong to image i.
        var repeated = [Float](), repeatedLabels: [Int]? = labels.map { _ in [] }
        for i in 0..<b {
            for _ in 0..<s {
                repeated += x.data[(i * d)..<((i + 1) * d)]
                if let labels { repeatedLabels!.append(labels[i]) }
            }
        }
        let target = Tensor(shape: [b * s, d], data: repeated)
        let (mean, logVariance) = model.encode(target, labels: repeatedLabels)
        let eps = rng.normal([b * s, l])
        let objective: Tensor
        if !scoreFunction {
            let z = reparameterize(mean: mean, logVariance: logVariance, noise: eps)
            objective = logLikelihoodSum(model, logits: model.decodeLogits(z, labels: repeatedLabels), target: target) * (1 / Float(s))
        } else {
            // z is a constant here: the gradient flows only through log q(z|x).
            let z = Autograd.withoutRecording { reparameterize(mean: mean, logVariance: logVariance, noise: eps) }
            let f = Autograd.withoutRecording { perRowLogLikelihood(model, logits: model.decodeLogits(z, labels: repeatedLabels), target: target) }
            var weights = [Float](repeating: 0, count: b * s * l)
            for r in 0..<(b * s) { for j in 0..<l { weights[r * l + j] = f[r] / Float(s) } }
            // log q(z|x) up to a constant: sum_j -((z - mu) / sigma)^2 / 2 - logvar / 2.
            let standardized = (z - mean) * (logVariance * -0.5).exp()
            let logQ = standardized.squared() * -0.5 - logVariance * 0.5
            objective = (logQ * Tensor(shape: [b * s, l], data: weights)).sum()
        }
        objective.backward()
        var flat = [Double]()
        flat.reserveCapacity(encoder.reduce(0) { $0 + $1.count })
        for p in encoder { flat += (p.grad ?? [Float](repeating: 0, count: p.count)).map(Double.init) }
        model.zeroGradients()
        return flat
    }

    /// sum over rows of log p(x|z) as a differentiable scalar (the negative reconstruction loss).
    static func logLikelihoodSum(_ model: any VariationalAutoencoder, logits: Tensor, target: Tensor) -> Tensor {
        switch model.likelihood {
        case .bernoulli: return binaryCrossEntropyWithLogits(logits, target, reduction: .sum) * -1
        case .gaussian:
            let v = model.outputVariance
            return mseLoss(logits.sigmoid(), target, reduction: .sum) * (-0.5 / v)
                - 0.5 * Float(target.count) * Foundation.log(2 * Float.pi * v)
        }
    }

    static func perRowLogLikelihood(_ model: any VariationalAutoencoder, logits: Tensor, target: Tensor) -> [Float] {
        let rows = target.shape[0], d = target.shape[1]
        var out = [Double](repeating: 0, count: rows)
        for r in 0..<rows {
            target.data.withUnsafeBufferPointer { t in
                out.withUnsafeMutableBufferPointer { o in
                    logLikelihoods(logits: Array(logits.data[(r * d)..<((r + 1) * d)]), rows: 1,
                                   targets: UnsafeBufferPointer(rebasing: t[(r * d)..<((r + 1) * d)]), likelihood: model.likelihood,
                                   variance: model.outputVariance, into: UnsafeMutableBufferPointer(rebasing: o[r..<(r + 1)]))
                }
            }
        }
        return out.map(Float.init)
    }

    /// Running mean and variance per coordinate (Welford).
    struct Moments {
        var count = 0
        var mean: [Double]
        var m2: [Double]
        init(size: Int) { mean = [Double](repeating: 0, count: size); m2 = mean }
        mutating func add(_ v: [Double]) {
            count += 1
            for i in v.indices {
                let delta = v[i] - mean[i]
                mean[i] += delta / Double(count)
                m2[i] += delta * (v[i] - mean[i])
            }
        }
        var totalVariance: Double { m2.reduce(0, +) / Double(Swift.max(count - 1, 1)) }
    }
}
