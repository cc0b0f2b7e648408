import Foundation
import VQCheckpoint
import VQEngine
import VQImage
import VQModels

/// The tokenizers that ship inside the package.
public enum BuiltinTokenizer: String, CaseIterable, Sendable {
    /// 28x28 gray digits (any multiple-of-4 size works) -> 7x7 tokens of 9 bits (K = 512).
    case mnist
    /// RGB photographs of any size -> residual levels of tokens, one token per 8x8 pixels.
    case photo
}

/// Turns images into grids of discrete tokens and back, with a trained VQ-VAE.
///
/// ```swift
/// let tokenizer = try Tokenizer.builtin(.mnist)
/// let tokens = try tokenizer.encode(try Image(contentsOf: url))   // 7x7 indices in 0..<512
/// let image = try tokenizer.decode(tokens)
/// ```
///
/// Images of any size are accepted: they are padded by edge replication to a multiple of `downsampling` and
/// decoded images are cropped back. A tokenizer is immutable after loading, so one instance can serve many
/// threads at once.
public final class Tokenizer: @unchecked Sendable {
    // Safe to share: after init nothing is mutated; inference records no graph and changes no state.
    let model: any ImageTokenizerModel

    /// The built-in model's name, or nil for a tokenizer loaded from a checkpoint.
    public let name: String?
    /// The model kind recorded in the checkpoint ("conv-vqvae", "photo-vqvae").
    public let modelKind: String
    /// Colour channels of the images it takes and returns (1 gray, 3 RGB).
    public let channels: Int
    /// Pixels per token along each axis.
    public let downsampling: Int
    /// Codes per residual level.
    public let codebookSizes: [Int]
    /// Hex SHA-256 of what decoding depends on (the model kind, then codebooks and decoder tensors by sorted
    /// name: name, shape, float32 bits). Equal fingerprints decode equal tokens to equal images; saving the
    /// model again does not change it.
    public let fingerprint: String

    /// Residual levels available.
    public var levels: Int { codebookSizes.count }

    /// Loads the model of a vqcodec checkpoint (HDF5, or weights-only safetensors with its kind and
    /// configuration in the metadata). Optimiser and training state, if present, are ignored.
    public convenience init(checkpoint url: URL) throws {
        let checkpoint: Checkpoint
        do { checkpoint = try Checkpoint(contentsOf: url) } catch {
            throw TokenizerError.checkpointUnreadable(path: url.path, reason: error.description)
        }
        try self.init(checkpoint, name: nil, path: url.path)
    }

    /// A tokenizer over an already loaded checkpoint.
    public convenience init(_ checkpoint: Checkpoint, name: String? = nil, path: String = "<checkpoint>") throws {
        guard TokenizerModels.kinds.contains(checkpoint.modelKind) else {
            throw TokenizerError.notATokenizer(path: path, kind: checkpoint.modelKind)
        }
        let model: any ImageTokenizerModel
        do {
            model = try TokenizerModels.make(kind: checkpoint.modelKind, configurationJSON: checkpoint.modelConfiguration)
            try checkpoint.load(into: model)
        } catch {
            throw TokenizerError.checkpointUnreadable(path: path, reason: "\(error)")
        }
        self.init(model: model, name: name)
    }

    /// A tokenizer over a model in memory (for example one being trained; do not train it while encoding).
    public init(model: any ImageTokenizerModel, name: String? = nil) {
        self.model = model
        self.name = name
        modelKind = type(of: model).kind
        channels = model.imageChannels
        downsampling = model.downsampling
        codebookSizes = model.quantizer.codebookSizes
        fingerprint = Tokenizer.fingerprint(of: model)
    }

    /// A built-in tokenizer, found in the package's resources with no configuration.
    public static func builtin(_ builtin: BuiltinTokenizer) throws -> Tokenizer {
        try loadedBuiltins.value(for: builtin) {
            guard let url = builtinURL(builtin) else { throw TokenizerError.builtinMissing(name: builtin.rawValue) }
            let checkpoint: Checkpoint
            do { checkpoint = try Checkpoint(contentsOf: url) } catch {
                throw TokenizerError.checkpointUnreadable(path: url.path, reason: "\(error)")
            }
            return try Tokenizer(checkpoint, name: builtin.rawValue, path: url.path)
        }
    }

    private static let loadedBuiltins = LoadedOnce<BuiltinTokenizer, Tokenizer>()

    /// Where a built-in model's weights are, or nil when this build lacks them.
    public static func builtinURL(_ builtin: BuiltinTokenizer) -> URL? { builtinModelURL(builtin.rawValue) }

    /// The built-in tokenizer of this build whose fingerprint is `fingerprint`, if any.
    public static func builtin(fingerprint: String?) -> Tokenizer? {
        guard let fingerprint else { return nil }
        for builtin in BuiltinTokenizer.allCases where builtinURL(builtin) != nil {
            if let t = try? Tokenizer.builtin(builtin), t.fingerprint == fingerprint { return t }
        }
        return nil
    }

    // MARK: Encoding

    /// The tokens of `image` at the first `levels` residual levels (all when nil).
    public func encode(_ image: Image, levels: Int? = nil) throws -> TokenGrid {
        try encode([image], levels: levels)[0]
    }

    /// Tokens of several images (of any sizes; equal sizes are batched together).
    public func encode(_ images: [Image], levels: Int? = nil) throws -> [TokenGrid] {
        let count = levels ?? self.levels
        guard count >= 1 && count <= self.levels else { throw TokenizerError.levelsOutOfRange(requested: count, available: self.levels) }
        for image in images { try check(image) }
        var result = [TokenGrid?](repeating: nil, count: images.count)
        for group in batches(images.indices.map { (images[$0].width, images[$0].height) }) {
            let grids = encodeBatch(group.map { images[$0] }, levels: count)
            for (i, grid) in zip(group, grids) { result[i] = grid }
        }
        return result.map { $0! }
    }

    private func check(_ image: Image) throws {
        guard image.width > 0, image.height > 0 else { throw TokenizerError.emptyImage }
        if image.hasAlpha { throw TokenizerError.alphaChannel(channels: image.channels) }
        guard image.channels == channels else { throw TokenizerError.channelMismatch(expected: channels, found: image.channels) }
    }

    /// Indices of images grouped by size, each group small enough to run at once (about 260,000 pixels, which bounds the activations).
    private func batches(_ sizes: [(Int, Int)]) -> [[Int]] {
        var groups: [[Int]] = []
        var open: [String: Int] = [:]
        let budget = 1 << 18
        for (i, (w, h)) in sizes.enumerated() {
            let key = "\(w)x\(h)"
            if let g = open[key], (groups[g].count + 1) * w * h <= budget {
                groups[g].append(i)
            } else {
                open[key] = groups.count
                groups.append([i])
            }
        }
        return groups
    }

    private func encodeBatch(_ images: [Image], levels: Int) -> [TokenGrid] {
        let (w, h) = (images[0].width, images[0].height)
        let f = downsampling
        let (gw, gh) = ((w + f - 1) / f, (h + f - 1) / f)
        let input = paddedBatch(images, width: gw * f, height: gh * f)
        let perLevel = Autograd.withoutRecording { model.quantizer.indices(for: model.encode(input), levels: levels) }
        let n = gw * gh
        return images.indices.map { b in
            var indices: [Int] = []
            indices.reserveCapacity(levels * n)
            for level in perLevel { indices += level[(b * n)..<((b + 1) * n)] }
            return TokenGrid(levels: levels, height: gh, width: gw, codebookSizes: Array(codebookSizes.prefix(levels)),
                             indices: indices, imageWidth: w, imageHeight: h, modelFingerprint: fingerprint)
        }
    }

    // MARK: Decoding

    /// The image that `tokens` stand for, cropped to the encoded image's size.
    public func decode(_ tokens: TokenGrid) throws -> Image {
        try decode([tokens])[0]
    }

    /// Images for several token grids (grids of equal shape are decoded together).
    public func decode(_ grids: [TokenGrid]) throws -> [Image] {
        for grid in grids { try validate(grid) }
        var result = [Image?](repeating: nil, count: grids.count)
        var groups: [String: [Int]] = [:]
        var order: [String] = []
        for (i, g) in grids.enumerated() {
            let key = "\(g.levels):\(g.height)x\(g.width):\(g.imageWidth)x\(g.imageHeight)"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(i)
        }
        let f = downsampling
        for key in order {
            let members = groups[key]!
            let first = grids[members[0]]
            let perBatch = Swift.max(1, (1 << 18) / Swift.max(1, first.height * first.width * f * f))
            for start in stride(from: 0, to: members.count, by: perBatch) {
                let chunk = Array(members[start..<Swift.min(members.count, start + perBatch)])
                let images = decodeBatch(chunk.map { grids[$0] })
                for (i, image) in zip(chunk, images) { result[i] = image }
            }
        }
        return result.map { $0! }
    }

    /// Checks a grid against this model before anything is decoded.
    public func validate(_ grid: TokenGrid) throws {
        if let found = grid.modelFingerprint, found != fingerprint {
            throw TokenizerError.fingerprintMismatch(expected: fingerprint, found: found)
        }
        guard grid.levels >= 1 && grid.levels <= levels else {
            throw TokenizerError.levelsOutOfRange(requested: grid.levels, available: levels)
        }
        guard grid.codebookSizes == Array(codebookSizes.prefix(grid.levels)) else {
            throw TokenizerError.codebookMismatch(expected: Array(codebookSizes.prefix(grid.levels)), found: grid.codebookSizes)
        }
        let f = downsampling
        guard grid.height >= 1, grid.width >= 1, grid.imageWidth >= 1, grid.imageHeight >= 1 else {
            throw TokenizerError.gridMismatch(detail: "sizes must be positive (grid \(grid.width)x\(grid.height), image \(grid.imageWidth)x\(grid.imageHeight))")
        }
        guard grid.height == (grid.imageHeight + f - 1) / f, grid.width == (grid.imageWidth + f - 1) / f else {
            throw TokenizerError.gridMismatch(detail: "a \(grid.imageWidth)x\(grid.imageHeight) image needs a \((grid.imageWidth + f - 1) / f)x\((grid.imageHeight + f - 1) / f) grid at downsampling \(f), found \(grid.width)x\(grid.height)")
        }
        guard grid.width * grid.height <= Image.maximumPixels / (f * f) else {
            throw TokenizerError.gridMismatch(detail: "a \(grid.width)x\(grid.height) grid decodes to more than \(Image.maximumPixels) pixels")
        }
        guard grid.indices.count == grid.levels * grid.tokensPerLevel else {
            throw TokenizerError.gridMismatch(detail: "\(grid.levels) levels of \(grid.width)x\(grid.height) need \(grid.levels * grid.tokensPerLevel) indices, found \(grid.indices.count)")
        }
        for level in 0..<grid.levels {
            let k = grid.codebookSizes[level]
            for (position, index) in grid.indices(level: level).enumerated() where index < 0 || index >= k {
                throw TokenizerError.indexOutOfRange(level: level, position: position, index: index, codes: k)
            }
        }
    }

    private func decodeBatch(_ grids: [TokenGrid]) -> [Image] {
        let first = grids[0]
        let n = first.tokensPerLevel
        let perLevel = (0..<first.levels).map { level in grids.flatMap { $0.indices(level: level) } }
        let output = Autograd.withoutRecording {
            model.decode(model.quantizer.embed(perLevel, batch: grids.count, height: first.height, width: first.width))
        }
        _ = n
        return cropped(output, width: first.imageWidth, height: first.imageHeight)
    }

    // MARK: Fingerprints

    static func fingerprint(of model: any ImageTokenizerModel) -> String {
        let tensors = Dictionary(model.namedParameters.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        var bytes: [UInt8] = Array(type(of: model).kind.utf8) + [0]
        for name in model.decoderParameterNames.sorted() {
            guard let t = tensors[name] else { continue }
            appendFingerprintBytes(name: name, t, to: &bytes)
        }
        return SHA256.hex(bytes)
    }
}

/// A tensor as model fingerprints hash it: name, a zero byte, u64le rank and sizes, the float32 bits.
func appendFingerprintBytes(name: String, _ t: Tensor, to bytes: inout [UInt8]) {
    bytes += Array(name.utf8) + [0]
    for size in [t.shape.count] + t.shape { withUnsafeBytes(of: UInt64(size).littleEndian) { bytes += $0 } }
    t.data.withUnsafeBufferPointer { values in
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
    }
}

