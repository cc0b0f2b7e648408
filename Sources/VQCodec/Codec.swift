import Foundation
import VQImage
import VQModels
import VQTokenizer

/// Images to `.vqc` bytes and back with a tokenizer: the library behind `vqcodec encode` and `vqcodec decode`.
public enum Codec {
    /// An image ready for a tokenizer: alpha refused (or dropped when `dropAlpha`), size within the caps.
    public static func prepare(_ image: Image, path: String, dropAlpha: Bool) throws -> Image {
        guard image.width <= ContainerHeader.maximumSide, image.height <= ContainerHeader.maximumSide,
              image.width * image.height <= ContainerHeader.maximumPixels else {
            throw CodecError.imageTooLarge(path: path, width: image.width, height: image.height)
        }
        if image.hasAlpha {
            guard dropAlpha else { throw CodecError.alphaChannel(path: path, flag: "--drop-alpha") }
            return image.removingAlpha(background: 255)
        }
        return image
    }

    /// Encodes images (gray or RGB, no alpha: see `prepare`) with `tokenizer`, using its first `levels` levels.
    /// Images whose channel count differs from the model's are converted for it; the file records the image's own
    /// channel count and decoding converts back.
    /// `method` nil picks the smallest of methods 0 to 3 per file (and 4 or 5 when `prior` is given); `.prior` needs
    /// `prior` (see `PriorCoder.builtin(for:)`).
    public static func encode(_ images: [Image], tokenizer: Tokenizer, levels: Int? = nil, method: EntropyMethod? = nil,
                              prior: PriorCoder? = nil) throws -> [[UInt8]] {
        if let levels, !(1...tokenizer.levels).contains(levels) {
            throw CodecError.levelsOutOfRange(requested: levels, available: tokenizer.levels)
        }
        let inputs = images.map { $0.channels == tokenizer.channels ? $0 : $0.converted(toChannels: tokenizer.channels) }
        let grids = try tokenizer.encode(inputs, levels: levels)
        let fingerprint = fingerprintPrefix(tokenizer.fingerprint)
        let statistics = TokenStatistics.shipped(fingerprintPrefix: fingerprint).flatMap { $0.fingerprint == tokenizer.fingerprint ? $0 : nil }
        // Prior coding costs a transformer pass per token: spread the files over the cores (each file's
        // arithmetic is independent of the others, so the bytes do not depend on the thread count).
        return try parallelMap(images.count) { i -> Result<[UInt8], ContainerError> in
            let (image, grid) = (images[i], grids[i])
            let shapes = grid.codebookSizes.map { LevelShape(height: grid.height, width: grid.width, codebookSize: $0) }
            let indices = (0..<grid.levels).map { Array(grid.indices(level: $0)) }
            return Result { () throws(ContainerError) in
                try ContainerFile.encode(fingerprint: fingerprint, modelName: tokenizer.name, width: image.width,
                                         height: image.height, channels: image.channels, levels: shapes, indices: indices,
                                         method: method, statistics: statistics, prior: prior)
            }
        }.map { try $0.get() }
    }

    public static func encode(_ image: Image, tokenizer: Tokenizer, levels: Int? = nil, method: EntropyMethod? = nil,
                              prior: PriorCoder? = nil) throws -> [UInt8] {
        try encode([image], tokenizer: tokenizer, levels: levels, method: method, prior: prior)[0]
    }

    /// Decodes parsed files that were all made by `tokenizer` (see `ModelCatalog.tokenizer(for:path:given:)`).
    public static func decode(_ files: [ContainerFile], tokenizer: Tokenizer) throws -> [Image] {
        let grids = try files.map { file -> TokenGrid in
            let h = file.header
            guard h.levels.allSatisfy({ $0.height == h.levels[0].height && $0.width == h.levels[0].width }) else {
                throw ContainerError.invalidField(name: "level grids", found: h.levels.map { "\($0.height)x\($0.width)" }.joined(separator: ", "),
                                                  expected: "the same grid shape at every level for this model")
            }
            return TokenGrid(levels: h.levels.count, height: h.levels[0].height, width: h.levels[0].width,
                             codebookSizes: h.levels.map(\.codebookSize), indices: file.indices.flatMap { $0 },
                             imageWidth: h.width, imageHeight: h.height)
        }
        let decoded = try tokenizer.decode(grids)
        return zip(files, decoded).map { file, image in
            image.channels == file.header.channels ? image : image.converted(toChannels: file.header.channels)
        }
    }

    public static func decode(_ bytes: [UInt8], tokenizer: Tokenizer, prior: PriorCoder? = nil) throws -> Image {
        try decode([try ContainerFile(bytes, prior: prior)], tokenizer: tokenizer)[0]
    }

    /// The fingerprint bytes a file stores: the first `ContainerHeader.fingerprintLength` bytes of the hex digest.
    public static func fingerprintPrefix(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        func nibble(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10 }
        return (0..<ContainerHeader.fingerprintLength).map { i in
            guard 2 * i + 1 < digits.count else { return 0 }
            return nibble(digits[2 * i]) << 4 | nibble(digits[2 * i + 1])
        }
    }
}

/// Finds tokenizers: built-ins by name, checkpoints by path, and the model a `.vqc` file needs by fingerprint.
public enum ModelCatalog {
    /// `mnist`, `photo`, or a checkpoint path.
    public static func tokenizer(named spec: String) throws -> Tokenizer {
        if let builtin = BuiltinTokenizer(rawValue: spec) {
            do { return try Tokenizer.builtin(builtin) } catch {
                throw CodecError.modelUnavailable(name: spec, reason: "\(error)")
            }
        }
        guard FileManager.default.fileExists(atPath: spec) else { throw CodecError.unknownModel(name: spec) }
        do { return try Tokenizer(checkpoint: URL(fileURLWithPath: spec)) } catch {
            throw CodecError.modelUnavailable(name: spec, reason: "\(error)")
        }
    }

    /// The default model for an image: the MNIST model for small gray images (up to 64x64), the photo model
    /// otherwise. When a built-in is missing from this build the other is used, and `note` says so.
    public static func defaultTokenizer(for image: Image) throws -> (tokenizer: Tokenizer, note: String?) {
        let small = image.channels <= 2 && image.width <= 64 && image.height <= 64
        let preferred: BuiltinTokenizer = small ? .mnist : .photo
        if Tokenizer.builtinURL(preferred) != nil { return (try tokenizer(named: preferred.rawValue), nil) }
        let other: BuiltinTokenizer = preferred == .mnist ? .photo : .mnist
        guard Tokenizer.builtinURL(other) != nil else {
            throw CodecError.modelUnavailable(name: preferred.rawValue, reason: "this build ships no built-in models; pass --model PATH")
        }
        return (try tokenizer(named: other.rawValue),
                "note: the built-in '\(preferred.rawValue)' model is not in this build; using '\(other.rawValue)'")
    }

    /// The tokenizer that made `header`: `given` when its fingerprint matches, else the built-in whose fingerprint
    /// matches (the one the header names first). Throws `CodecError.modelNeeded` naming the model otherwise.
    public static func tokenizer(for header: ContainerHeader, path: String, given: Tokenizer? = nil) throws -> Tokenizer {
        if let given {
            guard matches(given, header) else {
                throw CodecError.modelNeeded(path: path, name: header.modelName, fingerprint: header.fingerprintHex,
                                             given: "--model \(given.name ?? "(checkpoint)") (fingerprint \(given.fingerprint.prefix(16)))")
            }
            return given
        }
        var order = BuiltinTokenizer.allCases
        if let named = header.modelName.flatMap(BuiltinTokenizer.init(rawValue:)) {
            order.removeAll { $0 == named }
            order.insert(named, at: 0)
        }
        var sameNameDiffers: String?
        for builtin in order where Tokenizer.builtinURL(builtin) != nil {
            guard let t = try? Tokenizer.builtin(builtin) else { continue }
            if matches(t, header) { return t }
            if builtin.rawValue == header.modelName {
                sameNameDiffers = "this build's '\(builtin.rawValue)' (fingerprint \(t.fingerprint.prefix(16)), another version)"
            }
        }
        throw CodecError.modelNeeded(path: path, name: header.modelName, fingerprint: header.fingerprintHex, given: sameNameDiffers)
    }

    /// A prior for method 4 or 5: a built-in name (`mnist`, `photo`) or a checkpoint path of either kind.
    public static func prior(named spec: String) throws -> PriorCoder {
        if let builtin = BuiltinContextPrior(rawValue: spec) {
            do { return PriorCoder(contextPrior: try ContextPriorModel.builtin(builtin)) } catch {
                throw CodecError.modelUnavailable(name: spec, reason: "\(error)")
            }
        }
        if BuiltinPrior(rawValue: spec) == nil && !FileManager.default.fileExists(atPath: spec) {
            throw CodecError.unknownPrior(name: spec)
        }
        do { return PriorCoder(prior: try Prior.named(spec)) } catch PriorError.notAPrior(_, kind: ContextPrior.kind) {
            do { return PriorCoder(contextPrior: try ContextPriorModel(checkpoint: URL(fileURLWithPath: spec))) } catch {
                throw CodecError.modelUnavailable(name: spec, reason: "\(error)")
            }
        } catch {
            throw CodecError.modelUnavailable(name: spec, reason: "\(error)")
        }
    }

    /// The built-in prior trained on `tokenizer`'s tokens.
    public static func builtinPrior(for tokenizer: Tokenizer) throws -> PriorCoder {
        guard let coder = PriorCoder.builtin(for: tokenizer) else {
            throw CodecError.modelUnavailable(name: "prior", reason: "this build ships no prior for the model \(tokenizer.name ?? "(checkpoint)") (fingerprint \(tokenizer.fingerprint.prefix(16))); pass one with --prior PATH (train it with `vqcodec train prior`)")
        }
        return coder
    }

    static func matches(_ tokenizer: Tokenizer, _ header: ContainerHeader) -> Bool {
        ContainerHeader.fingerprint(header.fingerprint, matches: Codec.fingerprintPrefix(tokenizer.fingerprint))
    }
}
