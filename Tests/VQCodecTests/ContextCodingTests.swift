import Foundation
import Testing
import VQEngine
import VQModels
@testable import VQCodec
@testable import VQTokenizer

@Suite struct ContextCodingTests {
    static let fingerprint: [UInt8] = [8, 7, 6, 5, 4, 3, 2, 1]

    /// A small random context prior over 3 levels of 16 codes, made peaked so coding gains are visible.
    static func coder(seed: UInt64 = 1) -> PriorCoder {
        var rng = RandomGenerator(seed: seed)
        let model = ContextPrior(configuration: .init(vocabulary: 16, levels: 3, embedding: 4, hiddenSize: 16), rng: &rng)
        for p in model.parameters { for i in p.data.indices { p.data[i] *= 25 } }
        return PriorCoder(contextPrior: ContextPriorModel(model: model))
    }

    static func grid(levels: Int, height: Int, width: Int, seed: UInt64 = 3) -> ([LevelShape], [[Int]]) {
        var rng = RandomGenerator(seed: seed)
        let shapes = [LevelShape](repeating: LevelShape(height: height, width: width, codebookSize: 16), count: levels)
        return (shapes, (0..<levels).map { _ in (0..<(height * width)).map { _ in Int(rng.next() % 16) } })
    }

    static func encode(_ shapes: [LevelShape], _ indices: [[Int]], _ coder: PriorCoder, method: EntropyMethod? = .prior) throws -> [UInt8] {
        try ContainerFile.encode(fingerprint: fingerprint, modelName: nil, width: shapes[0].width * 8, height: shapes[0].height * 8, channels: 3,
                                 levels: shapes, indices: indices, method: method, prior: coder)
    }

    @Test("method 5 round-trips every level of grids of several sizes and names the prior in the header")
    func roundTrip() throws {
        let coder = ContextCodingTests.coder()
        for (levels, h, w, seed) in [(1, 1, 1, 1), (2, 3, 5, 2), (3, 7, 4, 3), (3, 12, 17, 4)] as [(Int, Int, Int, UInt64)] {
            let (shapes, indices) = ContextCodingTests.grid(levels: levels, height: h, width: w, seed: seed)
            let bytes = try ContextCodingTests.encode(shapes, indices, coder)
            let file = try ContainerFile(bytes, prior: coder)
            #expect(file.header.method == .contextPrior)
            #expect(file.header.priorFingerprint == Array(coder.fingerprintPrefix.prefix(4)))
            #expect(file.indices == indices, "\(levels) levels of \(h)x\(w)")
            // The payload is within 2 bytes of the ideal code length of the quantised tables.
            let ideal = Int((coder.estimatedBits(levels: shapes, indices: indices) / 8).rounded(.up))
            #expect(file.header.payloadLength <= ideal + 2)
        }
    }

    @Test("grids the prior cannot code are refused: more levels than it models, another codebook size")
    func coverage() throws {
        let coder = ContextCodingTests.coder()
        let (shapes, indices) = ContextCodingTests.grid(levels: 4, height: 2, width: 2)
        #expect(throws: ContainerError.self) { try ContextCodingTests.encode(shapes, indices, coder) }
        let other = [LevelShape(height: 2, width: 2, codebookSize: 32)]
        #expect(throws: ContainerError.self) { try ContextCodingTests.encode(other, [[1, 2, 3, 4]], coder) }
        // Without a request, a covering prior competes with methods 0 to 3: the file is never larger than either.
        let (s, i) = ContextCodingTests.grid(levels: 2, height: 6, width: 6)
        let automatic = try ContextCodingTests.encode(s, i, coder, method: nil).count
        #expect(automatic <= (try ContextCodingTests.encode(s, i, coder, method: .zstd).count))
        #expect(automatic <= (try ContextCodingTests.encode(s, i, coder, method: .prior).count))
    }

    @Test("a context-prior file needs its prior, and damage to its payload is an error, never a crash")
    func needsItsPriorAndRejectsDamage() throws {
        let coder = ContextCodingTests.coder()
        let (shapes, indices) = ContextCodingTests.grid(levels: 3, height: 5, width: 6)
        let bytes = try ContextCodingTests.encode(shapes, indices, coder)
        #expect(throws: ContainerError.self) { try ContainerFile(bytes) }
        #expect(throws: ContainerError.self) { try ContainerFile(bytes, prior: ContextCodingTests.coder(seed: 2)) }
        // A transformer prior with the same fingerprint prefix cannot stand in: the method names the kind.
        let header = try ContainerFile.readHeader(bytes)
        #expect(header.method == .contextPrior && header.method.namesPrior)
        // A payload cut short (checksum recomputed so the damage reaches the decoder) is refused.
        let payload = Array(bytes[(bytes.count - 4 - header.payloadLength)..<(bytes.count - 4)])
        var h = header
        h.payloadLength = max(1, payload.count / 3)
        var short = h.serialized() + payload.prefix(h.payloadLength)
        short.appendUInt32LE(crc32(short))
        #expect(throws: ContainerError.self) { try ContainerFile(short, prior: coder) }
    }
}
