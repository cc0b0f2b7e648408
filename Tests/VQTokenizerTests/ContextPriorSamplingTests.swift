import Testing
import VQEngine
import VQModels
@testable import VQTokenizer

@Suite struct ContextPriorSamplingTests {
    @Test("sampling gives grids of the asked shape and codes, the same for the same seed, and follows a peaked prior")
    func sampling() throws {
        var rng = RandomGenerator(seed: 9)
        let model = ContextPrior(configuration: .init(vocabulary: 12, levels: 2, embedding: 4, hiddenSize: 8), rng: &rng)
        // Make code 5 overwhelmingly likely everywhere: the head's bias decides.
        for i in model.head.bias!.data.indices { model.head.bias!.data[i] = i == 5 ? 30 : 0 }
        let prior = ContextPriorModel(model: model)
        let a = try prior.sample(count: 3, height: 4, width: 6, levels: 2, seed: 1)
        let b = try prior.sample(count: 3, height: 4, width: 6, levels: 2, seed: 1)
        #expect(a == b)
        #expect(a.count == 3 && a.allSatisfy { $0.count == 2 * 4 * 6 && $0.allSatisfy { (0..<12).contains($0) } })
        #expect(a.joined().filter { $0 == 5 }.count > 140, "a prior that puts nearly all mass on code 5 should sample it")
        #expect(throws: PriorError.self) { try prior.sample(count: 1, height: 4, width: 4, levels: 3) }
        #expect(throws: PriorError.self) { try prior.sample(count: 1, height: 4, width: 4, levels: 1, temperature: 0) }
    }
}
