import Foundation
import Testing
import VQEngine
import VQModels
@testable import VQCodec
@testable import VQTokenizer

private func failure(_ body: () throws(ContainerError) -> Void) -> ContainerError? {
    do { try body(); return nil } catch { return error }
}

@Suite struct PriorCodingTests {
    /// A 4x4 grid of 32 codes, modelled by a small random prior.
    static let level = LevelShape(height: 4, width: 4, codebookSize: 32)
    static let fingerprint: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]

    static func coder(seed: UInt64 = 1) -> PriorCoder {
        var rng = RandomGenerator(seed: seed)
        let model = TokenPrior(configuration: .init(vocabulary: 32, sequenceLength: 16, dimension: 16, heads: 2, layers: 1, hiddenSize: 32), rng: &rng)
        for p in model.parameters { for i in p.data.indices { p.data[i] *= 30 } }  // a peaked distribution
        return PriorCoder(prior: Prior(model: model))
    }

    static func sequences(_ count: Int, seed: UInt64 = 3) -> [[Int]] {
        var rng = RandomGenerator(seed: seed)
        return (0..<count).map { _ in (0..<16).map { _ in Int(rng.next() % 32) } }
    }

    static func encode(_ indices: [Int], _ coder: PriorCoder) throws -> [UInt8] {
        try ContainerFile.encode(fingerprint: fingerprint, modelName: nil, width: 16, height: 16, channels: 1, levels: [level],
                                 indices: [indices], method: .prior, prior: coder)
    }

    @Test("method 4 round-trips the tokens exactly and names the prior in the header")
    func roundTrip() throws {
        let coder = PriorCodingTests.coder()
        for indices in PriorCodingTests.sequences(40) {
            let bytes = try PriorCodingTests.encode(indices, coder)
            let file = try ContainerFile(bytes, prior: coder)
            #expect(file.header.method == .prior)
            #expect(file.header.priorFingerprint == Array(coder.fingerprintPrefix.prefix(4)))
            #expect(file.indices == [indices])
        }
    }

    @Test("the payload stays within 2 bytes of the ideal code length under the prior's tables")
    func payloadNearEstimate() throws {
        let coder = PriorCodingTests.coder()
        for indices in PriorCodingTests.sequences(40) + [[Int](repeating: 0, count: 16)] {
            let header = try ContainerFile.readHeader(try PriorCodingTests.encode(indices, coder))
            let ideal = Int((coder.estimatedBits(indices) / 8).rounded(.up))
            #expect(header.payloadLength <= ideal + 2, "payload \(header.payloadLength) bytes, ideal \(ideal)")
        }
    }

    @Test("a prior-coded file needs its prior: missing or another prior is refused by name")
    func priorRequired() throws {
        let bytes = try PriorCodingTests.encode(PriorCodingTests.sequences(1)[0], PriorCodingTests.coder())
        #expect(throws: ContainerError.self) { try ContainerFile(bytes) }
        let error = failure { () throws(ContainerError) in _ = try ContainerFile(bytes, prior: PriorCodingTests.coder(seed: 2)) }
        guard case let .priorMissing(fingerprint, given)? = error else {
            Issue.record("expected priorMissing, got \(String(describing: error))")
            return
        }
        #expect(fingerprint == PriorCodingTests.coder().fingerprintPrefix.prefix(4).map { byteHex($0) }.joined() && given != nil)
        // A prior that does not fit the grid cannot be chosen for encoding.
        #expect(throws: ContainerError.self) {
            try ContainerFile.encode(fingerprint: PriorCodingTests.fingerprint, modelName: nil, width: 16, height: 16, channels: 1,
                                     levels: [LevelShape(height: 4, width: 4, codebookSize: 64)], indices: [[Int](repeating: 1, count: 16)],
                                     method: .prior, prior: PriorCodingTests.coder())
        }
    }

    @Test("a header without the prior fingerprint for method 4, or with one for other methods, is refused")
    func headerRules() throws {
        var header = ContainerHeader(method: .prior, fingerprint: PriorCodingTests.fingerprint, modelName: nil, width: 16, height: 16,
                                     channels: 1, levels: [PriorCodingTests.level], payloadLength: 5)
        #expect(throws: ContainerError.self) { try header.validate() }
        header.priorFingerprint = [1, 2, 3, 4, 5, 6, 7, 8]  // version 2 stores 4 bytes
        #expect(throws: ContainerError.self) { try header.validate() }
        header.priorFingerprint = [1, 2, 3, 4]
        try header.validate()
        header.method = .zstd
        #expect(throws: ContainerError.self) { try header.validate() }
    }

    @Test("damaged prior-coded payloads give errors, never a crash")
    func damagedPayloads() throws {
        let coder = PriorCodingTests.coder()
        let bytes = try PriorCodingTests.encode(PriorCodingTests.sequences(1)[0], coder)
        let payload = try ContainerFile.readHeader(bytes).payloadLength
        var rng = RandomGenerator(seed: 4)
        for _ in 0..<200 {
            var damaged = bytes
            let position = bytes.count - 4 - payload + Int(rng.next() % UInt64(payload))  // inside the payload
            damaged[position] ^= UInt8(1 + rng.next() % 255)
            // Refresh the CRC so the payload itself is what gets checked.
            damaged.removeLast(4)
            damaged.appendUInt32LE(crc32(damaged))
            if let file = try? ContainerFile(damaged, prior: coder) { #expect(file.indices[0].count == 16) }
        }
    }

    @Test("coding many files on all cores gives the same bytes as one at a time")
    func threadIndependent() throws {
        let coder = PriorCodingTests.coder()
        let inputs = PriorCodingTests.sequences(64)
        let sequential = try inputs.map { try PriorCodingTests.encode($0, coder) }
        let parallel = parallelMap(inputs.count, threads: 4) { i in (try? PriorCodingTests.encode(inputs[i], coder)) ?? [] }
        #expect(parallel == sequential)
    }
}

extension PriorCodingTests {
    @Test("a prior whose weights are NaN still codes and decodes (every code keeps a nonzero frequency)")
    func nanPriorDoesNotTrap() throws {
        var rng = RandomGenerator(seed: 1)
        let model = TokenPrior(configuration: .init(vocabulary: 32, sequenceLength: 16, dimension: 16, heads: 2, layers: 1, hiddenSize: 32), rng: &rng)
        model.head.weight.data[0] = .nan
        let coder = PriorCoder(prior: Prior(model: model))
        let indices = PriorCodingTests.sequences(1)[0]
        let bytes = try PriorCodingTests.encode(indices, coder)
        #expect(try ContainerFile(bytes, prior: coder).indices == [indices])
    }
}
