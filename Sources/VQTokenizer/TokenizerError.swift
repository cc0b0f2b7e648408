/// Why a tokenizer could not be loaded, or an image or token grid could not be processed. Each message says
/// what was expected, what was found, and what to do.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case checkpointUnreadable(path: String, reason: String)
    case notATokenizer(path: String, kind: String)
    case builtinMissing(name: String)
    case channelMismatch(expected: Int, found: Int)
    case alphaChannel(channels: Int)
    case emptyImage
    case levelsOutOfRange(requested: Int, available: Int)
    case fingerprintMismatch(expected: String, found: String)
    case codebookMismatch(expected: [Int], found: [Int])
    case gridMismatch(detail: String)
    case indexOutOfRange(level: Int, position: Int, index: Int, codes: Int)

    public var description: String {
        switch self {
        case let .checkpointUnreadable(path, reason):
            return "cannot load a tokenizer from \(path): \(reason)"
        case let .notATokenizer(path, kind):
            return "\(path) holds a '\(kind.isEmpty ? "unnamed" : kind)' model, not an image tokenizer; expected one of conv-vqvae, photo-vqvae (train one with `vqcodec train vqvae`)"
        case let .builtinMissing(name):
            return "the built-in '\(name)' tokenizer is not in this build's resources; run Tools/train/\(name).sh to train and export it, or load a checkpoint with Tokenizer(checkpoint:)"
        case let .channelMismatch(expected, found):
            let hint = expected == 3 && found == 1 ? "convert it with image.converted(toChannels: 3)"
                : expected == 1 && found == 3 ? "convert it with image.converted(toChannels: 1)" : "use an image with \(expected) channels"
            return "the tokenizer expects images with \(expected) channel\(expected == 1 ? "" : "s"), found \(found); \(hint)"
        case let .alphaChannel(channels):
            return "the image has an alpha channel (\(channels) channels) that tokens cannot represent; drop it with image.removingAlpha(background:) first"
        case .emptyImage:
            return "the image has no pixels"
        case let .levelsOutOfRange(requested, available):
            return "\(requested) levels requested; this tokenizer has 1...\(available)"
        case let .fingerprintMismatch(expected, found):
            return "the tokens were made by another model (fingerprint \(found.prefix(16))...; this tokenizer is \(expected.prefix(16))...); decode them with the model that made them"
        case let .codebookMismatch(expected, found):
            return "the tokens use codebooks of sizes \(found); this tokenizer has \(expected); decode them with the model that made them"
        case let .gridMismatch(detail):
            return "the token grid is inconsistent: \(detail)"
        case let .indexOutOfRange(level, position, index, codes):
            return "token \(position) of level \(level) is \(index); the codebook has codes 0..<\(codes); the tokens are damaged or from another model"
        }
    }
}
