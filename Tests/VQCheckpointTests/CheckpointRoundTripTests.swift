import Foundation
import Testing
import VQEngine
import VQLayers
import VQModels
@testable import VQCheckpoint

@Suite("Checkpoint round trips")
struct CheckpointRoundTripTests {
    @Test("a model saved to HDF5 loads back bit-identical, with kind and configuration")
    func modelRoundTrip() throws {
        try withTemporaryDirectory { dir in
            let model = smallConvModel()
            let url = dir.appendingPathComponent("model.h5")
            try Checkpoint(model: model).write(to: url)
            let loaded = try Checkpoint(contentsOf: url)
            #expect(loaded.modelKind == "conv-vqvae")
            #expect(loaded.formatVersion == Checkpoint.formatVersion)
            #expect(loaded.optimizer == nil && loaded.training == nil)
            let restored = try loaded.makeModel(ConvVQVAE.self)
            #expect(restored.configuration == model.configuration)
            for ((name, a), (otherName, b)) in zip(model.namedParameters, restored.namedParameters) {
                #expect(name == otherName)
                #expect(bits(a.data) == bits(b.data), "\(name)")
            }
            // No temporary files are left behind.
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "model.h5" }
            #expect(leftovers.isEmpty)
        }
    }

    @Test("loadWeights reads an HDF5 checkpoint straight into a model, and changes nothing on failure")
    func loadWeights() throws {
        try withTemporaryDirectory { dir in
            let model = smallConvModel(seed: 1)
            let url = dir.appendingPathComponent("model.h5")
            try Checkpoint(model: model).write(to: url)
            let fresh = smallConvModel(seed: 2)
            try Checkpoint.loadWeights(from: url, into: fresh)
            for ((name, a), (_, b)) in zip(model.namedParameters, fresh.namedParameters) { #expect(bits(a.data) == bits(b.data), "\(name)") }

            var rng = RandomGenerator(seed: 0)
            let other = MLPVAE(rng: &rng)
            guard case .invalidMetadata(name: "model_kind", _) = checkpointError({ try Checkpoint.loadWeights(from: url, into: other) }) else {
                Issue.record("a conv-vqvae checkpoint loaded into an mlp-vae"); return
            }
            // Damage the last tensor: the earlier ones must not have been written into the model.
            var bytes = try Data(contentsOf: url)
            let last = try #require(model.parameter(named: "dec2.weight"))
            let range = try #require(bytes.range(of: StoredTensor(float32: Array(last.data.prefix(16)), shape: [16]).bytes))
            bytes[range.lowerBound + 5] ^= 0x40
            try bytes.write(to: url)
            let untouched = smallConvModel(seed: 3)
            let before = untouched.namedParameters.map { bits($0.tensor.data) }
            guard case .checksumMismatch(name: "model/dec2.weight", _) = checkpointError({ try Checkpoint.loadWeights(from: url, into: untouched) }) else {
                Issue.record("damage not reported"); return
            }
            #expect(untouched.namedParameters.map { bits($0.tensor.data) } == before)
        }
    }

    @Test("float32 tensors read in one batch keep their order and values beside tensors of other types and scalars")
    func batchedReadKeepsOrderAmongOtherTypes() throws {
        try withTemporaryDirectory { dir in
            let big = (0..<300_000).map { Float($0 % 977) * 0.25 }  // 2 chunks
            let doubles = [1.5, -2.25, 3.0]
            let tensors = [
                NamedTensor(name: "a", tensor: StoredTensor(float32: big, shape: [600, 500])),
                NamedTensor(name: "b", tensor: StoredTensor(dtype: "F64", shape: [3], bytes: Data(doubles.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }))),
                NamedTensor(name: "c", tensor: StoredTensor(float32: [7], shape: [])),
                NamedTensor(name: "d", tensor: StoredTensor(float32: Array(big.prefix(1000)), shape: [10, 100])),
            ]
            let url = dir.appendingPathComponent("mixed.h5")
            try Checkpoint(modelKind: "", modelConfiguration: "{}", tensors: tensors).write(to: url)
            let loaded = try Checkpoint(contentsOf: url)
            #expect(loaded.tensors.map(\.name) == ["a", "b", "c", "d"])
            #expect(bits(try #require(loaded.tensor(named: "a")).floats()) == bits(big))
            #expect(try #require(loaded.tensor(named: "b")).doubles() == doubles)
            #expect(try #require(loaded.tensor(named: "c")).floats() == [7])
            #expect(bits(try #require(loaded.tensor(named: "d")).floats()) == bits(Array(big.prefix(1000))))
        }
    }

    @Test("a checkpoint value and the model loaded from it stay independent (float32 arrays are shared copy-on-write)")
    func sharedStorageIsCopyOnWrite() throws {
        try withTemporaryDirectory { dir in
            let model = smallConvModel(seed: 4)
            let url = dir.appendingPathComponent("model.h5")
            try Checkpoint(model: model).write(to: url)
            let loaded = try Checkpoint(contentsOf: url)
            let name = model.namedParameters[0].name
            let saved = try #require(loaded.tensor(named: name))
            // The same values as raw bytes compare equal to the array-backed tensor.
            #expect(saved == StoredTensor(dtype: "F32", shape: saved.shape, bytes: saved.bytes))
            let target = smallConvModel(seed: 5)
            try loaded.load(into: target)
            let parameter = try #require(target.parameter(named: name))
            parameter.data[0] += 1
            #expect(try #require(loaded.tensor(named: name)) == saved)
            #expect(bits(try loaded.tensor(named: name)!.floats()) == bits(model.namedParameters[0].tensor.data))
            #expect(bits(parameter.data) != bits(model.namedParameters[0].tensor.data))
        }
    }

    @Test("temporary files of killed saves are removed once stale; fresh ones are left alone")
    func abandonedTemporaries() throws {
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("run.h5")
            let stale = dir.appendingPathComponent(".run.h5.tmp-999999-abc")  // no such process
            let fresh = dir.appendingPathComponent(".run.h5.tmp-999998-def")
            try Data([1, 2, 3]).write(to: stale)
            try Data([1, 2, 3]).write(to: fresh)
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -7200)], ofItemAtPath: stale.path)
            try Checkpoint(model: smallConvModel()).write(to: url)
            #expect(!FileManager.default.fileExists(atPath: stale.path))
            #expect(FileManager.default.fileExists(atPath: fresh.path))
        }
    }

    @Test("the full training state round-trips exactly")
    func fullStateRoundTrip() throws {
        try withTemporaryDirectory { dir in
            let model = smallConvModel()
            let adam = Adam.adamW(parameters: model.parameters, learningRate: 3e-4, weightDecay: 0.05)
            adam.step = 17
            for i in adam.firstMoments.indices {
                for j in adam.firstMoments[i].indices {
                    adam.firstMoments[i][j] = Float(j % 13) * 0.1 - 0.5
                    adam.secondMoments[i][j] = Float(j % 7) * 1e-3
                }
            }
            var rng = RandomGenerator(seed: 99)
            _ = rng.next()
            let order = rng.permutation(50)
            let training = TrainingState(globalStep: 17, epoch: 2, randomState: rng.stateWords, dataOrder: order,
                                         dataPosition: 32, metrics: ["loss": [1.5, 0.25, 1e-300], "lr": []])
            let checkpoint = Checkpoint(model: model, optimizer: adam, training: training)
            let url = dir.appendingPathComponent("state.h5")
            try checkpoint.write(to: url)
            let loaded = try Checkpoint(contentsOf: url)
            #expect(loaded == checkpoint)
            let restoredModel = try loaded.makeModel(ConvVQVAE.self)
            let restoredAdam = try loaded.makeOptimizer(for: restoredModel)
            #expect(restoredAdam.step == 17)
            #expect(restoredAdam.style == .adamW && restoredAdam.learningRate == 3e-4 && restoredAdam.weightDecay == 0.05)
            #expect(restoredAdam.firstMoments.map(bits) == adam.firstMoments.map(bits))
            #expect(restoredAdam.secondMoments.map(bits) == adam.secondMoments.map(bits))
            var restoredRng = try #require(loaded.training).makeRandomGenerator()
            #expect(restoredRng.next() == rng.next())
        }
    }

    @Test("safetensors: written per the spec, read back strictly, same tensors and metadata")
    func safetensorsRoundTrip() throws {
        try withTemporaryDirectory { dir in
            let model = smallConvModel()
            let checkpoint = Checkpoint(model: model)
            let url = dir.appendingPathComponent("model.safetensors")
            try checkpoint.write(to: url)
            let data = try Data(contentsOf: url)
            let headerLength = data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            #expect(headerLength % 8 == 0)
            let parsed = try SafetensorsFile(data: data)
            #expect(parsed.order == model.namedParameters.map(\.name))
            #expect(parsed.metadata["vqcodec.model_kind"] == "conv-vqvae")
            let loaded = try Checkpoint(contentsOf: url)
            #expect(loaded.tensors == checkpoint.tensors)
            #expect(loaded.modelConfiguration == checkpoint.modelConfiguration)
            _ = try loaded.makeModel(ConvVQVAE.self)
        }
    }
}
