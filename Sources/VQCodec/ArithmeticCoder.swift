/// A binary arithmetic coder over integer frequency tables (Witten, Neal and Cleary 1987, 32-bit registers).
/// Integer-only, so encoder and decoder agree on every machine and build.

/// Cumulative frequencies of one context: symbol s occupies [cumulative[s], cumulative[s + 1]) of `total`.
struct FrequencyTable: Sendable {
    let cumulative: [UInt32]
    var total: UInt32 { cumulative[cumulative.count - 1] }
    var symbols: Int { cumulative.count - 1 }

    /// Every symbol gets at least 1; counts are scaled so the total stays at most 2^16 (well inside the coder's
    /// 2^30 minimum range).
    init(counts: [UInt64]) {
        let limit: UInt64 = 1 << 16
        let k = UInt64(counts.count)
        let sum = max(counts.reduce(0, +), 1)
        var cumulative: [UInt32] = [0]
        cumulative.reserveCapacity(counts.count + 1)
        var running: UInt64 = 0
        for c in counts {
            running += 1 + c * (limit - k) / sum
            cumulative.append(UInt32(running))
        }
        self.cumulative = cumulative
    }

    /// The symbol whose interval holds `target` (binary search).
    func symbol(for target: UInt32) -> Int {
        var lo = 0, hi = symbols
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if cumulative[mid] <= target { lo = mid } else { hi = mid }
        }
        return lo
    }
}

private let top: UInt64 = 0xFFFF_FFFF
private let half: UInt64 = 0x8000_0000
private let quarter: UInt64 = 0x4000_0000

struct ArithmeticEncoder {
    private var low: UInt64 = 0
    private var high: UInt64 = top
    private var pending = 0
    private var writer = BitWriter()

    mutating func encode(_ symbol: Int, _ table: FrequencyTable) {
        let range = high - low + 1
        let total = UInt64(table.total)
        high = low + range * UInt64(table.cumulative[symbol + 1]) / total - 1
        low = low + range * UInt64(table.cumulative[symbol]) / total
        while true {
            if high < half {
                emit(0)
            } else if low >= half {
                emit(1)
                low -= half
                high -= half
            } else if low >= quarter && high < 3 * quarter {
                pending += 1
                low -= quarter
                high -= quarter
            } else {
                break
            }
            low <<= 1
            high = high << 1 | 1
        }
    }

    private mutating func emit(_ bit: UInt32) {
        writer.write(bit, bits: 1)
        for _ in 0..<pending { writer.write(bit ^ 1, bits: 1) }
        pending = 0
    }

    /// Two more bits pin the final interval; bits the decoder reads past the end are zeros.
    mutating func finish() -> [UInt8] {
        pending += 1
        emit(low < quarter ? 0 : 1)
        return writer.finish()
    }
}

struct ArithmeticDecoder {
    private let bytes: [UInt8]
    private var position = 0  // bits consumed
    private var low: UInt64 = 0
    private var high: UInt64 = top
    private var value: UInt64 = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        for _ in 0..<32 { value = value << 1 | nextBit() }
    }

    private mutating func nextBit() -> UInt64 {
        defer { position += 1 }
        guard position >> 3 < bytes.count else { return 0 }
        return UInt64(bytes[position >> 3] >> UInt8(7 - position & 7) & 1)
    }

    /// Bits of real input consumed so far (the coder reads up to 32 bits ahead, past the end as zeros).
    var overrun: Int { max(0, position - 32 + 2 - bytes.count * 8) }

    mutating func decode(_ table: FrequencyTable) -> Int {
        let range = high - low + 1
        let total = UInt64(table.total)
        // Wrapping arithmetic: the invariant low <= value <= high holds for any input, but a damaged file must
        // never be able to trap here.
        let target = UInt32(truncatingIfNeeded: min(((value &- low &+ 1) &* total &- 1) / range, total - 1))
        let symbol = table.symbol(for: target)
        high = low + range * UInt64(table.cumulative[symbol + 1]) / total - 1
        low = low + range * UInt64(table.cumulative[symbol]) / total
        while true {
            if high < half {
            } else if low >= half {
                low -= half
                high -= half
                value = value &- half
            } else if low >= quarter && high < 3 * quarter {
                low -= quarter
                high -= quarter
                value = value &- quarter
            } else {
                break
            }
            low <<= 1
            high = high << 1 | 1
            value = (value << 1 | nextBit()) & top
        }
        return symbol
    }
}
