import Foundation

extension SafetensorsFile {
    /// A safetensors file per the spec: an 8-byte little-endian header length, a JSON header mapping each
    /// name to {dtype, shape, data_offsets} plus a `__metadata__` string map, padded with spaces to a multiple
    /// of 8 bytes, then the tensors' bytes back to back in the given order.
    public static func serialize(_ tensors: [NamedTensor], metadata: [String: String]) throws(CheckpointError) -> Data {
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        var seen = Set<String>()
        for entry in tensors {
            let tensor = entry.tensor
            guard entry.name != "__metadata__", seen.insert(entry.name).inserted else {
                throw .conversionRefused("safetensors: tensor name '\(entry.name)' is reserved or appears twice")
            }
            guard let type = tensor.dataType, tensor.byteCount == tensor.elementCount * type.byteCount else {
                throw .conversionRefused("safetensors: tensor '\(entry.name)' (\(tensor.dtype) \(tensor.shape)) has \(tensor.byteCount) bytes, which do not match its type and shape")
            }
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append("\(jsonString(entry.name)):{\"dtype\":\"\(type.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + tensor.byteCount)]}")
            offset += tensor.byteCount
        }
        var header = Data(("{" + entries.joined(separator: ",") + "}").utf8)
        header.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8))
        var data = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(header)
        for entry in tensors { entry.tensor.withUnsafeBytes { data.append($0.assumingMemoryBound(to: UInt8.self)) } }
        return data
    }

    /// JSON string literal with the escapes RFC 8259 requires.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Keys of vqcodec's entries in a safetensors `__metadata__` map.
enum SafetensorsMetadata {
    static let format = "format"  // "pt", as PyTorch tools expect
    static let modelKind = "vqcodec.model_kind"
    static let modelConfiguration = "vqcodec.model_config"
    static let softwareVersion = "vqcodec.software_version"
    static let created = "vqcodec.created"
    static let formatVersion = "vqcodec.format_version"
}

extension Checkpoint {
    func writeSafetensors(to url: URL) throws(CheckpointError) {
        guard optimizer == nil, training == nil else {
            throw .conversionRefused("\(url.path): safetensors holds model weights only, and this checkpoint also has optimizer or training state. Pass --weights-only (or use `weightsOnly`) to drop it knowingly.")
        }
        var metadata = [SafetensorsMetadata.format: "pt", SafetensorsMetadata.softwareVersion: softwareVersion,
                        SafetensorsMetadata.created: created, SafetensorsMetadata.formatVersion: String(formatVersion)]
        if !modelKind.isEmpty { metadata[SafetensorsMetadata.modelKind] = modelKind }
        if !modelConfiguration.isEmpty { metadata[SafetensorsMetadata.modelConfiguration] = modelConfiguration }
        try AtomicFile.write(try SafetensorsFile.serialize(tensors, metadata: metadata), to: url)
    }

    /// A checkpoint from a parsed safetensors file (model tensors in file order; kind and configuration from
    /// `__metadata__` when present).
    public init(safetensors file: SafetensorsFile) {
        let meta = file.metadata
        self.init(modelKind: meta[SafetensorsMetadata.modelKind] ?? "",
                  modelConfiguration: meta[SafetensorsMetadata.modelConfiguration] ?? "",
                  tensors: file.order.map { NamedTensor(name: $0, tensor: file.tensors[$0]!) },
                  softwareVersion: meta[SafetensorsMetadata.softwareVersion] ?? "",
                  created: meta[SafetensorsMetadata.created] ?? "",
                  formatVersion: meta[SafetensorsMetadata.formatVersion].flatMap { Int($0) } ?? Checkpoint.formatVersion)
    }

    /// Loads a vqcodec HDF5 checkpoint or a safetensors file, recognised by content (the HDF5 signature, or a
    /// safetensors header) and, failing that, by extension. Every check of `Formats/checkpoint.md` is applied
    /// and checksums are verified while reading.
    public init(contentsOf url: URL) throws(CheckpointError) {
        let path = url.path
        switch try CheckpointSource.detect(path) {
        case .hdf5:
            self = try HDF5CheckpointReader(path: path).readCheckpoint()
        case .safetensors:
            self.init(safetensors: try CheckpointSource.readSafetensors(path))
        }
    }
}

/// What kind of file is at a path, judged by its first bytes.
enum CheckpointSource {
    case hdf5, safetensors

    static func detect(_ path: String) throws(CheckpointError) -> CheckpointSource {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .fileUnreadable(path: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw .fileUnreadable(path: path, reason: "it is a folder") }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw .fileUnreadable(path: path, reason: "permission denied") }
        let prefix = (try? handle.read(upToCount: 9)) ?? Data()
        try? handle.close()
        if HDF5.hasSignature(path) { return .hdf5 }
        if prefix.count == 9 {
            let length = prefix.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            if length >= 2, length <= 100_000_000, prefix[prefix.startIndex + 8] == UInt8(ascii: "{") { return .safetensors }
        }
        if URL(fileURLWithPath: path).pathExtension.lowercased() == "safetensors" { return .safetensors }
        throw .notHDF5(path: path)
    }

    static func readSafetensors(_ path: String) throws(CheckpointError) -> SafetensorsFile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw .fileUnreadable(path: path, reason: error.localizedDescription)
        }
        do {
            return try SafetensorsFile(data: data)
        } catch let error as SafetensorsError {
            throw .safetensors(path: path, error)
        } catch {
            throw .fileUnreadable(path: path, reason: "\(error)")
        }
    }
}
