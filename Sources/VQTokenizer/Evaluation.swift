import Foundation
import VQImage
import VQModels

/// Figures of a tokenizer on a set of images, per residual level: PSNR, raw bits per pixel and codebook use.
public struct TokenizerEvaluation: Codable, Sendable {
    public struct Level: Codable, Sendable {
        /// Levels used (1-based: level 2 decodes with the first two codebooks).
        public var levels: Int
        /// Mean over images of each image's PSNR (8-bit output, all channels), dB.
        public var meanPSNR: Double
        /// PSNR of the mean squared error over all images, dB.
        public var psnrOfMeanMSE: Double
        /// Raw token bits per pixel (ceil(log2 K) bits per index, no entropy coding), averaged over images.
        public var bitsPerPixel: Double
        /// Codebook use of this level's codebook over the images.
        public var codebook: CodebookStatistics
        /// Per image PSNR and bpp, in input order.
        public var imagePSNR: [Double]
        public var imageBitsPerPixel: [Double]
    }

    public var images: Int
    public var levels: [Level]
    /// Wall-clock seconds for encoding all images (all levels) and for decoding them at full rate.
    public var encodeSeconds: Double
    public var decodeSeconds: Double
    public var pixels: Int
    /// Share of tokens (all levels) that encoding the full-rate decoded images reproduces: encode -> decode ->
    /// encode stability.
    public var reencodeAgreement: Double

    /// Encodes every image with all levels, decodes at every level count in `levelCounts` (all when nil).
    public init(tokenizer: Tokenizer, images: [Image], levelCounts: [Int]? = nil) throws {
        let counts = levelCounts ?? Array(1...tokenizer.levels)
        let start = Date()
        let grids = try tokenizer.encode(images)
        encodeSeconds = Date().timeIntervalSince(start)
        self.images = images.count
        pixels = images.reduce(0) { $0 + $1.width * $1.height }
        var levels: [Level] = []
        var fullDecode = 0.0
        for count in counts {
            let truncated = grids.map { $0.truncated(toLevels: count) }
            let t0 = Date()
            let decoded = try tokenizer.decode(truncated)
            if count == tokenizer.levels { fullDecode = Date().timeIntervalSince(t0) }
            var psnrs: [Double] = [], bpps: [Double] = [], totalSquared = 0.0, totalSamples = 0
            for (original, output) in zip(images, decoded) {
                let (sum, n) = squaredError(original, output)
                totalSquared += sum
                totalSamples += n
                psnrs.append(psnr(mse: sum / Double(n)))
                bpps.append(truncated[psnrs.count - 1].rawBitsPerPixel)
            }
            let levelIndices = grids.flatMap { $0.indices(level: count - 1) }
            levels.append(Level(levels: count, meanPSNR: psnrs.reduce(0, +) / Double(max(1, psnrs.count)),
                                psnrOfMeanMSE: psnr(mse: totalSquared / Double(max(1, totalSamples))),
                                bitsPerPixel: bpps.reduce(0, +) / Double(max(1, bpps.count)),
                                codebook: CodebookStatistics(indices: levelIndices, codes: tokenizer.codebookSizes[count - 1]),
                                imagePSNR: psnrs, imageBitsPerPixel: bpps))
        }
        decodeSeconds = fullDecode
        self.levels = levels
        let again = try tokenizer.encode(try tokenizer.decode(grids))
        var same = 0, total = 0
        for (a, b) in zip(grids, again) {
            same += zip(a.indices, b.indices).filter { $0 == $1 }.count
            total += a.indices.count
        }
        reencodeAgreement = Double(same) / Double(max(1, total))
    }
}

/// Sum of squared differences (on the [0, 1] scale) and the number of samples.
func squaredError(_ a: Image, _ b: Image) -> (Double, Int) {
    var sum = 0.0
    for (x, y) in zip(a.pixels, b.pixels) { let d = (Double(x) - Double(y)) / 255; sum += d * d }
    return (sum, a.pixels.count)
}

/// 10 log10(1 / mse), capped at 100 dB for identical images.
public func psnr(mse: Double) -> Double {
    mse <= 1e-10 ? 100 : 10 * log10(1 / mse)
}
