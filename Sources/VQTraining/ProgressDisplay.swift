import Foundation

/// Training progress: on a terminal one line rewritten in place; otherwise a plain line every few seconds.
final class ProgressDisplay: @unchecked Sendable {
    private let output: @Sendable (String) -> Void
    private let isTerminal = isatty(STDOUT_FILENO) != 0
    private var lastPrint = Date.distantPast
    private var pending = false

    init(output: @escaping @Sendable (String) -> Void) { self.output = output }

    func step(epoch: Int, epochs: Int, step: Int, steps: Int, terms: [String: Double], imagesPerSecond: Double, eta: Double) {
        let now = Date()
        let interval = isTerminal ? 0.25 : 10
        guard now.timeIntervalSince(lastPrint) >= interval || step == steps else { return }
        lastPrint = now
        let termText = terms.keys.sorted().map { String(format: "%@ %.5f", $0, terms[$0]!) }.joined(separator: " ")
        let text = String(format: "epoch %d/%d step %d/%d (%3.0f%%) %@ | %.0f img/s | ETA %@",
                          epoch, epochs, step, steps, 100 * Double(step) / Double(max(1, steps)), termText, imagesPerSecond, duration(eta))
        if isTerminal {
            FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + text).utf8))
            pending = true
        } else {
            output(text)
            fflush(nil)
        }
    }

    func finish() {
        if pending { FileHandle.standardOutput.write(Data("\n".utf8)); pending = false }
    }

    func line(_ text: String) {
        finish()
        output(text)
        fflush(nil)
    }

    private func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds)
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }
}
