import Foundation
import CKernels
import Testing
@testable import VQCheckpoint

@Suite("dtype conversion")
struct DTypeConversionTests {
    @Test("float16: round to nearest, ties to even, overflow to infinity, subnormals")
    func half() {
        #expect(doubleToHalf(1) == 0x3C00)
        #expect(doubleToHalf(-2) == 0xC000)
        #expect(doubleToHalf(65504) == 0x7BFF)
        #expect(doubleToHalf(65519.99) == 0x7BFF)
        #expect(doubleToHalf(65520) == 0x7C00)  // the tie above the largest finite value goes to infinity
        #expect(doubleToHalf(2049) == doubleToHalf(2048))  // tie -> even mantissa
        #expect(doubleToHalf(2051) == doubleToHalf(2052))
        #expect(doubleToHalf(0x1p-24) == 0x0001)
        #expect(doubleToHalf(0x1p-25) == 0x0000)  // tie between 0 and the smallest subnormal -> 0
        #expect(doubleToHalf(3 * 0x1p-25) == 0x0002)  // tie between 1 and 2 ulps -> 2
        #expect(doubleToHalf(-0.0) == 0x8000)
        #expect(doubleToHalf(.nan) & 0x7E00 == 0x7E00)
        #expect(doubleToHalf(-.infinity) == 0xFC00)
    }

    @Test("float16 agrees with the platform's Float16 conversion on 100,000 values, and widening is exact")
    func halfMatchesPlatform() {
        var state: UInt64 = 12345
        for _ in 0..<100_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: state >> 32))
            guard !value.isNaN else { continue }
            #expect(doubleToHalf(Double(value)) == Float16(value).bitPattern, "\(value)")
            let bits = UInt16(truncatingIfNeeded: state >> 16)
            let half = Float16(bitPattern: bits)
            if !half.isNaN { #expect(halfToFloat(bits) == Float(half)) }
        }
    }

    @Test("bfloat16: round to nearest even on the upper 16 bits of float32")
    func bfloat() {
        #expect(doubleToBFloat16(1) == 0x3F80)
        #expect(doubleToBFloat16(1 + 0x1p-8) == 0x3F80)  // tie -> even
        #expect(doubleToBFloat16(1 + 3 * 0x1p-8) == 0x3F82)  // tie -> even (up)
        #expect(doubleToBFloat16(1 + 0x1p-8 + 0x1p-20) == 0x3F81)
        #expect(doubleToBFloat16(Double(Float.greatestFiniteMagnitude)) == 0x7F80)
        #expect(doubleToBFloat16(.nan) == 0x7FC0)
        #expect(doubleToBFloat16(-0.0) == 0x8000)
        // Against the usual bit trick (valid for finite float32): (bits + 0x7FFF + lsb) >> 16.
        var state: UInt64 = 99
        for _ in 0..<100_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let bits = UInt32(truncatingIfNeeded: state >> 32)
            let value = Float(bitPattern: bits)
            guard value.isFinite else { continue }
            let trick = UInt16(truncatingIfNeeded: (UInt64(bits) + 0x7FFF + UInt64((bits >> 16) & 1)) >> 16)
            #expect(doubleToBFloat16(Double(value)) == trick, "\(value)")
        }
    }

    @Test("converting a checkpoint changes model tensors only, and float16 -> float32 -> float16 is lossless")
    func checkpointConversion() {
        let values: [Float] = [0, 1, -1.5, 3.14159265, 1e-6, 65504, 70000, .infinity]
        var checkpoint = Checkpoint(modelKind: "", modelConfiguration: "", tensors: [NamedTensor(name: "w", tensor: StoredTensor(float32: values, shape: [8]))])
        checkpoint.training = TrainingState(globalStep: 1, epoch: 0, randomState: [1, 2, 3, 4], dataOrder: [0], dataPosition: 0)
        let half = checkpoint.converted(to: .f16)
        #expect(half.tensors[0].tensor.dtype == "F16" && half.tensors[0].tensor.bytes.count == 16)
        #expect(half.training == checkpoint.training)
        let widened = half.converted(to: .f32)
        #expect(widened.tensors[0].tensor.doubles() == [0, 1, -1.5, 3.140625, Double(Float16(1e-6 as Float)), 65504, .infinity, .infinity])
        #expect(widened.converted(to: .f16).tensors == half.tensors)
        let bf = checkpoint.converted(to: .bf16)
        #expect(bf.tensors[0].tensor.doubles()[3] == 3.140625)
    }
}

@Suite("chunk layout")
struct ChunkLayoutTests {
    @Test("chunks are contiguous row-major runs of at most 1 MiB")
    func chunks() {
        #expect(H5Types.chunkShape([10_000_000], elementSize: 4) == [262_144])
        #expect(H5Types.chunkShape([512, 2048], elementSize: 4) == [128, 2048])
        #expect(H5Types.chunkShape([64, 64, 3, 3], elementSize: 4) == [64, 64, 3, 3])
        #expect(H5Types.chunkShape([1, 600_000], elementSize: 4) == [1, 262_144])
        #expect(H5Types.chunkShape([3, 1000, 1000], elementSize: 2) == [1, 524, 1000])
    }
}

@Suite("fletcher32", .serialized)
struct Fletcher32Tests {
    @Test("the fast checksum equals libhdf5's loop on random, constant and edge-sized data, on both paths",
          arguments: [false, true])
    func matchesReference(portable: Bool) {
        vq_fletcher32_force_portable(portable ? 1 : 0)
        defer { vq_fletcher32_force_portable(0) }
        if !portable, let cpu = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8), cpu.contains(" avx2 ") {
            #expect(vq_fletcher32_uses_avx2() == 1, "this CPU has AVX2, so the fast path must run")
        }
        var state: UInt64 = 7
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        for trial in 0..<600 {
            let count = trial < 400 ? Int(next() % 3000) + 1 : Int(next() % 200_000) + 1
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
            if trial % 5 == 0 { bytes = [UInt8](repeating: 0xFF, count: count) }
            if trial % 7 == 0 { bytes = [UInt8](repeating: 0, count: count) }
            if trial % 9 == 0 { bytes = [UInt8](repeating: 0, count: count); bytes[count / 2] = 1 }
            let fast = bytes.withUnsafeBytes { Fletcher32.checksum($0) }
            let reference = bytes.withUnsafeBytes { Fletcher32.reference($0) }
            #expect(fast == reference, "\(count) bytes, trial \(trial)")
        }
    }

    @Test("several 2 MiB segments (all 0xFF, random) give libhdf5's checksum")
    func largeInputsAndCopy() {
        var state: UInt64 = 3
        let random = (0..<(5 << 20) + 7).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        for bytes in [[UInt8](repeating: 0xFF, count: (4 << 20) + 512), random] {
            let reference = bytes.withUnsafeBytes { Fletcher32.reference($0) }
            #expect(bytes.withUnsafeBytes { Fletcher32.checksum($0) } == reference)
        }
    }
}
