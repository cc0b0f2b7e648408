import Foundation

/// Every header field of a `.vqc` file plus derived sizes: what `vqcodec info` prints.
public struct ContainerInfo: Codable, Sendable {
    public var magic: String
    public var version: Int
    public var method: Int
    public var methodName: String
    public var fingerprint: String
    /// Method 4: the first bytes of the prior's fingerprint (hex).
    public var priorFingerprint: String?
    public var modelName: String?
    public var width: Int
    public var height: Int
    public var channels: Int
    public var levels: [LevelShape]
    public var payloadBytes: Int
    public var headerBytes: Int
    public var checksumBytes: Int
    public var checksum: String
    public var fileBytes: Int
    public var tokens: Int
    public var packedBytes: Int
    public var bitsPerPixel: Double
    public var bitsPerToken: Double
    /// Set when the token data could not be checked (method 3 without this model's statistics in this build).
    public var note: String?

    /// Reads and checks a file; method 4 files are checked with `prior`, or a built-in prior.
    public init(bytes: [UInt8], prior: PriorCoder? = nil) throws {
        let (h, note) = try ContainerInfo.header(bytes, prior: prior)
        self.note = note
        magic = "VQC"
        version = h.version
        method = Int(h.method.rawValue)
        methodName = h.method.shortName
        fingerprint = h.fingerprintHex
        priorFingerprint = h.priorFingerprintHex
        modelName = h.modelName
        width = h.width
        height = h.height
        channels = h.channels
        levels = h.levels
        payloadBytes = h.payloadLength
        checksumBytes = 4
        fileBytes = bytes.count
        headerBytes = bytes.count - h.payloadLength - 4
        checksum = String(format: "0x%08x", bytes.suffix(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        tokens = h.tokenCount
        packedBytes = h.packedLength
        bitsPerPixel = Double(bytes.count * 8) / Double(h.width * h.height)
        bitsPerToken = Double(bytes.count * 8) / Double(h.tokenCount)
    }

    /// The full check, token data included; for method 3 without the model's statistics, the header only (length and
    /// checksum still checked) and a note saying so.
    static func header(_ bytes: [UInt8], prior: PriorCoder?) throws -> (ContainerHeader, String?) {
        do {
            return (try ContainerFile(bytes, prior: prior).header, nil)
        } catch let error {
            switch error {
            case let .statisticsMissing(fingerprint):
                return (try ContainerFile.readHeader(bytes),
                        "token data not checked: this build lacks the token statistics of model \(fingerprint)")
            case let .priorMissing(fingerprint, _):
                return (try ContainerFile.readHeader(bytes), "token data not checked: this build lacks the prior \(fingerprint) (pass it with --prior)")
            default:
                throw error
            }
        }
    }

    public var text: String {
        var lines = [
            "format:       \(magic) version \(version)",
            "model:        \(modelName ?? "(checkpoint, no built-in name)") fingerprint \(fingerprint)",
        ]
        if let priorFingerprint { lines.append("prior:        fingerprint \(priorFingerprint)") }
        lines += [
            "image:        \(width)x\(height), \(channels) channel\(channels == 1 ? " (gray)" : "s (RGB)")",
            "levels:       \(levels.count)",
        ]
        for (i, level) in levels.enumerated() {
            lines.append("  level \(i):    \(level.height)x\(level.width) tokens, codebook \(level.codebookSize) (\(level.bitsPerIndex) bits per index)")
        }
        lines += [
            "method:       \(method) (\(methodName))",
            "sizes:        \(fileBytes) bytes = header \(headerBytes) + payload \(payloadBytes) + checksum \(checksumBytes) (\(checksum))",
            "tokens:       \(tokens) (\(packedBytes) bytes bit-packed)",
            String(format: "rate:         %.4f bits per pixel, %.3f bits per token", bitsPerPixel, bitsPerToken),
        ]
        if let note { lines.append("note:         \(note)") }
        return lines.joined(separator: "\n")
    }

    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
