/// Why a `.vqc` file (or the request to write one) was refused: what was expected, what was found, what to do.
public enum ContainerError: Error, CustomStringConvertible, Equatable, Sendable {
    case notVQC(found: String)
    case unsupportedVersion(found: Int)
    case truncated(field: String)
    case lengthMismatch(expected: Int, found: Int)
    case checksumMismatch(stored: UInt32, computed: UInt32)
    case invalidField(name: String, found: String, expected: String)
    case unsupportedMethod(found: Int)
    case payloadCorrupt(String)
    case tooLarge(what: String, found: Int, limit: Int)
    case statisticsMissing(fingerprint: String)
    case priorMissing(fingerprint: String, given: String?)
    case priorUnusable(fingerprint: String)

    public var description: String {
        switch self {
        case let .notVQC(found):
            return "not a .vqc file: it starts with \(found), expected the magic bytes \"VQC\"; pass a file written by `vqcodec encode`"
        case let .unsupportedVersion(found):
            return "unsupported .vqc version \(found); this vqcodec reads version \(ContainerHeader.currentVersion). Use the vqcodec release that wrote the file"
        case let .truncated(field):
            return "the .vqc file ends early (inside the \(field)): it is truncated; re-create or re-download it"
        case let .lengthMismatch(expected, found):
            return expected > found
                ? "the .vqc file is truncated: the header announces \(expected) bytes, the file has \(found); re-create or re-download it"
                : "the .vqc file has \(found - expected) unexpected bytes after its end (expected \(expected) bytes, found \(found)); it was damaged or concatenated"
        case let .checksumMismatch(stored, computed):
            return "the .vqc file is corrupt: stored checksum \(hex(stored)), computed \(hex(computed)); re-create or re-download it"
        case let .invalidField(name, found, expected):
            return "invalid .vqc header field '\(name)': found \(found), expected \(expected); the file is corrupt or was not written by vqcodec"
        case let .unsupportedMethod(found):
            return "unknown entropy-coding method \(found) in the .vqc header (this vqcodec knows \(EntropyMethod.knownList)); the file is corrupt or needs a newer vqcodec"
        case let .payloadCorrupt(reason):
            return "the .vqc token data is corrupt: \(reason); re-create or re-download the file"
        case let .statisticsMissing(fingerprint):
            return "the .vqc file is coded with the token statistics of the model with fingerprint \(fingerprint), which this build does not ship; decode it with the vqcodec build that wrote it"
        case let .priorMissing(fingerprint, given):
            return "the .vqc file is coded with the prior of fingerprint \(fingerprint), which this build does not ship"
                + (given.map { " (--prior is \($0))" } ?? "") + "; pass that prior with --prior PATH"
        case let .priorUnusable(fingerprint):
            return "no usable prior for the model with fingerprint \(fingerprint): a transformer prior codes one token grid of its own length and codebook, a context prior up to its number of levels of its codebook, each trained on this model's tokens; pass one with --prior or choose another --entropy"
        case let .tooLarge(what, found, limit):
            return "\(what) is \(found), above the limit of \(limit); refusing it before allocating memory"
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
