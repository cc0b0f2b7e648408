import Foundation
import Testing
import VQEngine

@Suite struct EngineBehaviourTests {
    @Test func shapeErrorsNameTheOpAndBothShapes() async throws {
        let result = try await #require(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor(zeros: [2, 3]) + Tensor(zeros: [4])
        }
        let message = String(decoding: result.standardErrorContent, as: UTF8.self)
        #expect(message.contains("add"))
        #expect(message.contains("[2, 3]") && message.contains("[4]"))
    }

    @Test func matmulShapeErrorNamesBothShapes() async throws {
        let result = try await #require(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor(zeros: [2, 3]).matmul(Tensor(zeros: [4, 5]))
        }
        let message = String(decoding: result.standardErrorContent, as: UTF8.self)
        #expect(message.contains("matmul") && message.contains("[2, 3]") && message.contains("[4, 5]"))
    }

    @Test func inferenceModeRecordsNothing() {
        let w = Tensor(shape: [2], data: [1, 2], requiresGrad: true)
        let y = Autograd.withoutRecording { (w * w).sum() }
        #expect(!y.requiresGrad)
        let z = (w * w).sum()
        #expect(z.requiresGrad)
        z.backward()
        #expect(w.grad == [2, 4])
    }

    @Test func gradientsAccumulateAcrossBackwardCalls() {
        let w = Tensor(shape: [1], data: [3], requiresGrad: true)
        (w * 2).sum().backward()
        (w * 2).sum().backward()
        #expect(w.grad == [4])
        w.zeroGrad()
        #expect(w.grad == nil)
    }

    @Test func sameSeedGivesBitIdenticalDraws() {
        var a = RandomGenerator(seed: 99), b = RandomGenerator(seed: 99)
        #expect(a.normal([1000]).data == b.normal([1000]).data)
        #expect(a.uniform([10]).data == b.uniform([10]).data)
        #expect(a.gumbel([10]).data == b.gumbel([10]).data)
        var c = RandomGenerator(seed: 100), d = RandomGenerator(seed: 99)
        #expect(c.normal([10]).data != d.normal([10]).data)
        // Saving and restoring the state continues the stream exactly.
        let saved = a.stateWords
        let next = a.uniform([5]).data
        var restored = RandomGenerator(seed: 0)
        restored.stateWords = saved
        #expect(restored.uniform([5]).data == next)
    }

    @Test func normalDrawsHaveUnitMoments() {
        var rng = RandomGenerator(seed: 1)
        let x = rng.normal([100_000]).data
        let mean = x.reduce(0, +) / Float(x.count)
        let variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(x.count)
        #expect(abs(mean) < 0.02 && abs(variance - 1) < 0.02)
    }

    @Test func nearestRowsMatchesBruteForce() {
        var rng = RandomGenerator(seed: 7)
        let vectors = rng.normal([300, 16]), codebook = rng.normal([70, 16])
        let fast = vectors.nearestRows(in: codebook)
        for r in 0..<300 {
            var best = Float.infinity, index = -1
            for c in 0..<70 {
                var d: Float = 0
                for k in 0..<16 { let diff = vectors.data[r * 16 + k] - codebook.data[c * 16 + k]; d += diff * diff }
                if d < best { best = d; index = c }
            }
            #expect(fast[r] == index)
        }
        // Ties go to the lowest index.
        let tied = Tensor(shape: [2, 2], data: [1, 1, 1, 1])
        #expect(Tensor(shape: [1, 2], data: [0, 0]).nearestRows(in: tied) == [0])
    }

    @Test func threadCountDoesNotChangeResults() {
        var rng = RandomGenerator(seed: 3)
        let x = rng.normal([8, 4, 12, 12]), w = rng.normal([6, 4, 3, 3])
        ComputeThreads.set(1)
        let one = x.conv2d(weight: w, bias: nil, stride: 1, padding: 1).tanh().data
        ComputeThreads.set(2)
        let two = x.conv2d(weight: w, bias: nil, stride: 1, padding: 1).tanh().data
        ComputeThreads.set(1)
        #expect(one == two)
    }
}
