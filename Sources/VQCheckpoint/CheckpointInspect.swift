import CHDF5
import Foundation

/// What `vqcodec checkpoint inspect` shows: the format and model of a checkpoint and every tensor, or the
/// object tree of an HDF5 file that is not a vqcodec checkpoint.
public struct InspectReport: Codable, Sendable {
    public struct Tensor: Codable, Sendable {
        /// "enc1.weight" for model tensors; "optimizer/exp_avg/enc1.weight", "training/rng_state", ... otherwise.
        public var name: String
        public var shape: [Int]
        public var dtype: String
        public var elements: Int
        public var bytes: Int
        /// "fletcher32", "crc32" or "none" (HDF5); nil for safetensors, which has no checksums.
        public var checksum: String?
        public var statistics: TensorStatistics?
    }

    /// One object of an HDF5 file that is not ours.
    public struct Node: Codable, Sendable {
        public var path: String
        /// "group", "dataset" or "other".
        public var kind: String
        public var shape: [Int]?
        public var dtype: String?
        public var filters: [String]?
        /// Attribute name -> a readable value or description.
        public var attributes: [String: String]
        public var statistics: TensorStatistics?
        /// Why statistics or details are missing, when they are.
        public var note: String?
    }

    public var path: String
    /// "vqcodec-checkpoint (HDF5)", "safetensors" or "HDF5".
    public var format: String
    public var formatVersion: Int?
    public var modelKind: String?
    public var modelConfiguration: String?
    public var softwareVersion: String?
    public var created: String?
    /// Optimiser kind, hyperparameters and step; training step, epoch and data position.
    public var state: [String: String]
    /// The safetensors `__metadata__` map.
    public var metadata: [String: String]?
    public var tensors: [Tensor]
    /// Elements of the model tensors.
    public var totalParameters: Int
    /// The object tree of a foreign HDF5 file.
    public var tree: [Node]?
}

extension InspectReport {
    /// Builds the report for the file at `url`: a vqcodec checkpoint, any other HDF5 file, or safetensors.
    /// With `statistics`, every tensor is read (and its checksum verified).
    public init(url: URL, statistics: Bool) throws(CheckpointError) {
        let path = url.path
        switch try CheckpointSource.detect(path) {
        case .safetensors:
            let file = try CheckpointSource.readSafetensors(path)
            let checkpoint = Checkpoint(safetensors: file)
            self.init(path: path, format: "safetensors", state: [:], metadata: file.metadata, tensors: [], totalParameters: 0)
            if !checkpoint.modelKind.isEmpty {
                modelKind = checkpoint.modelKind
                modelConfiguration = checkpoint.modelConfiguration
            }
            tensors = checkpoint.tensors.map { Self.describe($0.name, $0.tensor, checksum: nil, statistics: statistics) }
            totalParameters = checkpoint.parameterCount
        case .hdf5:
            let reader: HDF5CheckpointReader
            do throws(CheckpointError) {
                reader = try HDF5CheckpointReader(path: path)
            } catch .notACheckpoint {
                try self.init(foreignHDF5: path, statistics: statistics)
                return
            }
            try self.init(reader: reader, statistics: statistics)
        }
    }

    private static func describe(_ name: String, _ tensor: StoredTensor, checksum: String?, statistics: Bool) -> Tensor {
        Tensor(name: name, shape: tensor.shape, dtype: tensor.dtype, elements: tensor.elementCount, bytes: tensor.byteCount,
               checksum: checksum, statistics: statistics ? TensorStatistics(tensor.doubles()) : nil)
    }

    private init(reader: HDF5CheckpointReader, statistics: Bool) throws(CheckpointError) {
        let h = reader.header
        self.init(path: reader.path, format: "\(Checkpoint.formatName) (HDF5)", formatVersion: reader.formatVersion,
                  modelKind: h["model_kind"], modelConfiguration: h["model_config"], softwareVersion: h["software_version"],
                  created: h["created"], state: [:], tensors: [], totalParameters: 0)
        var groups = [Layout.model]
        if let optimizer = try reader.group(Layout.optimizer) {
            for name in ["kind", "learning_rate", "beta1", "beta2", "eps", "weight_decay", "step"] {
                state["optimizer.\(name)"] = try reader.attribute(name, of: optimizer, at: Layout.optimizer) ?? "(missing)"
            }
            groups += ["\(Layout.optimizer)/\(Layout.firstMoments)", "\(Layout.optimizer)/\(Layout.secondMoments)"]
        }
        if let training = try reader.group(Layout.training) {
            for name in ["global_step", "epoch", "data_position"] {
                state["training.\(name)"] = try reader.attribute(name, of: training, at: Layout.training) ?? "(missing)"
            }
            groups += [Layout.training, "\(Layout.training)/\(Layout.metrics)"]
        }
        for group in groups {
            for entry in try reader.entries(in: group) {
                let name = group == Layout.model ? String(entry.path.dropFirst(group.count + 1)) : entry.path
                let checksum = entry.filters.contains("fletcher32") ? "fletcher32" : (entry.hasChecksum ? "crc32" : "none")
                var item = Tensor(name: name, shape: entry.shape, dtype: entry.dtype, elements: entry.elementCount,
                                  bytes: entry.elementCount * (TensorDType(rawValue: entry.dtype)?.byteCount ?? 0), checksum: checksum)
                if statistics { item.statistics = TensorStatistics(try reader.read(entry).doubles()) }
                if group == Layout.model { totalParameters += entry.elementCount }
                tensors.append(item)
            }
        }
    }

    // MARK: HDF5 files that are not ours

    /// At most this many objects are listed, and statistics are skipped for datasets above this size.
    static let nodeLimit = 100_000
    static let statisticsByteLimit = 1 << 30

    private init(foreignHDF5 path: String, statistics: Bool) throws(CheckpointError) {
        self.init(path: path, format: "HDF5", state: [:], tensors: [], totalParameters: 0)
        let file: H5File
        do throws(HDF5Failure) {
            file = try H5File.openReadOnly(path)
        } catch {
            throw .corrupt(path: path, detail: error.description)
        }
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        var nodes = [Node(path: "/", kind: "group", attributes: Self.attributes(of: file.root))]
        for (name, kind) in try Self.objectPaths(file, path: path) {
            var node = Node(path: "/" + name, kind: kind == 1 ? "dataset" : (kind == 0 ? "group" : "other"), attributes: [:])
            if kind == 0, let group = try? file.root.openGroup(name) {
                node.attributes = Self.attributes(of: group)
            } else if kind == 1 {
                do throws(HDF5Failure) {
                    let dataset = try file.root.openDataset(name)
                    node.attributes = Self.attributes(of: dataset)
                    let shape = try dataset.shape()
                    node.shape = shape
                    node.filters = try dataset.filters()
                    let type = try dataset.dataType()
                    switch type {
                    case let .success(dtype): node.dtype = dtype.rawValue
                    case let .failure(description): node.dtype = description.text
                    }
                    let count = shape.reduce(1, *)
                    if case .success = type, statistics {
                        // Compressed data may exceed the file size, but not by an absurd factor.
                        if count * 8 > Self.statisticsByteLimit || count > 1024 * Swift.max(fileSize, 1) {
                            node.note = "statistics skipped: \(count) elements is too many to read"
                        } else {
                            node.statistics = TensorStatistics(try dataset.readDoubles(elementCount: count))
                        }
                    }
                } catch {
                    node.note = "unreadable: \(error.description)"
                }
            }
            nodes.append(node)
        }
        tree = nodes
    }

    private static func attributes(of object: some H5Object) -> [String: String] {
        guard let names = try? object.attributeNames(limit: 1000) else { return ["(attributes)": "(unreadable)"] }
        return Dictionary(names.map { ($0, object.attributeSummary($0)) }, uniquingKeysWith: { a, _ in a })
    }

    /// Every object below the root (each once, even when hard links form cycles), with 0 group, 1 dataset, -1 other.
    private static func objectPaths(_ file: H5File, path: String) throws(CheckpointError) -> [(String, Int32)] {
        final class Collector {
            var items: [(String, Int32)] = []
        }
        let collector = Collector()
        let status = HDF5.locked {
            withExtendedLifetime(collector) {
                vq_h5_visit(file.root.handle.id, { name, kind, context in
                    let collector = Unmanaged<Collector>.fromOpaque(context!).takeUnretainedValue()
                    guard let name else { return 0 }
                    let text = String(cString: name)
                    if text != "." { collector.items.append((text, kind)) }
                    return collector.items.count >= InspectReport.nodeLimit ? 1 : 0
                }, Unmanaged.passUnretained(collector).toOpaque())
            }
        }
        if status < 0 && collector.items.isEmpty { throw .corrupt(path: path, detail: "cannot list the objects: \(HDF5.errorText())") }
        return collector.items
    }
}

// MARK: - Text

extension InspectReport {
    /// The human-readable report.
    public var text: String {
        var lines = ["file: \(path)", "format: \(format)" + (formatVersion.map { ", version \($0)" } ?? "")]
        if let modelKind { lines.append("model: \(modelKind)") }
        if let modelConfiguration { lines.append("configuration: \(modelConfiguration)") }
        if let softwareVersion, !softwareVersion.isEmpty { lines.append("written by: \(softwareVersion)") }
        if let created, !created.isEmpty { lines.append("created: \(created)") }
        for key in state.keys.sorted() { lines.append("\(key): \(state[key]!)") }
        if let metadata, !metadata.isEmpty {
            lines.append("metadata:")
            for key in metadata.keys.sorted() { lines.append("  \(key): \(metadata[key]!.prefix(200))") }
        }
        if let tree {
            lines.append("objects: \(tree.count)")
            for node in tree { lines += Self.nodeLines(node) }
            return lines.joined(separator: "\n")
        }
        let hasStatistics = tensors.contains { $0.statistics != nil }
        var rows = [["tensor", "shape", "dtype", "elements", "bytes"] + (hasStatistics ? ["min", "max", "mean", "std", "nan", "inf"] : [])]
        for t in tensors {
            var row = [t.name, "[" + t.shape.map(String.init).joined(separator: ", ") + "]", t.dtype, groupedInteger(t.elements), groupedInteger(t.bytes)]
            if let s = t.statistics {
                row += [formatNumber(s.min), formatNumber(s.max), formatNumber(s.mean), formatNumber(s.std), String(s.nanCount), String(s.infinityCount)]
            } else if hasStatistics {
                row += Array(repeating: "-", count: 6)
            }
            rows.append(row)
        }
        lines.append("")
        lines += Self.table(rows, rightAligned: Set(3..<rows[0].count))
        lines.append("")
        lines.append("tensors: \(tensors.count), model parameters: \(groupedInteger(totalParameters)), bytes: \(groupedInteger(tensors.reduce(0) { $0 + $1.bytes }))")
        if format.hasPrefix(Checkpoint.formatName) {
            let checksums = Dictionary(grouping: tensors, by: { $0.checksum ?? "none" }).mapValues(\.count)
            lines.append("checksums: " + checksums.keys.sorted().map { "\($0) \(checksums[$0]!)" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    private static func nodeLines(_ node: Node) -> [String] {
        var head = "\(node.path) (\(node.kind)"
        if let shape = node.shape { head += ", shape [" + shape.map(String.init).joined(separator: ", ") + "]" }
        if let dtype = node.dtype { head += ", \(dtype)" }
        if let filters = node.filters, !filters.isEmpty { head += ", filters: " + filters.joined(separator: " ") }
        head += ")"
        var lines = [head]
        for key in node.attributes.keys.sorted() { lines.append("    @\(key) = \(node.attributes[key]!)") }
        if let s = node.statistics {
            lines.append("    min \(formatNumber(s.min)), max \(formatNumber(s.max)), mean \(formatNumber(s.mean)), std \(formatNumber(s.std)), nan \(s.nanCount), inf \(s.infinityCount)")
        }
        if let note = node.note { lines.append("    \(note)") }
        return lines
    }

    static func table(_ rows: [[String]], rightAligned: Set<Int>) -> [String] {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return rightAligned.contains(column) ? pad + cell : cell + pad
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
    }
}
