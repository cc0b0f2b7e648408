/// NumPy/PyTorch broadcasting: shapes align at the right; each axis must match or be 1.
func broadcastShape(_ a: [Int], _ b: [Int], op: String) -> [Int] {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else {
            shapeMismatch(op, a, b, "axis \(i - rank) has \(da) against \(db); sizes must match or be 1")
        }
    }
    return out
}

/// Strides of `shape` seen from a broadcast result of rank `rank`: 0 on axes that are broadcast.
func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
    let rank = outShape.count
    var strides = [Int](repeating: 0, count: rank)
    var step = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        let o = i + rank - shape.count
        strides[o] = shape[i] == 1 && outShape[o] != 1 ? 0 : step
        step *= shape[i]
    }
    return strides
}

/// Row-major strides of a contiguous tensor.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i] = s
        s *= shape[i]
    }
    return strides
}

/// Visits every element of `outShape` in row-major order, handing `body` the run of the innermost axis:
/// (output offset, offset into a, offset into b, run length, a's inner stride, b's inner stride).
/// `runs` limits the visit to those runs of the innermost axis (all by default), so disjoint ranges can go to
/// different threads.
@inline(__always)
func forEachBroadcastRun(_ outShape: [Int], _ aStrides: [Int], _ bStrides: [Int], runs: Range<Int>? = nil,
                         _ body: (Int, Int, Int, Int, Int, Int) -> Void) {
    let rank = outShape.count
    if rank == 0 { body(0, 0, 0, 1, 0, 0); return }
    let inner = outShape[rank - 1]
    let outer = outShape.elementCount / max(inner, 1)
    if inner == 0 { return }
    let runs = runs ?? 0..<outer
    // The index of the first run, and its offsets into a and b.
    var index = [Int](repeating: 0, count: rank)
    var aOffset = 0, bOffset = 0
    var rest = runs.lowerBound
    for axis in stride(from: rank - 2, through: 0, by: -1) {
        index[axis] = rest % outShape[axis]
        rest /= outShape[axis]
        aOffset += index[axis] * aStrides[axis]
        bOffset += index[axis] * bStrides[axis]
    }
    for run in runs {
        body(run * inner, aOffset, bOffset, inner, aStrides[rank - 1], bStrides[rank - 1])
        var axis = rank - 2
        while axis >= 0 {
            index[axis] += 1
            aOffset += aStrides[axis]
            bOffset += bStrides[axis]
            if index[axis] < outShape[axis] { break }
            aOffset -= aStrides[axis] * outShape[axis]
            bOffset -= bStrides[axis] * outShape[axis]
            index[axis] = 0
            axis -= 1
        }
    }
}

/// Sums `gradient` (of `outShape`) over the axes along which `shape` was broadcast, giving `shape`'s layout.
func sumToShape(_ gradient: [Float], from outShape: [Int], to shape: [Int]) -> [Float] {
    if outShape == shape { return gradient }
    var result = [Float](repeating: 0, count: shape.elementCount)
    let strides = broadcastStrides(shape, to: outShape)
    gradient.withUnsafeBufferPointer { g in
        result.withUnsafeMutableBufferPointer { r in
            forEachBroadcastRun(outShape, strides, strides) { outOffset, offset, _, n, stride, _ in
                if stride == 0 {
                    var s: Float = 0
                    for i in 0..<n { s += g[outOffset + i] }
                    r[offset] += s
                } else {
                    for i in 0..<n { r[offset + i] += g[outOffset + i] }
                }
            }
        }
    }
    return result
}
