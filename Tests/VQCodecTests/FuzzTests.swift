import Foundation
import Testing
import VQImage
import VQTokenizer
@testable import VQCodec

/// Mutated `.vqc` files must be refused with a `ContainerError` or `TokenizerError` (or decode, when the mutation
/// leaves a valid file): never a crash, never a hang. The count comes from VQC_FUZZ_COUNT (default 3,000 for CI;
/// Tools/fuzz/vqc_fuzz.sh runs 100,000 in release mode).
@Suite struct FuzzTests {
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    /// Statistics for the gray test model, so method 3 files are fuzzed through to the tokenizer too.
    static let statistics = ContainerTests.statistics([LevelShape(height: 7, width: 7, codebookSize: 512)])
        .relabeled(fingerprint: TestModels.gray.fingerprint)

    static func seeds() throws -> [[UInt8]] {
        var files: [[UInt8]] = []
        let fp: [UInt8] = Codec.fingerprintPrefix(TestModels.gray.fingerprint)
        let level = LevelShape(height: 7, width: 7, codebookSize: 512)
        let digits = (0..<49).map { $0 % 5 == 0 ? ($0 * 37) % 512 : 17 }
        for method in EntropyMethod.allCases {
            files.append(try ContainerFile.encode(fingerprint: fp, modelName: "mnist", width: 28, height: 28, channels: 1,
                                                  levels: [level], indices: [digits], method: method, statistics: statistics,
                                                  prior: ContainerTests.prior(for: method)))
        }
        files.append(try Codec.encode(TestModels.digit(width: 61, height: 23), tokenizer: TestModels.gray))
        let two = [LevelShape(height: 3, width: 4, codebookSize: 300), LevelShape(height: 3, width: 4, codebookSize: 7)]
        files.append(try ContainerFile.encode(fingerprint: fp, modelName: nil, width: 13, height: 10, channels: 3,
                                              levels: two, indices: [(0..<12).map { $0 * 20 }, (0..<12).map { $0 % 7 }]))
        return files
    }

    /// One mutation: flips, overwrites, truncation, extension, insertion, deletion or varint-boundary values; half
    /// the time the checksum is recomputed so the mutation reaches the header and payload checks behind it.
    static func mutate(_ seed: [UInt8], _ g: inout Generator) -> [UInt8] {
        var b = seed
        switch g.below(8) {
        case 0: for _ in 0...g.below(3) { b[g.below(b.count)] ^= UInt8(1 << g.below(8)) }
        case 1: for _ in 0...g.below(4) { b[g.below(b.count)] = UInt8(truncatingIfNeeded: g.next()) }
        case 2: b = Array(b.prefix(g.below(b.count)))
        case 3: b += (0..<(1 + g.below(16))).map { _ in UInt8(truncatingIfNeeded: g.next()) }
        case 4: b.insert(UInt8(truncatingIfNeeded: g.next()), at: g.below(b.count + 1))
        case 5: if !b.isEmpty { b.remove(at: g.below(b.count)) }
        case 6: b[g.below(min(b.count, 40))] = [0x00, 0x01, 0x7F, 0x80, 0xFF][g.below(5)]
        default:
            let at = g.below(b.count)
            b.replaceSubrange(at..<min(b.count, at + 4), with: [0xFF, 0xFF, 0xFF, 0x7F].prefix(min(4, b.count - at)))
        }
        if g.below(2) == 0 && b.count > 4 {
            let crc = crc32(b.prefix(b.count - 4))
            for k in 0..<4 { b[b.count - 4 + k] = UInt8(truncatingIfNeeded: crc >> UInt32(8 * k)) }
        }
        return b
    }

    @Test func mutatedFilesAreRefusedCleanly() throws {
        #expect(FuzzTests.statistics.fingerprint == TestModels.gray.fingerprint)
        let count = Int(ProcessInfo.processInfo.environment["VQC_FUZZ_COUNT"] ?? "") ?? 3_000
        let seeds = try FuzzTests.seeds()
        var g = Generator(state: UInt64(ProcessInfo.processInfo.environment["VQC_FUZZ_SEED"] ?? "") ?? 1)
        // A mutant naming an unknown prior or statistics loads the shipped ones once (about 1 s in a debug build):
        // load them before the clock starts, so the guard below times the decoders, not a one-time load.
        _ = PriorCoder.shipped(fingerprintPrefix: [0, 0, 0, 0])
        _ = TokenStatistics.shipped(fingerprintPrefix: [0, 0, 0, 0])
        var refused: [String: Int] = [:]
        var decoded = 0, slowest = 0.0
        for _ in 0..<count {
            let bytes = FuzzTests.mutate(seeds[g.below(seeds.count)], &g)
            let start = Date()
            do {
                // The prior of the method the (possibly mutated) method byte names, so method 5 mutants reach its decoder.
                let method = bytes.count > 4 ? EntropyMethod(rawValue: bytes[4]) ?? .zstd : .zstd
                let file = try ContainerFile(bytes, statistics: FuzzTests.statistics, prior: ContainerTests.prior(for: method))
                let header = file.header
                if ModelCatalog.matches(TestModels.gray, header) {
                    let image = try Codec.decode([file], tokenizer: TestModels.gray)[0]
                    #expect(image.width == header.width && image.height == header.height && image.channels == header.channels)
                }
                decoded += 1
            } catch let error as ContainerError {
                refused["\(error)".prefix(40).description, default: 0] += 1
            } catch let error as TokenizerError {
                refused["tokenizer: " + "\(error)".prefix(28), default: 0] += 1
            }
            slowest = max(slowest, Date().timeIntervalSince(start))
        }
        // A hang guard, not a speed claim (Tools/fuzz/vqc_fuzz.sh reports the release-build figure): a decoder
        // that loops or decodes a claimed huge grid takes minutes; the slowest real file takes milliseconds, and a
        // busy CI machine may stretch that tenfold.
        #expect(slowest < 10, "a mutated file took \(slowest) s")
        let total = refused.values.reduce(0, +)
        print("vqc fuzz: \(count) mutated files, \(total) refused with a typed error, \(decoded) still valid and decoded, "
              + "0 crashes, slowest \(String(format: "%.2f", slowest * 1000)) ms")
        for (kind, n) in refused.sorted(by: { $0.value > $1.value }).prefix(12) { print("  \(n)\t\(kind)") }
    }
}

extension TokenStatistics {
    func relabeled(fingerprint: String) -> TokenStatistics { TokenStatistics(fingerprint: fingerprint, levels: levels) }
}
