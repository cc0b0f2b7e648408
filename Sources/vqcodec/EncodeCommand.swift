import ArgumentParser
import Foundation
import VQCodec
import VQEngine

/// `--entropy`: `auto` or one of the payload methods of Formats/vqc.md by short name.
enum EntropyChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, zstd, stored, frequentFlag = "frequent-flag", statistics, prior
    var method: EntropyMethod? { EntropyMethod.allCases.first { $0.shortName == rawValue } }
}

struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Compress PNG images to .vqc files (zstd-packed VQ-VAE token indices).",
        discussion: """
        One image: writes OUT (default IMG.vqc; '-' for standard output). Several images or folders (searched \
        recursively for .png): writes into the folder given with -o (default: next to each input), in parallel, \
        with progress on standard error when it takes more than a second. '-' as the input reads standard input.

        Input: 8-bit gray or RGB PNG of any size. Gray+alpha and RGBA are refused unless --drop-alpha \
        (composites over white). 16-bit and palette PNGs are refused with the command that converts them.

        The default model is 'mnist' for gray images up to 64x64 pixels and 'photo' otherwise. The file records \
        the model's fingerprint, so `vqcodec decode` finds the model again. Format: Formats/vqc.md.

        --entropy auto writes whichever of methods 0 to 3 gives the smallest file. --entropy prior codes the \
        tokens with a prior's probabilities (the built-in prior of the model, or --prior): with the mnist \
        transformer prior (method 4) the smallest files, about 10 ms more per digit; with the photo model's \
        bounded-context prior (method 5) every level of a photograph of any size, about 1 s more per \
        megapixel and level to decode. The file names the prior by fingerprint.

        Exit codes: 0 success; 1 failure (an output could not be written, a model could not be loaded); \
        2 bad usage or bad input (unreadable, corrupt or unsupported images).
        """
    )

    @Argument(help: "PNG images or folders of them ('-' reads standard input).")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "Output file (one input; '-' for standard output) or folder (several inputs).")
    var output: String?

    @Option(help: "Tokenizer: a built-in name (mnist, photo) or a checkpoint path.")
    var model: String?

    @Option(help: "Residual levels to keep (1 to the model's count; fewer levels: smaller files, lower quality).")
    var level: Int?

    @Option(help: "Payload coding: \(EntropyChoice.allCases.map(\.rawValue).joined(separator: ", ")).")
    var entropy: EntropyChoice = .auto

    @Option(help: "The prior for --entropy prior: a built-in name (mnist, photo) or a checkpoint path (implies --entropy prior).")
    var prior: String?

    @Flag(help: "Encode images with an alpha channel by compositing them over white.")
    var dropAlpha = false

    @Option(help: "Threads for the batch work and the models (default: all cores). Results do not depend on it.")
    var threads: Int?

    @Flag(name: .shortAndLong, help: "Print nothing on success.")
    var quiet = false

    func validate() throws {
        if let level, level < 1 { throw ValidationError("--level must be at least 1, found \(level)") }
    }

    func run() throws {
        AtomicFile.installSignalCleanup()
        if let threads {
            CodecThreads.count = max(1, threads)
            ComputeThreads.set(max(1, threads))
        }
        var job = EncodeJob(inputs: inputs, output: output, model: model, levels: level, dropAlpha: dropAlpha)
        job.method = entropy.method
        job.prior = prior
        job.showProgress = !quiet
        let started = Date()
        let outcomes: [FileOutcome]
        do { outcomes = try job.run(notes: { printError($0) }) } catch { throw fail(error) }
        report(outcomes, verb: "encoded", quiet: quiet || outcomes.first?.task.output == "-", started: started)
    }
}

/// Prints a batch's errors and summary; exits with the batch's status.
func report(_ outcomes: [FileOutcome], verb: String, quiet: Bool, started: Date) {
    for outcome in outcomes { if let error = outcome.error { printError("error: \(error)") } }
    let ok = outcomes.filter { $0.error == nil }
    if !quiet {
        if outcomes.count == 1, let one = ok.first {
            let bpp = verb == "encoded" ? Double(one.outputBytes * 8) / Double(max(one.pixels, 1)) : Double(one.inputBytes * 8) / Double(max(one.pixels, 1))
            print("\(one.task.input) -> \(one.task.output): \(one.inputBytes) -> \(one.outputBytes) bytes (\(String(format: "%.3f", bpp)) bits per pixel)")
        } else if outcomes.count > 1 {
            let seconds = Date().timeIntervalSince(started)
            let (inBytes, outBytes) = ok.reduce((0, 0)) { ($0.0 + $1.inputBytes, $0.1 + $1.outputBytes) }
            print("\(verb) \(ok.count) of \(outcomes.count) files in \(String(format: "%.2f", seconds)) s "
                  + "(\(Int(Double(ok.count) / max(seconds, 1e-9))) files/s): \(inBytes) -> \(outBytes) bytes")
        }
    }
    let status = ExitStatus.of(outcomes)
    if status != .success { exit(status.rawValue) }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
}

/// Prints an error and returns the exit code it maps to.
func fail(_ error: Error) -> ExitCode {
    printError("error: \(error)")
    return ExitCode(ExitStatus.of(error).rawValue)
}
