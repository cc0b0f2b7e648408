import Foundation

/// Why a checkpoint could not be read, written or converted. Each message says what was expected, what was
/// found, and what to do.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened at all (missing, a directory, no permission).
    case fileUnreadable(path: String, reason: String)
    /// No HDF5 signature, and not a safetensors file either.
    case notHDF5(path: String)
    /// An HDF5 file without vqcodec's root attributes.
    case notACheckpoint(path: String, detail: String)
    case unsupportedFormatVersion(found: Int, supported: Int)
    case missingTensor(name: String)
    case unexpectedTensors(names: [String])
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    case unsupportedDType(name: String, found: String, expected: String)
    /// A dataset's data (fletcher32, CRC-32) or the metadata of the object at `name` fails its checksum.
    case checksumMismatch(name: String, detail: String)
    /// libhdf5 rejected the file's structure (truncated, damaged metadata).
    case corrupt(path: String, detail: String)
    /// A required attribute or record is missing or does not parse.
    case invalidMetadata(name: String, detail: String)
    case unknownModelKind(String)
    case invalidConfiguration(kind: String, detail: String)
    case safetensors(path: String, SafetensorsError)
    case writeFailed(path: String, detail: String)
    case unsupportedExtension(path: String)
    /// A conversion that would lose data or cannot be expressed in the target format.
    case conversionRefused(String)

    public var description: String {
        switch self {
        case let .fileUnreadable(path, reason):
            return "\(path): cannot read the file: \(reason). Check the path and its permissions."
        case let .notHDF5(path):
            return "\(path): not an HDF5 file (no HDF5 signature) and not a safetensors file. Expected a vqcodec checkpoint (.h5) or a .safetensors file."
        case let .notACheckpoint(path, detail):
            return "\(path): an HDF5 file, but not a vqcodec checkpoint: \(detail). Run `vqcodec checkpoint inspect` to see what it holds."
        case let .unsupportedFormatVersion(found, supported):
            return "checkpoint format version \(found) is newer than this vqcodec supports (up to \(supported)). Upgrade vqcodec to read it."
        case let .missingTensor(name):
            return "tensor '\(name)' is missing from the checkpoint. The file is incomplete, or was made for another model or configuration."
        case let .unexpectedTensors(names):
            return "the checkpoint has tensors the model does not: \(names.joined(separator: ", ")). Was it made for another model or configuration?"
        case let .shapeMismatch(name, expected, found):
            return "tensor '\(name)' has shape \(found); expected \(expected). Check the model configuration the checkpoint records."
        case let .unsupportedDType(name, found, expected):
            return "tensor '\(name)' has element type \(found); expected \(expected). Convert it (e.g. to float32) before loading."
        case let .checksumMismatch(name, detail):
            return "'\(name)' fails its checksum (\(detail)): the file is damaged. Restore it from a backup or an earlier checkpoint."
        case let .corrupt(path, detail):
            return "\(path): the file is damaged or truncated: \(detail). Restore it from a backup or an earlier checkpoint."
        case let .invalidMetadata(name, detail):
            return "checkpoint record '\(name)' is invalid: \(detail). The file is damaged or was not written by vqcodec."
        case let .unknownModelKind(kind):
            return "unknown model kind '\(kind)'; known kinds are \(ModelRegistry.kinds.joined(separator: ", "))."
        case let .invalidConfiguration(kind, detail):
            return "the configuration of model '\(kind)' is invalid: \(detail)."
        case let .safetensors(path, error):
            return "\(path): \(error.description)"
        case let .writeFailed(path, detail):
            return "\(path): cannot write the checkpoint: \(detail). Check free space and permissions; any previous file at this path is unchanged."
        case let .unsupportedExtension(path):
            return "\(path): unknown file type; use .h5 (or .hdf5) for vqcodec checkpoints and .safetensors for safetensors."
        case let .conversionRefused(detail):
            return detail
        }
    }

    /// Whether the file is unusable as input at all (missing, not HDF5 or safetensors, not ours, or from a
    /// newer vqcodec) rather than a checkpoint that is damaged or incomplete. `verify` exits 2 for these.
    public var isUnreadable: Bool {
        switch self {
        case .fileUnreadable, .notHDF5, .notACheckpoint, .unsupportedFormatVersion, .unsupportedExtension: true
        default: false
        }
    }
}
