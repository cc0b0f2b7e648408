/// The payload codings of Formats/vqc.md over the index arrays of all levels, one continuous bit stream.
enum TokenPacking {
    static func pack(levels: [LevelShape], indices: [[Int]]) -> [UInt8] {
        var writer = BitWriter()
        for (level, values) in zip(levels, indices) {
            let bits = level.bitsPerIndex
            for v in values { writer.write(UInt32(v), bits: bits) }
        }
        return writer.finish()
    }

    static func unpack(_ bytes: [UInt8], levels: [LevelShape]) throws(ContainerError) -> [[Int]] {
        var reader = BitReader(bytes)
        var result: [[Int]] = []
        for (i, level) in levels.enumerated() {
            let bits = level.bitsPerIndex
            var values = [Int]()
            values.reserveCapacity(level.count)
            for _ in 0..<level.count {
                let v = Int(try reader.read(bits: bits))
                guard v < level.codebookSize else {
                    throw .payloadCorrupt("level \(i) has index \(v), but its codebook has \(level.codebookSize) entries")
                }
                values.append(v)
            }
            result.append(values)
        }
        try reader.checkPadding()
        return result
    }

    /// Per level: the most frequent index (lowest on ties) in `bits`, then per token 1 for that index, or 0 and the index.
    static func packFrequentFlag(levels: [LevelShape], indices: [[Int]]) -> [UInt8] {
        var writer = BitWriter()
        for (level, values) in zip(levels, indices) {
            let bits = level.bitsPerIndex
            var counts = [Int](repeating: 0, count: level.codebookSize)
            for v in values { counts[v] += 1 }
            var frequent = 0
            for k in 0..<counts.count where counts[k] > counts[frequent] { frequent = k }
            writer.write(UInt32(frequent), bits: bits)
            for v in values {
                if v == frequent { writer.write(1, bits: 1) } else { writer.write(0, bits: 1); writer.write(UInt32(v), bits: bits) }
            }
        }
        return writer.finish()
    }

    static func unpackFrequentFlag(_ bytes: [UInt8], levels: [LevelShape]) throws(ContainerError) -> [[Int]] {
        var reader = BitReader(bytes)
        var result: [[Int]] = []
        for (i, level) in levels.enumerated() {
            let bits = level.bitsPerIndex
            let frequent = Int(try reader.read(bits: bits))
            guard frequent < level.codebookSize else {
                throw .payloadCorrupt("level \(i) names index \(frequent) as frequent, but its codebook has \(level.codebookSize) entries")
            }
            var values = [Int]()
            values.reserveCapacity(level.count)
            for _ in 0..<level.count {
                if try reader.read(bits: 1) == 1 { values.append(frequent); continue }
                let v = Int(try reader.read(bits: bits))
                guard v < level.codebookSize else {
                    throw .payloadCorrupt("level \(i) has index \(v), but its codebook has \(level.codebookSize) entries")
                }
                values.append(v)
            }
            result.append(values)
        }
        try reader.checkPadding()
        return result
    }

    /// Method 3: every token arithmetic-coded with its level's table for its grid position.
    static func packStatistics(levels: [LevelShape], indices: [[Int]], statistics: TokenStatistics) -> [UInt8] {
        var encoder = ArithmeticEncoder()
        for (l, (level, values)) in zip(levels, indices).enumerated() {
            for (p, v) in values.enumerated() { encoder.encode(v, statistics.table(level: l, position: p, shape: level)!) }
        }
        return encoder.finish()
    }

    static func unpackStatistics(_ bytes: [UInt8], levels: [LevelShape], statistics: TokenStatistics) throws(ContainerError) -> [[Int]] {
        var decoder = ArithmeticDecoder(bytes)
        var result: [[Int]] = []
        for (l, level) in levels.enumerated() {
            var values = [Int]()
            values.reserveCapacity(level.count)
            for p in 0..<level.count {
                guard let table = statistics.table(level: l, position: p, shape: level) else {
                    throw .payloadCorrupt("no token statistics for level \(l)")
                }
                values.append(decoder.decode(table))
            }
            result.append(values)
        }
        // A valid stream is never shorter than what the decoder needed to settle its last symbol.
        guard decoder.overrun == 0 else { throw .payloadCorrupt("the arithmetic-coded tokens end early") }
        return result
    }
}
