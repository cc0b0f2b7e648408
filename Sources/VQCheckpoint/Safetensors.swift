import Foundation

/// Errors reading a safetensors file: each says what was expected and what was found.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    case truncated(expectedAtLeast: Int, found: Int)
    case headerTooLarge(Int)
    case malformedHeader(String)
    case unsupportedDType(name: String, dtype: String)
    case badOffsets(name: String, detail: String)

    public var description: String {
        switch self {
        case let .truncated(expected, found):
            return "safetensors: file is truncated: expected at least \(expected) bytes, found \(found). Re-export or re-download the file."
        case let .headerTooLarge(size):
            return "safetensors: header length \(size) exceeds the 100 MB limit of the format; this is not a safetensors file or it is corrupt."
        case let .malformedHeader(detail):
            return "safetensors: the JSON header is malformed: \(detail)."
        case let .unsupportedDType(name, dtype):
            return "safetensors: tensor '\(name)' has dtype \(dtype); supported are \(TensorDType.supportedList)."
        case let .badOffsets(name, detail):
            return "safetensors: tensor '\(name)' has invalid data_offsets: \(detail)."
        }
    }
}

/// One tensor as stored in a safetensors file.
public struct StoredTensor: Sendable, Equatable {
    public var dtype: String
    public var shape: [Int]

    /// float32 data read from a checkpoint or taken from a model stays a `[Float]`, so handing it to a
    /// parameter (`load(into:)`, `makeOptimizer`) or saving a snapshot shares the array instead of copying
    /// it; everything else is raw bytes.
    private enum Storage: Sendable {
        case bytes(Data)
        /// Native float32 values; only on little-endian machines, where they are also the stored bytes.
        case float32([Float])
    }
    private var storage: Storage

    public init(dtype: String, shape: [Int], bytes: Data) {
        self.dtype = dtype
        self.shape = shape
        storage = .bytes(bytes)
    }

    /// A float32 tensor of `shape` holding `values` (shared, not copied, on little-endian machines).
    public init(float32 values: [Float], shape: [Int]) {
        self.dtype = TensorDType.f32.rawValue
        self.shape = shape
        #if _endian(little)
        storage = .float32(values)
        #else
        var bytes = Data(count: values.count * 4)
        bytes.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() { raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        }
        storage = .bytes(bytes)
        #endif
    }

    /// The raw little-endian bytes (a copy when the tensor holds float32 values; prefer `withUnsafeBytes`).
    public var bytes: Data {
        get {
            switch storage {
            case let .bytes(data): return data
            case let .float32(values): return values.withUnsafeBytes { Data($0) }
            }
        }
        set { storage = .bytes(newValue) }
    }

    /// The size of the raw bytes.
    public var byteCount: Int {
        switch storage {
        case let .bytes(data): return data.count
        case let .float32(values): return values.count * 4
        }
    }

    /// Calls `body` with the raw little-endian bytes, without copying them.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch storage {
        case let .bytes(data): return try data.withUnsafeBytes(body)
        case let .float32(values): return try values.withUnsafeBytes(body)
        }
    }

    /// The float32 array itself when the tensor holds one.
    var float32Array: [Float]? {
        if case let .float32(values) = storage { return values }
        return nil
    }

    public static func == (a: StoredTensor, b: StoredTensor) -> Bool {
        a.dtype == b.dtype && a.shape == b.shape && a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.elementsEqual(y) } }
    }

    /// Integers as little-endian `type` elements of `shape` (default: one axis of all the values).
    public init<T: FixedWidthInteger>(integers values: [T], as type: TensorDType, shape: [Int]? = nil) {
        var bytes = Data(count: values.count * MemoryLayout<T>.size)
        bytes.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() { raw.storeBytes(of: v.littleEndian, toByteOffset: i * MemoryLayout<T>.size, as: T.self) }
        }
        self.init(dtype: type.rawValue, shape: shape ?? [values.count], bytes: bytes)
    }

    /// The values widened to Float (F32, F16, BF16, F64, I64, I32, U8).
    public func floats() throws -> [Float] {
        let n = shape.reduce(1, *)
        return withUnsafeBytes { raw -> [Float] in
            switch dtype {
            case "F32": return (0..<n).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self).littleEndian) }
            case "F64": return (0..<n).map { Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self).littleEndian)) }
            case "F16": return (0..<n).map { Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self).littleEndian)) }
            case "BF16": return (0..<n).map { Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self).littleEndian) << 16) }
            case "I64": return (0..<n).map { Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) }
            case "I32": return (0..<n).map { Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
            case "U8": return (0..<n).map { Float(raw[$0]) }
            default: return doubles().map { Float($0) }
            }
        }
    }

    /// Integer values (I64, I32, U8), e.g. class indices.
    public func integers() throws -> [Int] {
        let n = shape.reduce(1, *)
        return withUnsafeBytes { raw -> [Int] in
            switch dtype {
            case "I64": return (0..<n).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) }
            case "I32": return (0..<n).map { Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
            case "U8": return (0..<n).map { Int(raw[$0]) }
            default: return []
            }
        }
    }
}

/// The contents of a safetensors file: tensors by name and the `__metadata__` string map.
public struct SafetensorsFile: Sendable {
    public var tensors: [String: StoredTensor]
    public var metadata: [String: String]
    /// The tensor names in the order of their data in the file.
    public var order: [String]

    static let elementSizes = Dictionary(uniqueKeysWithValues: TensorDType.allCases.map { ($0.rawValue, $0.byteCount) })

    /// Parses and validates `data` per the safetensors spec: 8-byte little-endian header length, a JSON
    /// header of {name: {dtype, shape, data_offsets}} plus optional `__metadata__`, then the byte buffer.
    /// Offsets must lie in the buffer, match dtype x shape, not overlap, and cover the buffer entirely.
    public init(data: Data) throws {
        guard data.count >= 8 else { throw SafetensorsError.truncated(expectedAtLeast: 8, found: data.count) }
        let headerLength = data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= 100_000_000 else { throw SafetensorsError.headerTooLarge(Int(clamping: headerLength)) }
        let headerEnd = 8 + Int(headerLength)
        guard data.count >= headerEnd else { throw SafetensorsError.truncated(expectedAtLeast: headerEnd, found: data.count) }
        let headerBytes = data.subdata(in: data.startIndex + 8 ..< data.startIndex + headerEnd)
        guard let json = try? JSONSerialization.jsonObject(with: headerBytes), let header = json as? [String: Any] else {
            throw SafetensorsError.malformedHeader("not a JSON object")
        }
        let buffer = data.subdata(in: data.startIndex + headerEnd ..< data.endIndex)
        var tensors: [String: StoredTensor] = [:]
        var metadata: [String: String] = [:]
        var ranges: [(Int, Int, String)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw SafetensorsError.malformedHeader("__metadata__ is not an object") }
                for (k, v) in map {
                    guard let s = v as? String else { throw SafetensorsError.malformedHeader("__metadata__ value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shapeValues = entry["shape"] as? [Any], let offsetValues = entry["data_offsets"] as? [Any],
                  offsetValues.count == 2 else {
                throw SafetensorsError.malformedHeader("entry '\(name)' needs dtype, shape and two data_offsets")
            }
            guard let elementSize = Self.elementSizes[dtype] else { throw SafetensorsError.unsupportedDType(name: name, dtype: dtype) }
            let shape = try shapeValues.map { v -> Int in
                guard let n = (v as? NSNumber)?.intValue, n >= 0, n <= 1 << 40 else {
                    throw SafetensorsError.malformedHeader("entry '\(name)' has an invalid shape")
                }
                return n
            }
            let offsets = try offsetValues.map { v -> Int in
                guard let n = (v as? NSNumber)?.intValue, n >= 0 else { throw SafetensorsError.badOffsets(name: name, detail: "negative or not a number") }
                return n
            }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow, count <= Int.max / elementSize else { throw SafetensorsError.badOffsets(name: name, detail: "shape \(shape) is too large") }
            guard offsets[0] <= offsets[1], offsets[1] <= buffer.count else {
                throw SafetensorsError.badOffsets(name: name, detail: "[\(offsets[0]), \(offsets[1])] lies outside the \(buffer.count)-byte buffer")
            }
            guard offsets[1] - offsets[0] == count * elementSize else {
                throw SafetensorsError.badOffsets(name: name, detail: "span of \(offsets[1] - offsets[0]) bytes, but \(dtype) \(shape) needs \(count * elementSize)")
            }
            ranges.append((offsets[0], offsets[1], name))
            tensors[name] = StoredTensor(dtype: dtype, shape: shape,
                                         bytes: buffer.subdata(in: buffer.startIndex + offsets[0] ..< buffer.startIndex + offsets[1]))
        }
        ranges.sort { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
        var position = 0
        for (start, end, name) in ranges {
            guard start == position else {
                throw SafetensorsError.badOffsets(name: name, detail: start < position ? "overlaps the previous tensor" : "leaves a gap before it")
            }
            position = end
        }
        guard position == buffer.count else {
            throw SafetensorsError.badOffsets(name: ranges.last?.2 ?? "(none)", detail: "the buffer has \(buffer.count - position) bytes after the last tensor")
        }
        self.tensors = tensors
        self.metadata = metadata
        order = ranges.map(\.2)
    }

    public init(contentsOf url: URL) throws {
        try self.init(data: try Data(contentsOf: url))
    }
}
