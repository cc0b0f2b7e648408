import Testing
@testable import VQEngine

/// im2col's vector unfold and col2im's vector fold (AVX-512, strides 1 and 2) against their scalar forms, bit for
/// bit. For the fold: every geometry of the
/// reference models and odd ones around them (rows shorter and longer than a vector, odd kernels with stride 2,
/// no padding and wide padding), with and without bias, overwriting and accumulating, with the fused ReLU, and
/// zeros of both signs among the entries.
@Suite struct FoldTests {
    /// stride, kernel, padding, image size (height = width), channels, batch
    static let geometries = [
        (1, 3, 1, 7, 64, 3), (2, 4, 1, 14, 32, 2), (2, 4, 1, 28, 1, 4),       // dec1, dec2, dec3
        (2, 4, 1, 28, 32, 2), (2, 4, 1, 14, 64, 2),                           // enc1, enc2 backward
        (1, 1, 0, 5, 3, 2), (1, 5, 2, 37, 2, 2), (1, 3, 0, 18, 2, 1),
        (2, 3, 1, 15, 3, 2), (2, 5, 2, 33, 2, 1), (2, 2, 0, 16, 2, 2), (2, 4, 0, 50, 1, 1), (2, 1, 0, 9, 2, 1),
    ]

    static func squareGeometry(stride: Int, kernel: Int, padding: Int, size: Int, channels: Int, batch: Int) -> ConvGeometry {
        ConvGeometry(batch: batch, channels: channels, height: size, width: size, kernelHeight: kernel,
                     kernelWidth: kernel, stride: stride, padding: padding)
    }

    @Test(arguments: geometries)
    func vectorFoldMatchesScalarFold(stride: Int, kernel: Int, padding: Int, size: Int, channels: Int, batch: Int) {
        guard VectorUnit.hasAVX512 else { return }
        let g = Self.squareGeometry(stride: stride, kernel: kernel, padding: padding, size: size, channels: channels, batch: batch)
        var rng = RandomGenerator(seed: UInt64(1000 + size * 10 + kernel))
        var columns = rng.normal([g.columnRows * g.columnCount]).data
        for k in stride..<columns.count where k % 7 == 0 { columns[k] = k % 2 == 0 ? -0.0 : 0 }
        let bias = rng.normal([channels]).data
        let start = rng.normal([batch * channels * size * size]).data
        for (overwrite, relu) in [(true, false), (false, false), (true, true)] {
            for withBias in [true, false] {
                var vector = start, scalar = start
                columns.withUnsafeBufferPointer { cp in
                    bias.withUnsafeBufferPointer { bp in
                        let b = withBias ? bp.baseAddress! : nil
                        col2im(g, columns: cp.baseAddress!, image: &vector, overwrite: overwrite, bias: b, relu: relu, vectorized: true)
                        col2im(g, columns: cp.baseAddress!, image: &scalar, overwrite: overwrite, bias: b, relu: relu, vectorized: false)
                    }
                }
                let differing = zip(vector, scalar).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(differing == 0, "stride \(stride) kernel \(kernel) padding \(padding) size \(size) overwrite \(overwrite) relu \(relu) bias \(withBias): \(differing) pixels differ")
            }
        }
    }

    /// The vector unfold writes every entry of the column matrix (it starts as NaN) with the scalar gather's value,
    /// padding zeros included, over the same geometries.
    @Test(arguments: geometries)
    func vectorUnfoldMatchesScalarUnfold(stride: Int, kernel: Int, padding: Int, size: Int, channels: Int, batch: Int) {
        guard VectorUnit.hasAVX512 else { return }
        let g = Self.squareGeometry(stride: stride, kernel: kernel, padding: padding, size: size, channels: channels, batch: batch)
        var rng = RandomGenerator(seed: UInt64(2000 + size * 10 + kernel))
        var image = rng.normal([batch * channels * size * size]).data
        for k in 0..<image.count where k % 5 == 0 { image[k] = -0.0 }
        var vector = [Float](repeating: .nan, count: g.columnRows * g.columnCount), scalar = vector
        image.withUnsafeBufferPointer { ip in
            im2col(g, image: ip.baseAddress!, columns: &vector, vectorized: true)
            im2col(g, image: ip.baseAddress!, columns: &scalar, vectorized: false)
        }
        let differing = zip(vector, scalar).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(differing == 0, "stride \(stride) kernel \(kernel) padding \(padding) size \(size): \(differing) entries differ")
    }

    /// Convolutions and transposed convolutions with the fused ReLU give the bits of the op followed by `.relu()`,
    /// outputs and every gradient, on the vector fold (strides 1 and 2) and the scalar one (stride 3).
    @Test(arguments: [(false, 1), (false, 2), (true, 1), (true, 2), (true, 3)])
    func fusedReLUMatchesReLUAfter(transposed: Bool, stride: Int) {
        var rng = RandomGenerator(seed: UInt64(50 + stride))
        let x = rng.normal([3, 4, 9, 9]), upstream = rng.normal([1])
        let w = rng.normal(transposed ? [4, 5, 4, 4] : [5, 4, 3, 3]), b = rng.normal([5])
        func run(fused: Bool) -> [[Float]] {
            let xi = Tensor(shape: x.shape, data: x.data, requiresGrad: true)
            let wi = Tensor(shape: w.shape, data: w.data, requiresGrad: true), bi = Tensor(shape: b.shape, data: b.data, requiresGrad: true)
            let y = transposed
                ? (fused ? xi.convTranspose2d(weight: wi, bias: bi, stride: stride, padding: 1, relu: true)
                         : xi.convTranspose2d(weight: wi, bias: bi, stride: stride, padding: 1).relu())
                : (fused ? xi.conv2d(weight: wi, bias: bi, stride: stride, padding: 1, relu: true)
                         : xi.conv2d(weight: wi, bias: bi, stride: stride, padding: 1).relu())
            (y * y * upstream.scalar + y).sum().backward()
            return [y.data, xi.grad!, wi.grad!, bi.grad!]
        }
        let fused = run(fused: true), after = run(fused: false)
        #expect(fused[0].contains(0) && fused[0].contains { $0 > 0 }, "the test should clip some outputs")
        for (name, pair) in zip(["output", "input gradient", "weight gradient", "bias gradient"], zip(fused, after)) {
            #expect(pair.0.map(\.bitPattern) == pair.1.map(\.bitPattern), "\(name) differs")
        }
    }
}

/// How convolutions cut a batch into blocks (Ops/Convolution.swift): each block's column matrix fits in 1 MiB
/// (or holds one image), and a batch of more than one block has an even number of them (unless an odd batch needs
/// one image per block), so two cores get equal halves; the reference models' layers at batches 128 and 256, and
/// odd sizes.
@Suite struct ConvolutionBlockTests {
    @Test(arguments: [(128, 512, 49), (128, 576, 49), (256, 576, 49), (256, 512, 49), (128, 16, 196), (256, 16, 784),
                      (1, 576, 49), (3, 16, 196), (7, 100_000, 9), (129, 576, 49), (1000, 300, 31)])
    func blocksFitAndComeInPairs(batch: Int, rows: Int, plane: Int) {
        let images = imagesPerBlock(batch: batch, rows: rows, plane: plane)
        let blocks = (batch + images - 1) / images
        #expect(images >= 1 && images <= batch)
        #expect(images == 1 || images * rows * plane <= 1 << 18, "\(images) images of \(rows)x\(plane)")
        // One image per block leaves nothing to even out when the batch is odd.
        #expect(blocks == 1 || blocks % 2 == 0 || (images == 1 && batch % 2 == 1),
                "\(blocks) blocks of \(images) images for a batch of \(batch)")
    }
}
