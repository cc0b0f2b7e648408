/// The discrete codes of one image: `levels` grids of `height` x `width` indices, one grid per residual
/// level (a single-codebook model has one level).
///
/// `indices` is flattened level-major, then row-major: the index of level `l`, row `y`, column `x` is at
/// `(l * height + y) * width + x`. Level `l` uses codes `0..<codebookSizes[l]`.
public struct TokenGrid: Codable, Equatable, Sendable {
    /// Residual levels present (decoding with fewer levels of the same model gives a coarser image).
    public var levels: Int
    /// Token rows and columns (the image size divided by the model's downsampling, rounded up).
    public var height: Int
    public var width: Int
    /// Codes per level, `levels` entries.
    public var codebookSizes: [Int]
    /// `levels * height * width` indices, level-major then row-major.
    public var indices: [Int]
    /// The size of the image that was encoded; decoding crops to it.
    public var imageWidth: Int
    public var imageHeight: Int
    /// The `Tokenizer.fingerprint` of the model that made these tokens; nil skips the check when decoding.
    public var modelFingerprint: String?

    public init(levels: Int, height: Int, width: Int, codebookSizes: [Int], indices: [Int],
                imageWidth: Int, imageHeight: Int, modelFingerprint: String? = nil) {
        self.levels = levels
        self.height = height
        self.width = width
        self.codebookSizes = codebookSizes
        self.indices = indices
        self.imageWidth = imageWidth
        self.imageHeight = imageHeight
        self.modelFingerprint = modelFingerprint
    }

    /// Tokens per level.
    public var tokensPerLevel: Int { height * width }

    /// The indices of one level, row-major.
    public func indices(level: Int) -> ArraySlice<Int> {
        indices[(level * tokensPerLevel)..<((level + 1) * tokensPerLevel)]
    }

    /// The first `count` levels only (a lower rate of the same image).
    public func truncated(toLevels count: Int) -> TokenGrid {
        precondition(count >= 1 && count <= levels, "TokenGrid.truncated: \(count) levels requested of \(levels)")
        var copy = self
        copy.levels = count
        copy.codebookSizes = Array(codebookSizes.prefix(count))
        copy.indices = Array(indices.prefix(count * tokensPerLevel))
        return copy
    }

    /// Bits per index of each level when stored raw: ceil(log2 K).
    public var bitsPerIndex: [Int] {
        codebookSizes.map { k in k <= 1 ? 0 : Int.bitWidth - (k - 1).leadingZeroBitCount }
    }

    /// Bits of all indices stored raw (no entropy coding).
    public var rawBits: Int { bitsPerIndex.reduce(0, +) * tokensPerLevel }

    /// Raw bits per pixel of the encoded image.
    public var rawBitsPerPixel: Double { Double(rawBits) / Double(Swift.max(1, imageWidth * imageHeight)) }
}
