import ArgumentParser
import Foundation
import VQCodec
import VQCheckpoint
import VQData
import VQImage
import VQTokenizer
import VQTraining

/// The tokenizer a prior's tokens decode with: --tokenizer, or the built-in whose fingerprint the prior records.
private func decodingTokenizer(recorded fingerprint: String?, given: String?) throws -> Tokenizer {
    if let given { return try ModelCatalog.tokenizer(named: given) }
    if let builtin = Tokenizer.builtin(fingerprint: fingerprint) { return builtin }
    throw CodecError.modelUnavailable(name: "tokenizer", reason: "the prior was trained on the tokens of the model with fingerprint "
        + "\(fingerprint?.prefix(16) ?? "(not recorded)"), which is not a built-in of this build; pass it with --tokenizer PATH")
}

private func loadPrior(_ spec: String) throws -> PriorCoder {
    do { return try ModelCatalog.prior(named: spec) } catch { throw priorFailure(error) }
}

/// Prints a prior command's error and returns its exit code: 2 for bad input (missing or malformed data, an
/// unreadable or wrong checkpoint or prior, a bad setting), 1 for anything else.
func priorFailure(_ error: Error) -> ExitCode {
    printError("error: \(error)")
    switch error {
    case is IDXError, is CheckpointError, is PriorError, is TokenizerError, is TrainingDataError, is ContainerError, is ValidationError:
        return ExitCode(2)
    case let error as TrainingError:
        if case .failed = error { return ExitCode(1) }
        return ExitCode(2)
    case let error as CodecError:
        if case .unknownPrior = error { return ExitCode(2) }
        return ExitCode(ExitStatus.of(error).rawValue)
    default: return ExitCode(1)
    }
}

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Generate images from a trained model.",
        subcommands: [SamplePriorCommand.self]
    )
}

struct SamplePriorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prior",
        abstract: "Sample token grids from an autoregressive prior and decode them into an image grid.",
        discussion: """
        Each sequence is generated token by token with a key/value cache (one transformer step per token), \
        from the start token (BOS, or the class token with --class), at --temperature, optionally from the \
        --top-k most likely codes only. Sequence i draws from its own generator seeded from --seed and i, so \
        the picture is the same on any number of threads. The tokens are decoded with the tokenizer the prior \
        was trained on (a built-in found by fingerprint, or --tokenizer).
        Example: vqcodec sample prior mnist --n 64 --class 7 -o sevens.png

        A bounded-context prior (photo) samples whole token grids level by level in raster order, each token from \
        its context, at --size (pixels; default 128x128) and --levels (default all): textures in the tokenizer's \
        code space rather than scenes. Example: vqcodec sample prior photo --n 4 --size 256x256 -o textures.png

        Exit codes: 0 success; 1 failure (a model cannot be loaded, the output cannot be written); 2 bad usage.
        """
    )

    @Argument(help: "The prior: a built-in name (mnist) or a checkpoint path.")
    var prior: String

    @Option(help: "The tokenizer to decode with (default: the built-in the prior was trained on).")
    var tokenizer: String?

    @Option(help: "Images to sample.") var n = 64
    @Option(name: .customLong("class"), help: "Class to generate (conditional priors; MNIST: the digit).") var label: Int?
    @Flag(help: "Conditional priors: --n samples of every class, one row per class.") var eachClass = false
    @Option(help: "Softmax temperature (below 1: more typical, above 1: more varied).") var temperature: Float = 1
    @Option(help: "Sample only from the K most likely codes.") var topK: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Images per row of the grid (default: the square root of --n, rounded up).") var columns: Int?
    @Option(name: .shortAndLong, help: "Output PNG.") var output: String
    @Option(help: "Context priors: image size WxH in pixels (default 128x128).") var size: String?
    @Option(help: "Context priors: residual levels to sample (default all the prior models).") var levels: Int?

    func validate() throws {
        if n < 1 || n > 4096 { throw ValidationError("--n must be 1...4096, found \(n)") }
        if let columns, columns < 1 { throw ValidationError("--columns must be at least 1") }
        if eachClass && label != nil { throw ValidationError("give --class or --each-class, not both") }
    }

    func run() throws {
        let coder = try loadPrior(prior)
        do {
            guard let prior = coder.prior else { return try sampleContextPrior(coder) }
            let tokenizer = try decodingTokenizer(recorded: prior.configuration.tokenizerFingerprint, given: self.tokenizer)
            let start = Date()
            if eachClass && prior.configuration.classes == 0 { throw PriorError.classOutOfRange(requested: 0, classes: 0) }
            let labels: [Int?] = eachClass ? (0..<prior.configuration.classes).map { $0 } : [label]
            let sequences = try labels.flatMap { try prior.sample(count: n, label: $0, temperature: temperature, topK: topK, seed: seed) }
            let seconds = Date().timeIntervalSince(start)
            let side = Int(Double(prior.configuration.sequenceLength).squareRoot())
            guard side * side == prior.configuration.sequenceLength else {
                throw CodecError.modelUnavailable(name: "prior", reason: "its \(prior.configuration.sequenceLength) tokens are not a square grid")
            }
            let grids = sequences.map {
                TokenGrid(levels: 1, height: side, width: side, codebookSizes: [prior.configuration.vocabulary], indices: $0,
                          imageWidth: side * tokenizer.downsampling, imageHeight: side * tokenizer.downsampling)
            }
            let images = try tokenizer.decode(grids)
            let columns = self.columns ?? (eachClass ? n : Int(Double(n).squareRoot().rounded(.up)))
            try AtomicFile.write([UInt8](try Image.grid(images, columns: columns).pngData()), to: URL(fileURLWithPath: output))
            print(String(format: "%d samples%@ in %.2f s (%.1f images/s, %d tokens each) -> %@", sequences.count,
                         eachClass ? " (a row per class)" : label.map { " of class \($0)" } ?? "", seconds,
                         Double(sequences.count) / max(seconds, 1e-9), prior.configuration.sequenceLength, output))
        } catch { throw priorFailure(error) }
    }

    /// `sample prior` for a bounded-context prior: grids of --size, decoded into an image grid.
    func sampleContextPrior(_ coder: PriorCoder) throws {
        guard case let .context(prior) = coder.model else { return }
        if label != nil || eachClass || topK != nil { throw ValidationError("--class, --each-class and --top-k apply to transformer priors") }
        let tokenizer = try decodingTokenizer(recorded: prior.configuration.tokenizerFingerprint, given: self.tokenizer)
        let parts = (size ?? "128x128").split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ $0 >= 1 && $0 <= 4096 }) else { throw ValidationError("--size must be WxH in pixels, 1 to 4096 each; found \(size ?? "")") }
        let f = tokenizer.downsampling
        let (width, height) = ((parts[0] + f - 1) / f, (parts[1] + f - 1) / f)
        let levelCount = levels ?? min(prior.configuration.levels, tokenizer.levels)
        let start = Date()
        let sampled = try prior.sample(count: n, height: height, width: width, levels: levelCount, temperature: temperature, seed: seed)
        let seconds = Date().timeIntervalSince(start)
        let grids = sampled.map {
            TokenGrid(levels: levelCount, height: height, width: width, codebookSizes: Array(tokenizer.codebookSizes.prefix(levelCount)),
                      indices: $0, imageWidth: parts[0], imageHeight: parts[1])
        }
        let images = try tokenizer.decode(grids)
        let columns = self.columns ?? Int(Double(n).squareRoot().rounded(.up))
        try AtomicFile.write([UInt8](try Image.grid(images, columns: columns).pngData()), to: URL(fileURLWithPath: output))
        print(String(format: "%d samples of %dx%d pixels (%d levels of %dx%d tokens) in %.2f s (%.1f images/s) -> %@", n, parts[0], parts[1],
                     levelCount, width, height, seconds, Double(n) / max(seconds, 1e-9), output))
    }
}

struct EvalPriorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prior",
        abstract: "Test negative log-likelihood of a prior in bits per token and per image, and the real coded file sizes.",
        discussion: """
        Transformer priors (mnist): tokenizes the MNIST test split with the prior's tokenizer, then reports the \
        prior's cross-entropy (bits per token, without and, for conditional priors, with the class token), beside \
        log2(K) per token, and for the first --coded images the mean .vqc file sizes with the zstd-packed indices \
        (method 0), the shipped token statistics (method 3) and the prior (method 4), and how far the prior-coded \
        payloads are from the ideal code length of the prior's quantised probabilities.
        Bounded-context priors (photo): --data is a folder of PNG or PPM photographs (e.g. ../shared/data/kodak); \
        for 1 to all levels, the mean bits per pixel of the real files with the best of methods 0 to 3 and with \
        the prior (method 5), and the prior's bits per token (ideal and real).
        Example: vqcodec eval prior photo --data ../shared/data/kodak --coded 24

        Exit codes: 0 success; 1 failure (a model cannot be loaded); 2 bad usage or unreadable data.
        """
    )

    @Argument(help: "The prior: a built-in name (mnist) or a checkpoint path.")
    var prior: String

    @Option(help: "Folder with the MNIST IDX files (the test split is used), or of photographs for a context prior.")
    var data: String

    @Option(help: "The tokenizer (default: the built-in the prior was trained on).")
    var tokenizer: String?

    @Option(help: "Images to code with each method for the file-size figures (0: none; context priors: at least 1).")
    var coded = 1000

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let coder = try loadPrior(prior)
        do {
            guard let prior = coder.prior else { return try evaluateContextPrior(coder) }
            let tokenizer = try decodingTokenizer(recorded: prior.configuration.tokenizerFingerprint, given: self.tokenizer)
            let (tokens, labels, height, width) = try TokenCache.tokenize(tokenizer: tokenizer, mnist: URL(fileURLWithPath: data), split: .test)
            guard height * width == prior.configuration.sequenceLength else {
                throw CodecError.modelUnavailable(name: "prior", reason: "it models \(prior.configuration.sequenceLength) tokens; the tokenizer gives \(height)x\(width)")
            }
            let evaluation = PriorEvaluation.measure(prior: prior.model, tokens: tokens, labels: labels)
            let length = height * width
            let count = min(coded, labels.count)
            let grids = (0..<count).map { i in tokens[(i * length)..<((i + 1) * length)].map { Int($0) } }
            let report = count == 0 ? nil : try PriorCodingReport.measure(coder: PriorCoder(prior: prior), tokenizer: tokenizer, grids: grids,
                                                                           gridHeight: height, gridWidth: width)
            if json {
                struct Output: Encodable { var evaluation: PriorEvaluation; var bitsPerImage: Double; var log2K: Double; var coding: PriorCodingReport? }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(Output(evaluation: evaluation, bitsPerImage: evaluation.bitsPerImage,
                                                                 log2K: evaluation.uniformBitsPerToken, coding: report)), as: UTF8.self))
                return
            }
            print(String(format: "test set: %d images of %d tokens (codebook %d: log2 K = %.3f bits per token, %.0f bits per image)",
                         evaluation.sequences, length, evaluation.codebookSize, evaluation.uniformBitsPerToken, evaluation.uniformBitsPerToken * Double(length)))
            print(String(format: "prior:    %.4f bits per token, %.1f bits per image (%.1f bytes)", evaluation.bitsPerToken, evaluation.bitsPerImage, evaluation.bitsPerImage / 8))
            if let c = evaluation.conditionalBitsPerToken {
                print(String(format: "          with the class token: %.4f bits per token, %.1f bits per image", c, c * Double(length)))
            }
            if let report {
                print(String(format: "files (mean of the first %d): zstd-packed %.1f bytes, statistics %@, prior %.1f bytes (%.3f x zstd)",
                             report.images, report.zstdFileBytes, report.statisticsFileBytes.map { String(format: "%.1f bytes", $0) } ?? "n/a",
                             report.priorFileBytes, report.priorToZstd))
                print(String(format: "prior-coded payload %.2f bytes against %.2f estimated bits (%.2f bytes); worst excess over ceil(bits/8): %d bytes",
                             report.priorPayloadBytes, report.estimatedBits, report.estimatedBits / 8, report.worstExcessBytes))
            }
        } catch { throw priorFailure(error) }
    }

    /// `eval prior` for a bounded-context prior: real file sizes of photographs for 1...levels levels.
    func evaluateContextPrior(_ coder: PriorCoder) throws {
        guard case let .context(prior) = coder.model else { return }
        let tokenizer = try decodingTokenizer(recorded: prior.configuration.tokenizerFingerprint, given: self.tokenizer)
        let images = Array(try loadPNGFolders([URL(fileURLWithPath: data)], channels: tokenizer.channels).prefix(max(1, coded)))
        let start = Date()
        let report = try ContextPriorCodingReport.measure(coder: coder, tokenizer: tokenizer, images: images)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print(String(format: "%d photographs from %@, tokenizer %@ (codebook %d: log2 K = %.3f bits per token); %.1f s", report.images, data,
                     tokenizer.name ?? "(checkpoint)", prior.configuration.vocabulary, log2(Double(prior.configuration.vocabulary)),
                     Date().timeIntervalSince(start)))
        print("levels  best of methods 0-3  context prior (method 5)  ratio  prior bits/token (ideal, real)  worst excess")
        for row in report.rows {
            print(String(format: "%6d  %14.4f bpp  %19.4f bpp  %5.3f  %14.3f, %.3f  %9d B", row.levels, row.automaticBitsPerPixel,
                         row.priorBitsPerPixel, row.priorToAutomatic, row.estimatedBitsPerToken, row.payloadBitsPerToken, row.worstExcessBytes))
        }
    }
}
