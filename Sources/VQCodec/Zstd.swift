import CZstd

/// zstd frames for method 0: written with the content checksum flag (a flipped bit then fails to decode instead of
/// decoding to wrong tokens, see docs/INTEROP.md), read with an exact expected size.
enum Zstd {
    static func compress(_ input: [UInt8], level: Int32 = 19) -> [UInt8] {
        guard let context = ZSTD_createCCtx() else { return [] }
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1)
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let written = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { ZSTD_compress2(context, out.baseAddress, out.count, $0.baseAddress, $0.count) }
        }
        // Compression of an in-memory buffer into a compressBound-sized one cannot fail; an empty result makes the
        // caller fall back to the stored method.
        guard ZSTD_isError(written) == 0 else { return [] }
        return Array(output.prefix(written))
    }

    /// Decodes one frame that must expand to exactly `expectedSize` bytes and fill `input` exactly.
    static func decompress(_ input: [UInt8], expectedSize: Int) throws(ContainerError) -> [UInt8] {
        let frameSize = input.withUnsafeBytes { ZSTD_findFrameCompressedSize($0.baseAddress, $0.count) }
        if ZSTD_isError(frameSize) != 0 { throw .payloadCorrupt("zstd: \(String(cString: ZSTD_getErrorName(frameSize)))") }
        guard frameSize == input.count else {
            throw .payloadCorrupt("the zstd frame is \(frameSize) bytes but the payload is \(input.count) bytes")
        }
        let contentSize = input.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        guard contentSize == UInt64(expectedSize) else {
            let found = contentSize >= ZSTD_CONTENTSIZE_ERROR ? "no size" : "\(contentSize) bytes"
            throw .payloadCorrupt("the zstd frame declares \(found), the header's token grid needs \(expectedSize) bytes")
        }
        guard let context = ZSTD_createDCtx() else { throw .payloadCorrupt("zstd could not start") }
        defer { ZSTD_freeDCtx(context) }
        ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, 26)
        var output = [UInt8](repeating: 0, count: max(expectedSize, 1))
        let produced = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { ZSTD_decompressDCtx(context, out.baseAddress, expectedSize, $0.baseAddress, $0.count) }
        }
        if ZSTD_isError(produced) != 0 { throw .payloadCorrupt("zstd: \(String(cString: ZSTD_getErrorName(produced)))") }
        guard produced == expectedSize else {
            throw .payloadCorrupt("the zstd frame expands to \(produced) bytes, expected \(expectedSize)")
        }
        return Array(output.prefix(expectedSize))
    }
}
