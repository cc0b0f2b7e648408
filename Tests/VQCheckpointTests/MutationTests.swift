import Foundation
import Testing
import VQEngine
import VQLayers
import VQModels
@testable import VQCheckpoint

/// Deterministic damage to a file: bit flips, byte overwrites, truncation, inserted garbage, zeroed ranges.
struct Mutator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }

    /// One damaged copy of `original`, and a short description of the damage.
    mutating func mutate(_ original: Data) -> (Data, String) {
        var data = original
        switch below(6) {
        case 0:
            let flips = 1 + below(8)
            for _ in 0..<flips { data[below(data.count)] ^= UInt8(1 << below(8)) }
            return (data, "\(flips) bit flips")
        case 1:
            let count = 1 + below(16)
            for _ in 0..<count { data[below(data.count)] = UInt8(truncatingIfNeeded: next()) }
            return (data, "\(count) random bytes")
        case 2:
            let length = below(data.count)
            return (data.prefix(length), "truncated to \(length) bytes")
        case 3:
            let start = below(data.count), length = 1 + below(4096)
            let garbage = Data((0..<length).map { _ in UInt8(truncatingIfNeeded: next()) })
            data.replaceSubrange(start..<Swift.min(data.count, start + length), with: garbage)
            return (data, "\(length) garbage bytes at \(start)")
        case 4:
            let start = below(data.count), length = 1 + below(512)
            data.resetBytes(in: start..<Swift.min(data.count, start + length))
            return (data, "zeroed \(length) bytes at \(start)")
        default:
            // Damage concentrated in the first 4 KiB: superblock, root object header, attributes, JSON header.
            let count = 1 + below(4)
            for _ in 0..<count { data[below(Swift.min(4096, data.count))] ^= UInt8(1 + below(255)) }
            return (data, "\(count) bytes changed in the first 4 KiB")
        }
    }
}

/// Counts of what happened to mutated files.
struct MutationTally: CustomStringConvertible {
    var files = 0
    var loaded = 0
    var silentlyWrong: [String] = []
    var leaks: [String] = []
    var verdicts: [VerifyReport.Verdict: Int] = [:]
    var messages: [String: Int] = [:]

    var description: String {
        let top = messages.sorted { $0.value > $1.value }.prefix(12).map { "  \($0.value)x \($0.key)" }.joined(separator: "\n")
        return "\(files) files: loaded \(loaded), silently wrong \(silentlyWrong.count), leaking \(leaks.count), verify \(verdicts.map { "\($0.key.rawValue) \($0.value)" }.sorted().joined(separator: ", "))\nmost frequent errors:\n\(top)"
    }
}

/// Runs inspect (with statistics), verify and a full load on `count` damaged copies of each source file.
func runMutations(count: Int, seed: UInt64, in dir: URL) throws -> MutationTally {
    let model = smallConvModel()
    let adam = Adam(parameters: model.parameters)
    adam.step = 3
    let training = TrainingState(globalStep: 3, epoch: 1, randomState: [1, 2, 3, 4], dataOrder: Array(0..<64), dataPosition: 32,
                                 metrics: ["loss": [3, 2, 1]])
    let full = Checkpoint(model: model, optimizer: adam, training: training)
    let sources = [("full.h5", full), ("weights.h5", full.weightsOnly), ("weights.safetensors", full.weightsOnly)]
    var originals: [(String, Data, Checkpoint)] = []
    for (name, checkpoint) in sources {
        let url = dir.appendingPathComponent(name)
        try checkpoint.write(to: url)
        originals.append((name, try Data(contentsOf: url), try Checkpoint(contentsOf: url)))
    }
    var mutator = Mutator(state: seed)
    var tally = MutationTally()
    for i in 0..<count {
        let (name, original, expected) = originals[i % originals.count]
        let (damaged, what) = mutator.mutate(original)
        let url = dir.appendingPathComponent("m\(i)-\(name)")
        try damaged.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        tally.files += 1
        _ = try? InspectReport(url: url, statistics: true)
        let verdict = VerifyReport(url: url).verdict
        tally.verdicts[verdict, default: 0] += 1
        defer {
            if HDF5.openObjectCount > 0 { tally.leaks.append("\(name): \(what): \(HDF5.openObjectCount) objects open") }
        }
        do throws(CheckpointError) {
            let run = try RestoredRun(contentsOf: url)
            tally.loaded += 1
            // safetensors has no checksums, so damaged tensor bytes load; HDF5 must never load wrong values.
            if name.hasSuffix(".h5"), damaged != original,
               !DiffReport(a: expected, b: run.checkpoint, fileA: "", fileB: "", tolerance: 0).isEqual {
                tally.silentlyWrong.append("\(name): \(what)")
            }
        } catch {
            let message = "\(error)".replacingOccurrences(of: url.path, with: "FILE")
                .replacingOccurrences(of: #"\d+"#, with: "N", options: .regularExpression)
            tally.messages[String(message.prefix(160)), default: 0] += 1
        }
    }
    return tally
}

@Suite("mutation")
struct MutationTests {
    /// The CI-sized run; VQ_MUTATION_COUNT=2000 runs the full one (the count goes to stdout).
    @Test("damaged checkpoints never crash inspect, verify or loading, and HDF5 never loads wrong values")
    func mutatedFilesAreRejectedCleanly() throws {
        let count = ProcessInfo.processInfo.environment["VQ_MUTATION_COUNT"].flatMap { Int($0) } ?? 150
        let tally = try withTemporaryDirectory { dir in try runMutations(count: count, seed: 2024, in: dir) }
        print("mutation test: \(tally)")
        #expect(tally.files == count)
        #expect(tally.silentlyWrong.isEmpty, "\(tally.silentlyWrong)")
        // Other suites hold HDF5 objects open while they run in parallel, so leaks are only judged when alone.
        if ProcessInfo.processInfo.environment["VQ_MUTATION_COUNT"] != nil {
            #expect(tally.leaks.isEmpty, "\(tally.leaks.prefix(5))")
        }
    }
}
