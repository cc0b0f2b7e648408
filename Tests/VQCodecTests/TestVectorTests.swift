import Foundation
import Testing
import VQImage
@testable import VQCodec
@testable import VQTokenizer

/// The pinned examples of Formats/testvectors/ (see its README). Set VQC_WRITE_TESTVECTORS=1 to regenerate them
/// after a deliberate format or model change, then review the diff.
@Suite struct TestVectorTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let folder = root.appendingPathComponent("Formats/testvectors")
    static let regenerate = ProcessInfo.processInfo.environment["VQC_WRITE_TESTVECTORS"] == "1"

    struct Vector: Codable, Equatable {
        var name: String
        var image: String?
        var model: String?
        var vqcBytes: Int
        var vqcSHA256: String
        var decodedPNGSHA256: String?
        var decodedPixelsSHA256: String?
    }

    /// Model-independent container vectors: fixed indices in each method (the zstd bytes are those of libzstd 1.5.x
    /// at level 19).
    /// The statistics of method 3's vector: counts of a fixed synthetic set of grids.
    static let statistics = ContainerTests.statistics([LevelShape(height: 7, width: 7, codebookSize: 512)])
        .relabeled(fingerprint: "deadbeef01234567" + String(repeating: "0", count: 48))

    static func containerVectors() throws -> [(String, [UInt8])] {
        let fingerprint: [UInt8] = [0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67]
        let level = LevelShape(height: 7, width: 7, codebookSize: 512)
        let indices = (0..<49).map { i in (i / 7 == 0 || i / 7 == 6 || i % 7 == 0 || i % 7 == 6) ? 42 : (i * 97) % 512 }
        return try EntropyMethod.allCases.filter { !$0.namesPrior }.map { method in
            ("container-\(method.shortName)", try ContainerFile.encode(fingerprint: fingerprint, modelName: "mnist", width: 28, height: 28,
                                                                        channels: 1, levels: [level], indices: [indices], method: method,
                                                                        statistics: statistics))
        }
    }

    static func modelVectors() throws -> [(Vector, [UInt8])] {
        var result: [(Vector, [UInt8])] = []
        let cases: [(String, BuiltinTokenizer)] = [
            ("Samples/digit-00000-7.png", .mnist), ("Samples/digit-00001-2.png", .mnist), ("Samples/digit-00003-0.png", .mnist),
            ("Samples/kodim23-crop64.png", .photo),
        ]
        for (path, builtin) in cases where Tokenizer.builtinURL(builtin) != nil {
            let tokenizer = try Tokenizer.builtin(builtin)
            let image = try ImageInput.read(path: root.appendingPathComponent(path).path)
            // Default coding, and (where the build ships the model's prior) method 4: its bytes pin the prior's
            // probabilities, computed here in a debug build; `Tools/prior/determinism.sh` checks a release build.
            var codings: [(String, PriorCoder?)] = [("", nil)]
            if let coder = PriorCoder.builtin(for: tokenizer) { codings.append(("prior-", coder)) }
            for (prefix, coder) in codings {
                // Photo: every level, so method 5 pins the context prior's tables on all of them.
                let bytes = try Codec.encode(image, tokenizer: tokenizer, levels: builtin == .photo ? tokenizer.levels : nil,
                                             method: coder == nil ? nil : .prior, prior: coder)
                let decoded = try Codec.decode(bytes, tokenizer: tokenizer)
                let name = "\(builtin.rawValue)-\(prefix)" + (path as NSString).lastPathComponent.replacingOccurrences(of: ".png", with: "")
                result.append((Vector(name: name, image: path, model: builtin.rawValue, vqcBytes: bytes.count, vqcSHA256: SHA256.hex(bytes),
                                      decodedPNGSHA256: SHA256.hex([UInt8](try decoded.pngData())),
                                      decodedPixelsSHA256: SHA256.hex(decoded.pixels)), bytes))
            }
        }
        return result
    }

    @Test func pinnedVectorsMatch() throws {
        var vectors: [(Vector, [UInt8])] = try TestVectorTests.containerVectors().map { name, bytes in
            (Vector(name: name, vqcBytes: bytes.count, vqcSHA256: SHA256.hex(bytes)), bytes)
        }
        vectors += try TestVectorTests.modelVectors()
        let manifest = TestVectorTests.folder.appendingPathComponent("vectors.json")
        if TestVectorTests.regenerate {
            try FileManager.default.createDirectory(at: TestVectorTests.folder, withIntermediateDirectories: true)
            for (vector, bytes) in vectors {
                try Data(bytes).write(to: TestVectorTests.folder.appendingPathComponent(vector.name + ".vqc"))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(vectors.map(\.0)).write(to: manifest)
            return
        }
        let expected = try JSONDecoder().decode([Vector].self, from: Data(contentsOf: manifest))
        for pinned in expected {
            // The stored file decodes (model vectors: to the pinned pixels) ...
            let stored = [UInt8](try Data(contentsOf: TestVectorTests.folder.appendingPathComponent(pinned.name + ".vqc")))
            #expect(SHA256.hex(stored) == pinned.vqcSHA256, "\(pinned.name).vqc changed on disk")
            let file = try ContainerFile(stored, statistics: TestVectorTests.statistics)
            if let model = pinned.model, let builtin = BuiltinTokenizer(rawValue: model), Tokenizer.builtinURL(builtin) != nil {
                let tokenizer = try Tokenizer.builtin(builtin)
                let image = try Codec.decode([file], tokenizer: tokenizer)[0]
                #expect(SHA256.hex(image.pixels) == pinned.decodedPixelsSHA256, "\(pinned.name): decoded pixels differ")
                #expect(SHA256.hex([UInt8](try image.pngData())) == pinned.decodedPNGSHA256, "\(pinned.name): decoded PNG differs")
            }
            // ... and encoding again gives the same bytes.
            if let fresh = vectors.first(where: { $0.0.name == pinned.name }) {
                #expect(fresh.0 == pinned, "\(pinned.name): encoding changed")
            } else {
                Issue.record("\(pinned.name): its model is not in this build")
            }
        }
    }
}

@Suite struct VersionOneTests {
    /// Files written before version 2 (8-byte fingerprints, the model's name spelled out) still decode, to the
    /// pixels pinned when they were written.
    @Test("version 1 files (default and prior-coded) still decode to their pinned pixels")
    func versionOneFilesDecode() throws {
        guard Tokenizer.builtinURL(.mnist) != nil else { return }
        let tokenizer = try Tokenizer.builtin(.mnist)
        let folder = TestVectorTests.folder.appendingPathComponent("v1")
        for name in ["mnist-digit-00000-7", "mnist-prior-digit-00000-7"] {
            let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(name + ".vqc")))
            let file = try ContainerFile(bytes)
            #expect(file.header.version == 1 && file.header.fingerprint.count == 8 && file.header.modelName == "mnist")
            let image = try Codec.decode([file], tokenizer: tokenizer)[0]
            #expect(SHA256.hex(image.pixels) == "f07212e2077ea6d0f614a7f74640f2e728da9cc995e70daf56a80c902d7f58c5", "\(name)")
            // Its header serialises back to the same bytes.
            #expect(file.header.serialized() == Array(bytes.prefix(file.header.serialized().count)))
        }
    }
}
