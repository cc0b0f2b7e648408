import Foundation

/// The element types a checkpoint tensor may have, named as in safetensors ("F32", "BF16", ...).
public enum TensorDType: String, Sendable, CaseIterable, Codable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .i8, .u8: 1
        }
    }

    public var isFloatingPoint: Bool { self == .f64 || self == .f32 || self == .f16 || self == .bf16 }

    /// PyTorch's name ("float32", "bfloat16", "int64", ...).
    public var longName: String {
        switch self {
        case .f64: "float64"
        case .f32: "float32"
        case .f16: "float16"
        case .bf16: "bfloat16"
        case .i64: "int64"
        case .i32: "int32"
        case .i16: "int16"
        case .i8: "int8"
        case .u64: "uint64"
        case .u32: "uint32"
        case .u16: "uint16"
        case .u8: "uint8"
        }
    }

    /// Accepts "F32" or "float32" (any case).
    public init?(name: String) {
        if let d = TensorDType(rawValue: name.uppercased()) { self = d; return }
        guard let d = TensorDType.allCases.first(where: { $0.longName == name.lowercased() }) else { return nil }
        self = d
    }

    static var supportedList: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

extension StoredTensor {
    /// The element type, if it is one vqcodec supports.
    public var dataType: TensorDType? { TensorDType(rawValue: dtype) }

    /// The number of elements (1 for rank 0).
    public var elementCount: Int { shape.reduce(1, *) }

    /// Every element widened to Double (exact for all supported types except 64-bit integers beyond 2^53).
    public func doubles() -> [Double] {
        guard let type = dataType else { return [] }
        let n = Swift.min(elementCount, byteCount / type.byteCount)
        return withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [Double] in
            func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
                T(littleEndian: raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
            }
            switch type {
            case .f64: return (0..<n).map { Double(bitPattern: load(UInt64.self, $0)) }
            case .f32: return (0..<n).map { Double(Float(bitPattern: load(UInt32.self, $0))) }
            case .f16: return (0..<n).map { Double(halfToFloat(load(UInt16.self, $0))) }
            case .bf16: return (0..<n).map { Double(Float(bitPattern: UInt32(load(UInt16.self, $0)) << 16)) }
            case .i64: return (0..<n).map { Double(load(Int64.self, $0)) }
            case .i32: return (0..<n).map { Double(load(Int32.self, $0)) }
            case .i16: return (0..<n).map { Double(load(Int16.self, $0)) }
            case .i8: return (0..<n).map { Double(Int8(bitPattern: raw[$0])) }
            case .u64: return (0..<n).map { Double(load(UInt64.self, $0)) }
            case .u32: return (0..<n).map { Double(load(UInt32.self, $0)) }
            case .u16: return (0..<n).map { Double(load(UInt16.self, $0)) }
            case .u8: return (0..<n).map { Double(raw[$0]) }
            }
        }
    }

    /// Floating-point elements as Float (float64 rounds to nearest); integers are refused.
    func float32Values(name: String) throws(CheckpointError) -> [Float] {
        guard let type = dataType, type.isFloatingPoint else {
            throw .unsupportedDType(name: name, found: dtype, expected: "a floating-point type (F32, F16, BF16, F64)")
        }
        if type == .f32 {
            if let values = float32Array, values.count == elementCount { return values }
            let count = Swift.min(elementCount, byteCount / 4)
            return withUnsafeBytes { raw in
                [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    #if _endian(little)
                    if count > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: raw.baseAddress!, byteCount: count * 4) }
                    #else
                    for i in 0..<count { buffer[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
                    #endif
                    initialized = count
                }
            }
        }
        return doubles().map { Float($0) }
    }

    /// The same values as `target` (floating-point tensors only; integer tensors are returned unchanged).
    /// Narrowing rounds to nearest, ties to even; NaN stays NaN and overflow becomes infinity, as in PyTorch.
    public func converted(to target: TensorDType) -> StoredTensor {
        guard let source = dataType, source.isFloatingPoint, target.isFloatingPoint, source != target else { return self }
        let n = elementCount
        var out = Data(count: n * target.byteCount)
        out.withUnsafeMutableBytes { raw in
            switch target {
            case .f64:
                for (i, v) in doubles().enumerated() { raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 8, as: UInt64.self) }
            case .f32:
                for (i, v) in doubles().enumerated() { raw.storeBytes(of: Float(v).bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
            case .f16:
                // float64 -> float16 through float32 could round twice; go directly from the exact value.
                for (i, v) in doubles().enumerated() { raw.storeBytes(of: doubleToHalf(v).littleEndian, toByteOffset: i * 2, as: UInt16.self) }
            case .bf16:
                for (i, v) in doubles().enumerated() { raw.storeBytes(of: doubleToBFloat16(v).littleEndian, toByteOffset: i * 2, as: UInt16.self) }
            default: break
            }
        }
        return StoredTensor(dtype: target.rawValue, shape: shape, bytes: out)
    }
}

// MARK: - Rounding, written out so the result does not depend on the platform's Float16 support.

/// Rounds `x` to the nearest value with `bits` significant bits (ties to even): exact on the binary value.
private func roundSignificand(_ x: Double, significantBits bits: Int, minExponent: Int) -> Double {
    // Below the normal range the spacing is fixed at 2^(minExponent - bits + 1).
    let e = Swift.max(Int(x.exponent), minExponent)
    let quantum = Double(sign: .plus, exponent: e - bits + 1, significand: 1)
    return (x / quantum).rounded(.toNearestOrEven) * quantum
}

/// float16 bits for `x`, round to nearest even (overflow -> infinity, NaN -> quiet NaN).
func doubleToHalf(_ x: Double) -> UInt16 {
    let sign: UInt16 = x.sign == .minus ? 0x8000 : 0
    if x.isNaN { return sign | 0x7E00 }
    let a = Swift.abs(x)
    if a == 0 { return sign }
    if a.isInfinite { return sign | 0x7C00 }
    let r = roundSignificand(a, significantBits: 11, minExponent: -14)
    if r >= 65536 { return sign | 0x7C00 }
    if r < 0x1p-14 { return sign | UInt16(r / 0x1p-24) }  // subnormal (or rounded to zero)
    let e = Int(r.exponent)
    let mantissa = UInt16((r / Double(sign: .plus, exponent: e, significand: 1) - 1) * 1024)
    return sign | UInt16(e + 15) << 10 | mantissa
}

/// bfloat16 bits for `x`, round to nearest even (overflow -> infinity, NaN -> quiet NaN).
func doubleToBFloat16(_ x: Double) -> UInt16 {
    let sign: UInt16 = x.sign == .minus ? 0x8000 : 0
    if x.isNaN { return sign | 0x7FC0 }
    let a = Swift.abs(x)
    if a == 0 { return sign }
    if a.isInfinite { return sign | 0x7F80 }
    let r = roundSignificand(a, significantBits: 8, minExponent: -126)
    if r >= 0x1p128 { return sign | 0x7F80 }
    // Every bfloat16 value is a float32 whose low 16 bits are zero.
    return sign | UInt16(Float(r).bitPattern >> 16)
}

/// The float32 value of float16 bits (exact).
func halfToFloat(_ h: UInt16) -> Float {
    let sign: Float = h & 0x8000 != 0 ? -1 : 1
    let e = Int(h >> 10 & 0x1F), m = Float(h & 0x3FF)
    switch e {
    case 0: return sign * m * 0x1p-24
    case 31: return m == 0 ? sign * .infinity : .nan
    default: return sign * (1 + m / 1024) * Float(sign: .plus, exponent: e - 15, significand: 1)
    }
}
