/// The `.vqc` container (Formats/vqc.md): header, token payload, CRC-32. This file knows bytes and token indices only;
/// `Codec` connects it to images and tokenizers.

/// How the token indices are stored in the payload.
public enum EntropyMethod: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Bit-packed indices (ceil(log2 K) bits each) inside one zstd frame with a content checksum.
    case zstd = 0
    /// The same bit-packed indices without zstd: smaller for short grids, where a zstd frame's own bytes dominate.
    case stored = 1
    /// Bit-packed, with the most frequent index of each level coded as a single 1 bit (others as 0 + index).
    case frequentFlag = 2
    /// Arithmetic coding with the model's token statistics (per grid position), shipped beside the model.
    case statistics = 3
    /// Arithmetic coding with an autoregressive prior's next-token probabilities; the header names the prior.
    case prior = 4
    /// Arithmetic coding with a bounded-context prior over the residual levels; the header names the prior.
    case contextPrior = 5

    public var description: String {
        switch self {
        case .zstd: return "zstd (bit-packed indices in a zstd frame)"
        case .stored: return "stored (bit-packed indices)"
        case .frequentFlag: return "frequent-flag (bit-packed, most frequent index as one bit)"
        case .statistics: return "statistics (arithmetic coding with the model's token statistics)"
        case .prior: return "prior (arithmetic coding with an autoregressive prior's probabilities)"
        case .contextPrior: return "context prior (arithmetic coding with a bounded-context prior's probabilities)"
        }
    }

    /// Whether the header names a prior (methods 4 and 5).
    public var namesPrior: Bool { self == .prior || self == .contextPrior }

    public var shortName: String { ["zstd", "stored", "frequent-flag", "statistics", "prior", "context-prior"][Int(rawValue)] }
    static var knownList: String { allCases.map { "\($0.rawValue) (\($0.shortName))" }.joined(separator: ", ") }
}

/// One level of a token grid: its shape and codebook size.
public struct LevelShape: Equatable, Sendable, Codable {
    public var height: Int
    public var width: Int
    public var codebookSize: Int
    public init(height: Int, width: Int, codebookSize: Int) {
        self.height = height
        self.width = width
        self.codebookSize = codebookSize
    }
    public var count: Int { height * width }
    public var bitsPerIndex: Int { VQCodec.bitsPerIndex(codebookSize: codebookSize) }
}

/// Every field of a `.vqc` header (Formats/vqc.md). Values are validated when read and before being written.
public struct ContainerHeader: Equatable, Sendable {
    public static let magic: [UInt8] = Array("VQC".utf8)
    /// Version 2 stores 4-byte fingerprints and a built-in model's number instead of its name (9 bytes less,
    /// 13 with a prior); version 1 files are still read.
    public static let currentVersion = 2
    /// The fingerprint prefix the codec compares (a version 2 file stores the first `storedFingerprintLength`).
    public static let fingerprintLength = 8
    /// The fingerprint bytes a file of `version` stores.
    public static func storedFingerprintLength(version: Int) -> Int { version == 1 ? 8 : 4 }
    /// Version 2's built-in model numbers: `builtinNames[n - 1]` is model n (0: not a built-in). Append only.
    public static let builtinNames = ["mnist", "photo"]
    /// Whether a file's stored fingerprint bytes are those of the fingerprint whose prefix is `prefix`.
    public static func fingerprint(_ stored: [UInt8], matches prefix: [UInt8]) -> Bool { !stored.isEmpty && prefix.starts(with: stored) }
    /// Caps, checked before anything is allocated: a file cannot ask for an absurd image or token grid.
    public static let maximumSide = 32_768
    public static let maximumPixels = 1 << 25
    public static let maximumLevels = 4
    public static let maximumCodebookSize = 1 << 16
    public static let maximumNameLength = 32

    public var version: Int = ContainerHeader.currentVersion
    public var method: EntropyMethod
    /// The first bytes of the model's fingerprint (a SHA-256 over the decoder's tensors), as many as the version stores.
    public var fingerprint: [UInt8]
    /// Methods 4 and 5 only: the first bytes of the prior's fingerprint, as many as the version stores.
    public var priorFingerprint: [UInt8]?
    /// The built-in model's name (`mnist`, `photo`), or nil for a model given as a checkpoint path.
    public var modelName: String?
    public var width: Int
    public var height: Int
    public var channels: Int
    public var levels: [LevelShape]
    public var payloadLength: Int

    /// Longer fingerprints are cut to the bytes `version` stores.
    public init(version: Int = ContainerHeader.currentVersion, method: EntropyMethod, fingerprint: [UInt8], priorFingerprint: [UInt8]? = nil,
                modelName: String?, width: Int, height: Int, channels: Int, levels: [LevelShape], payloadLength: Int) {
        let stored = ContainerHeader.storedFingerprintLength(version: version)
        self.version = version
        self.method = method
        self.fingerprint = Array(fingerprint.prefix(stored))
        self.priorFingerprint = priorFingerprint.map { Array($0.prefix(stored)) }
        self.modelName = modelName
        self.width = width
        self.height = height
        self.channels = channels
        self.levels = levels
        self.payloadLength = payloadLength
    }

    /// Total number of tokens over all levels.
    public var tokenCount: Int { levels.reduce(0) { $0 + $1.count } }
    /// Bytes of the bit-packed indices (methods 0 and 1), padding included.
    public var packedLength: Int { (levels.reduce(0) { $0 + $1.count * $1.bitsPerIndex } + 7) / 8 }

    public var fingerprintHex: String { fingerprint.map { byteHex($0) }.joined() }
    public var priorFingerprintHex: String? { priorFingerprint.map { $0.map { byteHex($0) }.joined() } }

    /// The header's bytes, without payload and checksum.
    func serialized() -> [UInt8] {
        var out = ContainerHeader.magic
        out.append(UInt8(version))
        out.append(method.rawValue)
        out += fingerprint
        if method.namesPrior { out += priorFingerprint ?? [] }
        if version == 1 {
            let name = Array((modelName ?? "").utf8)
            out.appendVarint(name.count)
            out += name
        } else {
            out.append(UInt8(modelName.flatMap { ContainerHeader.builtinNames.firstIndex(of: $0) }.map { $0 + 1 } ?? 0))
        }
        out.appendVarint(width)
        out.appendVarint(height)
        out.append(UInt8(channels))
        out.append(UInt8(levels.count))
        for level in levels {
            out.appendVarint(level.height)
            out.appendVarint(level.width)
            out.appendVarint(level.codebookSize)
        }
        out.appendVarint(payloadLength)
        return out
    }

    /// Reads and validates a header, leaving `reader` at the first payload byte.
    static func parse(_ reader: inout ByteReader) throws(ContainerError) -> ContainerHeader {
        let magic = try reader.bytes(3, "magic")
        guard magic == ContainerHeader.magic else {
            throw .notVQC(found: magic.map { "0x" + byteHex($0) }.joined(separator: " "))
        }
        let version = Int(try reader.byte("version"))
        guard version == 1 || version == currentVersion else { throw .unsupportedVersion(found: version) }
        let methodByte = try reader.byte("method")
        guard let method = EntropyMethod(rawValue: methodByte) else { throw .unsupportedMethod(found: Int(methodByte)) }
        let stored = storedFingerprintLength(version: version)
        let fingerprint = try reader.bytes(stored, "model fingerprint")
        let priorFingerprint = method.namesPrior ? try reader.bytes(stored, "prior fingerprint") : nil
        let name: String?
        if version == 1 {
            let nameLength = try reader.varint("model name length", limit: maximumNameLength)
            let nameBytes = try reader.bytes(nameLength, "model name")
            guard nameBytes.allSatisfy(isNameByte) else {
                throw .invalidField(name: "model name", found: "bytes outside [a-z0-9._-]", expected: "a built-in model name")
            }
            name = nameLength == 0 ? nil : String(decoding: nameBytes, as: UTF8.self)
        } else {
            let number = Int(try reader.byte("built-in model"))
            guard number <= builtinNames.count else {
                throw .invalidField(name: "built-in model", found: "\(number)",
                                    expected: "0 (none) or 1 to \(builtinNames.count) (\(builtinNames.joined(separator: ", "))); a newer vqcodec may know it")
            }
            name = number == 0 ? nil : builtinNames[number - 1]
        }
        let width = try reader.varint("image width", limit: maximumSide)
        let height = try reader.varint("image height", limit: maximumSide)
        let channels = Int(try reader.byte("channels"))
        let levelCount = Int(try reader.byte("level count"))
        guard (1...maximumLevels).contains(levelCount) else {
            throw .invalidField(name: "level count", found: "\(levelCount)", expected: "1 to \(maximumLevels)")
        }
        var levels: [LevelShape] = []
        for i in 0..<levelCount {
            let h = try reader.varint("level \(i) height", limit: maximumSide)
            let w = try reader.varint("level \(i) width", limit: maximumSide)
            let k = try reader.varint("level \(i) codebook size", limit: maximumCodebookSize)
            levels.append(LevelShape(height: h, width: w, codebookSize: k))
        }
        let payloadLength = try reader.varint("payload length", limit: Int(UInt32.max))
        let header = ContainerHeader(version: version, method: method, fingerprint: fingerprint, priorFingerprint: priorFingerprint,
                                     modelName: name, width: width, height: height, channels: channels, levels: levels, payloadLength: payloadLength)
        try header.validate()
        return header
    }

    /// Every rule of Formats/vqc.md that does not need the payload.
    public func validate() throws(ContainerError) {
        guard version == 1 || version == ContainerHeader.currentVersion else { throw .unsupportedVersion(found: version) }
        let stored = ContainerHeader.storedFingerprintLength(version: version)
        guard fingerprint.count == stored else {
            throw .invalidField(name: "model fingerprint", found: "\(fingerprint.count) bytes", expected: "\(stored) bytes")
        }
        guard method.namesPrior == (priorFingerprint?.count == stored) else {
            throw .invalidField(name: "prior fingerprint", found: priorFingerprint.map { "\($0.count) bytes" } ?? "none",
                                expected: method.namesPrior ? "\(stored) bytes with method \(method.rawValue)" : "none with method \(method.rawValue)")
        }
        if let name = modelName {
            let bytes = Array(name.utf8)
            guard (1...ContainerHeader.maximumNameLength).contains(bytes.count), bytes.allSatisfy(isNameByte) else {
                throw .invalidField(name: "model name", found: "'\(name)'",
                                    expected: "1 to \(ContainerHeader.maximumNameLength) characters of [a-z0-9._-]")
            }
            guard version == 1 || ContainerHeader.builtinNames.contains(name) else {
                throw .invalidField(name: "model name", found: "'\(name)'",
                                    expected: "a built-in model of version \(version) (\(ContainerHeader.builtinNames.joined(separator: ", "))) or none")
            }
        }
        for (name, value) in [("image width", width), ("image height", height)] {
            guard (1...ContainerHeader.maximumSide).contains(value) else {
                throw .invalidField(name: name, found: "\(value)", expected: "1 to \(ContainerHeader.maximumSide)")
            }
        }
        guard width * height <= ContainerHeader.maximumPixels else {
            throw .tooLarge(what: "the image size \(width)x\(height) in pixels", found: width * height,
                            limit: ContainerHeader.maximumPixels)
        }
        guard channels == 1 || channels == 3 else {
            throw .invalidField(name: "channels", found: "\(channels)", expected: "1 (gray) or 3 (RGB)")
        }
        guard (1...ContainerHeader.maximumLevels).contains(levels.count) else {
            throw .invalidField(name: "level count", found: "\(levels.count)", expected: "1 to \(ContainerHeader.maximumLevels)")
        }
        for (i, level) in levels.enumerated() {
            // A token covers at least one pixel: a grid can never be larger than the image.
            guard (1...height).contains(level.height), (1...width).contains(level.width) else {
                throw .invalidField(name: "level \(i) grid", found: "\(level.height)x\(level.width)",
                                    expected: "1 to \(height) rows and 1 to \(width) columns for a \(width)x\(height) image")
            }
            guard (2...ContainerHeader.maximumCodebookSize).contains(level.codebookSize) else {
                throw .invalidField(name: "level \(i) codebook size", found: "\(level.codebookSize)",
                                    expected: "2 to \(ContainerHeader.maximumCodebookSize)")
            }
        }
        let limit = maximumPayloadLength
        guard (1...limit).contains(payloadLength) else {
            throw .invalidField(name: "payload length", found: "\(payloadLength)",
                                expected: "1 to \(limit) bytes for this token grid and method")
        }
    }

    /// The largest payload a correct encoder can produce for this grid and method.
    var maximumPayloadLength: Int {
        switch method {
        case .stored: return packedLength
        case .zstd: return packedLength + packedLength / 128 + 64  // above ZSTD_compressBound + checksum
        case .frequentFlag: return (levels.reduce(0) { $0 + $1.bitsPerIndex + $1.count * ($1.bitsPerIndex + 1) } + 7) / 8
        case .statistics, .prior, .contextPrior: return (tokenCount * 17 + 64) / 8  // at most 16 bits per token with totals of 2^16, plus the end
        }
    }
}

/// A whole `.vqc` file: header and the token indices of each level, row-major.
public struct ContainerFile: Equatable, Sendable {
    public var header: ContainerHeader
    public var indices: [[Int]]

    /// Encodes with whichever method gives the smallest file (ties go to the lower method number), or with
    /// `method` if given. Method 3 is a candidate when `statistics` cover the grid, method 4 when `prior` does.
    public static func encode(fingerprint: [UInt8], modelName: String?, width: Int, height: Int, channels: Int,
                              levels: [LevelShape], indices: [[Int]], method: EntropyMethod? = nil,
                              statistics: TokenStatistics? = nil, prior: PriorCoder? = nil) throws(ContainerError) -> [UInt8] {
        guard indices.count == levels.count else {
            throw .invalidField(name: "level count", found: "\(indices.count) index arrays", expected: "\(levels.count)")
        }
        var header = ContainerHeader(method: .stored, fingerprint: fingerprint, modelName: modelName, width: width,
                                     height: height, channels: channels, levels: levels, payloadLength: 1)
        for (i, (level, values)) in zip(levels, indices).enumerated() {
            guard values.count == level.count else {
                throw .invalidField(name: "level \(i) indices", found: "\(values.count) values", expected: "\(level.count)")
            }
            if let bad = values.first(where: { $0 < 0 || $0 >= level.codebookSize }) {
                throw .invalidField(name: "level \(i) index", found: "\(bad)", expected: "0 to \(level.codebookSize - 1)")
            }
        }
        try header.validate()
        let packed = TokenPacking.pack(levels: levels, indices: indices)
        var candidates: [(EntropyMethod, [UInt8])] = []
        if method == nil || method == .zstd {
            let compressed = Zstd.compress(packed)
            if !compressed.isEmpty { candidates.append((.zstd, compressed)) }
        }
        if method == nil || method == .stored { candidates.append((.stored, packed)) }
        if method == nil || method == .frequentFlag {
            candidates.append((.frequentFlag, TokenPacking.packFrequentFlag(levels: levels, indices: indices)))
        }
        if method == nil || method == .statistics, let statistics, statistics.covers(levels) {
            candidates.append((.statistics, TokenPacking.packStatistics(levels: levels, indices: indices, statistics: statistics)))
        }
        // `.prior` asks for prior coding with whichever kind of prior is given (method 4 or 5).
        if method == nil || method?.namesPrior == true, let prior, prior.covers(levels, modelFingerprint: fingerprint) {
            candidates.append((prior.method, prior.encode(levels: levels, indices: indices)))
        }
        // The header of methods 4 and 5 carries the prior's fingerprint too.
        func size(_ c: (EntropyMethod, [UInt8])) -> Int { c.1.count + (c.0.namesPrior ? header.fingerprint.count : 0) }
        guard let best = candidates.min(by: { (size($0), $0.0.rawValue) < (size($1), $1.0.rawValue) }) else {
            if method == .statistics { throw .statisticsMissing(fingerprint: header.fingerprintHex) }
            if method?.namesPrior == true { throw .priorUnusable(fingerprint: header.fingerprintHex) }
            throw .payloadCorrupt("zstd could not compress the tokens")
        }
        header.method = best.0
        header.priorFingerprint = best.0.namesPrior ? Array(prior!.fingerprintPrefix.prefix(header.fingerprint.count)) : nil
        header.payloadLength = best.1.count
        try header.validate()
        var bytes = header.serialized()
        bytes += best.1
        bytes.appendUInt32LE(crc32(bytes))
        return bytes
    }

    /// Reads just the header, with the length and checksum checks of a full read (for `vqcodec info`).
    public static func readHeader(_ bytes: [UInt8]) throws(ContainerError) -> ContainerHeader {
        try split(bytes).header
    }

    /// Reads and validates a whole file. Method 3 files need the statistics of their model: `statistics`, or
    /// those shipped for the fingerprint in the header; method 4 files the prior the header names: `prior`,
    /// or a built-in one.
    public init(_ bytes: [UInt8], statistics: TokenStatistics? = nil, prior: PriorCoder? = nil) throws(ContainerError) {
        let (header, payload) = try ContainerFile.split(bytes)
        let indices: [[Int]]
        switch header.method {
        case .stored:
            indices = try TokenPacking.unpack(payload, levels: header.levels)
        case .zstd:
            let packed = try Zstd.decompress(payload, expectedSize: header.packedLength)
            indices = try TokenPacking.unpack(packed, levels: header.levels)
        case .frequentFlag:
            indices = try TokenPacking.unpackFrequentFlag(payload, levels: header.levels)
        case .statistics:
            let candidates = [statistics, TokenStatistics.shipped(fingerprintPrefix: header.fingerprint)].compactMap { $0 }
            guard let stats = candidates.first(where: {
                ContainerHeader.fingerprint(header.fingerprint, matches: Codec.fingerprintPrefix($0.fingerprint)) && $0.covers(header.levels)
            }) else {
                throw .statisticsMissing(fingerprint: header.fingerprintHex)
            }
            indices = try TokenPacking.unpackStatistics(payload, levels: header.levels, statistics: stats)
        case .prior, .contextPrior:
            let wanted = header.priorFingerprint!
            guard let coder = prior.flatMap({ ContainerHeader.fingerprint(wanted, matches: $0.fingerprintPrefix) ? $0 : nil })
                    ?? PriorCoder.shipped(fingerprintPrefix: wanted),
                  coder.method == header.method else {
                throw .priorMissing(fingerprint: header.priorFingerprintHex!, given: prior.map { String($0.fingerprint.prefix(16)) })
            }
            guard coder.covers(header.levels, modelFingerprint: header.fingerprint) else {
                throw .invalidField(name: "level grids", found: header.levels.map { "\($0.height)x\($0.width) of \($0.codebookSize)" }.joined(separator: ", "),
                                    expected: "the grids of the prior the file names (\(coder.coverage))")
            }
            indices = try coder.decode(payload, levels: header.levels)
        }
        self.header = header
        self.indices = indices
    }

    private static func split(_ bytes: [UInt8]) throws(ContainerError) -> (header: ContainerHeader, payload: [UInt8]) {
        var reader = ByteReader(bytes)
        let header = try ContainerHeader.parse(&reader)
        let expected = reader.offset + header.payloadLength + 4
        guard bytes.count == expected else { throw .lengthMismatch(expected: expected, found: bytes.count) }
        let body = bytes[0..<(expected - 4)]
        var tail = ByteReader(Array(bytes[(expected - 4)...]))
        let stored = try tail.uint32LE("checksum")
        let computed = crc32(body)
        guard stored == computed else { throw .checksumMismatch(stored: stored, computed: computed) }
        return (header, Array(bytes[reader.offset..<(expected - 4)]))
    }
}

private func isNameByte(_ b: UInt8) -> Bool {
    (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2E || b == 0x5F || b == 0x2D
}

func byteHex(_ b: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}
