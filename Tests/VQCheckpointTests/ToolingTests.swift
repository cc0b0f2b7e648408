import Foundation
import Testing
import VQEngine
import VQLayers
import VQModels
@testable import VQCheckpoint

/// The library side of `inspect`, `convert`, `diff` and `verify`.
@Suite("inspect, convert, diff, verify")
struct ToolingTests {
    @Test("inspect lists every tensor with shape, dtype, elements, bytes, and statistics on request")
    func inspect() throws {
        try withTemporaryDirectory { dir in
            let model = smallConvModel()
            let adam = Adam(parameters: model.parameters)
            let training = TrainingState(globalStep: 5, epoch: 0, randomState: [1, 2, 3, 4], dataOrder: [2, 0, 1], dataPosition: 1, metrics: ["loss": [2, 1]])
            let url = dir.appendingPathComponent("state.h5")
            try Checkpoint(model: model, optimizer: adam, training: training).write(to: url)
            let report = try InspectReport(url: url, statistics: true)
            #expect(report.modelKind == "conv-vqvae")
            #expect(report.totalParameters == model.parameterCount)
            #expect(report.tensors.prefix(model.namedParameters.count).map(\.name) == model.namedParameters.map(\.name))
            let codebook = try #require(report.tensors.first { $0.name == "vq.codebook" })
            #expect(codebook.shape == [32, 16] && codebook.dtype == "F32" && codebook.elements == 512 && codebook.bytes == 2048)
            #expect(codebook.checksum == "fletcher32")
            let stats = try #require(codebook.statistics)
            #expect(stats.min! >= -1.0 / 32 && stats.max! <= 1.0 / 32 && stats.nanCount == 0)
            #expect(report.state["optimizer.step"] == "0" && report.state["training.global_step"] == "5")
            #expect(report.tensors.contains { $0.name == "training/metrics/loss" })
            #expect(report.text.contains("model parameters: \(groupedInteger(model.parameterCount))"))
        }
    }

    @Test("inspect shows the tree of an HDF5 file that is not ours")
    func inspectForeign() throws {
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("keras.h5")
            let file = try H5File.create(url.path)
            try file.root.setStringAttribute("backend", "tensorflow")
            let weights = try file.root.createGroup("model_weights")
            try weights.createGroup("dense").writeDataset("kernel:0", StoredTensor(float32: [1, 2, 3, 4, 5, 6], shape: [2, 3]))
            try file.close()
            let report = try InspectReport(url: url, statistics: true)
            #expect(report.format == "HDF5")
            let tree = try #require(report.tree)
            #expect(tree.map(\.path) == ["/", "/model_weights", "/model_weights/dense", "/model_weights/dense/kernel:0"])
            #expect(tree[0].attributes["backend"] == "\"tensorflow\"")
            #expect(tree[3].shape == [2, 3] && tree[3].dtype == "F32" && tree[3].statistics?.mean == 3.5)
        }
    }

    @Test("inspect shows a safetensors file's metadata and tensors")
    func inspectSafetensors() throws {
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("weights.safetensors")
            let model = smallConvModel()
            try Checkpoint(model: model).write(to: url)
            let report = try InspectReport(url: url, statistics: false)
            #expect(report.format == "safetensors" && report.modelKind == "conv-vqvae")
            #expect(report.metadata?["format"] == "pt")
            #expect(report.tensors.map(\.name) == model.namedParameters.map(\.name))
            #expect(report.tensors.allSatisfy { $0.checksum == nil } && report.totalParameters == model.parameterCount)
        }
    }

    @Test("diff: identical files are equal; a changed weight, a dropped tensor and a step are reported")
    func diff() throws {
        let model = smallConvModel()
        let a = Checkpoint(model: model)
        #expect(DiffReport(a: a, b: a, fileA: "a", fileB: "b", tolerance: 0).isEqual)
        var b = a
        var changed = model.enc1.weight.data
        changed[3] += 0.5
        b.tensors[0].tensor = StoredTensor(float32: changed, shape: model.enc1.weight.shape)
        b.tensors.removeLast()
        let report = DiffReport(a: a, b: b, fileA: "a", fileB: "b", tolerance: 1e-3)
        #expect(!report.isEqual)
        #expect(report.onlyInA == [a.tensors.last!.name])
        let first = try #require(report.tensors.first { $0.name == "enc1.weight" })
        #expect(abs(first.maxAbsoluteDifference - 0.5) < 1e-6 && !first.withinTolerance)
        #expect(first.changedFraction == 1.0 / Double(changed.count))
        let loose = DiffReport(a: a, b: b, fileA: "a", fileB: "b", tolerance: 1)
        #expect(loose.tensors.allSatisfy { $0.withinTolerance })
    }

    @Test("convert: HDF5 -> safetensors (weights only) -> HDF5 keeps every bit; refuses to drop state silently")
    func convert() throws {
        try withTemporaryDirectory { dir in
            let model = smallConvModel()
            let adam = Adam(parameters: model.parameters)
            let training = TrainingState(globalStep: 1, epoch: 0, randomState: [1, 2, 3, 4], dataOrder: [], dataPosition: 0)
            let full = dir.appendingPathComponent("full.h5")
            try Checkpoint(model: model, optimizer: adam, training: training).write(to: full)
            let safetensors = dir.appendingPathComponent("weights.safetensors")
            #expect(throws: CheckpointError.self) { try CheckpointConversion().convert(full, to: safetensors) }
            try CheckpointConversion(weightsOnly: true).convert(full, to: safetensors)
            let back = dir.appendingPathComponent("back.h5")
            try CheckpointConversion().convert(safetensors, to: back)
            let original = try Checkpoint(contentsOf: full), roundTrip = try Checkpoint(contentsOf: back)
            #expect(roundTrip.tensors == original.tensors && roundTrip.optimizer == nil)
            #expect(DiffReport(a: original.weightsOnly, b: roundTrip, fileA: "", fileB: "", tolerance: 0).isEqual)

            let half = dir.appendingPathComponent("half.h5")
            try CheckpointConversion(dtype: .bf16).convert(full, to: half)
            let halfCheckpoint = try Checkpoint(contentsOf: half)
            #expect(halfCheckpoint.tensors.allSatisfy { $0.tensor.dtype == "BF16" })
            #expect(halfCheckpoint.optimizer == original.optimizer)
            _ = try halfCheckpoint.makeModel(ConvVQVAE.self)
            #expect(VerifyReport(url: half).exitCode == 0)
        }
    }

    @Test("a plain state_dict in safetensors needs --model-kind and --model-config, and must match the model")
    func plainStateDict() throws {
        try withTemporaryDirectory { dir in
            let model = smallConvModel()
            let plain = dir.appendingPathComponent("plain.safetensors")
            let data = try SafetensorsFile.serialize(Checkpoint(model: model).tensors, metadata: [:])
            try data.write(to: plain)
            let out = dir.appendingPathComponent("out.h5")
            #expect(throws: CheckpointError.self) { try CheckpointConversion().convert(plain, to: out) }
            let config = ModelRegistry.configurationJSON(of: model)
            try CheckpointConversion(modelKind: "conv-vqvae", modelConfiguration: config).convert(plain, to: out)
            #expect(VerifyReport(url: out).exitCode == 0)
            let wrong = #"{"channels":1,"codes":64,"commitmentWeight":0.25,"hiddenChannels":8,"latentChannels":16}"#
            let error = checkpointError { try CheckpointConversion(modelKind: "conv-vqvae", modelConfiguration: wrong).convert(plain, to: out) }
            #expect(error == .shapeMismatch(name: "vq.codebook", expected: [64, 16], found: [32, 16]))
        }
    }

    @Test("verify: exit 0 sound, 1 corrupt (truncated), 2 unreadable (missing, garbage, foreign)")
    func verify() throws {
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("model.h5")
            try Checkpoint(model: smallConvModel()).write(to: url)
            let sound = VerifyReport(url: url)
            #expect(sound.exitCode == 0, "\(sound.text)")
            let bytes = try Data(contentsOf: url)
            let truncated = dir.appendingPathComponent("truncated.h5")
            try bytes.prefix(bytes.count / 2).write(to: truncated)
            #expect(VerifyReport(url: truncated).exitCode == 1)
            #expect(VerifyReport(url: dir.appendingPathComponent("missing.h5")).exitCode == 2)
            let garbage = dir.appendingPathComponent("garbage.h5")
            try Data(repeating: 0x41, count: 1000).write(to: garbage)
            #expect(VerifyReport(url: garbage).exitCode == 2)
        }
    }
}
