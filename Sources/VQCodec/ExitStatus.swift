import VQTokenizer

/// The exit codes of the codec commands (documented in `vqcodec --help` and the README).
public enum ExitStatus: Int32, Sendable {
    case success = 0
    /// Failure of ours or the system's: an output cannot be written, a model cannot be loaded.
    case failure = 1
    /// Bad usage or bad input: unreadable or invalid images, corrupt `.vqc` files, the wrong model for a file.
    case badInput = 2

    public static func of(_ error: Error) -> ExitStatus {
        switch error {
        case let error as CodecError:
            switch error {
            case .cannotWrite, .modelUnavailable: return .failure
            default: return .badInput
            }
        case is ContainerError, is TokenizerError: return .badInput
        default: return .failure
        }
    }

    /// The status of a batch: 2 if any input was bad, else 1 if anything failed, else 0.
    public static func of(_ outcomes: [FileOutcome]) -> ExitStatus {
        if outcomes.contains(where: { $0.error != nil && $0.inputProblem }) { return .badInput }
        if outcomes.contains(where: { $0.error != nil }) { return .failure }
        return .success
    }
}
