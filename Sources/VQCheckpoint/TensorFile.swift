import Foundation

/// A flat HDF5 file of named tensors and string attributes, with the same guarantees as a checkpoint
/// (fletcher32 on every dataset, fixed-length string attributes, atomic writes) but no model: used for
/// derived data such as a tokenized dataset.
public enum TensorFile {
    /// Writes `tensors` as root datasets and `attributes` as root attributes, atomically.
    public static func write(to url: URL, attributes: [String: String], tensors: [NamedTensor]) throws(CheckpointError) {
        try AtomicFile.write(to: url) { (temporary: String) throws(CheckpointError) in
            do throws(HDF5Failure) {
                let file = try H5File.create(temporary)
                for name in attributes.keys.sorted() { try file.root.setStringAttribute(name, attributes[name]!) }
                for entry in tensors { try file.root.writeDataset(entry.name, entry.tensor) }
                try file.flush()
                try file.close()
            } catch {
                throw .writeFailed(path: url.path, detail: error.description)
            }
        }
    }

    /// The attributes named `attributeNames` (absent ones are left out) and the datasets named `tensorNames`.
    /// Throws `missingTensor` for an absent dataset; checksums are verified as the data is read.
    public static func read(from url: URL, attributeNames: [String], tensorNames: [String])
        throws(CheckpointError) -> (attributes: [String: String], tensors: [String: StoredTensor]) {
        guard FileManager.default.fileExists(atPath: url.path) else { throw .fileUnreadable(path: url.path, reason: "no such file") }
        guard HDF5.hasSignature(url.path) else { throw .notHDF5(path: url.path) }
        do {
            let file = try H5File.openReadOnly(url.path)
            defer { try? file.close() }
            var attributes: [String: String] = [:]
            for name in attributeNames { attributes[name] = try file.root.stringAttribute(name) }
            var tensors: [String: StoredTensor] = [:]
            for name in tensorNames {
                guard try file.root.contains(name) else { throw CheckpointError.missingTensor(name: name) }
                let dataset = try file.root.openDataset(name)
                let shape = try dataset.shape()
                guard case let .success(type) = try dataset.dataType() else {
                    throw CheckpointError.unsupportedDType(name: name, found: "another type", expected: "a vqcodec element type")
                }
                let count = shape.reduce(1, *)
                guard count <= ModelRegistry.parameterLimit else {
                    throw CheckpointError.corrupt(path: url.path, detail: "dataset '\(name)' claims \(count) elements")
                }
                tensors[name] = StoredTensor(dtype: type.rawValue, shape: shape, bytes: try dataset.read(as: type, elementCount: count))
            }
            return (attributes, tensors)
        } catch let error as CheckpointError {
            throw error
        } catch let error as HDF5Failure {
            throw .corrupt(path: url.path, detail: error.description)
        } catch {
            throw .corrupt(path: url.path, detail: "\(error)")
        }
    }
}
