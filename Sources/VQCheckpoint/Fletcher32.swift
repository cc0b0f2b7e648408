/// HDF5's fletcher32 checksum (`H5_checksum_fletcher32`), computed fast enough that verifying a checkpoint
/// costs little next to reading it: about 5 GB/s on data in cache, against about 1.5 GB/s for libhdf5's loop.
///
/// The checksum is over big-endian 16-bit words w_0 ... w_(n-1) (an odd last byte is the high byte of a last
/// word): sum1 = sum(w_i), sum2 = sum((n - i) w_i), each reduced modulo 65535 but kept in 1...65535 once
/// positive (libhdf5 folds carries instead of taking a remainder, so a nonzero multiple of 65535 stays 65535
/// and only all-zero data gives 0). The result is sum2 << 16 | sum1.
enum Fletcher32 {
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        let words = bytes.count / 2
        var sum1: UInt64 = 0, sum2: UInt64 = 0
        var nonzero = false
        var index = 0
        // Blocks of 16 vectors of 16 words. Each 32-bit lane holds two words; their high bytes (even
        // addresses) and low bytes (odd addresses) are summed in separate 16-bit halves, which cannot carry
        // into each other within a block: running sums stay <= 16 * 255, sums of running sums <= 136 * 255.
        let byteMask = SIMD8<UInt32>(repeating: 0x00FF_00FF), halfMask = SIMD8<UInt32>(repeating: 0xFFFF)
        let evenPositions = SIMD8<UInt32>(0, 2, 4, 6, 8, 10, 12, 14), oddPositions = evenPositions &+ 1
        while words - index >= 256 {
            var highRunning = SIMD8<UInt32>(repeating: 0), lowRunning = SIMD8<UInt32>(repeating: 0)
            var highTotal = SIMD8<UInt32>(repeating: 0), lowTotal = SIMD8<UInt32>(repeating: 0)
            var pointer = base + index * 2
            for _ in 0..<16 {
                let v = pointer.loadUnaligned(as: SIMD8<UInt32>.self)
                highRunning &+= v & byteMask
                lowRunning &+= (v &>> 8) & byteMask
                highTotal &+= highRunning
                lowTotal &+= lowRunning
                pointer += 32
            }
            // Words at even positions of each 16-word vector sit in the low halves, odd positions in the high.
            let runningEven = (highRunning & halfMask) &* 256 &+ (lowRunning & halfMask)
            let runningOdd = (highRunning &>> 16) &* 256 &+ (lowRunning &>> 16)
            let totalEven = (highTotal & halfMask) &* 256 &+ (lowTotal & halfMask)
            let totalOdd = (highTotal &>> 16) &* 256 &+ (lowTotal &>> 16)
            // Within the block of B = 256 words, word j = 16 m + p carries weight B - j = 16 (16 - m) - p.
            let blockSum = UInt64(runningEven.wrappedSum()) + UInt64(runningOdd.wrappedSum())
            let weighted = 16 * (UInt64(totalEven.wrappedSum()) + UInt64(totalOdd.wrappedSum()))
                - UInt64((runningEven &* evenPositions).wrappedSum()) - UInt64((runningOdd &* oddPositions).wrappedSum())
            sum2 = (sum2 + 256 * sum1 + weighted) % 65535
            sum1 = (sum1 + blockSum) % 65535
            if blockSum != 0 { nonzero = true }
            index += 256
        }
        func add(_ word: UInt64) {
            sum1 = (sum1 + word) % 65535
            sum2 = (sum2 + sum1) % 65535
            if word != 0 { nonzero = true }
        }
        while index < words {
            add(UInt64(base.load(fromByteOffset: index * 2, as: UInt8.self)) << 8 | UInt64(base.load(fromByteOffset: index * 2 + 1, as: UInt8.self)))
            index += 1
        }
        if bytes.count % 2 == 1 { add(UInt64(base.load(fromByteOffset: bytes.count - 1, as: UInt8.self)) << 8) }
        guard nonzero else { return 0 }
        return UInt32(sum2 == 0 ? 65535 : sum2) << 16 | UInt32(sum1 == 0 ? 65535 : sum1)
    }

    /// What libhdf5 before 1.6.3 stored on little-endian machines (bytes swapped within each half); libhdf5
    /// still accepts it on reading, and so do we.
    static func legacyVariant(_ value: UInt32) -> UInt32 {
        (value & 0x00FF_00FF) << 8 | (value & 0xFF00_FF00) >> 8
    }

    /// libhdf5's own loop, for tests.
    static func reference(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var remaining = bytes.count / 2, offset = 0
        var sum1: UInt32 = 0, sum2: UInt32 = 0
        while remaining > 0 {
            var block = Swift.min(remaining, 360)
            remaining -= block
            repeat {
                sum1 &+= UInt32(bytes[offset]) << 8 | UInt32(bytes[offset + 1])
                offset += 2
                sum2 &+= sum1
                block -= 1
            } while block > 0
            sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
            sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
        }
        if bytes.count % 2 == 1 {
            sum1 &+= UInt32(bytes[offset]) << 8
            sum2 &+= sum1
            sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
            sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
        }
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
        return sum2 << 16 | sum1
    }
}
