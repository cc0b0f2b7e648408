import Foundation
import VQImage
import VQModels
import VQTokenizer

/// `.vqc` method 5 (Formats/vqc.md): every level's indices, level by level and each in raster order,
/// arithmetic-coded with the table a `ContextPrior` gives from the token's context (same-level neighbours
/// already coded, lower levels at the same place). Encoding knows every context up front and computes the
/// tables on all cores; decoding must go token by token.
enum ContextCoding {
    /// The coding tables of every token of `indices` (level-major, row-major), in coding order.
    static func tables(_ indices: [[Int]], levels: [LevelShape], weights: ContextPriorWeights) -> [FrequencyTable] {
        let (height, width) = (levels[0].height, levels[0].width)
        let grid = indices.flatMap { $0.map { Int32($0) } }
        let plane = height * width
        nonisolated(unsafe) let tables = UnsafeMutableBufferPointer<FrequencyTable?>.allocate(capacity: grid.count)
        tables.initialize(repeating: nil)
        defer { tables.deallocate() }
        let rowsOfWork = levels.count * height
        DispatchQueue.concurrentPerform(iterations: rowsOfWork) { job in
            let (level, y) = (job / height, job % height)
            var rows = [Int](repeating: 0, count: weights.configuration.slots)
            for x in 0..<width {
                tables[level * plane + y * width + x] = PriorCoder.table(weights.logits(at: level, y, x, of: grid, height: height, width: width, rows: &rows))
            }
        }
        return tables.map { $0! }
    }

    static func encode(_ indices: [[Int]], levels: [LevelShape], weights: ContextPriorWeights) -> [UInt8] {
        PriorCoder.encode(indices.flatMap { $0 }, tables: tables(indices, levels: levels, weights: weights))
    }

    static func decode(_ payload: [UInt8], levels: [LevelShape], weights: ContextPriorWeights) throws(ContainerError) -> [[Int]] {
        let (height, width) = (levels[0].height, levels[0].width)
        let plane = height * width
        var grid = [Int32](repeating: 0, count: levels.count * plane)
        var decoder = ArithmeticDecoder(payload)
        var rows = [Int](repeating: 0, count: weights.configuration.slots)
        for level in 0..<levels.count {
            for y in 0..<height {
                for x in 0..<width {
                    // The context reads only tokens decoded before this one.
                    let logits = weights.logits(at: level, y, x, of: grid, height: height, width: width, rows: &rows)
                    grid[level * plane + y * width + x] = Int32(decoder.decode(PriorCoder.table(logits)))
                }
                // A damaged or hostile header can claim a huge grid for a short payload: stop at the first row
                // that reads past its end rather than decoding the rest from zeros.
                guard decoder.overrun == 0 else { throw .payloadCorrupt("the prior-coded tokens end early (level \(level), row \(y))") }
            }
        }
        guard decoder.overrun == 0 else { throw .payloadCorrupt("the prior-coded tokens end early") }
        return (0..<levels.count).map { l in grid[(l * plane)..<((l + 1) * plane)].map { Int($0) } }
    }
}

/// Real `.vqc` file sizes of photographs coded with a bounded-context prior (method 5) beside the best of
/// methods 0 to 3, for each number of residual levels, with the prior's ideal code length: what
/// `vqcodec eval prior` reports for such a prior.
public struct ContextPriorCodingReport: Codable, Sendable {
    public struct Row: Codable, Sendable {
        public var levels: Int
        /// Mean bits per pixel of the whole files.
        public var automaticBitsPerPixel: Double
        public var priorBitsPerPixel: Double
        /// Mean bits per token of the prior's quantised tables (the ideal code length) and of the real payloads.
        public var estimatedBitsPerToken: Double
        public var payloadBitsPerToken: Double
        /// The largest excess of a payload over ceil(estimated bits / 8), in bytes.
        public var worstExcessBytes: Int
        public var priorToAutomatic: Double { priorBitsPerPixel / automaticBitsPerPixel }
    }
    public var images: Int
    public var rows: [Row]

    public static func measure(coder: PriorCoder, tokenizer: Tokenizer, images: [Image]) throws -> ContextPriorCodingReport {
        guard case let .context(prior) = coder.model else { throw ContainerError.priorUnusable(fingerprint: String(tokenizer.fingerprint.prefix(16))) }
        let levels = min(prior.configuration.levels, tokenizer.levels)
        let fingerprint = Codec.fingerprintPrefix(tokenizer.fingerprint)
        let statistics = TokenStatistics.shipped(fingerprintPrefix: fingerprint)
        var rows: [Row] = []
        let grids = try images.map { try tokenizer.encode($0, levels: levels) }
        for n in 1...levels {
            var automatic = 0.0, coded = 0.0, estimated = 0.0, payload = 0.0, tokens = 0.0, worst = Int.min
            for (image, full) in zip(images, grids) {
                let grid = full.truncated(toLevels: n)
                let shapes = (0..<n).map { LevelShape(height: grid.height, width: grid.width, codebookSize: grid.codebookSizes[$0]) }
                let indices = (0..<n).map { Array(grid.indices(level: $0)) }
                let pixels = Double(image.width * image.height)
                let automaticFile = try ContainerFile.encode(fingerprint: fingerprint, modelName: tokenizer.name, width: image.width,
                                                             height: image.height, channels: tokenizer.channels, levels: shapes,
                                                             indices: indices, statistics: statistics)
                // One pass of the prior gives both the payload and its ideal length; the file is its header, that
                // payload and the 4-byte checksum.
                let tables = ContextCoding.tables(indices, levels: shapes, weights: prior.weights)
                let bits = PriorCoder.bits(indices.flatMap { $0 }, tables: tables)
                let bytes = PriorCoder.encode(indices.flatMap { $0 }, tables: tables).count
                let header = ContainerHeader(method: .contextPrior, fingerprint: fingerprint, priorFingerprint: coder.fingerprintPrefix,
                                             modelName: tokenizer.name, width: image.width, height: image.height, channels: tokenizer.channels,
                                             levels: shapes, payloadLength: bytes)
                automatic += Double(automaticFile.count) * 8 / pixels
                coded += Double(header.serialized().count + bytes + 4) * 8 / pixels
                estimated += bits
                payload += Double(bytes * 8)
                tokens += Double(n * grid.tokensPerLevel)
                worst = max(worst, bytes - Int((bits / 8).rounded(.up)))
            }
            let count = Double(max(1, images.count))
            rows.append(Row(levels: n, automaticBitsPerPixel: automatic / count, priorBitsPerPixel: coded / count,
                            estimatedBitsPerToken: estimated / max(1, tokens), payloadBitsPerToken: payload / max(1, tokens), worstExcessBytes: worst))
        }
        return ContextPriorCodingReport(images: images.count, rows: rows)
    }
}
