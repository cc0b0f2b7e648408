import Foundation
import Testing
import VQCheckpoint
import VQEngine
import VQImage
import VQModels
@testable import VQTokenizer

private func tinyPhotoModel(levels: Int = 2, downsampling: Int = 4) -> PhotoVQVAE {
    var rng = RandomGenerator(seed: 7)
    let options = QuantizerOptions(kind: .ema, levels: levels)
    return PhotoVQVAE(configuration: .init(hiddenChannels: 8, maximumChannels: 8, downsampling: downsampling, residualBlocks: 1,
                                           latentChannels: 4, codes: 16, quantizer: options), rng: &rng)
}

private func tinyMNISTModel() -> ConvVQVAE {
    var rng = RandomGenerator(seed: 3)
    return ConvVQVAE(configuration: .init(hiddenChannels: 4, latentChannels: 4, codes: 32), rng: &rng)
}

private func noiseImage(width: Int, height: Int, channels: Int, seed: UInt64) -> Image {
    var rng = RandomGenerator(seed: seed)
    return Image(width: width, height: height, channels: channels,
                 pixels: (0..<(width * height * channels)).map { _ in UInt8(rng.next() % 256) })
}

@Suite struct TokenizerTests {
    @Test func oddSizesPadAndCrop() throws {
        let tokenizer = Tokenizer(model: tinyPhotoModel())
        for (w, h) in [(1, 1), (5, 3), (17, 9), (8, 8)] {
            let image = noiseImage(width: w, height: h, channels: 3, seed: UInt64(w * h))
            let tokens = try tokenizer.encode(image)
            #expect(tokens.width == (w + 3) / 4 && tokens.height == (h + 3) / 4)
            #expect(tokens.levels == 2 && tokens.indices.count == 2 * tokens.width * tokens.height)
            let decoded = try tokenizer.decode(tokens)
            #expect(decoded.width == w && decoded.height == h && decoded.channels == 3)
        }
    }

    @Test func edgeReplicationPadding() {
        let image = Image(width: 2, height: 1, channels: 1, pixels: [0, 255])
        let padded = paddedBatch([image], width: 4, height: 2)
        #expect(padded.shape == [1, 1, 2, 4])
        #expect(padded.data == [0, 1, 1, 1, 0, 1, 1, 1])
    }

    @Test func encodeDecodeEncodeIsStableForCodebookVectors() throws {
        // Decoding and re-encoding an image is a fixed point only for a trained model; what must hold for any
        // model is that the same image gives the same tokens and the same decoded image every time.
        let tokenizer = Tokenizer(model: tinyMNISTModel())
        let image = noiseImage(width: 28, height: 28, channels: 1, seed: 1)
        let a = try tokenizer.encode(image), b = try tokenizer.encode(image)
        #expect(a == b)
        let decoded = try tokenizer.decode(a)
        let decodedAgain = try tokenizer.decode(b)
        #expect(decodedAgain == decoded)
    }

    @Test func levelsAndTruncation() throws {
        let tokenizer = Tokenizer(model: tinyPhotoModel(levels: 3))
        let image = noiseImage(width: 12, height: 8, channels: 3, seed: 5)
        let full = try tokenizer.encode(image)
        let one = try tokenizer.encode(image, levels: 1)
        #expect(full.truncated(toLevels: 1) == one)
        #expect(one.rawBits == 4 * 3 * 2)
        #expect(throws: TokenizerError.levelsOutOfRange(requested: 4, available: 3)) { try tokenizer.encode(image, levels: 4) }
    }

    @Test func typedErrors() throws {
        let tokenizer = Tokenizer(model: tinyPhotoModel())
        #expect(throws: TokenizerError.channelMismatch(expected: 3, found: 1)) {
            try tokenizer.encode(noiseImage(width: 4, height: 4, channels: 1, seed: 1))
        }
        #expect(throws: TokenizerError.alphaChannel(channels: 4)) {
            try tokenizer.encode(noiseImage(width: 4, height: 4, channels: 4, seed: 1))
        }
        let rgba = noiseImage(width: 4, height: 4, channels: 4, seed: 1)
        _ = try tokenizer.encode(rgba.removingAlpha())
        _ = try tokenizer.encode(noiseImage(width: 4, height: 4, channels: 1, seed: 1).converted(toChannels: 3))

        var tokens = try tokenizer.encode(noiseImage(width: 8, height: 8, channels: 3, seed: 2))
        var damaged = tokens
        damaged.indices[3] = 16
        #expect(throws: TokenizerError.indexOutOfRange(level: 0, position: 3, index: 16, codes: 16)) { try tokenizer.decode(damaged) }
        damaged = tokens
        damaged.indices.removeLast()
        #expect(throws: TokenizerError.self) { try tokenizer.decode(damaged) }
        damaged = tokens
        damaged.codebookSizes = [16, 32]
        #expect(throws: TokenizerError.codebookMismatch(expected: [16, 16], found: [16, 32])) { try tokenizer.decode(damaged) }

        let other = Tokenizer(model: tinyMNISTModel())
        #expect(other.fingerprint != tokenizer.fingerprint)
        #expect(throws: TokenizerError.self) { try other.decode(tokens) }
        tokens.modelFingerprint = nil
        tokens.width = 3
        #expect(throws: TokenizerError.self) { try tokenizer.decode(tokens) }
    }

    @Test func checkpointRoundTripKeepsFingerprint() throws {
        let model = tinyPhotoModel()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let original = Tokenizer(model: model)
        for file in ["m.h5", "m.safetensors"] {
            let url = directory.appendingPathComponent(file)
            try Checkpoint(model: model).write(to: url)
            let loaded = try Tokenizer(checkpoint: url)
            #expect(loaded.fingerprint == original.fingerprint, "\(file)")
            #expect(loaded.codebookSizes == [16, 16] && loaded.downsampling == 4 && loaded.channels == 3)
            let image = noiseImage(width: 9, height: 7, channels: 3, seed: 9)
            let (x, y) = (try loaded.encode(image), try original.encode(image))
            #expect(x == y)
        }
        #expect(original.fingerprint.count == 64)
    }

    @Test func builtinModelsLoadWithoutConfiguration() throws {
        for builtin in BuiltinTokenizer.allCases {
            guard Tokenizer.builtinURL(builtin) != nil else {
                #expect(throws: TokenizerError.builtinMissing(name: builtin.rawValue)) { try Tokenizer.builtin(builtin) }
                continue
            }
            let tokenizer = try Tokenizer.builtin(builtin)
            #expect(tokenizer.name == builtin.rawValue)
            #expect(try Tokenizer.builtin(builtin) === tokenizer, "built-ins load once per process")
            let image = noiseImage(width: 30, height: 26, channels: tokenizer.channels, seed: 4)
            let tokens = try tokenizer.encode(image)
            #expect(tokens.codebookSizes == tokenizer.codebookSizes)
            let decoded = try tokenizer.decode(tokens)
            #expect(decoded.width == 30 && decoded.height == 26)
        }
        let mnist = BuiltinModelInfo.all().first { $0.builtin == .mnist }
        if mnist?.url != nil { #expect(try Tokenizer.builtin(.mnist).codebookSizes == [512]) }
    }

    @Test func sha256KnownAnswers() {
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hex(long) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var split = SHA256()
        split.update(long.prefix(10))
        split.update(long.dropFirst(10))
        #expect(split.finalize() == { var h = SHA256(); h.update(long); return h.finalize() }())
    }

    @Test func twoThreadsGiveTheSameTokens() throws {
        let tokenizer = Tokenizer(model: tinyMNISTModel())
        let images = (0..<8).map { noiseImage(width: 28, height: 28, channels: 1, seed: UInt64($0)) }
        let expected = try tokenizer.encode(images)
        let expectedImages = try tokenizer.decode(expected)
        let results = ResultBox()
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            for _ in 0..<3 {
                let tokens = (try? tokenizer.encode(images)) ?? []
                let decoded = (try? tokenizer.decode(tokens)) ?? []
                results.append(tokens == expected && decoded == expectedImages)
            }
            _ = worker
        }
        #expect(results.values.count == 6 && results.values.allSatisfy { $0 })
    }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Bool] = []
    func append(_ v: Bool) { lock.withLock { stored.append(v) } }
    var values: [Bool] { lock.withLock { stored } }
}
