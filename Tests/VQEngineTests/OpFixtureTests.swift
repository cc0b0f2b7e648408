import Foundation
import Testing
import VQCheckpoint
import VQEngine

/// Every engine op against PyTorch: Fixtures/ops.safetensors holds, per case, the inputs, the output and the
/// gradients of sum(output * upstream) computed by Tools/reference/make_op_fixtures.py (PyTorch, CPU, float32).
/// Each case is rebuilt with the engine and its output and every input gradient compared.
///
/// Metric: max_i |engine_i - torch_i| / max(max_i |torch_i|, 1e-3), i.e. the worst absolute error relative to
/// the reference tensor's largest magnitude; it must be <= 1e-4. (Set VQ_FIXTURE_REPORT=1 to print it per case.)

/// One case as described by the file's `__metadata__`.
struct FixtureCase: Codable, Sendable {
    var op: String
    var family: String
    var params: OpParams
    var inputs: Int
    var outputs: Int
    var differentiable: Bool
}

enum OpFixtures {
    static let tolerance = 1e-4

    static func load() throws -> SafetensorsFile {
        guard let url = Bundle.module.url(forResource: "ops", withExtension: "safetensors", subdirectory: "Fixtures") else {
            throw OpCatalogError(description: "Fixtures/ops.safetensors is missing from the test bundle; run Tools/reference/make_op_fixtures.py")
        }
        return try SafetensorsFile(contentsOf: url)
    }

    /// The loaded file, or nil (then `fixtureFileLoads` reports why).
    static let file: SafetensorsFile? = try? load()

    static let caseNames: [String] = (file?.metadata.keys.filter { !$0.hasPrefix("__") } ?? []).sorted()

    static func describe(_ name: String) throws -> FixtureCase {
        guard let json = file?.metadata[name] else { throw OpCatalogError(description: "no metadata for case \(name)") }
        return try JSONDecoder().decode(FixtureCase.self, from: Data(json.utf8))
    }

    static func tensor(_ name: String) throws -> StoredTensor {
        guard let t = file?.tensors[name] else { throw OpCatalogError(description: "fixture tensor '\(name)' is missing") }
        return t
    }

    static func floats(_ name: String) throws -> (shape: [Int], data: [Float]) {
        let t = try tensor(name)
        guard t.dtype == "F32" else { throw OpCatalogError(description: "fixture tensor '\(name)' is \(t.dtype), expected F32") }
        return (t.shape, try t.floats())
    }

    static func suffix(_ base: String, _ i: Int, of count: Int) -> String { count == 1 ? base : "\(base)\(i)" }
}

@Suite("Ops against PyTorch fixtures")
struct OpFixtureTests {
    @Test func fixtureFileLoads() throws {
        let file = try OpFixtures.load()
        #expect(OpFixtures.caseNames.count >= 100, "expected the full case list, found \(OpFixtures.caseNames.count)")
        #expect(file.metadata["__generator__"] != nil)
        // Every family the engine offers is present.
        let families = Set(try OpFixtures.caseNames.map { try OpFixtures.describe($0).family })
        for family in ["arithmetic", "matmul", "linear", "conv2d", "conv_transpose2d", "activation", "reduction", "shape",
                       "upsample", "embedding", "argminmax", "softmax", "causal", "layer_norm", "group_norm", "loss",
                       "stop_gradient", "composite"] {
            #expect(families.contains(family), "no fixture case for family \(family)")
        }
    }

    @Test("engine matches PyTorch", arguments: OpFixtures.caseNames)
    func matchesPyTorch(_ name: String) throws {
        let info = try OpFixtures.describe(name)
        let inputs = try (0..<info.inputs).map { i -> Tensor in
            let (shape, data) = try OpFixtures.floats("\(name).in\(i)")
            return Tensor(shape: shape, data: data, requiresGrad: info.differentiable)
        }
        var indices: IndexInput?
        if let idx = OpFixtures.file?.tensors["\(name).idx"] {
            indices = IndexInput(values: try idx.integers(), shape: idx.shape)
        }

        var worst: (Double, String) = (0, "")
        func compare(_ label: String, actual: [Float]?, actualShape: [Int]?, expectedName: String) throws {
            let (shape, expected) = try OpFixtures.floats(expectedName)
            if let actualShape {
                #expect(actualShape == shape, "\(name): \(label) has shape \(actualShape), PyTorch \(shape)")
                guard actualShape == shape else { return }
            }
            // An input that received no gradient (cut off by stopGradient) counts as zeros.
            let a = actual ?? [Float](repeating: 0, count: expected.count)
            guard a.count == expected.count else {
                Issue.record("\(name): \(label) has \(a.count) elements, PyTorch \(expected.count)")
                return
            }
            let d = Discrepancy(actual: a, expected: expected, shape: shape)
            if d.relativeError > worst.0 { worst = (d.relativeError, label) }
            #expect(d.relativeError <= OpFixtures.tolerance, "\(name) [\(info.op)] \(label): \(d)")
        }

        if !info.differentiable {
            // argmin / argmax: integer outputs, compared exactly.
            let expected = try OpFixtures.tensor("\(name).out").integers()
            let actual = try OpCatalog.applyIndexOp(info.op, info.params, inputs[0])
            #expect(actual == expected, "\(name) [\(info.op)]: engine \(actual), PyTorch \(expected)")
            return
        }

        let outputs = try OpCatalog.apply(info.op, info.params, inputs, indices: indices)
        try #require(outputs.count == info.outputs, "\(name): engine gave \(outputs.count) outputs, PyTorch \(info.outputs)")
        for (i, out) in outputs.enumerated() {
            try compare("output \(i)", actual: out.data, actualShape: out.shape,
                        expectedName: "\(name).\(OpFixtures.suffix("out", i, of: info.outputs))")
        }
        let upstream = try (0..<info.outputs).map { try OpFixtures.floats("\(name).\(OpFixtures.suffix("upstream", $0, of: info.outputs))").data }
        OpCatalog.backpropagate(outputs, upstream: upstream)
        for (i, input) in inputs.enumerated() {
            try compare("grad of input \(i)", actual: input.grad, actualShape: nil, expectedName: "\(name).grad\(i)")
        }
        if ProcessInfo.processInfo.environment["VQ_FIXTURE_REPORT"] != nil {
            print("[ops] \(info.family) \(name): worst rel err \(String(format: "%.3g", worst.0)) (\(worst.1))")
        }
    }
}
