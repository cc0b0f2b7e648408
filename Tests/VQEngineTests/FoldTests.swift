import Testing
@testable import VQEngine

/// col2im's vector fold (AVX-512, strides 1 and 2) against its scalar fold, bit for bit: every geometry of the
/// reference models and odd ones around them (rows shorter and longer than a vector, odd kernels with stride 2,
/// no padding and wide padding), with and without bias, overwriting and accumulating, and zeros of both signs
/// among the entries.
@Suite struct FoldTests {
    @Test(arguments: [
        // stride, kernel, padding, image size (height = width), channels, batch
        (1, 3, 1, 7, 64, 3), (2, 4, 1, 14, 32, 2), (2, 4, 1, 28, 1, 4),       // dec1, dec2, dec3
        (2, 4, 1, 28, 32, 2), (2, 4, 1, 14, 64, 2),                           // enc1, enc2 backward
        (1, 1, 0, 5, 3, 2), (1, 5, 2, 37, 2, 2), (1, 3, 0, 18, 2, 1),
        (2, 3, 1, 15, 3, 2), (2, 5, 2, 33, 2, 1), (2, 2, 0, 16, 2, 2), (2, 4, 0, 50, 1, 1), (2, 1, 0, 9, 2, 1),
    ])
    func vectorFoldMatchesScalarFold(stride: Int, kernel: Int, padding: Int, size: Int, channels: Int, batch: Int) {
        guard VectorUnit.hasAVX512 else { return }
        let g = ConvGeometry(batch: batch, channels: channels, height: size, width: size, kernelHeight: kernel,
                             kernelWidth: kernel, stride: stride, padding: padding)
        var rng = RandomGenerator(seed: UInt64(1000 + size * 10 + kernel))
        var columns = rng.normal([g.columnRows * g.columnCount]).data
        for k in stride..<columns.count where k % 7 == 0 { columns[k] = k % 2 == 0 ? -0.0 : 0 }
        let bias = rng.normal([channels]).data
        let start = rng.normal([batch * channels * size * size]).data
        for overwrite in [true, false] {
            for withBias in [true, false] {
                var vector = start, scalar = start
                columns.withUnsafeBufferPointer { cp in
                    bias.withUnsafeBufferPointer { bp in
                        let b = withBias ? bp.baseAddress! : nil
                        col2im(g, columns: cp.baseAddress!, image: &vector, overwrite: overwrite, bias: b, vectorized: true)
                        col2im(g, columns: cp.baseAddress!, image: &scalar, overwrite: overwrite, bias: b, vectorized: false)
                    }
                }
                let differing = zip(vector, scalar).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(differing == 0, "stride \(stride) kernel \(kernel) padding \(padding) size \(size) overwrite \(overwrite) bias \(withBias): \(differing) pixels differ")
            }
        }
    }
}
