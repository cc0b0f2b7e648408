import Foundation
import VQCheckpoint
import VQImage
import VQModels
import VQTokenizer

/// Photographs of any size turned into token grids (every residual level) once, kept as HDF5 (fletcher32,
/// fixed-length string attributes) and reused while the tokenizer's fingerprint matches.
///
/// Layout: root attributes `format` = "vqcodec-photo-token-cache", `tokenizer_fingerprint`, `levels`,
/// `codebook_size`; datasets `train_indices`, `test_indices` (I32, every grid's indices one after another,
/// each level-major then row-major) and `train_shapes`, `test_shapes` (I64 [N, 2]: grid height, width).
public struct PhotoTokenCache: Sendable, Equatable {
    public static let formatName = "vqcodec-photo-token-cache"

    /// One image's tokens: `levels` grids of `height` x `width`.
    public struct Grid: Sendable, Equatable {
        public var height: Int
        public var width: Int
        /// Level-major, then row-major.
        public var indices: [Int32]
    }

    public var tokenizerFingerprint: String
    public var levels: Int
    public var codebookSize: Int
    public var train: [Grid]
    public var test: [Grid]

    /// Tokenizes the PNG/PPM photographs of `trainFolders` and the first `testImages` of `testFolder`.
    public static func build(tokenizer: Tokenizer, trainFolders: [URL], testFolder: URL, testImages: Int,
                             log: (String) -> Void = { _ in }) throws -> PhotoTokenCache {
        func grids(_ folders: [URL], limit: Int?) throws -> [Grid] {
            var images = try loadPNGFolders(folders, channels: tokenizer.channels)
            if let limit { images = Array(images.prefix(limit)) }
            let start = Date()
            var result: [Grid] = []
            for image in images {
                let grid = try tokenizer.encode(image, levels: tokenizer.levels)
                result.append(Grid(height: grid.height, width: grid.width, indices: grid.indices.map { Int32($0) }))
            }
            log(String(format: "tokenized %d images (%d levels) in %.1f s", images.count, tokenizer.levels, Date().timeIntervalSince(start)))
            return result
        }
        return PhotoTokenCache(tokenizerFingerprint: tokenizer.fingerprint, levels: tokenizer.levels, codebookSize: tokenizer.codebookSizes[0],
                               train: try grids(trainFolders, limit: nil), test: try grids([testFolder], limit: testImages))
    }

    public func write(to url: URL) throws {
        func tensors(_ name: String, _ grids: [Grid]) -> [NamedTensor] {
            [NamedTensor(name: "\(name)_indices", tensor: StoredTensor(integers: grids.flatMap(\.indices), as: .i32)),
             NamedTensor(name: "\(name)_shapes", tensor: StoredTensor(integers: grids.flatMap { [Int64($0.height), Int64($0.width)] }, as: .i64,
                                                                      shape: [grids.count, 2]))]
        }
        try TensorFile.write(to: url, attributes: ["format": Self.formatName, "tokenizer_fingerprint": tokenizerFingerprint,
                                                   "levels": String(levels), "codebook_size": String(codebookSize)],
                             tensors: tensors("train", train) + tensors("test", test))
    }

    /// Reads a cache; throws when the file is not one or is damaged.
    public init(contentsOf url: URL) throws {
        let (attributes, tensors) = try TensorFile.read(from: url, attributeNames: ["format", "tokenizer_fingerprint", "levels", "codebook_size"],
                                                        tensorNames: ["train_indices", "train_shapes", "test_indices", "test_shapes"])
        func damaged(_ detail: String) -> TrainingError {
            .failed("\(url.path) \(detail); delete it and `vqcodec train prior` tokenizes the photographs again")
        }
        guard attributes["format"] == Self.formatName, let fingerprint = attributes["tokenizer_fingerprint"],
              let levels = attributes["levels"].flatMap(Int.init), (1...4).contains(levels),
              let k = attributes["codebook_size"].flatMap(Int.init), k >= 2 else {
            throw damaged("is not a vqcodec photo token cache: expected the root attributes format = \(Self.formatName), tokenizer_fingerprint, levels and codebook_size")
        }
        func grids(_ name: String) throws -> [Grid] {
            let indices = try tensors["\(name)_indices"]!.integers()
            let shapes = try tensors["\(name)_shapes"]!.integers()
            guard shapes.count % 2 == 0, shapes.allSatisfy({ $0 >= 1 && $0 <= 4096 }) else { throw damaged("holds invalid \(name)_shapes") }
            var result: [Grid] = [], offset = 0
            for i in 0..<(shapes.count / 2) {
                let count = levels * shapes[2 * i] * shapes[2 * i + 1]
                guard offset + count <= indices.count else { throw damaged("holds fewer \(name) indices than its shapes need") }
                let slice = indices[offset..<(offset + count)]
                guard slice.allSatisfy({ (0..<k).contains($0) }) else { throw damaged("holds \(name) indices outside 0..<\(k)") }
                result.append(Grid(height: shapes[2 * i], width: shapes[2 * i + 1], indices: slice.map { Int32($0) }))
                offset += count
            }
            guard offset == indices.count else { throw damaged("holds more \(name) indices than its shapes need") }
            return result
        }
        self.init(tokenizerFingerprint: fingerprint, levels: levels, codebookSize: k, train: try grids("train"), test: try grids("test"))
    }

    init(tokenizerFingerprint: String, levels: Int, codebookSize: Int, train: [Grid], test: [Grid]) {
        self.tokenizerFingerprint = tokenizerFingerprint
        self.levels = levels
        self.codebookSize = codebookSize
        self.train = train
        self.test = test
    }

    /// The cache at `url` when it was made with `tokenizer`; otherwise a new one, written there.
    public static func loadOrBuild(at url: URL, tokenizer: Tokenizer, trainFolders: [URL], testFolder: URL, testImages: Int,
                                   log: (String) -> Void) throws -> PhotoTokenCache {
        if FileManager.default.fileExists(atPath: url.path) {
            if let cache = try? PhotoTokenCache(contentsOf: url), cache.tokenizerFingerprint == tokenizer.fingerprint, cache.test.count == testImages {
                log("reusing the token cache \(url.path) (tokenizer fingerprint \(tokenizer.fingerprint.prefix(16)))")
                return cache
            }
            log("the token cache \(url.path) was made with another tokenizer or test count, or is unreadable; tokenizing again")
        }
        let cache = try build(tokenizer: tokenizer, trainFolders: trainFolders, testFolder: testFolder, testImages: testImages, log: log)
        try cache.write(to: url)
        return cache
    }
}

/// Every token of a set of grids as a training example of a `ContextPrior`: its context rows, level and value.
struct ContextSamples {
    let slots: Int
    /// `count` x `slots` embedding rows.
    var rows: [Int32] = []
    var levels: [UInt8] = []
    var targets: [Int32] = []
    var count: Int { targets.count }

    init(grids: [PhotoTokenCache.Grid], configuration c: ContextPrior.Configuration) {
        slots = c.slots
        var buffer = [Int](repeating: 0, count: c.slots)
        for grid in grids {
            let plane = grid.height * grid.width
            let levelCount = min(c.levels, grid.indices.count / plane)
            grid.indices.withUnsafeBufferPointer { g in
                buffer.withUnsafeMutableBufferPointer { b in
                    for level in 0..<levelCount {
                        for y in 0..<grid.height {
                            for x in 0..<grid.width {
                                ContextPrior.contextRows(g, height: grid.height, width: grid.width, level: level, y: y, x: x, configuration: c, into: b.baseAddress!)
                                for s in 0..<c.slots { rows.append(Int32(b[s])) }
                                levels.append(UInt8(level))
                                targets.append(g[level * plane + y * grid.width + x])
                            }
                        }
                    }
                }
            }
        }
    }

    /// The rows, levels and targets of the examples at `indices`.
    func batch<C: Collection>(_ indices: C) -> (rows: [Int], levels: [Int], targets: [Int]) where C.Element == Int {
        var r: [Int] = [], l: [Int] = [], t: [Int] = []
        r.reserveCapacity(indices.count * slots)
        for i in indices {
            for s in 0..<slots { r.append(Int(rows[i * slots + s])) }
            l.append(Int(levels[i]))
            t.append(Int(targets[i]))
        }
        return (r, l, t)
    }
}
