import CHDF5
import Foundation

/// A human-readable HDF5 element type that vqcodec does not load ("string (fixed, 12 bytes)", "compound").
struct H5TypeDescription: Error, CustomStringConvertible, Equatable {
    let text: String
    var description: String { text }
}

/// Mapping between vqcodec's element types and HDF5's. All stored types are little-endian; float16 and
/// bfloat16 are custom IEEE-style float types (HDF5 1.10 predefines neither), laid out as h5py lays out float16.
enum H5Types {
    /// Attribute holding the CRC-32 of rank-0 and empty datasets, which cannot carry fletcher32.
    static let crcAttribute = "vqcodec_crc32"

    static func handle(for type: TensorDType) throws(HDF5Failure) -> H5Handle {
        switch type {
        case .f64: return H5Handle(borrowing: vq_h5t_ieee_f64le())
        case .f32: return H5Handle(borrowing: vq_h5t_ieee_f32le())
        case .f16: return try customFloat(exponentBits: 5, mantissaBits: 10, bias: 15)
        case .bf16: return try customFloat(exponentBits: 8, mantissaBits: 7, bias: 127)
        case .i64: return H5Handle(borrowing: vq_h5t_std_i64le())
        case .i32: return H5Handle(borrowing: vq_h5t_std_i32le())
        case .i16: return H5Handle(borrowing: vq_h5t_std_i16le())
        case .i8: return H5Handle(borrowing: vq_h5t_std_i8le())
        case .u64: return H5Handle(borrowing: vq_h5t_std_u64le())
        case .u32: return H5Handle(borrowing: vq_h5t_std_u32le())
        case .u16: return H5Handle(borrowing: vq_h5t_std_u16le())
        case .u8: return H5Handle(borrowing: vq_h5t_std_u8le())
        }
    }

    private static func customFloat(exponentBits: Int, mantissaBits: Int, bias: Int) throws(HDF5Failure) -> H5Handle {
        try HDF5.locked { () throws(HDF5Failure) -> H5Handle in
            let type = try H5Handle(H5Tcopy(vq_h5t_ieee_f32le()), "copy float type", closer: H5Tclose)
            guard H5Tset_fields(type.id, 15, mantissaBits, exponentBits, 0, mantissaBits) >= 0,
                  H5Tset_size(type.id, 2) >= 0, H5Tset_ebias(type.id, bias) >= 0 else {
                throw HDF5Failure("define a 16-bit float type")
            }
            return type
        }
    }

    /// The vqcodec element type of an HDF5 type, or a description of why it is not one.
    static func classify(_ type: hid_t) -> Result<TensorDType, H5TypeDescription> {
        let size = H5Tget_size(type)
        func other(_ text: String) -> Result<TensorDType, H5TypeDescription> { .failure(H5TypeDescription(text: text)) }
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            switch size {
            case 8: return .success(.f64)
            case 4: return .success(.f32)
            case 2:
                var signPosition = 0, exponentPosition = 0, exponentBits = 0, mantissaPosition = 0, mantissaBits = 0
                guard H5Tget_fields(type, &signPosition, &exponentPosition, &exponentBits, &mantissaPosition, &mantissaBits) >= 0 else {
                    return other("16-bit float with unreadable layout")
                }
                if exponentBits == 5 && mantissaBits == 10 { return .success(.f16) }
                if exponentBits == 8 && mantissaBits == 7 { return .success(.bf16) }
                return other("16-bit float with \(exponentBits) exponent and \(mantissaBits) mantissa bits")
            default: return other("\(size * 8)-bit float")
            }
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) == H5T_SGN_2
            switch (size, signed) {
            case (8, true): return .success(.i64)
            case (4, true): return .success(.i32)
            case (2, true): return .success(.i16)
            case (1, true): return .success(.i8)
            case (8, false): return .success(.u64)
            case (4, false): return .success(.u32)
            case (2, false): return .success(.u16)
            case (1, false): return .success(.u8)
            default: return other("\(size * 8)-bit \(signed ? "signed" : "unsigned") integer")
            }
        case H5T_STRING:
            return other(H5Tis_variable_str(type) > 0 ? "string (variable length)" : "string (fixed, \(size) bytes)")
        case H5T_COMPOUND: return other("compound (\(size) bytes)")
        case H5T_ENUM: return other("enum (\(size) bytes)")
        case H5T_ARRAY: return other("array")
        case H5T_VLEN: return other("variable-length sequence")
        case H5T_OPAQUE: return other("opaque (\(size) bytes)")
        case H5T_REFERENCE: return other("reference")
        case H5T_BITFIELD: return other("bitfield (\(size) bytes)")
        case H5T_TIME: return other("time")
        default: return other("unknown type class")
        }
    }

    /// Chunks of at most `limit` bytes that are contiguous runs of the row-major tensor, [1, ..., 1, k, full,
    /// ..., full]: whole trailing axes while they fit, then as many rows of the next axis as fit.
    static func chunkShape(_ shape: [Int], elementSize: Int, limit: Int = 1 << 20) -> [Int] {
        ChunkGrid(shape: shape, elementSize: elementSize, limit: limit).chunk
    }
}

/// The chunks of a non-empty tensor laid out as `H5Types.chunkShape` says, in row-major order. Each chunk is
/// one contiguous byte range of the tensor; the last chunk along the split axis may be partial (libhdf5 still
/// stores it full-size, padded).
struct ChunkGrid {
    let shape: [Int]
    let chunk: [Int]
    /// The axis the chunks split; axes before it have chunk size 1, axes after it are whole.
    let axis: Int
    /// Bytes of one index step along `axis`.
    let strideBytes: Int

    init(shape: [Int], elementSize: Int, limit: Int = 1 << 20) {
        self.shape = shape
        let dims = shape.map { Swift.max($0, 1) }
        var inner = elementSize
        var axis = dims.count - 1
        while axis > 0 && inner * dims[axis] <= limit {
            inner *= dims[axis]
            axis -= 1
        }
        let rows = Swift.max(1, Swift.min(dims[axis], limit / inner))
        chunk = Array(repeating: 1, count: axis) + [rows] + Array(dims[(axis + 1)...])
        self.axis = axis
        strideBytes = inner
    }

    /// Bytes of a full chunk as stored (before the 4-byte checksum).
    var chunkBytes: Int { chunk[axis] * strideBytes }

    /// Calls `body` with each chunk's first-element coordinates, its byte offset in the tensor, and the bytes
    /// of the tensor it covers.
    func forEach(_ body: (_ coordinates: [hsize_t], _ byteOffset: Int, _ dataBytes: Int) throws(HDF5Failure) -> Void) throws(HDF5Failure) {
        let outerCount = shape[..<axis].reduce(1, *)
        let rows = chunk[axis], extent = shape[axis]
        var coordinates = [hsize_t](repeating: 0, count: shape.count)
        for outer in 0..<outerCount {
            var rest = outer
            for a in stride(from: axis - 1, through: 0, by: -1) {
                coordinates[a] = hsize_t(rest % shape[a])
                rest /= shape[a]
            }
            for start in stride(from: 0, to: extent, by: rows) {
                coordinates[axis] = hsize_t(start)
                try body(coordinates, (outer * extent + start) * strideBytes, Swift.min(rows, extent - start) * strideBytes)
            }
        }
    }
}

// MARK: - Attributes

extension H5Object {
    /// Writes a scalar fixed-length UTF-8 string attribute (variable-length strings are not used: reading a
    /// damaged one can crash libhdf5).
    func setStringAttribute(_ name: String, _ value: String) throws(HDF5Failure) {
        let bytes = Array(value.utf8)
        try HDF5.locked { () throws(HDF5Failure) in
            let type = try H5Handle(H5Tcopy(vq_h5t_c_s1()), "copy string type", closer: H5Tclose)
            guard H5Tset_size(type.id, Swift.max(bytes.count, 1)) >= 0, H5Tset_strpad(type.id, H5T_STR_NULLPAD) >= 0,
                  H5Tset_cset(type.id, H5T_CSET_UTF8) >= 0 else { throw HDF5Failure("define string type") }
            let space = try H5Handle(H5Screate(H5S_SCALAR), "create dataspace", closer: H5Sclose)
            let attribute = try H5Handle(H5Acreate2(handle.id, name, type.id, space.id, vq_h5p_default(), vq_h5p_default()),
                                         "create attribute '\(name)'", closer: H5Aclose)
            let padded = bytes.isEmpty ? [UInt8(0)] : bytes
            let status = padded.withUnsafeBytes { H5Awrite(attribute.id, type.id, $0.baseAddress) }
            if status < 0 { throw HDF5Failure("write attribute '\(name)'") }
        }
    }

    /// The value of a fixed-length string attribute, or nil when there is none. Anything else (a number, a
    /// variable-length string, an array) is an error.
    func stringAttribute(_ name: String) throws(HDF5Failure) -> String? {
        try HDF5.locked { () throws(HDF5Failure) -> String? in
            let exists = H5Aexists(handle.id, name)
            if exists < 0 { throw HDF5Failure("look up attribute '\(name)'") }
            if exists == 0 { return nil }
            let attribute = try H5Handle(H5Aopen(handle.id, name, vq_h5p_default()), "open attribute '\(name)'", closer: H5Aclose)
            let type = try H5Handle(H5Aget_type(attribute.id), "get type of attribute '\(name)'", closer: H5Tclose)
            guard H5Tget_class(type.id) == H5T_STRING else {
                throw HDF5Failure("read attribute '\(name)'", detail: "it is not a string")
            }
            guard H5Tis_variable_str(type.id) == 0 else {
                throw HDF5Failure("read attribute '\(name)'", detail: "it is a variable-length string; vqcodec writes fixed-length strings only")
            }
            let space = try H5Handle(H5Aget_space(attribute.id), "get dataspace of attribute '\(name)'", closer: H5Sclose)
            guard H5Sget_simple_extent_npoints(space.id) == 1 else {
                throw HDF5Failure("read attribute '\(name)'", detail: "it is not a single string")
            }
            let size = H5Tget_size(type.id)
            guard size > 0, size <= 16 << 20 else { throw HDF5Failure("read attribute '\(name)'", detail: "implausible size \(size)") }
            var buffer = [UInt8](repeating: 0, count: size)
            if H5Aread(attribute.id, type.id, &buffer) < 0 { throw HDF5Failure("read attribute '\(name)'") }
            if let end = buffer.firstIndex(of: 0) { buffer.removeSubrange(end...) }
            return String(decoding: buffer, as: UTF8.self)
        }
    }

    /// Attribute names in name order.
    func attributeNames(limit: Int = 10_000) throws(HDF5Failure) -> [String] {
        try HDF5.locked { () throws(HDF5Failure) -> [String] in
            let count = vq_h5_attribute_count(handle.id)
            guard count >= 0, count <= limit else { throw HDF5Failure("count attributes") }
            return try (0..<count).map { i throws(HDF5Failure) -> String in
                let length = H5Aget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(i), nil, 0, vq_h5p_default())
                guard length >= 0, length < 65_536 else { throw HDF5Failure("get attribute name") }
                var buffer = [CChar](repeating: 0, count: Int(length) + 1)
                guard H5Aget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(i), &buffer, buffer.count,
                                         vq_h5p_default()) >= 0 else { throw HDF5Failure("get attribute name") }
                return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            }
        }
    }

    /// A one-line summary of an attribute of a file that is not ours: fixed-length strings and small numeric
    /// arrays are shown; variable-length data is described but not read (unsafe on damaged files).
    func attributeSummary(_ name: String) -> String {
        HDF5.locked {
            guard let attribute = try? H5Handle(H5Aopen(handle.id, name, vq_h5p_default()), "open attribute", closer: H5Aclose),
                  let type = try? H5Handle(H5Aget_type(attribute.id), "get type", closer: H5Tclose),
                  let space = try? H5Handle(H5Aget_space(attribute.id), "get space", closer: H5Sclose) else {
                return "(unreadable)"
            }
            let points = Int(H5Sget_simple_extent_npoints(space.id))
            let size = H5Tget_size(type.id)
            switch H5Tget_class(type.id) {
            case H5T_STRING where H5Tis_variable_str(type.id) == 0 && points >= 1 && size > 0 && points * size <= 65_536:
                var buffer = [UInt8](repeating: 0, count: points * size)
                guard H5Aread(attribute.id, type.id, &buffer) >= 0 else { return "(unreadable string)" }
                let strings = stride(from: 0, to: buffer.count, by: size).map { start -> String in
                    let item = buffer[start..<start + size]
                    return String(decoding: item.prefix { $0 != 0 }, as: UTF8.self)
                }
                let text = strings.count == 1 ? strings[0] : "[" + strings.joined(separator: ", ") + "]"
                return "\"" + (text.count > 200 ? String(text.prefix(200)) + "..." : text) + "\""
            case H5T_INTEGER, H5T_FLOAT:
                guard points >= 1, points <= 16 else { return "\(points) numbers" }
                var values = [Double](repeating: 0, count: points)
                guard H5Aread(attribute.id, vq_h5t_native_double(), &values) >= 0 else { return "(unreadable number)" }
                let shown = values.map { $0.rounded() == $0 && Swift.abs($0) < 1e15 ? String(Int64($0)) : String($0) }
                return shown.count == 1 ? shown[0] : "[" + shown.joined(separator: ", ") + "]"
            default:
                if case let .failure(description) = H5Types.classify(type.id) { return "(\(description), not shown)" }
                return "(not shown)"
            }
        }
    }
}

/// CRC-32 (IEEE 802.3, as zlib), for datasets that cannot carry fletcher32.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    static func hex(of data: Data) -> String {
        let value = checksum(data)
        return String(value, radix: 16).leftPadded(to: 8)
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
