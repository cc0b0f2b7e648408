import Foundation
import VQImage
import VQTokenizer

/// How often each code appears, per level and per grid position, in a model's tokens of its training set: the
/// static prior of method 3 (`Formats/vqc.md`). Files live in `Sources/VQCodec/Statistics/<fingerprint>.vqstats`,
/// written by `vqcodec token-stats`; a file coded with method 3 can only be decoded where the same statistics are.
public struct TokenStatistics: Sendable {
    public struct Level: Sendable {
        public var codebookSize: Int
        /// The grid the positional counts were gathered on (other grid shapes use `global`).
        public var gridHeight: Int
        public var gridWidth: Int
        /// `gridHeight * gridWidth` arrays of `codebookSize` counts.
        public var positional: [[UInt64]]
        public var global: [UInt64]
    }

    /// The model's full hex fingerprint.
    public var fingerprint: String
    public var levels: [Level]

    // Coding tables, built once.
    let globalTables: [FrequencyTable]
    let positionalTables: [[FrequencyTable]]

    public init(fingerprint: String, levels: [Level]) {
        self.fingerprint = fingerprint
        self.levels = levels
        globalTables = levels.map { FrequencyTable(counts: $0.global) }
        // Per position: the position's counts with weight 7 to the global distribution's 1 (counts are rescaled so
        // both sum alike), so a code never seen at a position still costs little more than elsewhere.
        positionalTables = levels.map { level in
            let positions = UInt64(max(level.positional.count, 1))
            return level.positional.map { counts in
                FrequencyTable(counts: zip(counts, level.global).map { 7 * $0 * positions + $1 })
            }
        }
    }

    /// The table for a token, or nil when this level is not covered.
    func table(level: Int, position: Int, shape: LevelShape) -> FrequencyTable? {
        guard level < levels.count, levels[level].codebookSize == shape.codebookSize else { return nil }
        if shape.height == levels[level].gridHeight && shape.width == levels[level].gridWidth && !positionalTables[level].isEmpty {
            return positionalTables[level][position]
        }
        return globalTables[level]
    }

    func covers(_ shapes: [LevelShape]) -> Bool {
        shapes.count <= levels.count && zip(shapes, levels).allSatisfy { $0.codebookSize == $1.codebookSize }
    }

    /// Counts tokens: `grids` are per image, per level, row-major indices.
    public static func collect(fingerprint: String, shapes: [LevelShape], grids: [[[Int]]]) -> TokenStatistics {
        let levels = shapes.enumerated().map { l, shape -> Level in
            var positional = [[UInt64]](repeating: [UInt64](repeating: 0, count: shape.codebookSize), count: shape.count)
            var global = [UInt64](repeating: 0, count: shape.codebookSize)
            for grid in grids {
                for (p, code) in grid[l].enumerated() {
                    positional[p][code] += 1
                    global[code] += 1
                }
            }
            return Level(codebookSize: shape.codebookSize, gridHeight: shape.height, gridWidth: shape.width,
                         positional: positional, global: global)
        }
        return TokenStatistics(fingerprint: fingerprint, levels: levels)
    }

    // MARK: File format: "VQS1", u8 fingerprint length + ASCII hex, u8 levels, per level u32 K, u16 grid height,
    // u16 grid width, then for the global counts and each position: u32 n, n x (u16 code, u32 count); little-endian.

    public func serialized() -> [UInt8] {
        var out = Array("VQS1".utf8)
        out.append(UInt8(fingerprint.utf8.count))
        out += Array(fingerprint.utf8)
        out.append(UInt8(levels.count))
        func u16(_ v: Int) { out += [UInt8(v & 255), UInt8(v >> 8 & 255)] }
        func u32(_ v: UInt64) { out.appendUInt32LE(UInt32(min(v, UInt64(UInt32.max)))) }
        for level in levels {
            u32(UInt64(level.codebookSize))
            u16(level.gridHeight)
            u16(level.gridWidth)
            for counts in [level.global] + level.positional {
                let nonzero = counts.enumerated().filter { $0.element > 0 }
                u32(UInt64(nonzero.count))
                for (code, count) in nonzero { u16(code); u32(count) }
            }
        }
        return out
    }

    public init(serialized bytes: [UInt8]) throws(ContainerError) {
        var r = ByteReader(bytes)
        guard try r.bytes(4, "statistics magic") == Array("VQS1".utf8) else {
            throw .invalidField(name: "statistics magic", found: "other bytes", expected: "VQS1")
        }
        let fingerprint = String(decoding: try r.bytes(Int(try r.byte("fingerprint length")), "fingerprint"), as: UTF8.self)
        let count = Int(try r.byte("statistics levels"))
        func u16() throws(ContainerError) -> Int { let b = try r.bytes(2, "statistics"); return Int(b[0]) | Int(b[1]) << 8 }
        var levels: [Level] = []
        for _ in 0..<count {
            let k = Int(try r.uint32LE("codebook size"))
            let (h, w) = (try u16(), try u16())
            guard (2...ContainerHeader.maximumCodebookSize).contains(k), h * w <= 1 << 16 else {
                throw .invalidField(name: "statistics shape", found: "K \(k), grid \(h)x\(w)", expected: "K <= 65536, grid <= 65536 positions")
            }
            var tables: [[UInt64]] = []
            for _ in 0..<(1 + h * w) {
                var counts = [UInt64](repeating: 0, count: k)
                let n = Int(try r.uint32LE("statistics entries"))
                guard n <= k else { throw .invalidField(name: "statistics entries", found: "\(n)", expected: "at most \(k)") }
                for _ in 0..<n {
                    let code = try u16()
                    let value = UInt64(try r.uint32LE("statistics count"))
                    guard code < k else { throw .invalidField(name: "statistics code", found: "\(code)", expected: "below \(k)") }
                    counts[code] = value
                }
                tables.append(counts)
            }
            levels.append(Level(codebookSize: k, gridHeight: h, gridWidth: w, positional: Array(tables.dropFirst()), global: tables[0]))
        }
        self.init(fingerprint: fingerprint, levels: levels)
    }

    /// The statistics shipped for the model whose fingerprint starts with `prefix` (4 or 8 bytes), if any.
    public static func shipped(fingerprintPrefix prefix: [UInt8]) -> TokenStatistics? {
        ShippedStatistics.shared.lookup(prefix)
    }
}

/// The `.vqstats` resources of this build, loaded on first use.
final class ShippedStatistics: @unchecked Sendable {
    static let shared = ShippedStatistics()
    private let lock = NSLock()
    private var loaded: [[UInt8]: TokenStatistics]?

    func lookup(_ prefix: [UInt8]) -> TokenStatistics? {
        lock.lock()
        defer { lock.unlock() }
        if loaded == nil {
            var table: [[UInt8]: TokenStatistics] = [:]
            let urls = Bundle.module.urls(forResourcesWithExtension: "vqstats", subdirectory: "Statistics") ?? []
            for url in urls {
                guard let data = try? Data(contentsOf: url as URL), let stats = try? TokenStatistics(serialized: [UInt8](data)) else { continue }
                table[Codec.fingerprintPrefix(stats.fingerprint)] = stats
            }
            loaded = table
        }
        return loaded?.first { ContainerHeader.fingerprint(prefix, matches: $0.key) }?.value
    }
}

extension TokenStatistics {
    /// Counts the tokens `tokenizer` gives `images` (all of one size; that grid gets positional counts).
    public static func gather(tokenizer: Tokenizer, images: [Image], batch: Int = 2048) throws -> TokenStatistics {
        guard let first = images.first else { throw CodecError.cannotRead(path: "data", reason: "no images") }
        var grids: [[[Int]]] = []
        var shapes: [LevelShape] = []
        for start in stride(from: 0, to: images.count, by: batch) {
            for grid in try tokenizer.encode(Array(images[start..<min(images.count, start + batch)])) {
                shapes = grid.codebookSizes.map { LevelShape(height: grid.height, width: grid.width, codebookSize: $0) }
                grids.append((0..<grid.levels).map { Array(grid.indices(level: $0)) })
            }
        }
        _ = first
        return collect(fingerprint: tokenizer.fingerprint, shapes: shapes, grids: grids)
    }

    /// Average cost in bits per token of coding with these statistics (their cross-entropy on `grids`).
    public func bitsPerToken(shapes: [LevelShape], grids: [[[Int]]]) -> Double {
        var bits = 0.0, count = 0
        for grid in grids {
            for (l, shape) in shapes.enumerated() {
                for (p, v) in grid[l].enumerated() {
                    guard let t = table(level: l, position: p, shape: shape) else { continue }
                    bits -= log2(Double(t.cumulative[v + 1] - t.cumulative[v]) / Double(t.total))
                    count += 1
                }
            }
        }
        return bits / Double(max(count, 1))
    }
}
