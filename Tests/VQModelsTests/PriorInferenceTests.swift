import Foundation
import Testing
import VQEngine
@testable import VQModels

@Suite struct PriorInferenceTests {
    static func tinyPrior(classes: Int = 0, seed: UInt64 = 5) -> TokenPrior {
        var rng = RandomGenerator(seed: seed)
        let prior = TokenPrior(configuration: .init(vocabulary: 24, sequenceLength: 10, dimension: 16, heads: 2, layers: 2,
                                                    hiddenSize: 32, classes: classes), rng: &rng)
        // Larger weights than the 0.02 initialisation, so the attention and GELU paths matter.
        for p in prior.parameters { for i in p.data.indices { p.data[i] *= 20 } }
        return prior
    }

    @Test("token-by-token logits with the cache match the engine's batched forward pass")
    func cachedStepsMatchBatchedForward() {
        for classes in [0, 3] {
            let prior = PriorInferenceTests.tinyPrior(classes: classes)
            let c = prior.configuration
            var rng = RandomGenerator(seed: 9)
            let tokens = (0..<c.sequenceLength).map { _ in Int(rng.next() % UInt64(c.vocabulary)) }
            let label = classes > 0 ? 2 : nil
            let inputs = prior.shiftedInputs(tokens, batch: 1, labels: label.map { [$0] })
            let batched = Autograd.withoutRecording { prior.logits(inputs: inputs, batch: 1) }.data
            var session = PriorSession(weights: PriorWeights(prior))
            var worst: Float = 0
            for (t, token) in inputs.enumerated() {
                let logits = session.next(token)
                for k in 0..<c.vocabulary {
                    let reference = batched[t * c.vocabulary + k]
                    worst = max(worst, abs(logits[k] - reference) / max(1, abs(reference)))
                }
            }
            #expect(worst < 1e-4, "classes \(classes): worst relative difference \(worst)")
        }
    }

    @Test("the same weights and tokens give bit-identical logits in every session")
    func sessionsAreRepeatable() {
        let weights = PriorWeights(PriorInferenceTests.tinyPrior())
        func run() -> [UInt32] {
            var session = PriorSession(weights: weights)
            return [24, 3, 7, 7, 1].flatMap { session.next($0).map(\.bitPattern) }
        }
        let reference = run()
        let others = (0..<4).map { _ in run() }
        #expect(others.allSatisfy { $0 == reference })
    }

    @Test("exp and erf without libm stay within float rounding of libm")
    func mathKernels() {
        var worstExp: Double = 0, worstErf: Double = 0
        var x: Float = -87  // below, results are subnormal and relative precision is lost in any float exp
        while x < 88 {
            let reference = Foundation.exp(Double(x))
            worstExp = max(worstExp, abs(Double(Deterministic.exp(x)) - reference) / reference)
            x += 0.0137
        }
        x = -6
        while x < 6 {
            worstErf = max(worstErf, abs(Double(Deterministic.erf(x)) - Foundation.erf(Double(x))))
            x += 0.001
        }
        #expect(worstExp < 1e-6, "exp: worst relative error \(worstExp)")
        #expect(worstErf < 1e-6, "erf: worst absolute error \(worstErf)")
        #expect(Deterministic.exp(-200) == 0 && Deterministic.exp(0) == 1)
    }

    @Test("the reference TokenPrior's configuration JSON is unchanged by the optional class and tokenizer fields")
    func referenceConfigurationJSON() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(TokenPrior.Configuration()), as: UTF8.self)
        #expect(json == #"{"dimension":128,"heads":4,"hiddenSize":512,"layers":2,"sequenceLength":49,"vocabulary":512}"#)
        let conditional = TokenPrior.Configuration(classes: 10, tokenizerFingerprint: "ab")
        let decoded = try JSONDecoder().decode(TokenPrior.Configuration.self, from: encoder.encode(conditional))
        #expect(decoded == conditional && decoded.embeddingRows == 523 && decoded.startToken(label: 7) == 520 && decoded.startToken(label: nil) == 512)
    }
}
