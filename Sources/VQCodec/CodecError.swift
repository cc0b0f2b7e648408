/// Why an image could not be encoded or a `.vqc` file decoded (beyond the container itself, see `ContainerError`).
public enum CodecError: Error, CustomStringConvertible, Equatable, Sendable {
    case cannotRead(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case unsupportedPNG(path: String, found: String, fix: String)
    case notPNG(path: String, reason: String)
    case alphaChannel(path: String, flag: String)
    case imageTooLarge(path: String, width: Int, height: Int)
    case modelNeeded(path: String, name: String?, fingerprint: String, given: String?)
    case unknownModel(name: String)
    case unknownPrior(name: String)
    case modelUnavailable(name: String, reason: String)
    case levelsOutOfRange(requested: Int, available: Int)

    public var description: String {
        switch self {
        case let .cannotRead(path, reason): return "cannot read \(path): \(reason)"
        case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)"
        case let .unsupportedPNG(path, found, fix): return "\(path) is a \(found) PNG, which vqcodec does not encode; \(fix)"
        case let .notPNG(path, reason): return "\(path) is not a readable PNG image (\(reason)); pass an 8-bit gray or RGB PNG"
        case let .alphaChannel(path, flag):
            return "\(path) has an alpha channel, which .vqc files do not store; pass \(flag) to encode it without alpha (composited over white)"
        case let .imageTooLarge(path, width, height):
            return "\(path) is \(width)x\(height) pixels; vqcodec encodes images up to \(ContainerHeader.maximumSide) pixels a side and \(ContainerHeader.maximumPixels) pixels in all; downscale or tile it first"
        case let .modelNeeded(path, name, fingerprint, given):
            let needed = name.map { "the built-in model '\($0)' (fingerprint \(fingerprint))" } ?? "the model with fingerprint \(fingerprint)"
            let found = given.map { "; \($0) is a different model" } ?? ""
            let how = name != nil && (given == nil || given!.hasPrefix("this build's"))
                ? "use the vqcodec build that wrote it, or pass that model's checkpoint with --model PATH"
                : name.map { "pass --model \($0) or its checkpoint with --model PATH" } ?? "pass its checkpoint with --model PATH"
            return "\(path) was encoded with \(needed)\(found); \(how)"
        case let .unknownModel(name):
            return "no built-in model or checkpoint file named '\(name)'; use --model mnist, --model photo, or a checkpoint path"
        case let .unknownPrior(name):
            return "no built-in prior or checkpoint file named '\(name)'; name the built-in prior (mnist) or the path of one trained with `vqcodec train prior`"
        case let .modelUnavailable(name, reason): return "the model '\(name)' cannot be loaded: \(reason)"
        case let .levelsOutOfRange(requested, available):
            return "--level \(requested) is out of range: this model has levels 1 to \(available)"
        }
    }
}
