import Foundation

/// Progress of a long training run: on a terminal one line redrawn in place (epoch, step, bar, loss terms,
/// images/s, ETA); otherwise plain lines every `plainEvery` steps, so logs stay readable. Generic over the
/// model: callers pass named values.
public final class ProgressDisplay {
    public let totalEpochs: Int
    public let stepsPerEpoch: Int
    public let batchSize: Int
    let isTerminal: Bool
    let plainEvery: Int
    let write: (String) -> Void
    private var lastDraw = 0.0
    private var epochStart = 0.0
    private var stepsThisEpoch = 0
    private var firstStepOfEpoch = 0

    /// `write` receives whole lines (with "\r" in front on a terminal); stdout by default.
    public init(totalEpochs: Int, stepsPerEpoch: Int, batchSize: Int, isTerminal: Bool = isatty(1) != 0,
                plainEvery: Int = 100, write: @escaping (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) }) {
        self.totalEpochs = totalEpochs
        self.stepsPerEpoch = stepsPerEpoch
        self.batchSize = batchSize
        self.isTerminal = isTerminal
        self.plainEvery = plainEvery
        self.write = write
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Call at the start of each epoch (0-based), with the step it starts from when resuming mid-epoch.
    public func beginEpoch(_ epoch: Int, atStep step: Int = 0) {
        epochStart = Self.now()
        stepsThisEpoch = 0
        firstStepOfEpoch = step
    }

    /// Call after each step (`step` is 1-based within the epoch) with the running values to show.
    public func update(epoch: Int, step: Int, values: [(String, Double)]) {
        stepsThisEpoch += 1
        let t = Self.now()
        let elapsed = t - epochStart
        let rate = Double(stepsThisEpoch * batchSize) / Swift.max(elapsed, 1e-9)
        let remainingSteps = (stepsPerEpoch - step) + (totalEpochs - epoch - 1) * stepsPerEpoch
        let eta = Double(remainingSteps * batchSize) / Swift.max(rate, 1e-9)
        let terms = values.map { "\($0.0) \(Self.format($0.1))" }.joined(separator: "  ")
        let head = "epoch \(epoch + 1)/\(totalEpochs) step \(step)/\(stepsPerEpoch)"
        if isTerminal {
            guard t - lastDraw >= 0.2 || step == stepsPerEpoch else { return }
            lastDraw = t
            let width = 20, filled = width * step / Swift.max(stepsPerEpoch, 1)
            let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
            write("\r\(head) [\(bar)] \(terms)  \(Int(rate)) img/s  ETA \(Self.duration(eta))\u{1B}[K")
        } else if step % plainEvery == 0 {
            write("\(head)  \(terms)  \(Int(rate)) img/s  ETA \(Self.duration(eta))\n")
        }
    }

    /// Ends the epoch's line with a summary.
    public func endEpoch(_ epoch: Int, summary: String) {
        let seconds = Self.now() - epochStart
        if isTerminal { write("\r\u{1B}[K") }
        write("epoch \(epoch + 1)/\(totalEpochs) done in \(Self.duration(seconds)): \(summary)\n")
    }

    public static func format(_ v: Double) -> String { String(format: Swift.abs(v) >= 100 ? "%.1f" : "%.3f", v) }

    /// "1:02:03" or "2:03".
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
