import ArgumentParser
import Foundation
import VQCodec
import VQData
import VQImage

/// Maintainer tool: writes the token statistics that `.vqc` method 3 codes with (Sources/VQCodec/Statistics).
struct TokenStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token-stats",
        abstract: "Count a model's tokens on its training data, for .vqc method 3 (maintainers).",
        shouldDisplay: false
    )

    @Option(help: "Tokenizer: a built-in name or a checkpoint path.")
    var model: String

    @Option(help: "Folder with the MNIST IDX files (the training split is used).")
    var mnist: String?

    @Option(parsing: .upToNextOption, help: "PNG images or folders (all of one size), instead of --mnist.")
    var data: [String] = []

    @Option(help: "Folder to write <fingerprint>.vqstats into.")
    var out: String

    @Option(help: "Use only the first N images.")
    var limit: Int?

    func run() throws {
        do {
            let tokenizer = try ModelCatalog.tokenizer(named: model)
            var images: [Image] = []
            if let mnist {
                let set = try LabeledImages.mnist(directory: URL(fileURLWithPath: mnist), split: .train)
                let n = min(set.count, limit ?? set.count), size = set.imageSize
                images = (0..<n).map { i in
                    Image(width: set.width, height: set.height, channels: set.channels,
                          pixels: set.pixels[(i * size)..<((i + 1) * size)].map { UInt8(($0 * 255).rounded()) })
                }
            } else {
                let paths = try BatchPlanner.expand(data, fileExtension: "png").map(\.path)
                images = try paths.prefix(limit ?? paths.count).map { try Codec.prepare(try ImageInput.read(path: $0), path: $0, dropAlpha: true) }
            }
            let stats = try TokenStatistics.gather(tokenizer: tokenizer, images: images)
            let name = stats.fingerprint.prefix(16) + ".vqstats"
            let url = URL(fileURLWithPath: out).appendingPathComponent(String(name))
            try AtomicFile.write(stats.serialized(), to: url)
            print("\(url.path): \(images.count) images, fingerprint \(stats.fingerprint)")
        } catch { throw fail(error) }
    }
}
