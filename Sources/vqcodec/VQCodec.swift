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
/// AVX-512 or AVX2, or would start its own worker threads, run this program again with `OPENBLAS_CORETYPE` and
/// `OPENBLAS_NUM_THREADS=1` set (once: the variables are then set). The engine splits products over its own
/// threads (`ComputeThreads`), so OpenBLAS's workers only ever wait, and here they waited spinning: a whole
/// second core busy during one-thread training (MLPVAE-train: 13.8 ms of CPU per 7.1 ms step).
private func restartWithFasterBLASKernelsIfNeeded() {
    let core = BLASCore.recommendedCoreType()
    let workersUnset = ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] == nil
    guard core != nil || workersUnset else { return }
    // A second process start costs about 25 ms; one small image (an MNIST digit) is coded in less than that
    // with the generic kernels, so small codec jobs keep this process.
    let arguments = Array(CommandLine.arguments.dropFirst())
    if let command = arguments.first, ["encode", "decode", "info"].contains(command),
       JobSize.isSmall(arguments: Array(arguments.dropFirst()),
                       valueOptions: ["-o", "--output", "--model", "--level", "--prior", "--entropy", "--threads", "--compare"]) {
        return
    }
    if let core { setenv("OPENBLAS_CORETYPE", core, 1) }
    if workersUnset { setenv("OPENBLAS_NUM_THREADS", "1", 1) }
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // execv returns only on failure; carry on with the slower kernels.
}
