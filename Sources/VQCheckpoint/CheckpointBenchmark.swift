import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VQEngine
import VQLayers
import VQModels

/// Times checkpoint saving and loading against writing and reading the same number of bytes with plain
/// file I/O, in one run and interleaved, so both see the same machine load and page cache.
public enum CheckpointBenchmark {
    public struct Measurement: Codable, Sendable {
        public var name: String
        /// Median wall time over the repeats.
        public var seconds: Double
        public var bytes: Int
        public var megabytesPerSecond: Double { Double(bytes) / 1e6 / seconds }
    }

    /// A token prior of 10,008,576 parameters (dimension 512, 3 layers, hidden 2048) for `layers: 3`.
    public static func model(layers: Int = 3) -> TokenPrior {
        var rng = RandomGenerator(seed: 7)
        return TokenPrior(configuration: .init(vocabulary: 512, sequenceLength: 49, dimension: 512, heads: 8, layers: layers,
                                               hiddenSize: 2048), rng: &rng)
    }

    /// Drops a (flushed) file's pages from the page cache, so the next read comes from the disk.
    static func evict(_ url: URL) {
        #if canImport(Glibc)
        let descriptor = open(url.path, O_RDONLY)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_DONTNEED))
        close(descriptor)
        #endif
    }

    /// Saves the benchmark model once, then loads it `count` times with `loadWeights` (for profiling);
    /// returns the median seconds per load.
    public static func profileLoading(directory: URL, count: Int) throws -> Double {
        let model = model()
        let url = directory.appendingPathComponent("profile.h5")
        try Checkpoint(model: model).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        var times: [Double] = []
        for _ in 0..<count {
            let start = DispatchTime.now().uptimeNanoseconds
            try Checkpoint.loadWeights(from: url, into: model)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }

    /// Runs every case `repeats` times in `directory` and returns the medians, plus the ratios
    /// checkpoint / plain I/O in `ratios`.
    public static func run(directory: URL, layers: Int = 3, repeats: Int = 5,
                           progress: (String) -> Void = { _ in }) throws -> (measurements: [Measurement], ratios: [String: Double]) {
        let model = model(layers: layers)
        let adam = Adam(parameters: model.parameters)
        for i in adam.firstMoments.indices {
            for j in adam.firstMoments[i].indices { adam.firstMoments[i][j] = Float(j % 97) * 1e-3; adam.secondMoments[i][j] = Float(j % 89) * 1e-6 }
        }
        adam.step = 1000
        let training = TrainingState(globalStep: 1000, epoch: 3, randomState: [1, 2, 3, 4], dataOrder: Array(0..<60_000), dataPosition: 128)
        let weightBytes = model.parameterCount * 4
        progress("model: \(TokenPrior.kind), \(groupedInteger(model.parameterCount)) parameters, \(groupedInteger(weightBytes)) bytes of float32")

        // The same bytes the checkpoint holds, as one plain buffer.
        var rawData = Data(count: weightBytes)
        rawData.withUnsafeMutableBytes { buffer in
            var offset = 0
            for p in model.parameters {
                p.data.withUnsafeBytes { src in
                    buffer.baseAddress!.advanced(by: offset).copyMemory(from: src.baseAddress!, byteCount: src.count)
                    offset += src.count
                }
            }
        }
        let fullRaw = rawData + rawData + rawData

        var samples: [String: [Double]] = [:]
        var sizes: [String: Int] = [:]
        func time(_ name: String, bytes: Int, _ body: () throws -> Void) rethrows {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            samples[name, default: []].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            sizes[name] = bytes
        }
        let rawURL = directory.appendingPathComponent("raw.bin")
        let fullRawURL = directory.appendingPathComponent("raw-full.bin")
        let modelURL = directory.appendingPathComponent("model.h5")
        let fullURL = directory.appendingPathComponent("full.h5")
        let safetensorsURL = directory.appendingPathComponent("model.safetensors")
        for r in 0..<repeats {
            progress("repeat \(r + 1) of \(repeats)")
            try time("plain write + fsync + rename (model bytes)", bytes: rawData.count) { try AtomicFile.write(rawData, to: rawURL) }
            try time("plain write, no fsync (model bytes)", bytes: rawData.count) { try rawData.write(to: rawURL) }
            try time("save model (HDF5)", bytes: weightBytes) { try Checkpoint(model: model).write(to: modelURL) }
            try time("save model (safetensors)", bytes: weightBytes) { try Checkpoint(model: model).write(to: safetensorsURL) }
            try time("plain read (model bytes)", bytes: rawData.count) { _ = try Data(contentsOf: rawURL) }
            try time("load model (HDF5)", bytes: weightBytes) { try Checkpoint(contentsOf: modelURL).load(into: model) }
            try time("load model (safetensors)", bytes: weightBytes) { try Checkpoint(contentsOf: safetensorsURL).load(into: model) }
            try time("load model (HDF5, Checkpoint.loadWeights)", bytes: weightBytes) { try Checkpoint.loadWeights(from: modelURL, into: model) }
            // Cold: the file's pages are dropped from the page cache first, so both reads come from the disk.
            try time("plain read, cold cache (model bytes)", bytes: rawData.count) { evict(rawURL); _ = try Data(contentsOf: rawURL) }
            try time("load model (HDF5, loadWeights), cold cache", bytes: weightBytes) {
                evict(modelURL)
                try Checkpoint.loadWeights(from: modelURL, into: model)
            }
            var loaded: Checkpoint?
            try time("  of which: read and verify (HDF5)", bytes: weightBytes) { loaded = try Checkpoint(contentsOf: modelURL) }
            try time("  of which: copy into the model", bytes: weightBytes) { try loaded!.load(into: model) }
            try time("plain write + fsync + rename (full-state bytes)", bytes: fullRaw.count) { try AtomicFile.write(fullRaw, to: fullRawURL) }
            try time("save full state (HDF5)", bytes: fullRaw.count) {
                try Checkpoint(model: model, optimizer: adam, training: training).write(to: fullURL)
            }
            try time("plain read (full-state bytes)", bytes: fullRaw.count) { _ = try Data(contentsOf: fullRawURL) }
            try time("load full state (HDF5)", bytes: fullRaw.count) {
                let checkpoint = try Checkpoint(contentsOf: fullURL)
                try checkpoint.load(into: model)
                _ = try checkpoint.makeOptimizer(for: model)
            }
        }
        for url in [rawURL, fullRawURL, modelURL, fullURL, safetensorsURL] { try? FileManager.default.removeItem(at: url) }
        let order = ["plain write + fsync + rename (model bytes)", "plain write, no fsync (model bytes)", "save model (HDF5)",
                     "save model (safetensors)", "plain read (model bytes)", "load model (HDF5)", "load model (safetensors)",
                     "load model (HDF5, Checkpoint.loadWeights)", "plain read, cold cache (model bytes)",
                     "load model (HDF5, loadWeights), cold cache", "  of which: read and verify (HDF5)", "  of which: copy into the model", "plain write + fsync + rename (full-state bytes)", "save full state (HDF5)", "plain read (full-state bytes)",
                     "load full state (HDF5)"]
        let measurements = order.map { name -> Measurement in
            let sorted = samples[name]!.sorted()
            return Measurement(name: name, seconds: sorted[sorted.count / 2], bytes: sizes[name]!)
        }
        let median = Dictionary(uniqueKeysWithValues: measurements.map { ($0.name, $0.seconds) })
        let ratios = [
            "save model / plain write+fsync": median["save model (HDF5)"]! / median["plain write + fsync + rename (model bytes)"]!,
            "save model / plain write (no fsync)": median["save model (HDF5)"]! / median["plain write, no fsync (model bytes)"]!,
            "load model / plain read": median["load model (HDF5)"]! / median["plain read (model bytes)"]!,
            "load model (loadWeights) / plain read": median["load model (HDF5, Checkpoint.loadWeights)"]! / median["plain read (model bytes)"]!,
            "load model (loadWeights) / plain read, cold cache":
                median["load model (HDF5, loadWeights), cold cache"]! / median["plain read, cold cache (model bytes)"]!,
            "save full state / plain write+fsync": median["save full state (HDF5)"]! / median["plain write + fsync + rename (full-state bytes)"]!,
            "load full state / plain read": median["load full state (HDF5)"]! / median["plain read (full-state bytes)"]!,
        ]
        return (measurements, ratios)
    }
}
