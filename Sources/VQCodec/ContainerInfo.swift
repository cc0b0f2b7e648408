import Foundation

/// Every header field of a `.vqc` file plus derived sizes: what `vqcodec info` prints.
public struct ContainerInfo: Codable, Sendable {
    public var magic: String
    public var version: Int
    public var method: Int
    public var methodName: String
    public var fingerprint: String
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

    public init(bytes: [UInt8]) throws {
        let file = try ContainerFile(bytes)  // the full check, token data included
        let h = file.header
        magic = "VQC"
        version = h.version
        method = Int(h.method.rawValue)
        methodName = h.method.shortName
        fingerprint = h.fingerprintHex
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

    public var text: String {
        var lines = [
            "format:       \(magic) version \(version)",
            "model:        \(modelName ?? "(checkpoint, no built-in name)") fingerprint \(fingerprint)",
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
        return lines.joined(separator: "\n")
    }

    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
