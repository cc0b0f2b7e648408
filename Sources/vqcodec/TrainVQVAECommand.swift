import ArgumentParser
import Foundation
import VQTraining

struct TrainVQVAECommand: ParsableCommand {
    enum Preset: String, ExpressibleByArgument, CaseIterable { case mnist, photo }

    static let configuration = CommandConfiguration(
        commandName: "vqvae",
        abstract: "Train a VQ-VAE image tokenizer (MNIST ConvVQVAE or the residual photo model).",
        discussion: """
        Settings come from --preset (the built-in models' recipes) or --config FILE.json (a VQVAETrainingConfiguration; \
        `train-config.json` in any run folder is an example), then the flags below override them. After each epoch the \
        held-out set is evaluated (PSNR, raw bits per pixel and codebook usage per residual level), a reconstruction PNG \
        is written, and the full state is saved to --out as epoch-NNN.h5; last.h5 is refreshed every checkpointEvery \
        steps. --resume continues a checkpoint bit-exactly (with the run's train-config.json when --config is not given). \
        The finished model is exported weights-only to model.safetensors.
        Example: vqcodec train vqvae --preset mnist --data ../shared/data/mnist --out /tmp/runs/mnist
        """
    )

    @Option(help: "Start from a built-in recipe: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: Preset?

    @Option(help: "A training configuration JSON file.")
    var config: String?

    @Option(help: "Data folder: MNIST IDX files, or photographs as PNG in train/, val/ and test/.")
    var data: String

    @Option(help: "Output folder for checkpoints, pictures and the exported model.")
    var out: String

    @Option(help: "Continue from this checkpoint (HDF5 with training state).")
    var resume: String?

    @Option(help: "Override: epochs.") var epochs: Int?
    @Option(help: "Override: batch size.") var batchSize: Int?
    @Option(help: "Override: peak learning rate.") var learningRate: Double?
    @Option(help: "Override: compute threads.") var threads: Int?
    @Option(help: "Override: held-out images evaluated per epoch (0: all).") var evaluationImages: Int?
    @Option(help: "Override: steps between last.h5 checkpoints.") var checkpointEvery: Int?
    @Option(help: "Override: random seed.") var seed: UInt64?
    @Option(help: "Stop after this many steps in this process (smoke tests); the state is saved to last.h5.") var maxSteps: Int?

    func validate() throws {
        if preset == nil && config == nil && resume == nil {
            throw ValidationError("give --preset mnist|photo, --config FILE.json, or --resume CHECKPOINT")
        }
        if preset != nil && config != nil { throw ValidationError("give either --preset or --config, not both") }
    }

    func run() throws {
        var configuration: VQVAETrainingConfiguration
        if let config {
            configuration = try loadConfiguration(URL(fileURLWithPath: config))
        } else if let preset {
            configuration = preset == .mnist ? .mnist : .photo
        } else {
            let saved = URL(fileURLWithPath: resume!).deletingLastPathComponent().appendingPathComponent("train-config.json")
            configuration = try loadConfiguration(saved)
        }
        if let epochs { configuration.epochs = epochs }
        if let batchSize { configuration.batchSize = batchSize }
        if let learningRate { configuration.learningRate = learningRate }
        if let threads { configuration.threads = threads }
        if let evaluationImages { configuration.evaluationImages = evaluationImages }
        if let checkpointEvery { configuration.checkpointEvery = checkpointEvery }
        if let seed { configuration.seed = seed }
        let trainer = try VQVAETrainer(configuration: configuration, data: URL(fileURLWithPath: data), output: URL(fileURLWithPath: out),
                                       resume: resume.map { URL(fileURLWithPath: $0) })
        trainer.stepLimit = maxSteps
        try trainer.run()
    }

    private func loadConfiguration(_ url: URL) throws -> VQVAETrainingConfiguration {
        do {
            return try JSONDecoder().decode(VQVAETrainingConfiguration.self, from: Data(contentsOf: url))
        } catch {
            throw ValidationError("cannot read the training configuration \(url.path): \(error)")
        }
    }
}
