import ArgumentParser
import Foundation
import VQData
import VQEngine
import VQVAEFamily

extension VAEPlotKind: ExpressibleByArgument {}

/// `vqcodec plot <model>`: figures as PNG files.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw figures of a trained model as PNG files.",
        subcommands: [PlotVAECommand.self]
    )
}

struct PlotVAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "Draw a picture of a trained VAE from the course notes.",
        discussion: """
        Kinds: reconstructions (rows of test images, each followed by a row of their reconstructions from the \
        posterior mean); samples (decoded z ~ N(0, I); a conditional model draws class c in column c); \
        interpolation (each row: a test image, decodings of z1 + t (z2 - z1), the second test image); manifold \
        (2-D latent only: a --size x --size grid of decodings at the Gaussian's quantiles); scatter (z_mean of \
        the test set coloured by class, with a legend; latents above 2-D on their two principal axes); \
        analogies (conditional model only: each row the style z of a test image, decoded with the labels 0-9).
        """
    )

    @Argument(help: "A checkpoint written by `vqcodec train vae`.")
    var checkpoint: String

    @Option(help: "reconstructions, samples, interpolation, manifold, scatter or analogies.")
    var kind: VAEPlotKind

    @Option(name: .shortAndLong, help: "The PNG file to write.")
    var output: String

    @Option(help: "Folder with the t10k IDX files (images and labels).")
    var data: String = "../shared/data/mnist"

    @Option(help: "Manifold grid size (15 or 30 in the notes).")
    var size: Int = 15

    @Option(help: "Rows of the picture.")
    var rows: Int = 8

    @Option(help: "Columns (samples, reconstructions) or steps (interpolation).")
    var columns: Int = 10

    @Option(help: "Seed for sampled z.")
    var seed: UInt64 = 0

    func validate() throws {
        guard (2...60).contains(size) else { throw ValidationError("--size must be in 2...60, found \(size)") }
        guard (1...100).contains(rows) else { throw ValidationError("--rows must be in 1...100, found \(rows)") }
        guard (2...100).contains(columns) else { throw ValidationError("--columns must be in 2...100, found \(columns)") }
        guard output.lowercased().hasSuffix(".png") else { throw ValidationError("-o must name a .png file, found '\(output)'") }
    }

    func run() throws {
        ComputeThreads.set(2)
        do { try execute() } catch { throw vaeFailure(error) }
    }

    func execute() throws {
        let loaded = try LoadedVAE(contentsOf: URL(fileURLWithPath: checkpoint))
        let test = try LabeledImages.mnist(directory: URL(fileURLWithPath: data), split: .test)
        var options = VAEPlotOptions()
        options.manifoldSize = size
        options.rows = rows
        options.columns = columns
        options.seed = seed
        let image = try VAEPlots.draw(kind, model: loaded.model, test: test, options: options)
        try image.write(to: URL(fileURLWithPath: output))
        print("wrote \(output): \(kind.rawValue), \(image.width)x\(image.height) pixels")
    }
}
