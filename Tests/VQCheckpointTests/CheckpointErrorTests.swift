import CHDF5
import Foundation
import Testing
import VQEngine
import VQModels
@testable import VQCheckpoint

/// Every failure a reader can meet is reported as its own typed error.
@Suite("Checkpoint errors")
struct CheckpointErrorTests {
    @Test("a file that is not HDF5 (nor safetensors) is refused as such")
    func notHDF5() throws {
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("garbage.h5")
            try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }).write(to: url)
            #expect(checkpointError { _ = try Checkpoint(contentsOf: url) } == .notHDF5(path: url.path))
            let missing = dir.appendingPathComponent("missing.h5")
            #expect(checkpointError { _ = try Checkpoint(contentsOf: missing) } == .fileUnreadable(path: missing.path, reason: "no such file"))
        }
    }

    @Test("an HDF5 file without our root attributes is not a vqcodec checkpoint")
    func notACheckpoint() throws {
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("foreign.h5")
            let file = try H5File.create(url.path)
            try file.root.createGroup("layer1").writeDataset("kernel", StoredTensor(float32: [1, 2, 3], shape: [3]))
            try file.root.setStringAttribute("format", "keras")
            try file.close()
            let error = checkpointError { _ = try Checkpoint(contentsOf: url) }
            guard case let .notACheckpoint(_, detail) = error else { Issue.record("got \(String(describing: error))"); return }
            #expect(detail.contains("'keras'"))
            #expect(error!.isUnreadable)
        }
    }

    @Test("a format version newer than supported is refused with both versions")
    func newerVersion() throws {
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("future.h5")
            var checkpoint = Checkpoint(model: smallConvModel())
            checkpoint.formatVersion = Checkpoint.formatVersion + 1
            try checkpoint.write(to: url)
            #expect(checkpointError { _ = try Checkpoint(contentsOf: url) }
                    == .unsupportedFormatVersion(found: Checkpoint.formatVersion + 1, supported: Checkpoint.formatVersion))
        }
    }

    @Test("a missing tensor is named; a shape mismatch gives expected and found")
    func missingTensorAndShapeMismatch() throws {
        try withTemporaryDirectory { dir in
            let model = smallConvModel()
            var missing = Checkpoint(model: model)
            missing.tensors.removeAll { $0.name == "dec2.bias" }
            let missingURL = dir.appendingPathComponent("missing.h5")
            try missing.write(to: missingURL)
            #expect(checkpointError { _ = try Checkpoint(contentsOf: missingURL).makeModel(ConvVQVAE.self) } == .missingTensor(name: "dec2.bias"))
            #expect(VerifyReport(url: missingURL).exitCode == 1)

            var reshaped = Checkpoint(model: model)
            let index = reshaped.tensors.firstIndex { $0.name == "vq.codebook" }!
            reshaped.tensors[index].tensor = StoredTensor(float32: [Float](repeating: 0, count: 16 * 32), shape: [16, 32])
            let reshapedURL = dir.appendingPathComponent("reshaped.h5")
            try reshaped.write(to: reshapedURL)
            #expect(checkpointError { _ = try Checkpoint(contentsOf: reshapedURL).makeModel() }
                    == .shapeMismatch(name: "vq.codebook", expected: [32, 16], found: [16, 32]))
        }
    }

    @Test("element types: integers cannot be weights, and unknown HDF5 types are reported")
    func unsupportedDType() throws {
        try withTemporaryDirectory { dir in
            let model = smallConvModel()
            var integers = Checkpoint(model: model)
            let index = integers.tensors.firstIndex { $0.name == "enc1.bias" }!
            let count = integers.tensors[index].tensor.elementCount
            integers.tensors[index].tensor = Checkpoint.integers([Int32](repeating: 1, count: count), as: .i32)
            let url = dir.appendingPathComponent("ints.h5")
            try integers.write(to: url)
            let error = checkpointError { _ = try Checkpoint(contentsOf: url).makeModel() }
            guard case .unsupportedDType(name: "enc1.bias", found: "I32", _) = error else { Issue.record("got \(String(describing: error))"); return }

            // A 24-bit integer dataset, written with the C API: readable by libhdf5, not a type vqcodec loads.
            let odd = dir.appendingPathComponent("odd.h5")
            var checkpoint = Checkpoint(model: model)
            checkpoint.tensors.removeAll { $0.name == "enc1.bias" }
            let file = try H5File.create(odd.path)
            for (name, value) in [("format", Checkpoint.formatName), ("format_version", "1"), ("model_kind", checkpoint.modelKind),
                                  ("model_config", checkpoint.modelConfiguration), ("software_version", "test"), ("created", "now")] {
                try file.root.setStringAttribute(name, value)
            }
            let group = try file.root.createGroup("model")
            for entry in checkpoint.tensors { try group.writeDataset(entry.name, entry.tensor) }
            HDF5.locked {
                let type = H5Tcopy(vq_h5t_std_i32le())
                H5Tset_size(type, 3)
                var dims: [hsize_t] = [8]
                let space = H5Screate_simple(1, &dims, nil)
                let dataset = H5Dcreate2(group.handle.id, "enc1.bias", type, space, vq_h5p_default(), vq_h5p_default(), vq_h5p_default())
                H5Dclose(dataset); H5Sclose(space); H5Tclose(type)
            }
            try file.close()
            let oddError = checkpointError { _ = try Checkpoint(contentsOf: odd) }
            guard case let .unsupportedDType(name, found, _) = oddError else { Issue.record("got \(String(describing: oddError))"); return }
            #expect(name == "model/enc1.bias" && found == "24-bit signed integer")
        }
    }

    @Test("a flipped bit in tensor data fails the fletcher32 checksum, by tensor name")
    func checksumMismatch() throws {
        try withTemporaryDirectory { dir in
            let model = smallConvModel()
            let url = dir.appendingPathComponent("flipped.h5")
            try Checkpoint(model: model).write(to: url)
            var bytes = try Data(contentsOf: url)
            // Find the codebook's bytes in the file and flip one bit in the middle of them.
            let weights = try #require(model.parameter(named: "vq.codebook"))
            let codebook = Data(StoredTensor(float32: weights.data, shape: weights.shape).bytes.prefix(64))
            let range = try #require(bytes.range(of: codebook))
            bytes[range.lowerBound + 21] ^= 0x10
            try bytes.write(to: url)
            let error = checkpointError { _ = try Checkpoint(contentsOf: url) }
            guard case .checksumMismatch(name: "model/vq.codebook", _) = error else { Issue.record("got \(String(describing: error))"); return }
            #expect(VerifyReport(url: url).verdict == .corrupt)
        }
    }

    @Test("rank-0 tensors carry a CRC-32 that is checked")
    func scalarCRC() throws {
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("scalar.h5")
            let scalar = StoredTensor(float32: [1234.5678], shape: [])
            let empty = StoredTensor(float32: [], shape: [0, 4])
            try Checkpoint(modelKind: "", modelConfiguration: "", tensors: [NamedTensor(name: "num_batches", tensor: scalar),
                                                                             NamedTensor(name: "empty", tensor: empty)]).write(to: url)
            let loaded = try Checkpoint(contentsOf: url)
            #expect(loaded.tensor(named: "num_batches") == scalar)
            #expect(loaded.tensor(named: "empty") == empty)
            var bytes = try Data(contentsOf: url)
            let range = try #require(bytes.range(of: scalar.bytes))
            bytes[range.lowerBound] ^= 0x01
            try bytes.write(to: url)
            let error = checkpointError { _ = try Checkpoint(contentsOf: url) }
            guard case .checksumMismatch(name: "model/num_batches", _) = error else { Issue.record("got \(String(describing: error))"); return }
        }
    }

    @Test("configurations from files are bounded before any model is built")
    func hostileConfiguration() throws {
        #expect(throws: CheckpointError.self) {
            try ModelRegistry.validate(kind: "token-prior", configurationJSON: #"{"vocabulary":512,"sequenceLength":49,"dimension":130,"heads":4,"layers":2,"hiddenSize":512}"#)
        }
        #expect(throws: CheckpointError.self) {
            try ModelRegistry.validate(kind: "mlp-vae", configurationJSON: #"{"inputSize":1000000,"hiddenSize":1000000,"latentSize":20}"#)
        }
        #expect(throws: CheckpointError.self) { try ModelRegistry.validate(kind: "conv-vqvae", configurationJSON: "{}") }
        #expect(throws: CheckpointError.self) { try ModelRegistry.validate(kind: "gan", configurationJSON: "{}") }
        var rng = RandomGenerator(seed: 0)
        #expect(try ModelRegistry.validate(kind: "mlp-vae", configurationJSON: ModelRegistry.configurationJSON(of: MLPVAE(rng: &rng))) == 652_824)
        #expect(try ModelRegistry.validate(kind: "conv-vqvae", configurationJSON: ModelRegistry.configurationJSON(of: ConvVQVAE(rng: &rng))) == 173_313)
        #expect(try ModelRegistry.validate(kind: "token-prior", configurationJSON: ModelRegistry.configurationJSON(of: TokenPrior(rng: &rng))) == 534_784)
    }
}
