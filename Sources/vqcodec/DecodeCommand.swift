import ArgumentParser
import Foundation
import VQCodec

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

    @Flag(name: .shortAndLong, help: "Print nothing on success.")
    var quiet = false

    func run() throws {
        AtomicFile.installSignalCleanup()
        let started = Date()
        let outcomes: [FileOutcome]
        do { outcomes = try DecodeJob(inputs: inputs, output: output, model: model).run() } catch { throw fail(error) }
        report(outcomes, verb: "decoded", quiet: quiet || outcomes.first?.task.output == "-", started: started)
    }
}
