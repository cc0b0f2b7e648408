import ArgumentParser
import Foundation
import VQCodec
import VQEngine
import VQImage
import VQTokenizer

struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decompress .vqc files to PNG images.",
        discussion: """
        One file: writes OUT (default FILE.png; '-' for standard output). Several files or folders (searched \
        recursively for .vqc): writes into the folder given with -o (default: next to each input).

        The model is found by the fingerprint stored in each file among the built-in models, or taken from \
        --model; a file made with another model is refused with an error naming the model it needs.

        Exit codes: 0 success; 1 failure (an output could not be written, a model could not be loaded); \
        2 bad usage or bad input (unreadable, truncated or corrupt .vqc files, the wrong model).
        """
    )

    @Argument(help: ".vqc files or folders of them ('-' reads standard input).")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "Output PNG (one input; '-' for standard output) or folder (several inputs).")
    var output: String?

    @Option(help: "Tokenizer to decode with: a built-in name (mnist, photo) or a checkpoint path.")
    var model: String?

    @Option(help: "The prior of prior-coded (method 4 or 5) files that is not a built-in: a checkpoint path.")
    var prior: String?

    @Option(help: "An original PNG to compare the decoded image with (one input): prints PSNR and SSIM.")
    var compare: String?

    @Option(help: "Threads for the batch work and the models (default: all cores). Results do not depend on it.")
    var threads: Int?

    @Flag(name: .shortAndLong, help: "Print nothing on success.")
    var quiet = false

    func validate() throws {
        if compare != nil && (inputs.count != 1 || output == "-") {
            throw ValidationError("--compare needs exactly one input and a file output")
        }
    }

    func run() throws {
        AtomicFile.installSignalCleanup()
        if let threads {
            CodecThreads.count = max(1, threads)
            ComputeThreads.set(max(1, threads))
        }
        let started = Date()
        let outcomes: [FileOutcome]
        var job = DecodeJob(inputs: inputs, output: output, model: model, prior: prior)
        job.showProgress = !quiet
        do { outcomes = try job.run() } catch { throw fail(error) }
        report(outcomes, verb: "decoded", quiet: quiet || outcomes.first?.task.output == "-", started: started)
        if let compare, let decodedPath = outcomes.first?.task.output {
            do {
                let original = try ImageInput.read(path: compare)
                let decoded = try ImageInput.read(path: decodedPath)
                guard original.width == decoded.width, original.height == decoded.height else {
                    throw CodecError.cannotRead(path: compare, reason: "it is \(original.width)x\(original.height), the decoded image \(decoded.width)x\(decoded.height)")
                }
                let reference = original.hasAlpha ? original.removingAlpha() : original
                let comparable = decoded.channels == reference.channels ? decoded : decoded.converted(toChannels: reference.channels)
                let psnr = Metrics.psnr(reference, comparable)
                print(String(format: "PSNR %.2f dB, SSIM %.4f against %@", psnr, Metrics.ssim(reference, comparable), compare))
            } catch { throw fail(error) }
        }
    }
}
