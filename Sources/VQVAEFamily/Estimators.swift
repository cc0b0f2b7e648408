import Dispatch
import Foundation
import VQData
import VQEngine
import VQModels

/// The negative ELBO per image and its two terms, in nats.
public struct ELBOTerms: Codable, Sendable, Equatable {
    /// -E_q[log p(x|z)], estimated with one reparameterised sample per image.
    public var reconstruction: Double
    /// KL(q(z|x) || N(0, I)) in closed form.
    public var kl: Double
    /// reconstruction + kl: the test loss of the PyTorch example (BCE + KL per image).
    public var total: Double { reconstruction + kl }

    public init(reconstruction: Double, kl: Double) {
        self.reconstruction = reconstruction
        self.kl = kl
    }
}

/// log p(x|z) per row of decoder logits [R, D] against `targets` (D values, the same image for every row), in
/// double precision. Bernoulli: sum x l - softplus(l), which is -BCE(sigmoid(l), x) without the clamping of
/// probabilities; Gaussian: -sum (x - sigmoid(l))^2 / (2 variance) - D/2 log(2 pi variance).
func logLikelihoods(logits: [Float], rows: Int, targets: UnsafeBufferPointer<Float>, likelihood: Likelihood,
                    variance: Float, into output: UnsafeMutableBufferPointer<Double>) {
    let d = targets.count
    logits.withUnsafeBufferPointer { l in
        for r in 0..<rows {
            let row = UnsafeBufferPointer(rebasing: l[(r * d)..<((r + 1) * d)])
            var sum: Float = 0
            switch likelihood {
            case .bernoulli:
                for i in 0..<d {
                    let v = row[i]
                    sum += targets[i] * v - (Swift.max(v, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(v))))
                }
                output[r] = Double(sum)
            case .gaussian:
                for i in 0..<d {
                    let e = targets[i] - 1 / (1 + Foundation.exp(-row[i]))
                    sum += e * e
                }
                output[r] = -Double(sum) / (2 * Double(variance)) - 0.5 * Double(d) * Foundation.log(2 * Double.pi * Double(variance))
            }
        }
    }
}

/// Runs `body(i)` for i in 0..<count on the engine's threads (each call independent).
func concurrently(_ count: Int, _ body: (Int) -> Void) {
    let threads = Swift.max(1, Swift.min(ComputeThreads.count, count))
    if threads == 1 { for i in 0..<count { body(i) }; return }
    // Callers give each index its own output elements, so the workers never write the same memory.
    nonisolated(unsafe) let body = body
    DispatchQueue.concurrentPerform(iterations: threads) { t in
        var i = t
        while i < count { body(i); i += threads }
    }
}

/// The ELBO and importance-weighted estimates of log p(x) on a dataset.
public enum VAEEstimators {
    /// The negative ELBO per image over `images` (the first `limit`), with one reparameterised sample per
    /// image drawn from `rng`; the PyTorch example's test loss. Runs without recording a graph.
    public static func negativeELBO(_ model: any VariationalAutoencoder, on images: LabeledImages, batchSize: Int = 500,
                                    rng: inout RandomGenerator) -> ELBOTerms {
        var reconstruction = 0.0, kl = 0.0
        Autograd.withoutRecording {
            var start = 0
            while start < images.count {
                let indices = start..<Swift.min(start + batchSize, images.count)
                let (x, labels) = images.batch(indices, conditional: model.classes > 0)
                let noise = rng.normal([indices.count, model.latentSize])
                let loss = model.negativeELBO(x, labels: labels, noise: noise)
                reconstruction += Double(loss.term("reconstruction")!.scalar)
                kl += Double(loss.term("kl")!.scalar)
                start += batchSize
            }
        }
        return ELBOTerms(reconstruction: reconstruction / Double(images.count), kl: kl / Double(images.count))
    }

    /// Per image: the K-sample importance-weighted bound log (1/K) sum_k p(x, z_k) / q(z_k|x), z_k ~ q(z|x)
    /// (Burda et al.; with K in the thousands it is the marginal-likelihood estimate of Kingma & Welling), and
    /// the Monte Carlo ELBO from the same samples. Returns the mean over images of both, in nats (log p(x)
    /// estimates, so larger is better).
    public struct ImportanceWeighted: Codable, Sendable {
        public var samples: Int
        public var images: Int
        /// Mean over images of the K-sample bound.
        public var logLikelihood: Double
        /// Mean over images of the K-sample average of log p(x, z_k) - log q(z_k|x): a Monte Carlo ELBO from the
        /// same samples and the same log-likelihood, so `logLikelihood >= elbo` holds for every image.
        public var elbo: Double
    }

    public static func importanceWeighted(_ model: any VariationalAutoencoder, on images: LabeledImages, samples: Int,
                                          chunk: Int = 500, rng: inout RandomGenerator,
                                          progress: ((Int) -> Void)? = nil) -> ImportanceWeighted {
        let d = model.imageSize, l = model.latentSize
        var totalBound = 0.0, totalELBO = 0.0
        Autograd.withoutRecording {
            for i in 0..<images.count {
                let (x, labels) = images.batch([i], conditional: model.classes > 0)
                let (mean, logVariance) = model.encode(x, labels: labels)
                let mu = mean.data, logVar = logVariance.data
                var logWeights = [Double](repeating: 0, count: samples)
                var done = 0
                while done < samples {
                    let s = Swift.min(chunk, samples - done)
                    let eps = rng.normal([s, l])
                    var z = [Float](repeating: 0, count: s * l)
                    // log p(z) - log q(z|x) for z = mu + sigma eps: sum -z^2/2 + eps^2/2 + logvar/2.
                    for r in 0..<s {
                        var priorMinusPosterior = 0.0
                        for j in 0..<l {
                            let e = eps.data[r * l + j]
                            let v = mu[j] + Foundation.exp(0.5 * logVar[j]) * e
                            z[r * l + j] = v
                            priorMinusPosterior += Double(-0.5 * v * v + 0.5 * e * e + 0.5 * logVar[j])
                        }
                        logWeights[done + r] = priorMinusPosterior
                    }
                    let logits = model.decodeLogits(Tensor(shape: [s, l], data: z), labels: labels.map { Array(repeating: $0[0], count: s) })
                    var logP = [Double](repeating: 0, count: s)
                    x.data.withUnsafeBufferPointer { target in
                        logP.withUnsafeMutableBufferPointer { out in
                            let parts = Swift.max(1, Swift.min(ComputeThreads.count, s / 16))
                            concurrently(parts) { p in
                                let lo = s * p / parts, hi = s * (p + 1) / parts
                                let slice = Array(logits.data[(lo * d)..<(hi * d)])
                                logLikelihoods(logits: slice, rows: hi - lo, targets: target, likelihood: model.likelihood,
                                               variance: model.outputVariance, into: UnsafeMutableBufferPointer(rebasing: out[lo..<hi]))
                            }
                        }
                    }
                    for r in 0..<s { logWeights[done + r] += logP[r] }
                    done += s
                }
                let m = logWeights.max()!
                let sum = logWeights.reduce(0) { $0 + Foundation.exp($1 - m) }
                totalBound += m + Foundation.log(sum / Double(samples))
                totalELBO += logWeights.reduce(0, +) / Double(samples)
                progress?(i + 1)
            }
        }
        return ImportanceWeighted(samples: samples, images: images.count, logLikelihood: totalBound / Double(images.count),
                                  elbo: totalELBO / Double(images.count))
    }
}
