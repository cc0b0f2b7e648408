import Foundation
import Testing
import VQEngine
import VQModels
import VQTokenizer
@testable import VQCodec

@Suite struct ContainerTests {
    let fingerprint: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]

    func sampleIndices(_ level: LevelShape, seed: Int = 1) -> [Int] {
        (0..<level.count).map { i in ((i * 7919 + seed * 31) % 97 < 50) ? 3 : (i * 131 + seed) % level.codebookSize }
    }

    /// Statistics gathered on a few grids like the sample ones (fingerprint 0102...08).
    static func statistics(_ levels: [LevelShape]) -> TokenStatistics {
        let grids = (0..<20).map { seed in levels.map { level in
            (0..<level.count).map { i in ((i * 7919 + seed * 31) % 97 < 50) ? 3 : (i * 131 + seed) % level.codebookSize }
        } }
        return TokenStatistics.collect(fingerprint: "0102030405060708" + String(repeating: "0", count: 48), shapes: levels, grids: grids)
    }

    /// A small random prior over 7x7 grids of 512 codes, so method 4 goes through every container test.
    static let prior: PriorCoder = {
        var rng = RandomGenerator(seed: 12)
        let model = TokenPrior(configuration: .init(vocabulary: 512, sequenceLength: 49, dimension: 16, heads: 2, layers: 1, hiddenSize: 32), rng: &rng)
        for p in model.parameters { for i in p.data.indices { p.data[i] *= 20 } }
        return PriorCoder(prior: Prior(model: model))
    }()

    /// A small random context prior over two levels of 512 codes, for method 5.
    static let contextPrior: PriorCoder = {
        var rng = RandomGenerator(seed: 13)
        let model = ContextPrior(configuration: .init(vocabulary: 512, levels: 2, embedding: 4, hiddenSize: 16), rng: &rng)
        for p in model.parameters { for i in p.data.indices { p.data[i] *= 20 } }
        return PriorCoder(contextPrior: ContextPriorModel(model: model))
    }()

    /// The prior a method needs in these tests.
    static func prior(for method: EntropyMethod) -> PriorCoder { method == .contextPrior ? contextPrior : prior }

    @Test(arguments: EntropyMethod.allCases)
    func roundTripsEveryMethod(method: EntropyMethod) throws {
        // Method 4 codes one level, method 5 levels of one shape and codebook; the others get two different ones.
        let levels = method == .prior ? [LevelShape(height: 7, width: 7, codebookSize: 512)]
            : method == .contextPrior ? [LevelShape(height: 7, width: 7, codebookSize: 512), LevelShape(height: 7, width: 7, codebookSize: 512)]
            : [LevelShape(height: 7, width: 7, codebookSize: 512), LevelShape(height: 3, width: 5, codebookSize: 100)]
        let indices = levels.map { sampleIndices($0) }
        let stats = ContainerTests.statistics(levels)
        let bytes = try ContainerFile.encode(fingerprint: fingerprint, modelName: "mnist", width: 28, height: 28,
                                             channels: 1, levels: levels, indices: indices, method: method, statistics: stats,
                                             prior: ContainerTests.prior(for: method))
        let file = try ContainerFile(bytes, statistics: stats, prior: ContainerTests.prior(for: method))
        #expect(file.indices == indices)
        #expect(file.header.method == method)
        #expect(file.header.modelName == "mnist")
        #expect(file.header.levels == levels)
        #expect(file.header.fingerprint == Array(fingerprint.prefix(4)))  // version 2 stores the first 4 bytes
    }

    @Test func statisticsSerializeAndCodeUnseenValues() throws {
        let levels = [LevelShape(height: 7, width: 7, codebookSize: 512)]
        let stats = ContainerTests.statistics(levels)
        let copy = try TokenStatistics(serialized: stats.serialized())
        #expect(copy.serialized() == stats.serialized())
        var g = FuzzTests.Generator(state: 5)
        for _ in 0..<200 {
            let indices = [(0..<49).map { _ in g.below(3) == 0 ? 3 : g.below(512) }]
            let bytes = try ContainerFile.encode(fingerprint: fingerprint, modelName: nil, width: 28, height: 28, channels: 1,
                                                 levels: levels, indices: indices, method: .statistics, statistics: copy)
            #expect(try ContainerFile(bytes, statistics: stats).indices == indices)
        }
        let bytes = try ContainerFile.encode(fingerprint: fingerprint, modelName: nil, width: 28, height: 28, channels: 1,
                                             levels: levels, indices: [sampleIndices(levels[0])], method: .statistics, statistics: stats)
        #expect(throws: ContainerError.statisticsMissing(fingerprint: "01020304")) { try ContainerFile(bytes) }
    }

    @Test func bitsPerIndexIsCeilLog2() {
        #expect(bitsPerIndex(codebookSize: 2) == 1)
        #expect(bitsPerIndex(codebookSize: 3) == 2)
        #expect(bitsPerIndex(codebookSize: 512) == 9)
        #expect(bitsPerIndex(codebookSize: 513) == 10)
        #expect(bitsPerIndex(codebookSize: 65536) == 16)
    }

    @Test func picksTheSmallestMethod() throws {
        let levels = [LevelShape(height: 7, width: 7, codebookSize: 512)]
        let indices = [sampleIndices(levels[0])]
        let auto = try ContainerFile.encode(fingerprint: fingerprint, modelName: nil, width: 28, height: 28, channels: 1,
                                            levels: levels, indices: indices, statistics: ContainerTests.statistics(levels),
                                            prior: ContainerTests.prior)
        for method in EntropyMethod.allCases {
            let forced = try ContainerFile.encode(fingerprint: fingerprint, modelName: nil, width: 28, height: 28,
                                                  channels: 1, levels: levels, indices: indices, method: method,
                                                  statistics: ContainerTests.statistics(levels), prior: ContainerTests.prior)
            #expect(auto.count <= forced.count)
        }
    }

    @Test func everyTruncationIsRefused() throws {
        let levels = [LevelShape(height: 7, width: 7, codebookSize: 512)]
        for method in EntropyMethod.allCases {
            let stats = ContainerTests.statistics(levels)
            let bytes = try ContainerFile.encode(fingerprint: fingerprint, modelName: "mnist", width: 28, height: 28,
                                                 channels: 1, levels: levels, indices: [sampleIndices(levels[0])], method: method,
                                                 statistics: stats, prior: ContainerTests.prior)
            for n in 0..<bytes.count {
                #expect(throws: ContainerError.self) { try ContainerFile(Array(bytes.prefix(n)), statistics: stats, prior: ContainerTests.prior) }
            }
            #expect(throws: ContainerError.self) { try ContainerFile(bytes + [0], statistics: stats, prior: ContainerTests.prior) }
            _ = method
        }
    }

    @Test func everySingleBitFlipIsRefused() throws {
        let levels = [LevelShape(height: 7, width: 7, codebookSize: 512)]
        let bytes = try ContainerFile.encode(fingerprint: fingerprint, modelName: "mnist", width: 28, height: 28,
                                             channels: 1, levels: levels, indices: [sampleIndices(levels[0])])
        for bit in 0..<(bytes.count * 8) {
            var mutated = bytes
            mutated[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(throws: ContainerError.self) { try ContainerFile(mutated) }
        }
    }

    @Test func headerFieldsAreValidated() {
        let levels = [LevelShape(height: 7, width: 7, codebookSize: 512)]
        let indices = [[Int](repeating: 0, count: 49)]
        func encode(width: Int = 28, height: Int = 28, channels: Int = 1, name: String? = nil,
                    levels: [LevelShape] = levels, indices: [[Int]] = indices) throws {
            _ = try ContainerFile.encode(fingerprint: fingerprint, modelName: name, width: width, height: height,
                                         channels: channels, levels: levels, indices: indices)
        }
        #expect(throws: ContainerError.self) { try encode(width: 0) }
        #expect(throws: ContainerError.self) { try encode(width: 40_000) }
        #expect(throws: ContainerError.self) { try encode(width: 30_000, height: 30_000) }
        #expect(throws: ContainerError.self) { try encode(channels: 4) }
        #expect(throws: ContainerError.self) { try encode(name: "Bad Name") }
        #expect(throws: ContainerError.self) { try encode(indices: [[Int](repeating: 512, count: 49)]) }
        #expect(throws: ContainerError.self) { try encode(indices: [[Int](repeating: 0, count: 48)]) }
        #expect(throws: ContainerError.self) { try encode(levels: [LevelShape(height: 29, width: 7, codebookSize: 512)]) }
        #expect(throws: ContainerError.self) { try encode(levels: [LevelShape(height: 7, width: 7, codebookSize: 1)]) }
    }

    @Test func refusesWrongMagicAndVersionByName() throws {
        let levels = [LevelShape(height: 7, width: 7, codebookSize: 512)]
        var bytes = try ContainerFile.encode(fingerprint: fingerprint, modelName: nil, width: 28, height: 28, channels: 1,
                                             levels: levels, indices: [[Int](repeating: 1, count: 49)])
        var png = bytes
        png.replaceSubrange(0..<3, with: [0x89, 0x50, 0x4E])
        #expect(throws: ContainerError.notVQC(found: "0x89 0x50 0x4e")) { try ContainerFile(png) }
        bytes[3] = 9
        #expect(throws: ContainerError.unsupportedVersion(found: 9)) { try ContainerFile(bytes) }
    }

    @Test func overlongVarintsAreRefused() throws {
        var reader = ByteReader([0x80, 0x00])
        #expect(throws: ContainerError.self) { _ = try reader.varint("x", limit: 100) }
        var ok = ByteReader([0xAC, 0x02])
        #expect(try ok.varint("x", limit: 1000) == 300)
    }
}
