import Foundation

/// The HDF5 layout of `Formats/checkpoint.md`: names of groups, datasets and attributes.
enum Layout {
    static let model = "model"
    static let optimizer = "optimizer"
    static let firstMoments = "exp_avg"
    static let secondMoments = "exp_avg_sq"
    static let training = "training"
    static let metrics = "metrics"
    static let randomState = "rng_state"
    static let dataOrder = "data_order"
}

// MARK: - Writing

extension Checkpoint {
    /// Saves atomically: into a temporary file in the same folder, flushed, then renamed over `url`. A
    /// process killed at any moment leaves the previous file or the new one. `.h5`/`.hdf5` write HDF5;
    /// `.safetensors` writes the model tensors only (refused when optimiser or training state would be lost).
    public func write(to url: URL) throws(CheckpointError) {
        switch CheckpointFileKind(url) {
        case .hdf5: try writeHDF5(to: url)
        case .safetensors: try writeSafetensors(to: url)
        case nil: throw .unsupportedExtension(path: url.path)
        }
    }

    func writeHDF5(to url: URL) throws(CheckpointError) {
        try checkNames()
        try AtomicFile.write(to: url) { (temporary: String) throws(CheckpointError) in
            do throws(HDF5Failure) {
                let file = try H5File.create(temporary)
                try writeContents(file.root)
                try file.flush()
                try file.close()
            } catch {
                throw .writeFailed(path: url.path, detail: error.description)
            }
        }
    }

    private func writeContents(_ root: H5Group) throws(HDF5Failure) {
        for (name, value) in [("format", Self.formatName), ("format_version", String(formatVersion)), ("model_kind", modelKind),
                              ("model_config", modelConfiguration), ("software_version", softwareVersion), ("created", created)] {
            try root.setStringAttribute(name, value)
        }
        let model = try root.createGroup(Layout.model)
        for entry in tensors { try model.writeDataset(entry.name, entry.tensor) }

        if let optimizer {
            let group = try root.createGroup(Layout.optimizer)
            for (name, value) in [("kind", optimizer.kind), ("learning_rate", String(optimizer.learningRate)),
                                  ("beta1", String(optimizer.beta1)), ("beta2", String(optimizer.beta2)),
                                  ("eps", String(optimizer.eps)), ("weight_decay", String(optimizer.weightDecay)),
                                  ("step", String(optimizer.step))] {
                try group.setStringAttribute(name, value)
            }
            let first = try group.createGroup(Layout.firstMoments)
            for entry in optimizer.firstMoments { try first.writeDataset(entry.name, entry.tensor) }
            let second = try group.createGroup(Layout.secondMoments)
            for entry in optimizer.secondMoments { try second.writeDataset(entry.name, entry.tensor) }
        }

        if let training {
            let group = try root.createGroup(Layout.training)
            for (name, value) in [("global_step", training.globalStep), ("epoch", training.epoch), ("data_position", training.dataPosition)] {
                try group.setStringAttribute(name, String(value))
            }
            try group.writeDataset(Layout.randomState, Self.integers(training.randomState, as: .u64))
            try group.writeDataset(Layout.dataOrder, Self.integers(training.dataOrder.map { Int64($0) }, as: .i64))
            let metrics = try group.createGroup(Layout.metrics)
            for name in training.metrics.keys.sorted() {
                let values = training.metrics[name]!
                var bytes = Data(count: values.count * 8)
                bytes.withUnsafeMutableBytes { raw in
                    for (i, v) in values.enumerated() { raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 8, as: UInt64.self) }
                }
                try metrics.writeDataset(name, StoredTensor(dtype: TensorDType.f64.rawValue, shape: [values.count], bytes: bytes))
            }
        }
    }

    static func integers<T: FixedWidthInteger>(_ values: [T], as type: TensorDType) -> StoredTensor {
        StoredTensor(integers: values, as: type)
    }

    /// Dataset names are `state_dict` paths: non-empty, no '/', unique.
    func checkNames() throws(CheckpointError) {
        var groups: [(String, [String])] = [(Layout.model, tensors.map(\.name))]
        if let optimizer {
            groups.append(("\(Layout.optimizer)/\(Layout.firstMoments)", optimizer.firstMoments.map(\.name)))
            groups.append(("\(Layout.optimizer)/\(Layout.secondMoments)", optimizer.secondMoments.map(\.name)))
        }
        if let training { groups.append(("\(Layout.training)/\(Layout.metrics)", Array(training.metrics.keys))) }
        for (group, names) in groups {
            var seen = Set<String>()
            for name in names {
                guard !name.isEmpty, name != ".", !name.contains("/") else {
                    throw .invalidMetadata(name: "\(group)/\(name)", detail: "names must be non-empty and contain no '/'")
                }
                guard seen.insert(name).inserted else { throw .invalidMetadata(name: "\(group)/\(name)", detail: "the name appears twice") }
            }
        }
    }
}

/// HDF5 or safetensors, by extension.
enum CheckpointFileKind {
    case hdf5, safetensors

    init?(_ url: URL) {
        switch url.pathExtension.lowercased() {
        case "h5", "hdf5", "hdf", "he5": self = .hdf5
        case "safetensors": self = .safetensors
        default: return nil
        }
    }
}

// MARK: - Reading

/// A tensor as listed in an HDF5 checkpoint, before its data is read.
public struct TensorEntry: Sendable, Equatable {
    /// The path inside the file ("model/enc1.weight", "optimizer/exp_avg/enc1.weight").
    public var path: String
    public var shape: [Int]
    /// The element type ("F32"), or a description of an unsupported one.
    public var dtype: String
    public var isSupported: Bool
    /// Filters in the dataset's pipeline ("fletcher32").
    public var filters: [String]
    public var hasChecksum: Bool
    public var elementCount: Int { shape.reduce(1, *) }
    /// float32 with fletcher32: read straight into a `[Float]`.
    var isDirectFloat32: Bool {
        #if _endian(little)
        dtype == TensorDType.f32.rawValue && hasChecksum && filters.contains("fletcher32")
        #else
        false
        #endif
    }
}

/// Reads a vqcodec HDF5 checkpoint: the header on opening, tensors on demand. All failures are typed.
final class HDF5CheckpointReader {
    let path: String
    let file: H5File
    let fileSize: Int
    private(set) var header: [String: String] = [:]
    private(set) var formatVersion = 0
    /// The file opened for reading chunk data directly (nil when the file has a user block or cannot be
    /// opened; then libhdf5 reads the chunks).
    let chunkFile: ChunkFile?
    /// Groups opened so far, by path.
    private var openGroups: [String: H5Group] = [:]

    static let rootAttributes = ["format", "format_version", "model_kind", "model_config", "software_version", "created"]

    /// Opens `path` and checks the root attributes: an HDF5 file, ours, and a version we read.
    init(path: String) throws(CheckpointError) {
        self.path = path
        fileSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        do throws(HDF5Failure) {
            file = try H5File.openReadOnly(path)
        } catch {
            throw .corrupt(path: path, detail: error.description)
        }
        chunkFile = file.userBlockSize() == 0 ? ChunkFile(path: path) : nil
        let format = try attribute("format", of: file.root, at: "/")
        guard let format else { throw .notACheckpoint(path: path, detail: "the root attribute 'format' is missing") }
        guard format == Checkpoint.formatName else {
            throw .notACheckpoint(path: path, detail: "the root attribute 'format' is '\(format.prefix(100))', expected '\(Checkpoint.formatName)'")
        }
        for name in Self.rootAttributes {
            guard let value = try attribute(name, of: file.root, at: "/") else {
                throw .invalidMetadata(name: name, detail: "the root attribute is missing")
            }
            header[name] = value
        }
        guard let version = Int(header["format_version"]!), version >= 1 else {
            throw .invalidMetadata(name: "format_version", detail: "'\(header["format_version"]!.prefix(40))' is not a positive integer")
        }
        guard version <= Checkpoint.formatVersion else { throw .unsupportedFormatVersion(found: version, supported: Checkpoint.formatVersion) }
        formatVersion = version
    }

    /// Runs an HDF5 operation on `what`, turning its failure into a checksum or corruption error.
    func hdf5<T>(_ what: String, _ body: () throws(HDF5Failure) -> T) throws(CheckpointError) -> T {
        do throws(HDF5Failure) {
            return try body()
        } catch {
            throw Self.checkpointError(error, path: path, what: what)
        }
    }

    static func checkpointError(_ error: HDF5Failure, path: String, what: String) -> CheckpointError {
        error.isChecksumFailure ? .checksumMismatch(name: what, detail: error.detail) : .corrupt(path: path, detail: "\(what): \(error.description)")
    }

    func attribute(_ name: String, of object: some H5Object, at location: String) throws(CheckpointError) -> String? {
        let label = location == "/" ? name : "\(location)@\(name)"
        return try hdf5(label) { () throws(HDF5Failure) in try object.stringAttribute(name) }
    }

    func requiredAttribute(_ name: String, of object: some H5Object, at location: String) throws(CheckpointError) -> String {
        guard let value = try attribute(name, of: object, at: location) else {
            throw .invalidMetadata(name: "\(location)@\(name)", detail: "the attribute is missing")
        }
        return value
    }

    func integerAttribute(_ name: String, of object: some H5Object, at location: String) throws(CheckpointError) -> Int {
        let text = try requiredAttribute(name, of: object, at: location)
        guard let value = Int(text) else { throw .invalidMetadata(name: "\(location)@\(name)", detail: "'\(text.prefix(40))' is not an integer") }
        return value
    }

    func doubleAttribute(_ name: String, of object: some H5Object, at location: String) throws(CheckpointError) -> Double {
        let text = try requiredAttribute(name, of: object, at: location)
        guard let value = Double(text), value.isFinite else {
            throw .invalidMetadata(name: "\(location)@\(name)", detail: "'\(text.prefix(40))' is not a finite number")
        }
        return value
    }

    func group(_ path: String) throws(CheckpointError) -> H5Group? {
        let parts = path.split(separator: "/").map(String.init)
        var current = file.root
        for part in parts {
            guard try hdf5(path, { () throws(HDF5Failure) in try current.contains(part) }) else { return nil }
            guard try hdf5(path, { () throws(HDF5Failure) in try current.kind(of: part) }) == .group else {
                throw .invalidMetadata(name: path, detail: "expected a group, found another kind of object")
            }
            current = try hdf5(path) { () throws(HDF5Failure) in try current.openGroup(part) }
        }
        return current
    }

    /// The datasets directly in `groupPath` (in the order written), without reading their data.
    func entries(in groupPath: String) throws(CheckpointError) -> [TensorEntry] {
        guard let group = try group(groupPath) else { return [] }
        let names = try hdf5(groupPath) { () throws(HDF5Failure) in try group.memberNames() }
        var result: [TensorEntry] = []
        for name in names {
            let path = "\(groupPath)/\(name)"
            let kind = try hdf5(path) { () throws(HDF5Failure) in try group.kind(of: name) }
            if kind == .group { continue }
            guard kind == .dataset else { throw .invalidMetadata(name: path, detail: "expected a dataset") }
            result.append(try entry(group, name, path: path))
        }
        return result
    }

    private func entry(_ group: H5Group, _ name: String, path: String) throws(CheckpointError) -> TensorEntry {
        try hdf5(path) { () throws(HDF5Failure) -> TensorEntry in
            let dataset = try group.openDataset(name)
            let shape = try dataset.shape()
            let filters = try dataset.filters()
            let dtype: String, supported: Bool
            switch try dataset.dataType() {
            case let .success(type): (dtype, supported) = (type.rawValue, true)
            case let .failure(description): (dtype, supported) = (description.text, false)
            }
            let crc = shape.isEmpty || shape.contains(0) ? try dataset.stringAttribute(H5Types.crcAttribute) : nil
            return TensorEntry(path: path, shape: shape, dtype: dtype, isSupported: supported, filters: filters,
                               hasChecksum: filters.contains("fletcher32") || crc != nil)
        }
    }

    /// Reads one dataset, verifying its checksum (fletcher32 while libhdf5 reads, or the recorded CRC-32).
    func read(_ entry: TensorEntry) throws(CheckpointError) -> StoredTensor {
        if entry.isDirectFloat32 {
            return StoredTensor(float32: try readFloat32(entry), shape: entry.shape)
        }
        guard entry.isSupported, let type = TensorDType(rawValue: entry.dtype) else {
            throw .unsupportedDType(name: entry.path, found: entry.dtype, expected: "one of \(TensorDType.supportedList)")
        }
        guard entry.hasChecksum else {
            throw .invalidMetadata(name: entry.path, detail: "the dataset carries no checksum (fletcher32 filter or \(H5Types.crcAttribute))")
        }
        let bytes = entry.elementCount * type.byteCount
        // vqcodec stores tensors uncompressed, so a dataset larger than the file is a damaged header.
        guard bytes <= fileSize else {
            throw .corrupt(path: path, detail: "\(entry.path) claims \(bytes) bytes of data in a \(fileSize)-byte file")
        }
        let parts = entry.path.split(separator: "/").map(String.init)
        let groupPath = parts.dropLast().joined(separator: "/")
        guard let group = try group(groupPath) else { throw .missingTensor(name: entry.path) }
        let (data, crc) = try hdf5(entry.path) { () throws(HDF5Failure) -> (Data, String?) in
            let dataset = try group.openDataset(parts.last!)
            let data = try dataset.read(as: type, elementCount: entry.elementCount, chunkFile: chunkFile)
            let crc = entry.filters.contains("fletcher32") ? nil : try dataset.stringAttribute(H5Types.crcAttribute)
            return (data, crc)
        }
        if let crc, crc != CRC32.hex(of: data) {
            throw .checksumMismatch(name: entry.path, detail: "CRC-32 is \(CRC32.hex(of: data)), recorded \(crc)")
        }
        return StoredTensor(dtype: type.rawValue, shape: entry.shape, bytes: data)
    }

    /// A float32 dataset read straight into an array (checksums verified as in `read`).
    func readFloat32(_ entry: TensorEntry) throws(CheckpointError) -> [Float] {
        guard entry.isDirectFloat32 else {
            return try read(entry).float32Values(name: entry.path)
        }
        guard entry.elementCount * 4 <= fileSize else {
            throw .corrupt(path: path, detail: "\(entry.path) claims \(entry.elementCount * 4) bytes of data in a \(fileSize)-byte file")
        }
        let dataset = try openDataset(entry)
        return try hdf5(entry.path) { () throws(HDF5Failure) in
            try dataset.readFloat32(elementCount: entry.elementCount, chunkFile: chunkFile)
        }
    }

    /// The dataset of `entry`, its group opened once per reader.
    private func openDataset(_ entry: TensorEntry) throws(CheckpointError) -> H5Dataset {
        let parts = entry.path.split(separator: "/").map(String.init)
        let groupPath = parts.dropLast().joined(separator: "/")
        let group: H5Group
        if let known = openGroups[groupPath] {
            group = known
        } else {
            guard let found = try self.group(groupPath) else { throw .missingTensor(name: entry.path) }
            openGroups[groupPath] = found
            group = found
        }
        return try hdf5(entry.path) { () throws(HDF5Failure) in try group.openDataset(parts.last!) }
    }

    func readTensors(in groupPath: String) throws(CheckpointError) -> [NamedTensor] {
        try readTensors(in: [groupPath])[0]
    }

    /// The datasets of several groups, their float32 tensors read in one batch (`readFloat32(_:)`).
    func readTensors(in groupPaths: [String]) throws(CheckpointError) -> [[NamedTensor]] {
        let listed = try groupPaths.map { (path) throws(CheckpointError) in try entries(in: path) }
        let direct = listed.joined().filter { $0.isDirectFloat32 }
        var values = Dictionary(uniqueKeysWithValues: zip(direct.map(\.path), try readFloat32(Array(direct))))
        var result: [[NamedTensor]] = []
        for (groupPath, entries) in zip(groupPaths, listed) {
            var tensors: [NamedTensor] = []
            for entry in entries {
                let tensor: StoredTensor
                if let floats = values.removeValue(forKey: entry.path) {
                    tensor = StoredTensor(float32: floats, shape: entry.shape)
                } else {
                    tensor = try read(entry)
                }
                tensors.append(NamedTensor(name: String(entry.path.dropFirst(groupPath.count + 1)), tensor: tensor))
            }
            result.append(tensors)
        }
        return result
    }

    /// Several float32 tensors read together: the chunks of all of them are located first (libhdf5 calls, one
    /// core), then read and verified in one pass over the cores, which per-tensor passes left half idle.
    /// Tensors not laid out as vqcodec writes them are read one by one as in `readFloat32(_:)`.
    func readFloat32(_ entries: [TensorEntry]) throws(CheckpointError) -> [[Float]] {
        guard let chunkFile, entries.count > 1 else { return try entries.map { (entry) throws(CheckpointError) in try readFloat32(entry) } }
        // Batches bound the nesting of `UninitializedArrays` (one level per tensor).
        let batch = 64
        var result: [[Float]] = []
        for start in stride(from: 0, to: entries.count, by: batch) {
            let part = Array(entries[start..<min(entries.count, start + batch)])
            var located: [[LocatedChunk]?] = []
            for entry in part {
                guard entry.isDirectFloat32, entry.elementCount * 4 <= fileSize else { located.append(nil); continue }
                let dataset = try openDataset(entry)
                located.append(try hdf5(entry.path) { () throws(HDF5Failure) in try dataset.locatedFloat32Chunks(file: chunkFile) })
            }
            var failure: CheckpointError?
            // Only located tensors get memory here: the others (a size the file cannot hold, another layout) are
            // read, or refused before anything is allocated, one by one below.
            var arrays = UninitializedArrays.make(counts: part.indices.map { located[$0] == nil ? 0 : part[$0].elementCount }) { buffers in
                var jobs: [(chunk: LocatedChunk, tensor: UnsafeMutableRawPointer)] = [], owner: [Int] = []
                for (k, chunks) in located.enumerated() {
                    for chunk in chunks ?? [] {
                        jobs.append((chunk, UnsafeMutableRawPointer(buffers[k].baseAddress!)))
                        owner.append(k)
                    }
                }
                if let (index, error) = chunkFile.readAndVerify(jobs) {
                    failure = Self.checkpointError(error, path: path, what: part[owner[index]].path)
                    return false
                }
                return true
            }
            if let failure { throw failure }
            for k in part.indices {
                if located[k] == nil { arrays[k] = try readFloat32(part[k]) }
            }
            result += arrays
        }
        return result
    }

    /// The whole checkpoint: model tensors, and optimiser and training state when present.
    func readCheckpoint() throws(CheckpointError) -> Checkpoint {
        guard try group(Layout.model) != nil else { throw .invalidMetadata(name: Layout.model, detail: "the group is missing") }
        // The model's tensors and the optimiser's moments in one batch.
        let moments = try group(Layout.optimizer) == nil ? []
            : ["\(Layout.optimizer)/\(Layout.firstMoments)", "\(Layout.optimizer)/\(Layout.secondMoments)"]
        let tensors = try readTensors(in: [Layout.model] + moments)
        var checkpoint = Checkpoint(modelKind: header["model_kind"]!, modelConfiguration: header["model_config"]!,
                                    tensors: tensors[0], softwareVersion: header["software_version"]!,
                                    created: header["created"]!, formatVersion: formatVersion)
        checkpoint.optimizer = moments.isEmpty ? nil : try readOptimizer(moments: (tensors[1], tensors[2]))
        checkpoint.training = try readTraining()
        return checkpoint
    }

    /// The optimiser state, given its first and second moments (read with the model's tensors).
    func readOptimizer(moments: (first: [NamedTensor], second: [NamedTensor])) throws(CheckpointError) -> OptimizerState? {
        guard let group = try group(Layout.optimizer) else { return nil }
        let at = Layout.optimizer
        return OptimizerState(kind: try requiredAttribute("kind", of: group, at: at),
                              learningRate: try doubleAttribute("learning_rate", of: group, at: at),
                              beta1: try doubleAttribute("beta1", of: group, at: at), beta2: try doubleAttribute("beta2", of: group, at: at),
                              eps: try doubleAttribute("eps", of: group, at: at),
                              weightDecay: try doubleAttribute("weight_decay", of: group, at: at),
                              step: try integerAttribute("step", of: group, at: at),
                              firstMoments: moments.first, secondMoments: moments.second)
    }

    func readTraining() throws(CheckpointError) -> TrainingState? {
        guard let group = try group(Layout.training) else { return nil }
        let at = Layout.training
        let datasets = Dictionary(try entries(in: at).map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        func words(_ name: String, _ type: TensorDType) throws(CheckpointError) -> StoredTensor {
            guard let entry = datasets["\(at)/\(name)"] else { throw .missingTensor(name: "\(at)/\(name)") }
            guard entry.dtype == type.rawValue, entry.shape.count == 1 else {
                throw .invalidMetadata(name: entry.path, detail: "\(entry.dtype) \(entry.shape); expected a 1-D \(type.rawValue) dataset")
            }
            return try read(entry)
        }
        let rng = try words(Layout.randomState, .u64).bytes.withUnsafeBytes { raw in
            (0..<raw.count / 8).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) }
        }
        let order = try words(Layout.dataOrder, .i64).bytes.withUnsafeBytes { raw in
            (0..<raw.count / 8).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) }
        }
        var metrics: [String: [Double]] = [:]
        for entry in try readTensors(in: "\(at)/\(Layout.metrics)") {
            guard entry.tensor.dataType == .f64, entry.tensor.shape.count == 1 else {
                throw .invalidMetadata(name: "\(at)/\(Layout.metrics)/\(entry.name)", detail: "expected a 1-D F64 dataset")
            }
            metrics[entry.name] = entry.tensor.doubles()
        }
        let state = TrainingState(globalStep: try integerAttribute("global_step", of: group, at: at),
                                  epoch: try integerAttribute("epoch", of: group, at: at), randomState: rng, dataOrder: order,
                                  dataPosition: try integerAttribute("data_position", of: group, at: at), metrics: metrics)
        try state.validate()
        return state
    }
}
