import Foundation
import Testing
import VQData
import VQEngine
import VQModels
@testable import VQVAEFamily

@Suite struct EstimatorTests {
    /// The closed form -1/2 sum(1 + logvar - mu^2 - sigma^2) against the mean of log q(z) - log p(z) over
    /// 200,000 draws z ~ q: the standard error of that mean is about 0.006 here, so 0.05 is a loose bound.
    @Test func closedFormKLMatchesMonteCarlo() {
        let mean: [Float] = [0.5, -1.2, 0.0, 2.0]
        let logVariance: [Float] = [-0.7, 0.3, -2.0, 0.1]
        let closed = gaussianKLDivergence(mean: Tensor(shape: [1, 4], data: mean), logVariance: Tensor(shape: [1, 4], data: logVariance)).scalar
        var rng = RandomGenerator(seed: 3)
        let n = 200_000
        let eps = rng.normal([n, 4]).data
        var sum = 0.0
        for r in 0..<n {
            for j in 0..<4 {
                let e = Double(eps[r * 4 + j]), s = Foundation.exp(0.5 * Double(logVariance[j]))
                let z = Double(mean[j]) + s * e
                // log q(z) - log p(z) = -e^2/2 - log s + z^2/2
                sum += -0.5 * e * e - Foundation.log(s) + 0.5 * z * z
            }
        }
        let monteCarlo = sum / Double(n)
        #expect(Swift.abs(monteCarlo - Double(closed)) < 0.05, "closed form \(closed), Monte Carlo \(monteCarlo)")
    }
}
