import CKernels
/// Sixteen-lane float math for the elementwise kernels: loads and stores, exp (Cephes' single-precision
/// polynomial), the Gaussian CDF through a polynomial erf, and horizontal sums.
///
/// Library targets build for baseline x86-64, so these lower to SSE; that is still several times faster
/// than calling libm per element. Every lane does the same IEEE operations as the others, and partial
/// vectors are zero-padded, so a result never depends on where a parallel range or a row starts.

typealias FloatVector = SIMD16<Float>

@inline(__always)
func loadVector(_ p: UnsafePointer<Float>) -> FloatVector {
    UnsafeRawPointer(p).loadUnaligned(as: FloatVector.self)
}

@inline(__always)
func loadVector(_ p: UnsafeMutablePointer<Float>) -> FloatVector {
    UnsafeRawPointer(p).loadUnaligned(as: FloatVector.self)
}

/// The first `count` (<= 16) elements at `p`, the other lanes `padding`.
@inline(__always)
func loadVector(_ p: UnsafePointer<Float>, count: Int, padding: Float = 0) -> FloatVector {
    if count == 16 { return loadVector(p) }
    var v = FloatVector(repeating: padding)
    for i in 0..<count { v[i] = p[i] }
    return v
}

@inline(__always)
func loadVector(_ p: UnsafeMutablePointer<Float>, count: Int, padding: Float = 0) -> FloatVector {
    loadVector(UnsafePointer(p), count: count, padding: padding)
}

/// Visits `range` sixteen elements at a time: `body(start, lanes)`, lanes 16 except perhaps for the last.
/// Pass a local `@inline(__always)` function as `body`, not a closure: the optimiser then inlines it at both
/// calls, and the full-vector one folds `lanes == 16` away (a closure stays one call with unknown lanes,
/// which it compiles to scalar code).
@inline(__always)
func forEachVector(in range: Range<Int>, _ body: (Int, Int) -> Void) {
    var i = range.lowerBound
    while i + 16 <= range.upperBound { body(i, 16); i += 16 }
    if i < range.upperBound { body(i, range.upperBound - i) }
}

@inline(__always)
func storeVector(_ v: FloatVector, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: FloatVector.self)
}

@inline(__always)
func storeVector(_ v: FloatVector, _ p: UnsafeMutablePointer<Float>, count: Int) {
    if count == 16 { storeVector(v, p); return }
    for i in 0..<count { p[i] = v[i] }
}

/// Sum of the lanes in a fixed pairwise order.
@inline(__always)
func horizontalSum(_ v: FloatVector) -> Float {
    let a = v.lowHalf + v.highHalf
    let b = a.lowHalf + a.highHalf
    let c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}

@inline(__always)
func horizontalMax(_ v: FloatVector) -> Float {
    var m = v[0]
    for i in 1..<16 where v[i] > m { m = v[i] }
    return m
}

/// e^x, within 1e-7 relative of libm for -87.3 <= x < 88.3; 0 below -87.3 (where e^x would be denormal),
/// +infinity from about 88.4 (where the power of two overflows; float's limit is 88.72), NaN for NaN.
@inline(__always)
func vectorExp(_ x: FloatVector) -> FloatVector {
    var z = x.replacing(with: 88.72, where: x .> 88.72)
    z.replace(with: -87.33, where: z .< -87.33)
    // n = round(z / ln 2) by the 1.5 * 2^23 trick (SSE2 has no rounding instruction).
    // The integer n also sits in the low mantissa bits of the shifted value.
    let magic = FloatVector(repeating: 12_582_912)
    let shifted = z * 1.44269504088896341 + magic
    let n = shifted - magic
    let r = z - n * 0.693359375 + n * 2.12194440e-4
    var p = FloatVector(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * (r * r) + r + 1
    let exponent = (unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    // Above the clamp n = 128 makes the scale's bits +infinity; NaN stays NaN through the arithmetic.
    var result = y * unsafeBitCast(exponent, to: FloatVector.self)
    result.replace(with: 0, where: x .< -87.33)
    return result
}

/// The standard normal CDF Phi(x) = (1 + erf(x / sqrt 2)) / 2 and density phi(x) = e^(-x^2 / 2) / sqrt(2 pi),
/// sharing one exponential. erf by Abramowitz and Stegun 7.1.26: 1 - t (a1 + t (a2 + ... + t a5)) e^(-z^2) with
/// t = 1 / (1 + p|z|), odd in z; absolute error below 4e-7 in float (1.5e-7 in exact arithmetic). GELU needs
/// only absolute accuracy of Phi, and this costs a third of libm's erff.
@inline(__always)
func vectorGaussian(_ x: FloatVector) -> (cdf: FloatVector, density: FloatVector) {
    let z = x * 0.70710678118654752
    let a = z.replacing(with: -z, where: z .< 0)
    let t = 1 / (1 + 0.3275911 * a)
    var p = FloatVector(repeating: 1.061405429)
    p = p * t - 1.453152027
    p = p * t + 1.421413741
    p = p * t - 0.284496736
    p = p * t + 0.254829592
    let e = vectorExp(-(a * a))
    var erf = 1 - p * t * e
    erf.replace(with: -erf, where: z .< 0)
    return (0.5 * (1 + erf), e * 0.39894228040143268)
}

/// sums[j] += sum over rows r (in order) of rows[r * width + j] (times `scale[r * width + j]` when given):
/// the column sums of bias and norm-weight gradients. Threads take disjoint bands of columns and stream
/// their part of each row in turn, so every sum runs over the rows in the same order on any thread count.
func addColumnSums(_ rows: UnsafePointer<Float>, times scale: UnsafePointer<Float>? = nil, count: Int, width: Int,
                   into sums: UnsafeMutablePointer<Float>) {
    let bands = (width + 15) / 16
    parallelRanges(bands, minimumPerThread: Swift.max(1, 65_536 / Swift.max(1, 16 * count))) { range in
        let start = range.lowerBound * 16, end = Swift.min(width, range.upperBound * 16)
        for r in 0..<count {
            let row = rows + r * width
            @inline(__always) func vectorStep(_ j: Int, _ n: Int) {
                var v = loadVector(row + j, count: n)
                if let scale { v *= loadVector(scale + r * width + j, count: n) }
                storeVector(loadVector(sums + j, count: n) + v, sums + j, count: n)
            }
            forEachVector(in: start..<end, vectorStep)
        }
    }
}

/// Which C kernels of `CKernels` this CPU runs.
enum VectorUnit {
    static let hasAVX512 = vq_has_avx512() != 0
}
