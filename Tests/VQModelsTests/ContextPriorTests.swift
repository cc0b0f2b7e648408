import Testing
import VQEngine
@testable import VQModels

@Suite struct ContextPriorTests {
    static let configuration = ContextPrior.Configuration(vocabulary: 10, levels: 3, embedding: 4, hiddenSize: 8)

    @Test("the context holds the six causal neighbours of the level and the lower levels at the same place, 'none' elsewhere")
    func contextRows() {
        let c = ContextPriorTests.configuration
        // 3 levels of a 3x4 grid; token value = level * 100 + y * 4 + x would not fit K = 10, so use (y * 4 + x) % 10 + level.
        let (h, w) = (3, 4)
        let grid: [Int32] = (0..<3).flatMap { l in (0..<(h * w)).map { Int32(($0 + l) % 10) } }
        var rows = [Int](repeating: -1, count: c.slots)
        func context(_ level: Int, _ y: Int, _ x: Int) -> [Int] {
            grid.withUnsafeBufferPointer { g in
                rows.withUnsafeMutableBufferPointer { ContextPrior.contextRows(g, height: h, width: w, level: level, y: y, x: x, configuration: c, into: $0.baseAddress!) }
            }
            // Back to token values: row - slot * (K + 1).
            return rows.enumerated().map { $1 - $0 * c.rowsPerSlot }
        }
        let none = c.noneToken
        func at(_ l: Int, _ y: Int, _ x: Int) -> Int { Int(grid[l * h * w + y * w + x]) }
        // Level 0, top-left: nothing known.
        #expect(context(0, 0, 0) == [Int](repeating: none, count: c.slots))
        // Level 2, row 2, column 1: up-left, up, up-right, left, two-left (outside), two-up; then levels 0 and 1 here.
        #expect(context(2, 2, 1) == [at(2, 1, 0), at(2, 1, 1), at(2, 1, 2), at(2, 2, 0), none, at(2, 0, 1), at(0, 2, 1), at(1, 2, 1)])
        // Level 1, row 1, last column: up-right is outside; level 1 sees level 0 only.
        #expect(context(1, 1, 3) == [at(1, 0, 2), at(1, 0, 3), none, at(1, 1, 2), at(1, 1, 1), none, at(0, 1, 3), none])
    }

    @Test("the deterministic logits agree with the engine's forward pass")
    func deterministicMatchesEngine() {
        var rng = RandomGenerator(seed: 5)
        let prior = ContextPrior(configuration: ContextPriorTests.configuration, rng: &rng)
        for p in prior.parameters { for i in p.data.indices { p.data[i] *= 20 } }
        let weights = ContextPriorWeights(prior)
        let c = prior.configuration
        let rows = (0..<(6 * c.slots)).map { i in (i % c.slots) * c.rowsPerSlot + Int(rng.next() % UInt64(c.rowsPerSlot)) }
        let levels = (0..<6).map { $0 % c.levels }
        let engine = Autograd.withoutRecording { prior.logits(rows: rows, levels: levels).data }
        for n in 0..<6 {
            let exact = rows.withUnsafeBufferPointer { weights.logits(rows: $0.baseAddress! + n * c.slots, level: levels[n]) }
            for k in 0..<c.vocabulary {
                let reference = engine[n * c.vocabulary + k]
                #expect(abs(exact[k] - reference) <= 1e-4 * max(1, abs(reference)), "token \(n) code \(k): \(exact[k]) vs \(reference)")
            }
        }
    }
}
