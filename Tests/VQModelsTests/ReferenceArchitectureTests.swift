import Testing
import VQEngine
import VQModels

@Suite struct ReferenceArchitectureTests {
    @Test func parameterCountsMatchMission() {
        var rng = RandomGenerator(seed: 0)
        #expect(MLPVAE(rng: &rng).parameterCount == 652_824)
        #expect(ConvVQVAE(rng: &rng).parameterCount == 173_313)
        #expect(TokenPrior(rng: &rng).parameterCount == 534_784)
    }

    @Test func parameterNamesFollowPyTorchStateDict() {
        var rng = RandomGenerator(seed: 0)
        let prior = TokenPrior(rng: &rng)
        let names = prior.namedParameters.map(\.name)
        #expect(names.contains("pos_emb"))
        #expect(names.contains("blocks.1.attn.qkv.weight"))
        #expect(prior.parameter(named: "blocks.0.attn.qkv.weight")?.shape == [384, 128])
        let vqvae = ConvVQVAE(rng: &rng)
        #expect(vqvae.parameter(named: "vq.codebook")?.shape == [512, 64])
        #expect(vqvae.parameter(named: "dec2.weight")?.shape == [64, 32, 4, 4])
    }

    @Test func sameSeedGivesIdenticalModels() {
        var a = RandomGenerator(seed: 42), b = RandomGenerator(seed: 42)
        let m1 = ConvVQVAE(rng: &a), m2 = ConvVQVAE(rng: &b)
        for (p, q) in zip(m1.parameters, m2.parameters) { #expect(p.data == q.data) }
    }
}
