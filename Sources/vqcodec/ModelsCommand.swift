import ArgumentParser
import Foundation
import VQCheckpoint
import VQEngine
import VQTokenizer
import VQTraining

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the built-in models (tokenizers with their figures, priors), or evaluate a tokenizer.",
        subcommands: [ModelsListCommand.self, ModelsEvaluateCommand.self, ModelsExportCommand.self],
        defaultSubcommand: ModelsListCommand.self
    )
}

struct ModelsListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the built-in tokenizer models with their measured figures.",
        discussion: "The figures come from `vqcodec models evaluate --figures`; Tools/train/RESULTS.md has the commands."
    )

    @Flag(help: "Also load each model and print its fingerprint and parameter layout.")
    var verbose = false

    func run() throws {
        for info in BuiltinModelInfo.all() {
            let name = info.builtin.rawValue
            guard info.url != nil else {
                print("\(name): not in this build (run Tools/train/\(name).sh)")
                continue
            }
            let tokenizer = try Tokenizer.builtin(info.builtin)
            let size = info.fileSize.map { String(format: "%.2f MB", Double($0) / 1_000_000) } ?? "?"
            print("\(name): \(tokenizer.modelKind), \(tokenizer.channels == 1 ? "gray" : "RGB") images, one token per "
                  + "\(tokenizer.downsampling)x\(tokenizer.downsampling) pixels, \(tokenizer.levels) level(s) of codebooks "
                  + "\(tokenizer.codebookSizes), weights \(size)")
            if verbose { print("  fingerprint \(tokenizer.fingerprint)") }
            guard let figures = info.figures else { print("  (no recorded figures)"); continue }
            print("  on \(figures.evaluatedOn):")
            for level in figures.levels {
                print(String(format: "    levels %d: PSNR %.2f dB at %.4f bpp, codebook usage %.1f%%, perplexity %.1f",
                             level.levels, level.psnr, level.bitsPerPixel, 100 * level.codebookUsage, level.perplexity))
            }
            if let agreement = figures.reencodeAgreement {
                print(String(format: "    encode -> decode -> encode keeps %.2f%% of the tokens", 100 * agreement))
            }
            for line in figures.throughput { print("  \(line)") }
            print("  training: \(figures.training)")
        }
        for builtin in BuiltinPrior.allCases {
            let name = "\(builtin.rawValue) prior"
            guard Prior.builtinURL(builtin) != nil else { print("\(name): not in this build (run Tools/train/prior.sh)"); continue }
            let prior = try Prior.builtin(builtin)
            let c = prior.configuration
            print("\(name): token-prior over the '\(prior.builtinTokenizer()?.name ?? "?")' tokenizer's \(c.sequenceLength) tokens of \(c.vocabulary) codes, "
                  + "\(c.layers) blocks of width \(c.dimension), \(c.classes) classes, \(prior.model.parameterCount) parameters; "
                  + "`vqcodec eval prior \(builtin.rawValue) --data ...` measures it (Tools/train/PRIOR_RESULTS.md)")
            if verbose { print("  fingerprint \(prior.fingerprint)") }
        }
        for builtin in BuiltinContextPrior.allCases {
            let name = "\(builtin.rawValue) prior"
            guard ContextPriorModel.builtinURL(builtin) != nil else { print("\(name): not in this build (run Tools/train/photo-prior.sh)"); continue }
            let prior = try ContextPriorModel.builtin(builtin)
            let c = prior.configuration
            print("\(name): context-prior over \(c.levels) levels of \(c.vocabulary) codes (\(c.slots) context slots of \(c.embedding), hidden \(c.hiddenSize)), "
                  + "\(prior.model.parameterCount) parameters, any image size (.vqc method 5); "
                  + "`vqcodec eval prior \(builtin.rawValue) --data ../shared/data/kodak` measures it (Tools/train/PRIOR_RESULTS.md)")
            if verbose { print("  fingerprint \(prior.fingerprint)") }
        }
    }
}

struct ModelsEvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure a tokenizer on held-out images: PSNR, raw bits per pixel and codebook use per level, and throughput.",
        discussion: """
        --model is a built-in name (mnist, photo) or a checkpoint. --data is the MNIST folder (its test split is used)         or a folder of PNG/PPM photographs (its test/ subfolder when there is one), e.g. ../shared/data/kodak.
        Example: vqcodec models evaluate --model photo --data ../shared/data/kodak --per-image
        """
    )

    @Option(help: "A built-in model name or a checkpoint path.") var model: String
    @Option(help: "Evaluation data folder.") var data: String
    @Option(help: "Evaluate at most this many images (0: all).") var limit: Int = 0
    @Option(help: "Compute threads.") var threads: Int = 2
    @Option(help: "Batch size for the MNIST throughput measurement.") var batch: Int = 256
    @Flag(help: "Print every image's PSNR and bpp.") var perImage = false
    @Flag(help: "Print the result as JSON.") var json = false
    @Option(help: "Write the figures JSON that `vqcodec models` shows (for Sources/VQTokenizer/Models/<name>.json).") var figures: String?
    @Option(help: "Training note recorded with --figures.") var trainingNote: String = ""

    func run() throws {
        ComputeThreads.set(threads)
        let tokenizer: Tokenizer
        if let builtin = BuiltinTokenizer(rawValue: model) {
            tokenizer = try Tokenizer.builtin(builtin)
        } else {
            tokenizer = try Tokenizer(checkpoint: URL(fileURLWithPath: model))
        }
        let dataset: VQVAETrainingConfiguration.Dataset = tokenizer.channels == 1 ? .mnist : .photo
        let images = try loadEvaluationImages(dataset, data: URL(fileURLWithPath: data), channels: tokenizer.channels, limit: limit)
        let evaluation = try TokenizerEvaluation(tokenizer: tokenizer, images: images)
        var throughput: [String] = []
        let megapixels = Double(evaluation.pixels) / 1e6
        if dataset == .mnist {
            let sample = Array(images.prefix(batch))
            _ = try tokenizer.encode(sample)
            let t0 = Date()
            let grids = try tokenizer.encode(sample)
            let t1 = Date()
            _ = try tokenizer.decode(grids)
            let t2 = Date()
            throughput.append(String(format: "encode %.0f images/s, decode %.0f images/s (batch %d, %d threads)",
                                     Double(sample.count) / t1.timeIntervalSince(t0), Double(sample.count) / t2.timeIntervalSince(t1), sample.count, threads))
        } else {
            throughput.append(String(format: "encode %.3f MP/s, decode %.3f MP/s at all %d levels (%d threads)",
                                     megapixels / evaluation.encodeSeconds, megapixels / evaluation.decodeSeconds, tokenizer.levels, threads))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(evaluation), as: UTF8.self))
        } else {
            print("\(model) on \(evaluation.images) images (\(String(format: "%.2f", megapixels)) MP) from \(data):")
            for level in evaluation.levels {
                print(String(format: "  levels %d: mean PSNR %.2f dB (PSNR of mean MSE %.2f), %.4f bpp, codebook usage %.1f%% (%d/%d), perplexity %.1f",
                             level.levels, level.meanPSNR, level.psnrOfMeanMSE, level.bitsPerPixel, 100 * level.codebook.usage,
                             level.codebook.used, level.codebook.codes, level.codebook.perplexity))
                if perImage {
                    for (i, (p, b)) in zip(level.imagePSNR, level.imageBitsPerPixel).enumerated() {
                        print(String(format: "    image %2d: %.2f dB, %.4f bpp", i + 1, p, b))
                    }
                }
            }
            print(String(format: "  encode -> decode -> encode keeps %.2f%% of the tokens", 100 * evaluation.reencodeAgreement))
            for line in throughput { print("  \(line)") }
        }
        if let figures {
            let record = BuiltinFigures(
                evaluatedOn: dataset == .mnist ? "MNIST test (\(evaluation.images) images)" : "\(URL(fileURLWithPath: data).lastPathComponent) (\(evaluation.images) images)",
                levels: evaluation.levels.map { .init(levels: $0.levels, psnr: $0.meanPSNR, bitsPerPixel: $0.bitsPerPixel,
                                                       codebookUsage: $0.codebook.usage, perplexity: $0.codebook.perplexity) },
                throughput: throughput, training: trainingNote, reencodeAgreement: evaluation.reencodeAgreement)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(record).write(to: URL(fileURLWithPath: figures))
        }
    }
}

struct ModelsExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a tokenizer checkpoint's weights (and quantiser buffers) alone, as the built-in models are shipped.",
        discussion: "Example: vqcodec models export /tmp/runs/mnist/epoch-005.h5 Sources/VQTokenizer/Models/mnist.safetensors"
    )

    @Argument(help: "A tokenizer checkpoint (HDF5 or safetensors).") var input: String
    @Argument(help: "The output .safetensors file.") var output: String

    func run() throws {
        let url = URL(fileURLWithPath: input)
        let checkpoint = try Checkpoint(contentsOf: url)
        let tokenizer = try Tokenizer(checkpoint, path: url.path)
        try checkpoint.weightsOnly.write(to: URL(fileURLWithPath: output))
        print("\(output): \(tokenizer.modelKind), codebooks \(tokenizer.codebookSizes), fingerprint \(tokenizer.fingerprint)")
    }
}
