import Foundation

/// How big a codec job is, judged from file headers alone (no decoding): used to decide whether work is
/// large enough to repay setting up faster BLAS kernels before it starts.
public enum JobSize {
    /// Pixels of the image a PNG or `.vqc` file holds or decodes to, from the first bytes of the file; nil when
    /// the file cannot be read or is neither.
    public static func pixels(ofFileAt path: String) -> Int? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 256).map({ [UInt8]($0) }) else { return nil }
        // PNG: the signature, then IHDR with big-endian width and height at bytes 16 and 20.
        if head.count >= 24, head.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            func be32(_ i: Int) -> Int { head[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) } }
            return be32(16) * be32(20)
        }
        // .vqc: parse the header (every field is validated; the payload is not needed).
        guard head.starts(with: ContainerHeader.magic) else { return nil }
        var reader = ByteReader(head)
        guard let header = try? ContainerHeader.parse(&reader) else { return nil }
        return header.width * header.height
    }

    /// Whether the `encode`, `decode` or `info` arguments `arguments` (without the command name) name at most
    /// `maximumFiles` existing regular files of at most `maximumPixels` each, and nothing else to read (no
    /// folder, no standard input). Values of the options in `valueOptions` are skipped.
    public static func isSmall(arguments: [String], valueOptions: Set<String>, maximumFiles: Int = 4, maximumPixels: Int = 1 << 16) -> Bool {
        var inputs: [String] = []
        var skipNext = false
        for argument in arguments {
            if skipNext { skipNext = false; continue }
            if argument == "-" { return false }
            if argument.hasPrefix("-") {
                if valueOptions.contains(argument) { skipNext = true }
                continue
            }
            inputs.append(argument)
        }
        guard !inputs.isEmpty, inputs.count <= maximumFiles else { return false }
        for path in inputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  let pixels = pixels(ofFileAt: path), pixels <= maximumPixels else { return false }
        }
        return true
    }
}
