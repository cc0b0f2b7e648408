import Foundation
import VQEngine
import VQLayers
import VQModels

/// One measured case: the median over timed steps after warm-up.
public struct BenchmarkResult: Codable, Sendable {
    public var `case`: String
    public var threads: Int
    public var batch: Int
    /// Items (images or sequences) per second at the median step time.
    public var per_s: Double
    /// Median milliseconds per step.
    public var ms: Double
    /// Achieved GFLOP/s at the median (counting 2 FLOPs per multiply-add).
    public var gflops: Double
    /// What `per_s` counts: "images", "sequences" or "gemm".
    public var unit: String
    /// The OpenBLAS kernel family in use (see `BLASCore`).
    public var blas_core: String = BLASCore.name
    /// Peak resident memory of the process so far, in MiB.
    public var peak_mib: Double
    /// Median CPU time per step over all threads, in ms: on a shared machine it stays near the uncontended
    /// cost while wall time (`ms`) grows with other load.
    public var cpu_ms: Double

    public var line: String {
        let name = self.case.padding(toLength: 18, withPad: " ", startingAt: 0)
        return String(format: "%@ threads=%d batch=%-4d %10.1f %@/s %9.2f ms/step %7.1f GFLOP/s  cpu %.2f ms  peak %.0f MiB",
                      name, threads, batch, per_s, unit, ms, gflops, cpu_ms, peak_mib)
    }
}

/// Peak resident set size of this process in MiB (Linux reports ru_maxrss in KiB).
public func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// CPU time used by every thread of this process, in seconds.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// The benchmark cases of `vqcodec bench`, mirrored for PyTorch by Tools/reference/bench_torch.py.
public enum BenchmarkSuite {
    public static let caseNames = ["MLPVAE-train", "ConvVQVAE-train", "TokenPrior-train", "ConvVQVAE-encode", "ConvVQVAE-decode", "gemm-2048"]

    /// Runs the selected cases (all by default) with `threads` threads, `warmup` untimed steps and `steps`
    /// timed steps each, calling `report` as each case finishes.
    public static func run(threads: Int, steps: Int, warmup: Int = 3, cases: [String] = caseNames,
                           report: (BenchmarkResult) -> Void) {
        ComputeThreads.set(threads)
        for name in cases {
            guard let result = runCase(name, threads: threads, steps: steps, warmup: warmup) else { continue }
            report(result)
        }
    }

    static func runCase(_ name: String, threads: Int, steps: Int, warmup: Int) -> BenchmarkResult? {
        var rng = RandomGenerator(seed: 1234)
        let step: () -> Void
        let batch: Int, flopsPerStep: Double, unit: String
        switch name {
        case "MLPVAE-train":
            batch = 128; unit = "images"
            let model = MLPVAE(rng: &rng)
            let optimizer = Adam(parameters: model.parameters, learningRate: 1e-3)
            let x = rng.uniform([batch, 784])
            let noise = rng.normal([batch, 20])
            let c = model.configuration
            let macs = Double(c.inputSize * c.hiddenSize * 2 + c.hiddenSize * c.latentSize * 3)
            flopsPerStep = 6 * macs * Double(batch)
            step = {
                optimizer.zeroGradients()
                model.loss(x, noise: noise).total.backward()
                optimizer.update()
            }
        case "ConvVQVAE-train":
            batch = 128; unit = "images"
            let model = ConvVQVAE(rng: &rng)
            let optimizer = Adam(parameters: model.parameters, learningRate: 2e-4)
            let x = rng.uniform([batch, 1, 28, 28])
            flopsPerStep = 6 * 8.63e6 * Double(batch)
            step = {
                optimizer.zeroGradients()
                model(x).loss.total.backward()
                optimizer.update()
            }
        case "TokenPrior-train":
            batch = 128; unit = "sequences"
            let model = TokenPrior(rng: &rng)
            let optimizer = Adam(parameters: model.parameters, learningRate: 3e-4)
            let c = model.configuration
            let tokens = (0..<(batch * c.sequenceLength)).map { _ in Int(rng.next() % UInt64(c.vocabulary)) }
            flopsPerStep = 3 * 2 * tokenPriorForwardMACs(c) * Double(batch)
            step = {
                optimizer.zeroGradients()
                model.loss(tokens: tokens, batch: batch).total.backward()
                optimizer.update()
            }
        case "ConvVQVAE-encode":
            batch = 256; unit = "images"
            let model = ConvVQVAE(rng: &rng)
            let x = rng.uniform([batch, 1, 28, 28])
            flopsPerStep = 2 * encoderMACs(model) * Double(batch)
            step = { _ = Autograd.withoutRecording { model.vq.nearestCodes(model.encode(x).permuted([0, 2, 3, 1]).reshaped([-1, 64])) } }
        case "ConvVQVAE-decode":
            batch = 256; unit = "images"
            let model = ConvVQVAE(rng: &rng)
            let indices = (0..<(batch * 49)).map { _ in Int(rng.next() % 512) }
            flopsPerStep = 2 * (8.63e6 - encoderMACs(model)) * Double(batch)
            step = { _ = Autograd.withoutRecording { model.decode(model.vq.lookup(indices, batch: batch, height: 7, width: 7)) } }
        case "gemm-2048":
            batch = 1; unit = "gemm"
            let a = rng.uniform([2048, 2048]), b = rng.uniform([2048, 2048])
            flopsPerStep = 2 * 2048 * 2048 * 2048
            step = { _ = Autograd.withoutRecording { a.matmul(b) } }
        default:
            return nil
        }
        for _ in 0..<warmup { step() }
        var times: [Double] = [], cpuTimes: [Double] = []
        for _ in 0..<max(1, steps) {
            let start = DispatchTime.now().uptimeNanoseconds, cpuStart = processCPUSeconds()
            step()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            cpuTimes.append(processCPUSeconds() - cpuStart)
        }
        let median = Self.median(times)
        return BenchmarkResult(case: name, threads: threads, batch: batch, per_s: Double(batch) / median, ms: median * 1000,
                               gflops: flopsPerStep / median / 1e9, unit: unit, peak_mib: peakResidentMiB(),
                               cpu_ms: Self.median(cpuTimes) * 1000)
    }

    static func median(_ values: [Double]) -> Double {
        let v = values.sorted()
        return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
    }

    /// Multiply-adds of the encoder convolutions (the rest of the 8.63 M is the decoder and the codebook search).
    static func encoderMACs(_ model: ConvVQVAE) -> Double {
        let c = model.configuration
        let enc1 = 14 * 14 * c.hiddenChannels * c.channels * 16
        let enc2 = 7 * 7 * c.latentChannels * c.hiddenChannels * 16
        let enc3 = 7 * 7 * c.latentChannels * c.latentChannels * 9
        return Double(enc1 + enc2 + enc3)
    }

    static func tokenPriorForwardMACs(_ c: TokenPrior.Configuration) -> Double {
        let t = Double(c.sequenceLength), d = Double(c.dimension)
        let perBlock = t * (d * 3 * d + d * d + 2 * d * Double(c.hiddenSize)) + 2 * t * t * d
        return Double(c.layers) * perBlock + t * d * Double(c.vocabulary)
    }
}
