import Foundation
import VQEngine
import VQModels
@testable import VQCheckpoint

/// A fresh directory under the system temporary directory, removed when `body` returns.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("vqcodec-checkpoint-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

/// A small ConvVQVAE (fast to build and save) with deterministic weights.
func smallConvModel(seed: UInt64 = 1) -> ConvVQVAE {
    var rng = RandomGenerator(seed: seed)
    return ConvVQVAE(configuration: .init(hiddenChannels: 8, latentChannels: 16, codes: 32), rng: &rng)
}

/// Bit patterns, so that -0.0 vs 0.0 and NaN payloads count as differences.
func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

/// The error a throwing expression raised, as CheckpointError.
func checkpointError(_ body: () throws -> Void) -> CheckpointError? {
    do {
        try body()
        return nil
    } catch let error as CheckpointError {
        return error
    } catch {
        return nil
    }
}
