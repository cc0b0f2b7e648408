import ArgumentParser
import Foundation
import VQBench

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training and inference speed of the reference architectures on random data.",
        discussion: """
        Each case runs warm-up steps, then timed steps, and prints the median: images (or sequences) per \
        second, milliseconds per step, GFLOP/s, and the process's peak memory. Tools/reference/bench_torch.py \
        prints the same cases for PyTorch. Cases: \(BenchmarkSuite.caseNames.joined(separator: ", ")).
        """
    )

    @Option(help: "Threads for BLAS and the engine's own loops (1 or 2 on this machine).")
    var threads: Int = 1

    @Option(help: "Timed steps per case (the median is reported).")
    var steps: Int = 20

    @Option(help: "Untimed warm-up steps per case.")
    var warmup: Int = 3

    @Option(name: .customLong("case"), help: "Run only this case (repeatable).")
    var cases: [String] = []

    @Flag(help: "Print one JSON object per line instead of a table.")
    var json = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, found \(threads)") }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, found \(steps)") }
        for name in cases where !BenchmarkSuite.caseNames.contains(name) {
            throw ValidationError("unknown case '\(name)'; known cases: \(BenchmarkSuite.caseNames.joined(separator: ", "))")
        }
    }

    func run() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        BenchmarkSuite.run(threads: threads, steps: steps, warmup: warmup,
                           cases: cases.isEmpty ? BenchmarkSuite.caseNames : cases) { result in
            if json, let data = try? encoder.encode(result), let text = String(data: data, encoding: .utf8) {
                print(text)
            } else {
                print(result.line)
            }
        }
    }
}
