import Foundation
import VQCheckpoint
import VQData
import VQImage
import VQTokenizer

/// A dataset turned into token sequences once, kept as HDF5 (`Formats/checkpoint.md` rules: fletcher32,
/// fixed-length string attributes) and reused while the tokenizer's fingerprint matches.
///
/// Layout: root attributes `format` = "vqcodec-token-cache", `tokenizer_fingerprint`, `grid` ("HxW"),
/// `codebook_size`; datasets `train_tokens`, `test_tokens` (I32 [N, H*W], row-major grids) and
/// `train_labels`, `test_labels` (I64 [N]; -1 where the data has no labels).
public struct TokenCache: Sendable, Equatable {
    public static let formatName = "vqcodec-token-cache"
    public var tokenizerFingerprint: String
    public var gridHeight: Int
    public var gridWidth: Int
    public var codebookSize: Int
    public var trainTokens: [Int32]
    public var trainLabels: [Int]
    public var testTokens: [Int32]
    public var testLabels: [Int]

    public var sequenceLength: Int { gridHeight * gridWidth }
    public var trainCount: Int { trainLabels.count }
    public var testCount: Int { testLabels.count }

    /// Tokenizes the MNIST training and test splits in `data` with `tokenizer`.
    public static func build(tokenizer: Tokenizer, mnist data: URL, log: (String) -> Void = { _ in }) throws -> TokenCache {
        guard tokenizer.levels == 1 else {
            throw TrainingError.invalidConfiguration("the prior models one token grid; this tokenizer has \(tokenizer.levels) residual levels")
        }
        var cache = TokenCache(tokenizerFingerprint: tokenizer.fingerprint, gridHeight: 0, gridWidth: 0,
                               codebookSize: tokenizer.codebookSizes[0], trainTokens: [], trainLabels: [], testTokens: [], testLabels: [])
        for split in [LabeledImages.Split.train, .test] {
            let start = Date()
            let (tokens, labels, height, width) = try tokenize(tokenizer: tokenizer, mnist: data, split: split)
            log(String(format: "tokenized %d %@ images in %.1f s", labels.count, split == .train ? "training" : "test", Date().timeIntervalSince(start)))
            (cache.gridHeight, cache.gridWidth) = (height, width)
            if split == .train {
                cache.trainTokens = tokens
                cache.trainLabels = labels
            } else {
                cache.testTokens = tokens
                cache.testLabels = labels
            }
        }
        return cache
    }

    /// The tokens (row-major grids, one after another) and labels (-1 when absent) of one MNIST split.
    public static func tokenize(tokenizer: Tokenizer, mnist data: URL, split: LabeledImages.Split)
        throws -> (tokens: [Int32], labels: [Int], gridHeight: Int, gridWidth: Int) {
        let images = try LabeledImages.mnist(directory: data, split: split)
        var tokens: [Int32] = []
        var (height, width) = (0, 0)
        let size = images.imageSize
        for first in stride(from: 0, to: images.count, by: 2048) {
            let batch = (first..<min(images.count, first + 2048)).map { i in
                Image(width: images.width, height: images.height, channels: images.channels,
                      pixels: images.pixels[(i * size)..<((i + 1) * size)].map { UInt8(($0 * 255).rounded()) })
            }
            for grid in try tokenizer.encode(batch) {
                (height, width) = (grid.height, grid.width)
                tokens += grid.indices.map { Int32($0) }
            }
        }
        let labels = images.labels.count == images.count ? images.labels : [Int](repeating: -1, count: images.count)
        return (tokens, labels, height, width)
    }

    public func write(to url: URL) throws {
        try TensorFile.write(to: url, attributes: ["format": Self.formatName, "tokenizer_fingerprint": tokenizerFingerprint,
                                                   "grid": "\(gridHeight)x\(gridWidth)", "codebook_size": String(codebookSize)],
                             tensors: [NamedTensor(name: "train_tokens", tensor: StoredTensor(integers: trainTokens, as: .i32, shape: [trainCount, sequenceLength])),
                                       NamedTensor(name: "train_labels", tensor: StoredTensor(integers: trainLabels.map { Int64($0) }, as: .i64)),
                                       NamedTensor(name: "test_tokens", tensor: StoredTensor(integers: testTokens, as: .i32, shape: [testCount, sequenceLength])),
                                       NamedTensor(name: "test_labels", tensor: StoredTensor(integers: testLabels.map { Int64($0) }, as: .i64))])
    }

    /// Reads a cache; throws when the file is not one or is damaged.
    public init(contentsOf url: URL) throws {
        let names = ["train_tokens", "train_labels", "test_tokens", "test_labels"]
        let (attributes, tensors) = try TensorFile.read(from: url, attributeNames: ["format", "tokenizer_fingerprint", "grid", "codebook_size"],
                                                        tensorNames: names)
        // A bad cache is only ever derived data: deleting it makes `vqcodec train prior` tokenize again.
        func damaged(_ detail: String) -> TrainingError {
            .failed("\(url.path) \(detail); delete it and `vqcodec train prior` tokenizes the data again")
        }
        guard attributes["format"] == Self.formatName, let fingerprint = attributes["tokenizer_fingerprint"],
              let grid = attributes["grid"]?.split(separator: "x").compactMap({ Int($0) }), grid.count == 2,
              let k = attributes["codebook_size"].flatMap(Int.init), k >= 2 else {
            throw damaged("is not a vqcodec token cache: expected the root attributes format = \(Self.formatName), tokenizer_fingerprint, grid and codebook_size, found \(attributes)")
        }
        let length = grid[0] * grid[1]
        func tokens(_ name: String) throws -> [Int32] {
            let t = tensors[name]!
            guard t.shape.count == 2, t.shape[1] == length else { throw damaged("holds \(name) of shape \(t.shape), expected [N, \(length)]") }
            let values = try t.integers()
            guard values.allSatisfy({ (0..<k).contains($0) }) else { throw damaged("holds \(name) with indices outside 0..<\(k)") }
            return values.map { Int32($0) }
        }
        tokenizerFingerprint = fingerprint
        gridHeight = grid[0]
        gridWidth = grid[1]
        codebookSize = k
        trainTokens = try tokens("train_tokens")
        testTokens = try tokens("test_tokens")
        trainLabels = try tensors["train_labels"]!.integers()
        testLabels = try tensors["test_labels"]!.integers()
        guard trainLabels.count * length == trainTokens.count, testLabels.count * length == testTokens.count else {
            throw damaged("holds \(trainLabels.count) + \(testLabels.count) labels for \(trainTokens.count / length) + \(testTokens.count / length) token grids; expected as many of each")
        }
    }

    init(tokenizerFingerprint: String, gridHeight: Int, gridWidth: Int, codebookSize: Int, trainTokens: [Int32], trainLabels: [Int],
         testTokens: [Int32], testLabels: [Int]) {
        self.tokenizerFingerprint = tokenizerFingerprint
        self.gridHeight = gridHeight
        self.gridWidth = gridWidth
        self.codebookSize = codebookSize
        self.trainTokens = trainTokens
        self.trainLabels = trainLabels
        self.testTokens = testTokens
        self.testLabels = testLabels
    }

    /// The cache at `url` when it was made with `tokenizer`; otherwise a new one, written there.
    public static func loadOrBuild(at url: URL, tokenizer: Tokenizer, mnist data: URL, log: (String) -> Void) throws -> TokenCache {
        if FileManager.default.fileExists(atPath: url.path) {
            if let cache = try? TokenCache(contentsOf: url), cache.tokenizerFingerprint == tokenizer.fingerprint {
                log("reusing the token cache \(url.path) (tokenizer fingerprint \(tokenizer.fingerprint.prefix(16)))")
                return cache
            }
            log("the token cache \(url.path) was made with another tokenizer or is unreadable; tokenizing again")
        }
        let cache = try build(tokenizer: tokenizer, mnist: data, log: log)
        try cache.write(to: url)
        return cache
    }
}
