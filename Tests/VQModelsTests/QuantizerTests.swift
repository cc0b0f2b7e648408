import Foundation
import Testing
import VQEngine
import VQLayers
@testable import VQModels

/// Encoder outputs [1, D, 1, N] whose N columns are the given D-vectors.
private func columns(_ vectors: [[Float]]) -> Tensor {
    let d = vectors[0].count, n = vectors.count
    var data = [Float](repeating: 0, count: d * n)
    for (j, v) in vectors.enumerated() { for k in 0..<d { data[k * n + j] = v[k] } }
    return Tensor(shape: [1, d, 1, n], data: data, requiresGrad: true)
}

private func quantizer(_ codebook: [[Float]], options: QuantizerOptions = QuantizerOptions()) -> VectorQuantizer {
    var rng = RandomGenerator(seed: 0)
    let q = VectorQuantizer(codes: codebook.count, dimension: codebook[0].count, options: options, rng: &rng)
    q.codebook.data = codebook.flatMap { $0 }
    if let sum = q.emaEmbedSum { sum.data = q.codebook.data }
    return q
}

@Suite struct QuantizerTests {
    @Test func straightThroughPassesTheDecoderGradientUnchanged() {
        let q = quantizer([[0, 0], [1, 1], [-1, 2]])
        let z = columns([[0.9, 1.2], [-0.1, 0.2], [-2, 2]])
        let out = q(z)
        #expect(out.indices == [[1, 0, 2]])
        #expect(out.quantized.data == [1, 0, -1, 1, 0, 2])
        // A "decoder" loss sum(w * z_q): the encoder must receive exactly w, the codebook nothing.
        let w = Tensor(shape: z.shape, data: [0.5, -1, 2, 3, 0.25, -4])
        (out.quantized * w).sum().backward()
        #expect(z.grad == w.data)
        #expect(q.codebook.grad == nil || q.codebook.grad!.allSatisfy { $0 == 0 })
    }

    @Test func codebookLearnsOnlyFromItsOwnLoss() {
        let q = quantizer([[0, 0], [1, 1]])
        let z = columns([[0.5, 0.1], [2, 1]])
        let out = q(z)
        out.terms.first { $0.name == "codebook" }!.value.backward()
        #expect(z.grad == nil || z.grad!.allSatisfy { $0 == 0 }, "the codebook loss must not reach the encoder")
        // d/de_k mean((e - z)^2) over N*D = 4 elements: 2 (e_k - z) / 4 per assigned vector.
        let expected: [Float] = [2 * (0 - 0.5) / 4, 2 * (0 - 0.1) / 4, 2 * (1 - 2) / 4, 2 * (1 - 1) / 4]
        for (g, e) in zip(q.codebook.grad!, expected) { #expect(abs(g - e) < 1e-6) }

        let q2 = quantizer([[0, 0], [1, 1]])
        let z2 = columns([[0.5, 0.1], [2, 1]])
        q2(z2).terms.first { $0.name == "commitment" }!.value.backward()
        #expect(q2.codebook.grad == nil || q2.codebook.grad!.allSatisfy { $0 == 0 }, "the commitment loss must not move the codebook")
        let expectedEncoder: [Float] = [2 * 0.5 / 4, 2 * (2 - 1) / 4, 2 * 0.1 / 4, 0]
        for (g, e) in zip(z2.grad!, expectedEncoder) { #expect(abs(g - e) < 1e-6) }
    }

    @Test func codebookGradientMatchesFiniteDifferences() {
        let base: [[Float]] = [[0.2, -0.1, 0.3], [1, 0.5, -0.5], [-0.7, 0.9, 0.1]]
        let vectors: [[Float]] = [[0.1, 0, 0.2], [0.8, 0.7, -0.4], [-0.5, 1, 0], [0.3, -0.2, 0.5]]
        let q = quantizer(base)
        let z = columns(vectors)
        let out = q(z)
        // Only the codebook term depends on the codebook numerically *and* sends it a gradient; the commitment
        // term's value moves with the codebook too, but sg[] blocks that path, so the full loss's finite
        // difference is (1 + beta) times the codebook's gradient.
        out.terms.first { $0.name == "codebook" }!.value.backward()
        let analytic = q.codebook.grad!
        let h: Float = 1e-3
        for i in 0..<analytic.count {
            func lossAt(_ delta: Float) -> Float {
                var cb = base.flatMap { $0 }
                cb[i] += delta
                let qq = quantizer(stride(from: 0, to: 9, by: 3).map { Array(cb[$0..<($0 + 3)]) })
                return Autograd.withoutRecording { qq(columns(vectors)).terms[0].value.scalar }
            }
            let numeric = (lossAt(h) - lossAt(-h)) / (2 * h)
            #expect(abs(numeric - analytic[i]) < 2e-3, "codebook element \(i): analytic \(analytic[i]), numeric \(numeric)")
        }
    }

    @Test func emaUpdateArithmetic() {
        let options = QuantizerOptions(kind: .ema, emaDecay: 0.9, emaEpsilon: 1e-5)
        let q = quantizer([[0, 0], [10, 10]], options: options)
        #expect(!q.codebook.requiresGrad)
        q.isTraining = true
        _ = q(columns([[1, 2], [3, 4], [9, 9]]))
        // cluster sizes: 0.9 * 1 + 0.1 * [2, 1] = [1.1, 1.0]; sums: 0.9 * e + 0.1 * [(4, 6), (9, 9)].
        let size = q.emaClusterSize!.data, sum = q.emaEmbedSum!.data
        #expect(abs(size[0] - 1.1) < 1e-6 && abs(size[1] - 1.0) < 1e-6)
        #expect(zip(sum, [0.4, 0.6, 9.9, 9.9] as [Float]).allSatisfy { abs($0 - $1) < 1e-5 })
        let n: Float = 2.1, eps: Float = 1e-5
        let smoothed0 = (1.1 + eps) / (n + 2 * eps) * n, smoothed1 = (1.0 + eps) / (n + 2 * eps) * n
        let expected: [Float] = [0.4 / smoothed0, 0.6 / smoothed0, 9.9 / smoothed1, 9.9 / smoothed1]
        #expect(zip(q.codebook.data, expected).allSatisfy { abs($0 - $1) < 1e-5 }, "\(q.codebook.data) vs \(expected)")
        // The objective carries only beta * commitment.
        q.isTraining = false
        let out = q(columns([[1, 2]]))
        #expect(abs(out.loss.scalar - 0.25 * out.terms[1].value.scalar) < 1e-7)
    }

    @Test func deadCodesAreRestartedFromBatchVectors() {
        let options = QuantizerOptions(kind: .codebook, deadCodeSteps: 2)
        let q = quantizer([[0, 0], [50, 50], [-50, 50]], options: options)
        q.isTraining = true
        let batch: [[Float]] = [[0.1, 0.2], [0.3, -0.1], [-0.2, 0.05]]
        _ = q(columns(batch))
        #expect(q.deadCodeCounts == [0])
        #expect(Array(q.codebook.data[2...]) == [50, 50, -50, 50])
        _ = q(columns(batch))
        // Codes 1 and 2 went unused for two steps: both now sit on vectors of the batch.
        for k in 1...2 {
            let row = Array(q.codebook.data[(2 * k)..<(2 * k + 2)])
            #expect(batch.contains(row), "code \(k) at \(row)")
        }
        #expect(q.codeAge!.data == [0, 0, 0])
        #expect(q.namedParameters.map(\.name) == ["codebook", "code_age", "steps"])
    }

    @Test func kMeansInitialisationFindsClusters() {
        let options = QuantizerOptions(kmeansInit: true)
        let q = quantizer([[0, 0], [0, 0]], options: options)
        q.isTraining = true
        var vectors: [[Float]] = []
        for i in 0..<20 { vectors.append([5 + Float(i % 3) * 0.01, 5]); vectors.append([-5, -5 - Float(i % 2) * 0.01]) }
        let out = q(columns(vectors))
        #expect(q.initialized!.data == [1])
        let rows = [Array(q.codebook.data[0..<2]), Array(q.codebook.data[2..<4])].sorted { $0[0] < $1[0] }
        #expect(abs(rows[0][0] + 5) < 0.02 && abs(rows[1][0] - 5) < 0.02)
        #expect(Set(out.indices[0]).count == 2)
    }

    @Test func usageAndPerplexity() {
        let stats = CodebookStatistics(indices: [0, 0, 1, 1], codes: 4)
        #expect(stats.used == 2 && stats.usage == 0.5 && abs(stats.perplexity - 2) < 1e-9)
        let uniform = CodebookStatistics(counts: [3, 3, 3, 3])
        #expect(abs(uniform.perplexity - 4) < 1e-9 && uniform.unused == 0)
    }

    @Test func gumbelQuantizerHardSamplesAndAnneals() {
        var rng = RandomGenerator(seed: 1)
        let options = QuantizerOptions(kind: .gumbel, gumbelTemperature: 1, gumbelMinimumTemperature: 0.5, gumbelAnnealRate: 0.1,
                                       gumbelHard: true, gumbelKLWeight: 0.01)
        let q = GumbelQuantizer(codes: 8, dimension: 3, options: options, rng: &rng)
        q.isTraining = true
        let z = Tensor(shape: [2, 3, 2, 2], data: (0..<24).map { Float($0) / 24 - 0.5 }, requiresGrad: true)
        let out = q(z)
        // Hard samples: every output vector is exactly one codebook row.
        let rows = out.quantized.permuted([0, 2, 3, 1]).reshaped([-1, 3])
        for (i, code) in out.indices[0].enumerated() {
            #expect(Array(rows.data[(3 * i)..<(3 * i + 3)]) == Array(q.codebook.data[(3 * code)..<(3 * code + 3)]))
        }
        (out.quantized.sum() + out.loss).backward()
        #expect(q.proj.weight.grad != nil && z.grad != nil, "the soft sample's gradient reaches the logits and the encoder")
        #expect(abs(q.temperature - Float(exp(-0.1))) < 1e-6)
        for _ in 0..<20 { _ = q(z) }
        #expect(q.temperature == 0.5)
        q.isTraining = false
        let a = q.indices(for: z, levels: 1), b = q.indices(for: z, levels: 1)
        #expect(a == b)
    }

    @Test func residualLevelsRefineAndSum() {
        var rng = RandomGenerator(seed: 2)
        let options = QuantizerOptions(kind: .codebook, levels: 3)
        let q = ResidualQuantizer(codes: 16, dimension: 4, options: options, rng: &rng)
        for level in q.levels { level.codebook.data = rng.normal([16, 4], std: 1).data }
        let z = Tensor(shape: [2, 4, 3, 3], data: rng.normal([72], std: 1).data)
        let indices = q.indices(for: z, levels: 3)
        // Each level picks, per position, the code nearest to what the previous levels left over.
        var residual = z.permuted([0, 2, 3, 1]).reshaped([-1, 4]).data
        for (l, level) in q.levels.enumerated() {
            let cb = level.codebook.data
            for p in 0..<18 {
                let r = Array(residual[(4 * p)..<(4 * p + 4)])
                func distance(_ k: Int) -> Float { (0..<4).map { (r[$0] - cb[4 * k + $0]) * (r[$0] - cb[4 * k + $0]) }.reduce(0, +) }
                let best = (0..<16).min { distance($0) < distance($1) }!
                #expect(abs(distance(indices[l][p]) - distance(best)) < 1e-5)
                for j in 0..<4 { residual[4 * p + j] -= cb[4 * indices[l][p] + j] }
            }
        }
        let out = q(z)
        #expect(out.indices == indices)
        #expect(zip(out.quantized.data, q.embed(indices, batch: 2, height: 3, width: 3).data).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(q.codebookParameterNames == ["levels.0.codebook", "levels.1.codebook", "levels.2.codebook"])
    }

    @Test func residualStraightThroughGivesTheEncoderTheDecoderGradient() {
        var rng = RandomGenerator(seed: 4)
        let q = ResidualQuantizer(codes: 8, dimension: 2, options: QuantizerOptions(levels: 2), rng: &rng)
        let z = Tensor(shape: [1, 2, 2, 2], data: rng.normal([8]).data, requiresGrad: true)
        let w = rng.normal([1, 2, 2, 2])
        (q(z).quantized * w).sum().backward()
        #expect(zip(z.grad!, w.data).allSatisfy { abs($0 - $1) < 1e-7 })
    }

    @Test func levelDropoutIsSeededByTheStepCount() {
        var rng = RandomGenerator(seed: 5)
        let q = ResidualQuantizer(codes: 4, dimension: 2, options: QuantizerOptions(levels: 4, levelDropout: 1), rng: &rng)
        q.isTraining = true
        var used: [Int] = []
        let z = Tensor(shape: [1, 2, 1, 4], data: rng.normal([8]).data)
        for _ in 0..<12 { used.append(q(z).indices.count) }
        #expect(Set(used).count > 1 && used.allSatisfy { (1...4).contains($0) })
        q.steps.data[0] = 0
        var again: [Int] = []
        for _ in 0..<12 { again.append(q(z).indices.count) }
        #expect(again == used)
    }

    @Test func optionsDecodeWithDefaults() throws {
        let decoded = try JSONDecoder().decode(QuantizerOptions.self, from: Data(#"{"kind":"ema","levels":2}"#.utf8))
        #expect(decoded == QuantizerOptions(kind: .ema, levels: 2))
        #expect(QuantizerOptions(kind: .gumbel, levels: 2).problem != nil)
    }
}
