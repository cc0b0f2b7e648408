import CZstd
import Testing

@Suite("zstd")
struct ZstdTests {
    /// Compresses `input` at level 3 with the content checksum enabled.
    private func compressWithChecksum(_ input: [UInt8]) throws -> [UInt8] {
        let cctx = try #require(ZSTD_createCCtx())
        defer { ZSTD_freeCCtx(cctx) }
        let setLevel = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3)
        #expect(ZSTD_isError(setLevel) == 0)
        let setChecksum = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
        #expect(ZSTD_isError(setChecksum) == 0)

        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let written = output.withUnsafeMutableBytes { dst in
            input.withUnsafeBytes { src in
                ZSTD_compress2(cctx, dst.baseAddress, dst.count, src.baseAddress, src.count)
            }
        }
        try #require(ZSTD_isError(written) == 0, "\(String(cString: ZSTD_getErrorName(written)))")
        output.removeSubrange(written...)
        return output
    }

    /// Decompresses one frame into a buffer of `capacity` bytes; returns the bytes or the zstd error name.
    private func decompress(_ frame: [UInt8], capacity: Int) -> Result<[UInt8], ZstdError> {
        var output = [UInt8](repeating: 0, count: capacity)
        let n = output.withUnsafeMutableBytes { dst in
            frame.withUnsafeBytes { src in ZSTD_decompress(dst.baseAddress, dst.count, src.baseAddress, src.count) }
        }
        if ZSTD_isError(n) != 0 { return .failure(ZstdError(message: String(cString: ZSTD_getErrorName(n)))) }
        output.removeSubrange(n...)
        return .success(output)
    }

    struct ZstdError: Error, Equatable { let message: String }

    /// Compressible but not trivial: a repeating text with pseudo-random noise mixed in.
    private let input: [UInt8] = {
        let text = Array("vqcodec trains VQ-VAE image tokenizers on the CPU. ".utf8)
        let noise = pseudoRandomBytes(count: 20_000, seed: 7)
        return (0..<20_000).map { i in i % 97 == 0 ? noise[i] : text[i % text.count] }
    }()

    @Test("round trip with the checksum flag")
    func roundTrip() throws {
        let frame = try compressWithChecksum(input)
        #expect(frame.count < input.count / 4)
        // Frame header descriptor (byte 4 after the 4-byte magic) has the checksum bit (0x04) set.
        #expect(Array(frame.prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD])
        #expect(frame[4] & 0x04 != 0)
        #expect(ZSTD_getFrameContentSize(frame, frame.count) == UInt64(input.count))
        #expect(try decompress(frame, capacity: input.count).get() == input)
    }

    @Test("corrupted, truncated and garbage frames are reported as errors")
    func corruptionIsAnError() throws {
        let frame = try compressWithChecksum(input)

        // A flipped bit in the trailing 4-byte content checksum: only the checksum can catch it.
        var badChecksum = frame
        badChecksum[badChecksum.count - 2] ^= 0x10
        let checksumResult = decompress(badChecksum, capacity: input.count)
        #expect(throws: ZstdError.self) { try checksumResult.get() }
        if case .failure(let error) = checksumResult {
            #expect(error.message.lowercased().contains("checksum"))
        }

        // Flipped bits spread through the compressed payload.
        for position in stride(from: 8, to: frame.count - 4, by: max(1, frame.count / 16)) {
            var mutated = frame
            mutated[position] ^= 0x5A
            #expect(throws: ZstdError.self, "flip at byte \(position) decoded silently") {
                try decompress(mutated, capacity: input.count).get()
            }
        }

        // Truncated frame and plain garbage.
        #expect(throws: ZstdError.self) { try decompress(Array(frame.prefix(frame.count / 2)), capacity: input.count).get() }
        #expect(throws: ZstdError.self) { try decompress(pseudoRandomBytes(count: 512, seed: 3), capacity: input.count).get() }
        // Destination too small.
        #expect(throws: ZstdError.self) { try decompress(frame, capacity: input.count - 1).get() }
    }
}
