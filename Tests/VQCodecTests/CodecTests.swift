import Foundation
import Testing
import VQEngine
import VQImage
import VQModels
import VQTokenizer
@testable import VQCodec

/// Tokenizers from freshly initialised, seeded models: the codec's behaviour does not depend on training.
enum TestModels {
    static let gray = makeTokenizer(channels: 1, seed: 1)
    static let grayOther = makeTokenizer(channels: 1, seed: 2)
    static let rgb = makeTokenizer(channels: 3, seed: 3)

    static func makeTokenizer(channels: Int, seed: UInt64) -> Tokenizer {
        var rng = RandomGenerator(seed: seed)
        return Tokenizer(model: ConvVQVAE(configuration: .init(channels: channels), rng: &rng), name: nil)
    }

    static func digit(seed: Int = 0, width: Int = 28, height: Int = 28, channels: Int = 1) -> Image {
        let pixels = (0..<(width * height * channels)).map { i -> UInt8 in
            let p = i / channels, x = p % width, y = p / width
            let inside = abs(x - width / 2) + abs(y - height / 2) < min(width, height) / 3 + seed % 3
            return inside ? UInt8(200 + (i * 7 + seed) % 56) : 0
        }
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }
}

@Suite struct CodecTests {
    @Test func grayDigitRoundTrips() throws {
        let image = TestModels.digit()
        let bytes = try Codec.encode(image, tokenizer: TestModels.gray)
        let file = try ContainerFile(bytes)
        #expect(file.header.width == 28 && file.header.height == 28 && file.header.channels == 1)
        #expect(file.header.levels == [LevelShape(height: 7, width: 7, codebookSize: 512)])
        let decoded = try Codec.decode(bytes, tokenizer: TestModels.gray)
        #expect(decoded.width == 28 && decoded.height == 28 && decoded.channels == 1)
        // Decoding is deterministic: the same tokens give the same pixels.
        #expect(try Codec.decode(bytes, tokenizer: TestModels.gray) == decoded)
    }

    @Test func oddSizesAndChannelConversionsRoundTrip() throws {
        for (w, h, c) in [(30, 17, 3), (1, 1, 1), (5, 9, 3), (33, 2, 1)] {
            let image = TestModels.digit(width: w, height: h, channels: c)
            for tokenizer in [TestModels.gray, TestModels.rgb] {
                let decoded = try Codec.decode(try Codec.encode(image, tokenizer: tokenizer), tokenizer: tokenizer)
                #expect(decoded.width == w && decoded.height == h && decoded.channels == c)
            }
        }
    }

    @Test func batchEncodingEqualsSingleEncoding() throws {
        let images = (0..<5).map { TestModels.digit(seed: $0) }
        let batch = try Codec.encode(images, tokenizer: TestModels.gray)
        for (image, bytes) in zip(images, batch) { #expect(try Codec.encode(image, tokenizer: TestModels.gray) == bytes) }
    }

    @Test func theWrongModelIsRefusedByName() throws {
        let bytes = try Codec.encode(TestModels.digit(), tokenizer: TestModels.gray)
        let header = try ContainerFile.readHeader(bytes)
        #expect(throws: CodecError.self) {
            try ModelCatalog.tokenizer(for: header, path: "x.vqc", given: TestModels.grayOther)
        }
        do {
            _ = try ModelCatalog.tokenizer(for: header, path: "x.vqc", given: TestModels.grayOther)
        } catch {
            #expect("\(error)".contains(header.fingerprintHex))
        }
        #expect(try ModelCatalog.tokenizer(for: header, path: "x.vqc", given: TestModels.gray) === TestModels.gray)
    }

    @Test func alphaNeedsTheFlag() throws {
        let rgba = Image(width: 4, height: 4, channels: 4, pixels: [UInt8](repeating: 128, count: 64))
        #expect(throws: CodecError.alphaChannel(path: "a.png", flag: "--drop-alpha")) {
            try Codec.prepare(rgba, path: "a.png", dropAlpha: false)
        }
        #expect(try Codec.prepare(rgba, path: "a.png", dropAlpha: true).channels == 3)
    }

    @Test func levelsOutOfRangeAreRefused() {
        #expect(throws: CodecError.levelsOutOfRange(requested: 2, available: 1)) {
            try Codec.encode(TestModels.digit(), tokenizer: TestModels.gray, levels: 2)
        }
    }
}

@Suite struct ImageInputTests {
    /// A PNG signature and IHDR with the given fields (enough for the checks made before libpng runs).
    func pngHeader(width: UInt32, height: UInt32, depth: UInt8, colourType: UInt8) -> Data {
        var bytes = ImageInput.pngSignature + [0, 0, 0, 13] + Array("IHDR".utf8)
        for v in [width, height] { bytes += [UInt8(v >> 24), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
        bytes += [depth, colourType, 0, 0, 0, 0, 0, 0, 0]
        return Data(bytes)
    }

    @Test func badPNGsAreRefusedWithReasons() throws {
        func reason(_ data: Data) -> String {
            do { _ = try ImageInput.decode(data, path: "in.png"); return "accepted" } catch { return "\(error)" }
        }
        #expect(reason(Data()).contains("empty"))
        #expect(reason(Data("GIF89a".utf8)).contains("not a readable PNG"))
        #expect(reason(pngHeader(width: 8, height: 8, depth: 16, colourType: 0)).contains("16-bit"))
        #expect(reason(pngHeader(width: 8, height: 8, depth: 8, colourType: 3)).contains("palette"))
        #expect(reason(pngHeader(width: 0, height: 8, depth: 8, colourType: 0)).contains("zero"))
        #expect(reason(pngHeader(width: 100_000, height: 100_000, depth: 8, colourType: 2)).contains("up to"))
        let good = try TestModels.digit().pngData()
        #expect(reason(good) == "accepted")
        #expect(reason(good.prefix(good.count - 20)).contains("not a readable PNG"))
        #expect(reason(good.prefix(20)).contains("truncated"))
    }
}
