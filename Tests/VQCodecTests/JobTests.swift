import Foundation
import Testing
import VQCheckpoint
import VQEngine
import VQImage
import VQModels
import VQTokenizer
@testable import VQCodec

@Suite struct JobTests {
    func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vqc-jobs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A checkpoint of a seeded, untrained model (set VQC_WRITE_TEST_CHECKPOINT to keep one for manual CLI runs).
    func checkpoint(in folder: URL) throws -> URL {
        var rng = RandomGenerator(seed: 1)
        let model = ConvVQVAE(configuration: .init(channels: 1), rng: &rng)
        let url = folder.appendingPathComponent("model.h5")
        try Checkpoint(model: model).write(to: url)
        if let keep = ProcessInfo.processInfo.environment["VQC_WRITE_TEST_CHECKPOINT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(at: url, to: URL(fileURLWithPath: keep))
        }
        return url
    }

    @Test func folderRoundTripWithACheckpointModel() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try checkpoint(in: folder).path
        let images = folder.appendingPathComponent("in/sub")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        for i in 0..<5 { try TestModels.digit(seed: i).write(to: images.appendingPathComponent("d\(i).png")) }
        let encoded = folder.appendingPathComponent("vqc").path
        let outcomes = try EncodeJob(inputs: [folder.appendingPathComponent("in").path], output: encoded, model: model).run()
        #expect(outcomes.count == 5 && outcomes.allSatisfy { $0.error == nil })
        #expect(FileManager.default.fileExists(atPath: encoded + "/sub/d3.vqc"))

        let decoded = folder.appendingPathComponent("png").path
        let back = try DecodeJob(inputs: [encoded], output: decoded, model: model).run()
        #expect(back.allSatisfy { $0.error == nil })
        let image = try Image(contentsOf: URL(fileURLWithPath: decoded + "/sub/d3.png"))
        #expect(image.width == 28 && image.height == 28)

        // Without --model, no built-in has this fingerprint: an error naming the fingerprint, exit status 2.
        let missing = try DecodeJob(inputs: [encoded], output: decoded).run()
        #expect(missing.allSatisfy { $0.error?.contains("fingerprint") == true })
        #expect(ExitStatus.of(missing) == .badInput)
        // No temporary files are left behind.
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }

    @Test func badInputsInABatchAreReportedAndTheRestEncoded() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try checkpoint(in: folder).path
        try TestModels.digit().write(to: folder.appendingPathComponent("good.png"))
        try Data("not a png".utf8).write(to: folder.appendingPathComponent("bad.png"))
        let outcomes = try EncodeJob(inputs: [folder.appendingPathComponent("good.png").path, folder.appendingPathComponent("bad.png").path],
                                     output: folder.appendingPathComponent("out").path, model: model).run()
        #expect(outcomes[0].error == nil)
        #expect(outcomes[1].error?.contains("not a readable PNG") == true)
        #expect(ExitStatus.of(outcomes) == .badInput)
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("out/bad.vqc").path))
    }

    @Test func outputNaming() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let a = folder.appendingPathComponent("a.png").path
        try TestModels.digit().write(to: URL(fileURLWithPath: a))
        #expect(try BatchPlanner.plan([a], inputExtension: "png", newExtension: "vqc", output: nil).tasks
                == [FileTask(input: a, output: folder.appendingPathComponent("a.vqc").path)])
        #expect(try BatchPlanner.plan(["-"], inputExtension: "png", newExtension: "vqc", output: nil).tasks
                == [FileTask(input: "-", output: "-")])
        #expect(throws: CodecError.self) { try BatchPlanner.plan([a, a], inputExtension: "png", newExtension: "vqc", output: nil) }
        #expect(throws: CodecError.self) { try BatchPlanner.plan([a, "-"], inputExtension: "png", newExtension: "vqc", output: nil) }
    }
}
