import CZlib
import Foundation

/// CRC-32 (ISO-HDLC, as in zlib, PNG and gzip) of `bytes`.
public func crc32(_ bytes: some Collection<UInt8>) -> UInt32 {
    let value = bytes.withContiguousStorageIfAvailable { buffer in
        CZlib.crc32(0, buffer.baseAddress, uInt(buffer.count))
    } ?? Array(bytes).withUnsafeBufferPointer { CZlib.crc32(0, $0.baseAddress, uInt($0.count)) }
    return UInt32(truncatingIfNeeded: value)
}
