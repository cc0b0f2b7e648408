import Foundation
import Testing
import VQData

private let mnistFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../../shared/data/mnist").standardized

@Suite struct DataTests {
    @Test func readsTheMNISTTestSplit() throws {
        let test = try LabeledImages.mnist(directory: mnistFolder, split: .test)
        #expect(test.count == 10_000 && test.height == 28 && test.width == 28 && test.channels == 1)
        #expect(test.labels.count == 10_000)
        // The first test digit of MNIST is a 7.
        #expect(test.labels[0] == 7)
        #expect(test.pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func idxWithChannelsBecomesNCHW() throws {
        // 1 image, 1x2 pixels, 3 channels, stored channels-last.
        var bytes: [UInt8] = [0, 0, 8, 4, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
        bytes += [10, 20, 30, 40, 50, 60]
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rgb-\(UUID()).idx")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let images = try LabeledImages(images: url, labels: nil)
        #expect(images.channels == 3 && images.height == 1 && images.width == 2)
        #expect(images.pixels.map { ($0 * 255).rounded() } == [10, 40, 20, 50, 30, 60])
    }

    @Test func malformedFilesGiveClearErrors() throws {
        let cases: [[UInt8]] = [[], [0, 0, 8], [1, 2, 3, 4], [0, 0, 8, 1, 0, 0, 0, 5, 1, 2], [0, 0, 13, 1, 0, 0, 0, 1, 0, 0, 0, 0]]
        for bytes in cases {
            #expect(throws: IDXError.self) { try IDXArray(data: Data(bytes)) }
        }
        #expect(throws: IDXError.self) { try LabeledImages.mnist(directory: URL(fileURLWithPath: "/nonexistent"), split: .train) }
        #expect(throws: GzipError.self) { try gunzip(Data([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3])) }
    }

    @Test func dataOrderIsReproducibleAndResumable() {
        var a = DataOrder(count: 10, seed: 7)
        let full = (0..<2).flatMap { _ in (0..<3).compactMap { _ in a.nextBatch(size: 3).map(Array.init) } }
        _ = full
        var b = DataOrder(count: 10, seed: 7)
        let first = b.nextBatch(size: 3).map(Array.init)
        var c = DataOrder(count: 10, seed: 7)
        #expect(c.nextBatch(size: 3).map(Array.init) == first)
        // A copy taken mid-epoch continues identically (what a checkpoint stores).
        let saved = b
        var resumed = saved
        #expect(b.nextBatch(size: 3) == resumed.nextBatch(size: 3))
        #expect(Set(b.permutation) == Set(0..<10))
        b.nextEpoch()
        #expect(b.epoch == 1 && b.position == 0)
        #expect(b.permutation != DataOrder(count: 10, seed: 7).permutation)
    }
}
