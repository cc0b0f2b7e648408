/// Little helpers for the header: unsigned LEB128 varints (canonical: no overlong forms) and bounded reads.

extension Array where Element == UInt8 {
    mutating func appendVarint(_ value: Int) {
        precondition(value >= 0, "varints encode non-negative values")
        var v = UInt64(value)
        while v >= 0x80 {
            append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        append(UInt8(v))
    }

    mutating func appendUInt32LE(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
}

/// Reads from a byte buffer; every read is bounds-checked and throws `ContainerError.truncated` naming the field.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func byte(_ field: String) throws(ContainerError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(field: field) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func bytes(_ count: Int, _ field: String) throws(ContainerError) -> [UInt8] {
        guard count <= remaining else { throw .truncated(field: field) }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    /// A varint of at most `limit`; overlong encodings and values above the limit are refused.
    mutating func varint(_ field: String, limit: Int) throws(ContainerError) -> Int {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte(field)
            if shift == 35 { throw .invalidField(name: field, found: "a varint longer than 5 bytes", expected: "at most \(limit)") }
            value |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 {
                if b == 0 && shift > 0 {
                    throw .invalidField(name: field, found: "an overlong varint", expected: "the shortest encoding")
                }
                break
            }
            shift += 7
        }
        guard value <= UInt64(limit) else { throw .tooLarge(what: field, found: Int(value), limit: limit) }
        return Int(value)
    }

    mutating func uint32LE(_ field: String) throws(ContainerError) -> UInt32 {
        let b = try bytes(4, field)
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }
}
