import Foundation

/// A seeded random generator (xoshiro256**, seeded through SplitMix64). The same seed gives bit-identical
/// draws on every run and machine; the state can be saved and restored for exact resume.
public struct RandomGenerator: Sendable, RandomNumberGenerator {
    /// The four 64-bit words of xoshiro256** state.
    public var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// The state as four words, for checkpoints.
    public var stateWords: [UInt64] {
        get { [state.0, state.1, state.2, state.3] }
        set {
            precondition(newValue.count == 4, "RandomGenerator: state needs 4 words, found \(newValue.count)")
            state = (newValue[0], newValue[1], newValue[2], newValue[3])
        }
    }

    public mutating func next() -> UInt64 {
        @inline(__always) func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    /// A float in [0, 1) with 24 random bits.
    public mutating func nextUnitFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// A float in (0, 1): never 0, so logarithms stay finite.
    public mutating func nextOpenUnitFloat() -> Float { (Float(next() >> 41) + 0.5) * 0x1p-23 }

    public mutating func uniform(_ shape: [Int], low: Float = 0, high: Float = 1) -> Tensor {
        let n = shape.elementCount
        var data = [Float](repeating: 0, count: n)
        for i in 0..<n { data[i] = low + (high - low) * nextUnitFloat() }
        return Tensor(shape: shape, data: data)
    }

    /// Normal draws by the Box-Muller transform (pairs of uniforms, both outputs used).
    public mutating func normal(_ shape: [Int], mean: Float = 0, std: Float = 1) -> Tensor {
        let n = shape.elementCount
        var data = [Float](repeating: 0, count: n)
        var i = 0
        while i < n {
            let u1 = Double(nextOpenUnitFloat()), u2 = Double(nextUnitFloat())
            let radius = (-2 * Foundation.log(u1)).squareRoot(), angle = 2 * Double.pi * u2
            data[i] = mean + std * Float(radius * Foundation.cos(angle))
            if i + 1 < n { data[i + 1] = mean + std * Float(radius * Foundation.sin(angle)) }
            i += 2
        }
        return Tensor(shape: shape, data: data)
    }

    /// Standard Gumbel draws, -log(-log(u)).
    public mutating func gumbel(_ shape: [Int]) -> Tensor {
        let n = shape.elementCount
        var data = [Float](repeating: 0, count: n)
        for i in 0..<n { data[i] = -Foundation.log(-Foundation.log(nextOpenUnitFloat())) }
        return Tensor(shape: shape, data: data)
    }

    /// A uniformly random permutation of 0..<n (Fisher-Yates), for shuffling data.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, Int(next() % UInt64(i + 1))) } }
        return p
    }
}
