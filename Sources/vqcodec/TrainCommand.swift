import ArgumentParser

/// `vqcodec train <model>`: one subcommand per model family.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on the CPU, with a progress display, a checkpoint per epoch and exact resume.",
        subcommands: [TrainVAECommand.self, TrainVQVAECommand.self, TrainPriorCommand.self]
    )
}
