import ArgumentParser
import Foundation
import VQModels
import VQTokenizer
import VQTraining

struct TrainPriorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prior",
        abstract: "Train an autoregressive prior over a tokenizer's token grids: a causal transformer (MNIST) or a bounded-context prior (photographs).",
        discussion: """
        The dataset (MNIST IDX files: the training split to train, the test split to evaluate) is tokenized once \
        and cached as HDF5 in --out (tokens.h5, reused while the tokenizer's fingerprint matches). The prior reads \
        each 7x7 grid in raster order after a start token: BOS, or with --conditional the class token of the \
        image's label (10% of training sequences keep BOS, so the model also serves when the class is unknown, \
        as when coding). After each epoch the test set's bits per token are printed and the full state is saved \
        as epoch-NNN.h5; last.h5 is refreshed every checkpointEvery steps; --resume continues bit-exactly. The \
        finished prior is exported weights-only to model.safetensors (Tools/train/prior.sh installs it as the \
        built-in).
        Example: vqcodec train prior --tokenizer mnist --data ../shared/data/mnist --out /tmp/runs/prior --conditional

        A tokenizer with several residual levels (photo) gets a bounded-context prior instead (ContextPrior: \
        each token from six already-coded neighbours of its level and the lower levels at its place), so that \
        photographs of any size can be coded. Then --data is a folder of PNG or PPM photographs: its `train` and \
        `val` subfolders (or the folder itself) train, the first --test-images of its `test` subfolder are held \
        out; the tokens are cached as photo-tokens.h5. Tools/train/photo-prior.sh converts BSDS500 and trains it.
        Example: vqcodec train prior --tokenizer photo --data /tmp/bsds500-ppm --out /tmp/runs/photo-prior

        Exit codes: 0 success; 1 failure (an output cannot be written); 2 bad input (missing or malformed data, \
        an unreadable or mismatched checkpoint, a bad setting).
        """
    )

    @Option(help: "The tokenizer: a built-in name (mnist) or a checkpoint path.")
    var tokenizer = "mnist"

    @Option(help: "Folder with the MNIST IDX files, or of photographs (train/val/test subfolders) for a multi-level tokenizer.")
    var data: String

    @Option(help: "Output folder for the token cache, checkpoints and the exported prior.")
    var out: String

    @Flag(help: "Add a class token (the image's label) for class-conditional sampling.")
    var conditional = false

    @Option(help: "Continue from this checkpoint (HDF5 with training state) with the run's train-config.json.")
    var resume: String?

    @Option(help: "Epochs (default 12).") var epochs: Int?
    @Option(help: "Batch size (default 128).") var batchSize: Int?
    @Option(help: "Peak learning rate (default 0.001, cosine decay to 5% of it).") var learningRate: Double?
    @Option(help: "Transformer blocks (default 2).") var layers: Int?
    @Option(help: "Model width (default 128).") var dimension: Int?
    @Option(help: "Attention heads (default 4).") var heads: Int?
    @Option(help: "Compute threads (default 2).") var threads: Int?
    @Option(help: "Steps between last.h5 checkpoints (default 200).") var checkpointEvery: Int?
    @Option(help: "Random seed (default 0).") var seed: UInt64?
    @Option(help: "Stop after this many steps in this process (smoke tests); the state is saved to last.h5.") var maxSteps: Int?
    @Option(help: "Context priors: held-out photographs from the test subfolder (default 50).") var testImages: Int?
    @Option(help: "Context priors: hidden width (default 256).") var hidden: Int?

    func run() throws {
        do { try execute() } catch { throw priorFailure(error) }
    }

    func execute() throws {
        let output = URL(fileURLWithPath: out)
        let savedConfiguration = resume.map { URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("train-config.json") }
        if let saved = savedConfiguration, let data = try? Data(contentsOf: saved),
           let configuration = try? JSONDecoder().decode(ContextPriorTrainingConfiguration.self, from: data) {
            return try trainContextPrior(configuration, output: output)
        }
        if resume == nil {
            let chosen = try BuiltinTokenizer(rawValue: tokenizer).map { try Tokenizer.builtin($0) } ?? Tokenizer(checkpoint: URL(fileURLWithPath: tokenizer))
            if chosen.levels > 1 {
                var configuration = ContextPriorTrainingConfiguration.photo
                configuration.tokenizer = tokenizer
                return try trainContextPrior(configuration, output: output)
            }
        }
        var configuration: PriorTrainingConfiguration
        if let resume {
            let saved = URL(fileURLWithPath: resume).deletingLastPathComponent().appendingPathComponent("train-config.json")
            do {
                configuration = try JSONDecoder().decode(PriorTrainingConfiguration.self, from: Data(contentsOf: saved))
            } catch {
                throw ValidationError("cannot read the run's configuration \(saved.path) (needed to resume): \(error)")
            }
        } else {
            configuration = PriorTrainingConfiguration.mnist
            configuration.tokenizer = tokenizer
            configuration.model.classes = conditional ? 10 : 0
        }
        if let epochs { configuration.epochs = epochs }
        if let batchSize { configuration.batchSize = batchSize }
        if let learningRate { configuration.learningRate = learningRate }
        if let layers { configuration.model.layers = layers }
        if let dimension { configuration.model.dimension = dimension }
        if let heads { configuration.model.heads = heads }
        if let threads { configuration.threads = threads }
        if let checkpointEvery { configuration.checkpointEvery = checkpointEvery }
        if let seed { configuration.seed = seed }
        let tokenizer = try BuiltinTokenizer(rawValue: configuration.tokenizer).map { try Tokenizer.builtin($0) }
            ?? Tokenizer(checkpoint: URL(fileURLWithPath: configuration.tokenizer))
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let cache = try TokenCache.loadOrBuild(at: output.appendingPathComponent("tokens.h5"), tokenizer: tokenizer,
                                               mnist: URL(fileURLWithPath: data), log: { print($0); fflush(nil) })
        let trainer = try PriorTrainer(configuration: configuration, cache: cache, output: output,
                                       resume: resume.map { URL(fileURLWithPath: $0) })
        trainer.stepLimit = maxSteps
        try trainer.run()
    }

    func trainContextPrior(_ saved: ContextPriorTrainingConfiguration, output: URL) throws {
        var configuration = saved
        if let epochs { configuration.epochs = epochs }
        if let batchSize { configuration.batchSize = batchSize }
        if let learningRate { configuration.learningRate = learningRate }
        if let hidden { configuration.model.hiddenSize = hidden }
        if let threads { configuration.threads = threads }
        if let checkpointEvery { configuration.checkpointEvery = checkpointEvery }
        if let seed { configuration.seed = seed }
        if let testImages { configuration.testImages = testImages }
        if conditional { throw ValidationError("--conditional applies to the MNIST transformer prior; photographs have no classes") }
        let tokenizer = try BuiltinTokenizer(rawValue: configuration.tokenizer).map { try Tokenizer.builtin($0) }
            ?? Tokenizer(checkpoint: URL(fileURLWithPath: configuration.tokenizer))
        let root = URL(fileURLWithPath: data)
        let fm = FileManager.default
        let splits = ["train", "val"].map { root.appendingPathComponent($0) }.filter { fm.fileExists(atPath: $0.path) }
        let testFolder = root.appendingPathComponent("test")
        guard fm.fileExists(atPath: testFolder.path) else {
            throw ValidationError("--data \(data) needs a `test` subfolder of held-out photographs (and `train`, `val` or photographs of its own to train on)")
        }
        try fm.createDirectory(at: output, withIntermediateDirectories: true)
        let cache = try PhotoTokenCache.loadOrBuild(at: output.appendingPathComponent("photo-tokens.h5"), tokenizer: tokenizer,
                                                    trainFolders: splits.isEmpty ? [root] : splits, testFolder: testFolder,
                                                    testImages: configuration.testImages, log: { print($0); fflush(nil) })
        let trainer = try ContextPriorTrainer(configuration: configuration, cache: cache, output: output,
                                              resume: resume.map { URL(fileURLWithPath: $0) })
        trainer.stepLimit = maxSteps
        try trainer.run()
    }
}
