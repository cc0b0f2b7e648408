import ArgumentParser
import Foundation
import VQCodec
import VQEngine

@main
struct VQCodec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vqcodec",
        abstract: "Train VAEs and VQ-VAE image tokenizers on the CPU, keep them in HDF5 checkpoints, and compress images to tokens.",
        discussion: """
        Exit codes: 0 success; 1 failure or (for diff/verify) a difference or corruption was found; \
        2 bad usage or unreadable input.
        """,
        subcommands: [EncodeCommand.self, DecodeCommand.self, InfoCommand.self, EvalGroupCommand.self, TokenStatsCommand.self, BenchCommand.self, CheckpointCommand.self,
                      TrainCommand.self, SampleCommand.self, PlotCommand.self, ExperimentCommand.self, ModelsCommand.self]
    )

    static func main() {
        restartWithFasterBLASKernelsIfNeeded()
        AllocatorTuning.keepLargeBlocksForReuse()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            // Usage errors exit with 2 (documented above) rather than ArgumentParser's 64.
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                exit(withError: ExitCode(2))
            }
            exit(withError: error)
        }
    }
}

/// OpenBLAS reads its settings when it loads, before `main`. When it fell back to generic kernels on a CPU with
/// AVX-512 or AVX2, run this program again with `OPENBLAS_CORETYPE` set (once: the variable is then set).
/// (OpenBLAS's own threads stay idle: the engine splits products across its threads itself, `ComputeThreads`.)
private func restartWithFasterBLASKernelsIfNeeded() {
    guard let core = BLASCore.recommendedCoreType() else { return }
    // A second process start costs about 25 ms; one small image (an MNIST digit) is coded in less than that
    // with the generic kernels, so small codec jobs keep this process.
    let arguments = Array(CommandLine.arguments.dropFirst())
    if let command = arguments.first, ["encode", "decode", "info"].contains(command),
       JobSize.isSmall(arguments: Array(arguments.dropFirst()),
                       valueOptions: ["-o", "--output", "--model", "--level", "--prior", "--entropy", "--threads", "--compare"]) {
        return
    }
    setenv("OPENBLAS_CORETYPE", core, 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // execv returns only on failure; carry on with the slower kernels.
}
