/// Reshape, permute, slice, concatenate, split and nearest upsampling.

extension Tensor {
    /// The same elements under a new shape; one axis may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let unknown = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 * $1.element }
            checkShape(known > 0 && count % known == 0, "reshape", shape, newShape, "cannot infer the -1 axis")
            target[unknown] = count / known
        }
        checkShape(target.elementCount == count, "reshape", shape, target,
                   "\(count) elements cannot take a shape of \(target.elementCount)")
        return Tensor.recorded("reshape", shape: target, data: data, inputs: [self]) { r in
            self.accumulate(r.grad!)
        }
    }

    /// Reorders axes: result axis i is this tensor's axis `order[i]` (as `torch.permute`).
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.count == rank && Set(order) == Set(0..<rank),
                     "permute: order \(order) is not a permutation of the axes of shape \(shape)")
        let outShape = order.map { shape[$0] }
        let out = permute(data, shape: shape, order: order)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return Tensor.recorded("permute", shape: outShape, data: out, inputs: [self]) { r in
            self.accumulate(permute(r.grad!, shape: outShape, order: inverse))
        }
    }

    /// Swaps two axes.
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(normalizedAxis(a, rank: rank, op: "transpose"), normalizedAxis(b, rank: rank, op: "transpose"))
        return permuted(order)
    }

    /// Elements `range` along `axis` (as `x.narrow(axis, start, length)`).
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = normalizedAxis(axis, rank: rank, op: "slice")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[axis],
                     "slice: range \(range) is outside axis \(axis) of shape \(shape)")
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        let size = shape[axis], n = range.count
        var outShape = shape
        outShape[axis] = n
        var out = [Float](repeating: 0, count: outer * n * inner)
        data.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                for a in 0..<outer {
                    (o.baseAddress! + a * n * inner).update(from: x.baseAddress! + (a * size + range.lowerBound) * inner, count: n * inner)
                }
            }
        }
        return Tensor.recorded("slice", shape: outShape, data: out, inputs: [self]) { r in
            let g = r.grad!
            self.accumulateInPlace { gx in
                for a in 0..<outer {
                    for i in 0..<(n * inner) { gx[(a * size + range.lowerBound) * inner + i] += g[a * n * inner + i] }
                }
            }
        }
    }

    /// Splits into pieces of the given sizes along `axis`.
    public func split(_ sizes: [Int], axis: Int) -> [Tensor] {
        let axis = normalizedAxis(axis, rank: rank, op: "split")
        precondition(sizes.reduce(0, +) == shape[axis], "split: sizes \(sizes) do not add up to axis \(axis) of shape \(shape)")
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return slice(axis: axis, start..<(start + n))
        }
    }

    /// Nearest-neighbour upsampling of NCHW images by an integer factor.
    public func upsampledNearest(scale: Int) -> Tensor {
        precondition(rank == 4 && scale >= 1, "upsample_nearest: needs NCHW input and scale >= 1, found shape \(shape), scale \(scale)")
        let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let oh = h * scale, ow = w * scale
        var out = [Float](repeating: 0, count: b * c * oh * ow)
        data.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                for p in 0..<(b * c) {
                    for y in 0..<oh {
                        for xo in 0..<ow { o[(p * oh + y) * ow + xo] = x[(p * h + y / scale) * w + xo / scale] }
                    }
                }
            }
        }
        return Tensor.recorded("upsample_nearest", shape: [b, c, oh, ow], data: out, inputs: [self]) { r in
            let g = r.grad!
            self.accumulateInPlace { gx in
                for p in 0..<(b * c) {
                    for y in 0..<oh {
                        for xo in 0..<ow { gx[(p * h + y / scale) * w + xo / scale] += g[(p * oh + y) * ow + xo] }
                    }
                }
            }
        }
    }
}

/// Joins tensors along `axis`; all other axes must agree.
public func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concat: needs at least one tensor")
    let first = tensors[0]
    let axis = normalizedAxis(axis, rank: first.rank, op: "concat")
    for t in tensors {
        var a = t.shape, b = first.shape
        checkShape(a.count == b.count, "concat", b, a, "ranks differ")
        a[axis] = 0; b[axis] = 0
        checkShape(a == b, "concat", first.shape, t.shape, "only axis \(axis) may differ")
    }
    let outer = first.shape[..<axis].reduce(1, *), inner = first.shape[(axis + 1)...].reduce(1, *)
    let sizes = tensors.map { $0.shape[axis] }
    let total = sizes.reduce(0, +)
    var outShape = first.shape
    outShape[axis] = total
    var out = [Float](repeating: 0, count: outer * total * inner)
    var offset = 0
    for (t, n) in zip(tensors, sizes) {
        t.data.withUnsafeBufferPointer { x in
            for a in 0..<outer {
                for i in 0..<(n * inner) { out[(a * total + offset) * inner + i] = x[a * n * inner + i] }
            }
        }
        offset += n
    }
    return Tensor.recorded("concat", shape: outShape, data: out, inputs: tensors) { r in
        let g = r.grad!
        var offset = 0
        for (t, n) in zip(tensors, sizes) {
            let start = offset
            t.accumulateInPlace { gx in
                for a in 0..<outer {
                    for i in 0..<(n * inner) { gx[a * n * inner + i] += g[(a * total + start) * inner + i] }
                }
            }
            offset += n
        }
    }
}

/// A row-major copy of `data` (of `shape`) with its axes reordered by `order`.
func permute(_ data: [Float], shape: [Int], order: [Int]) -> [Float] {
    let outShape = order.map { shape[$0] }
    if data.isEmpty { return data }
    // Axes that stay neighbours in the same order move as one; a permutation that is then [0, 2, 1] (or [1, 0])
    // is a batch of matrix transposes, copied in cache-sized tiles.
    var groups: [[Int]] = []
    for axis in order where shape[axis] != 1 {
        if let last = groups.last?.last, last + 1 == axis { groups[groups.count - 1].append(axis) } else { groups.append([axis]) }
    }
    let sizes = groups.map { $0.reduce(1) { $0 * shape[$1] } }
    let starts = groups.map { $0[0] }
    // The other axes keep their relative order (only axes of size 1 moved): the same element order. The
    // quantisers' [N, 1, 1, D] -> [N, D, 1, 1] is such a case; it took the general path before (6% of encoding).
    if zip(starts, starts.dropFirst()).allSatisfy({ $0 < $1 }) { return data }
    if groups.count == 2 && starts[0] > starts[1] {
        return transposedMatrices(data, count: 1, rows: sizes[1], columns: sizes[0])
    }
    if groups.count == 3 && starts[0] < starts[1] && starts[2] < starts[1] && starts[0] < starts[2] {
        return transposedMatrices(data, count: sizes[0], rows: sizes[2], columns: sizes[1])
    }
    let inStrides = contiguousStrides(shape)
    let gathered = order.map { inStrides[$0] }
    return data.withUnsafeBufferPointer { x in
        uninitializedFloats(data.count) { o in
            // Walk the output in order, following the input with the gathered strides.
            forEachBroadcastRun(outShape, gathered, gathered) { oo, xo, _, n, s, _ in
                for i in 0..<n { o[oo + i] = x[xo + i * s] }
            }
        }
    }
}

/// `count` row-major [rows, columns] matrices, each transposed to [columns, rows], in 16 x 16 tiles;
/// matrices (or, for one matrix, bands of rows) run in parallel.
private func transposedMatrices(_ data: [Float], count: Int, rows: Int, columns: Int) -> [Float] {
    data.withUnsafeBufferPointer { xp in
        uninitializedFloats(data.count) { op in
            let x = xp.baseAddress!, o = op.baseAddress!
            let tile = 16, bands = (rows + tile - 1) / tile
            parallelRanges(count * bands, minimumPerThread: Swift.max(1, 16_384 / Swift.max(1, tile * columns))) { range in
                for job in range {
                    let m = job / bands, r0 = (job % bands) * tile, r1 = Swift.min(rows, r0 + tile)
                    let src = x + m * rows * columns, dst = o + m * rows * columns
                    var c0 = 0
                    while c0 < columns {
                        let c1 = Swift.min(columns, c0 + tile)
                        for r in r0..<r1 {
                            for c in c0..<c1 { dst[c &* rows &+ r] = src[r &* columns &+ c] }
                        }
                        c0 = c1
                    }
                }
            }
        }
    }
}
