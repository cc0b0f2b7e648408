import Foundation

extension Checkpoint {
    /// Every tensor under a unique name: model tensors by `state_dict` path, then
    /// "optimizer/exp_avg/<path>", "optimizer/exp_avg_sq/<path>", "training/rng_state", "training/data_order",
    /// "training/metrics/<name>".
    public var allTensors: [NamedTensor] {
        var all = tensors
        if let optimizer {
            all += optimizer.firstMoments.map { NamedTensor(name: "\(Layout.optimizer)/\(Layout.firstMoments)/\($0.name)", tensor: $0.tensor) }
            all += optimizer.secondMoments.map { NamedTensor(name: "\(Layout.optimizer)/\(Layout.secondMoments)/\($0.name)", tensor: $0.tensor) }
        }
        if let training {
            all.append(NamedTensor(name: "\(Layout.training)/\(Layout.randomState)", tensor: Self.integers(training.randomState, as: .u64)))
            all.append(NamedTensor(name: "\(Layout.training)/\(Layout.dataOrder)", tensor: Self.integers(training.dataOrder.map { Int64($0) }, as: .i64)))
            for name in training.metrics.keys.sorted() {
                let values = training.metrics[name]!
                var bytes = Data(count: values.count * 8)
                bytes.withUnsafeMutableBytes { raw in
                    for (i, v) in values.enumerated() { raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 8, as: UInt64.self) }
                }
                all.append(NamedTensor(name: "\(Layout.training)/\(Layout.metrics)/\(name)",
                                       tensor: StoredTensor(dtype: TensorDType.f64.rawValue, shape: [values.count], bytes: bytes)))
            }
        }
        return all
    }

    /// The scalar records that matter when comparing runs (not the creation time or software version).
    var records: [String: String] {
        var result: [String: String] = [:]
        if !modelKind.isEmpty { result["model_kind"] = modelKind }
        if !modelConfiguration.isEmpty { result["model_config"] = Self.canonicalJSON(modelConfiguration) }
        if let o = optimizer {
            result["optimizer.kind"] = o.kind
            result["optimizer.learning_rate"] = String(o.learningRate)
            result["optimizer.beta1"] = String(o.beta1)
            result["optimizer.beta2"] = String(o.beta2)
            result["optimizer.eps"] = String(o.eps)
            result["optimizer.weight_decay"] = String(o.weightDecay)
            result["optimizer.step"] = String(o.step)
        }
        if let t = training {
            result["training.global_step"] = String(t.globalStep)
            result["training.epoch"] = String(t.epoch)
            result["training.data_position"] = String(t.dataPosition)
        }
        return result
    }

    /// JSON re-serialised with sorted keys, so formatting differences do not count.
    static func canonicalJSON(_ text: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return text }
        return String(decoding: data, as: UTF8.self)
    }
}

/// What `vqcodec checkpoint diff` reports.
public struct DiffReport: Codable, Sendable {
    public struct ShapeMismatch: Codable, Sendable {
        public var name: String
        public var shapeA: [Int]
        public var shapeB: [Int]
    }

    public struct RecordDifference: Codable, Sendable {
        public var name: String
        /// nil when the record is absent on that side.
        public var a: String?
        public var b: String?
    }

    public var fileA: String
    public var fileB: String
    /// Largest absolute difference accepted as equal.
    public var tolerance: Double
    public var onlyInA: [String]
    public var onlyInB: [String]
    public var shapeMismatches: [ShapeMismatch]
    /// Element types that differ (values are still compared, as float64); informational.
    public var dtypeChanges: [RecordDifference]
    /// Model kind and configuration, optimiser and training counters that differ.
    public var records: [RecordDifference]
    /// Every tensor present in both with the same shape.
    public var tensors: [TensorDifference]

    /// Equal within tolerance: same tensor names and shapes, same records, every difference <= tolerance.
    public var isEqual: Bool {
        onlyInA.isEmpty && onlyInB.isEmpty && shapeMismatches.isEmpty && records.isEmpty && tensors.allSatisfy(\.withinTolerance)
    }

    public init(a: Checkpoint, b: Checkpoint, fileA: String, fileB: String, tolerance: Double) {
        self.fileA = fileA
        self.fileB = fileB
        self.tolerance = tolerance
        let tensorsA = a.allTensors, tensorsB = b.allTensors
        let byNameB = Dictionary(tensorsB.map { ($0.name, $0.tensor) }, uniquingKeysWith: { x, _ in x })
        let namesA = Set(tensorsA.map(\.name))
        onlyInA = tensorsA.map(\.name).filter { byNameB[$0] == nil }
        onlyInB = tensorsB.map(\.name).filter { !namesA.contains($0) }
        shapeMismatches = []
        dtypeChanges = []
        tensors = []
        for entry in tensorsA {
            guard let other = byNameB[entry.name] else { continue }
            if entry.tensor.shape != other.shape {
                shapeMismatches.append(ShapeMismatch(name: entry.name, shapeA: entry.tensor.shape, shapeB: other.shape))
                continue
            }
            if entry.tensor.dtype != other.dtype {
                dtypeChanges.append(RecordDifference(name: entry.name, a: entry.tensor.dtype, b: other.dtype))
            }
            tensors.append(TensorDifference(name: entry.name, a: entry.tensor.doubles(), b: other.doubles(), tolerance: tolerance))
        }
        let recordsA = a.records, recordsB = b.records
        // A plain safetensors file records no model; that alone is not a difference.
        let skipModel = a.modelKind.isEmpty || b.modelKind.isEmpty
        records = Set(recordsA.keys).union(recordsB.keys).sorted().compactMap { key in
            if skipModel && key.hasPrefix("model_") { return nil }
            return recordsA[key] == recordsB[key] ? nil : RecordDifference(name: key, a: recordsA[key], b: recordsB[key])
        }
    }

    /// Loads both files (any mix of vqcodec HDF5 and safetensors) and compares them.
    public init(a: URL, b: URL, tolerance: Double) throws(CheckpointError) {
        self.init(a: try Checkpoint(contentsOf: a), b: try Checkpoint(contentsOf: b), fileA: a.path, fileB: b.path, tolerance: tolerance)
    }

    public var text: String {
        var lines = ["A: \(fileA)", "B: \(fileB)"]
        if !onlyInA.isEmpty { lines.append("only in A (\(onlyInA.count)): " + onlyInA.joined(separator: ", ")) }
        if !onlyInB.isEmpty { lines.append("only in B (\(onlyInB.count)): " + onlyInB.joined(separator: ", ")) }
        for m in shapeMismatches { lines.append("shape mismatch: \(m.name): A \(m.shapeA), B \(m.shapeB)") }
        for r in records { lines.append("record differs: \(r.name): A \(r.a ?? "(absent)"), B \(r.b ?? "(absent)")") }
        for d in dtypeChanges { lines.append("dtype differs: \(d.name): A \(d.a ?? "-"), B \(d.b ?? "-")") }
        if !tensors.isEmpty {
            var rows = [["tensor", "max |a-b|", "rel L2", "changed", ""]]
            for t in tensors {
                rows.append([t.name, formatNumber(t.maxAbsoluteDifference), formatNumber(t.relativeL2Difference),
                             String(format: "%.2f%%", t.changedFraction * 100), t.withinTolerance ? "" : "DIFFERENT"])
            }
            lines.append("")
            lines += InspectReport.table(rows, rightAligned: [1, 2, 3])
            lines.append("")
        }
        let worst = tensors.map(\.maxAbsoluteDifference).max() ?? 0
        let differing = tensors.filter { !$0.withinTolerance }.count
        lines.append(isEqual
            ? "equal within tolerance \(formatNumber(tolerance)) (\(tensors.count) tensors, largest difference \(formatNumber(worst)))"
            : "DIFFERENT: \(differing) of \(tensors.count) tensors beyond tolerance \(formatNumber(tolerance)), \(onlyInA.count + onlyInB.count) unmatched, \(shapeMismatches.count) shape mismatches, \(records.count) records differ")
        return lines.joined(separator: "\n")
    }
}
