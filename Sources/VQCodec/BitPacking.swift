/// Fixed-width bit packing, most significant bit first, as `Formats/vqc.md` specifies.

/// Bits needed for indices below `codebookSize`: ceil(log2 K), at least 1.
@inlinable public func bitsPerIndex(codebookSize: Int) -> Int {
    precondition(codebookSize >= 2, "codebook sizes are validated to be at least 2 before packing")
    return Int.bitWidth - (codebookSize - 1).leadingZeroBitCount
}

/// Appends values of up to 32 bits, MSB first; the last byte is zero-padded.
struct BitWriter {
    private(set) var bytes: [UInt8] = []
    private var accumulator: UInt64 = 0
    private var pending = 0

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func write(_ value: UInt32, bits: Int) {
        accumulator = (accumulator << UInt64(bits)) | UInt64(value)
        pending += bits
        while pending >= 8 {
            pending -= 8
            bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt64(pending)))
        }
        accumulator &= (1 << UInt64(pending)) &- 1
    }

    mutating func finish() -> [UInt8] {
        if pending > 0 { bytes.append(UInt8(truncatingIfNeeded: accumulator << UInt64(8 - pending))); pending = 0 }
        accumulator = 0
        return bytes
    }

    var bitCount: Int { bytes.count * 8 + pending }
}

/// Reads values written by `BitWriter`; reading past the end throws instead of trapping.
struct BitReader {
    private let bytes: [UInt8]
    private(set) var position = 0  // in bits

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var bitsLeft: Int { bytes.count * 8 - position }

    mutating func read(bits: Int) throws(ContainerError) -> UInt32 {
        guard bits <= bitsLeft else { throw .payloadCorrupt("the token data ends early") }
        var value: UInt32 = 0
        var remaining = bits
        while remaining > 0 {
            let byte = bytes[position >> 3]
            let offset = position & 7
            let take = min(8 - offset, remaining)
            let chunk = (UInt32(byte) >> UInt32(8 - offset - take)) & ((1 << UInt32(take)) - 1)
            value = (value << UInt32(take)) | chunk
            remaining -= take
            position += take
        }
        return value
    }

    /// The spec requires padding bits to be zero and no bytes after the last value.
    func checkPadding() throws(ContainerError) {
        guard bitsLeft < 8 else { throw .payloadCorrupt("\(bitsLeft / 8) unused bytes after the token data") }
        if bitsLeft > 0 {
            let last = bytes[bytes.count - 1] & UInt8((1 << bitsLeft) - 1)
            guard last == 0 else { throw .payloadCorrupt("padding bits after the token data are not zero") }
        }
    }
}
