import Foundation

/// What `vqcodec checkpoint verify` reports: format, checksums and completeness, and a verdict.
public struct VerifyReport: Codable, Sendable {
    public enum Verdict: String, Codable, Sendable {
        /// Every check passed.
        case sound
        /// A vqcodec checkpoint (or a file that claims to be one) that is damaged or incomplete.
        case corrupt
        /// Not usable as input at all: missing, not HDF5 or safetensors, not a vqcodec checkpoint, or newer.
        case unreadable
    }

    public struct Check: Codable, Sendable {
        public var name: String
        public var passed: Bool
        public var detail: String
    }

    public var path: String
    public var verdict: Verdict
    public var checks: [Check]

    /// 0 sound, 1 corrupt, 2 unreadable.
    public var exitCode: Int32 {
        switch verdict {
        case .sound: 0
        case .corrupt: 1
        case .unreadable: 2
        }
    }

    /// Runs every check on the file at `url`. Never throws: failures become the verdict.
    public init(url: URL) {
        path = url.path
        verdict = .sound
        checks = []
        do throws(CheckpointError) {
            try run()
        } catch {
            verdict = error.isUnreadable ? .unreadable : .corrupt
            checks.append(Check(name: checks.isEmpty ? "open" : "next check", passed: false, detail: error.description))
        }
    }

    private mutating func pass(_ name: String, _ detail: String) {
        checks.append(Check(name: name, passed: true, detail: detail))
    }

    private mutating func run() throws(CheckpointError) {
        let checkpoint: Checkpoint
        switch try CheckpointSource.detect(path) {
        case .hdf5:
            let reader = try HDF5CheckpointReader(path: path)
            pass("format", "\(Checkpoint.formatName) version \(reader.formatVersion), model \(reader.header["model_kind"] ?? "?")")
            checkpoint = try reader.readCheckpoint()
            pass("checksums", "\(checkpoint.allTensors.count) datasets read, every checksum matches")
        case .safetensors:
            checkpoint = Checkpoint(safetensors: try CheckpointSource.readSafetensors(path))
            pass("format", "safetensors: header, offsets, sizes and overlaps valid")
            pass("checksums", "none: the safetensors format has no checksums")
        }
        if checkpoint.modelKind.isEmpty {
            pass("completeness", "not checked: the file does not name its model kind (a plain state_dict)")
            return
        }
        try checkpoint.checkCompleteness()
        var parts = ["\(checkpoint.tensors.count) model tensors (\(groupedInteger(checkpoint.parameterCount)) parameters) match \(checkpoint.modelKind)"]
        if checkpoint.optimizer != nil { parts.append("optimizer moments for every parameter") }
        if let training = checkpoint.training { parts.append("training state at step \(training.globalStep)") }
        pass("completeness", parts.joined(separator: "; "))
    }

    public var text: String {
        var lines = ["file: \(path)"]
        for check in checks { lines.append("\(check.passed ? "ok  " : "FAIL") \(check.name): \(check.detail)") }
        lines.append("verdict: \(verdict.rawValue)")
        return lines.joined(separator: "\n")
    }
}
