import ArgumentParser
import Foundation
import VQCheckpoint
import VQEngine
import VQLayers
import VQModels

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Inspect, convert, compare and verify checkpoints (vqcodec HDF5 and safetensors).",
        discussion: """
        vqcodec checkpoints are HDF5 files laid out as Formats/checkpoint.md describes: the model's tensors by \
        PyTorch state_dict path, and optionally the optimizer and training state; every dataset carries a \
        checksum. safetensors files hold model weights only.
        """,
        subcommands: [Inspect.self, Convert.self, Diff.self, Verify.self, Load.self, SaveLoop.self, Bench.self, New.self, Probe.self,
                      ExportAll.self]
    )
}

/// Prints `error` to standard error and returns the exit code: 2 for input that cannot be read at all, else 1.
private func failure(_ error: CheckpointError) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
    return ExitCode(error.isUnreadable ? 2 : 1)
}

private func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

extension CheckpointCommand {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a checkpoint's format, model and tensors, or the tree of any HDF5 or safetensors file.",
            discussion: """
            For a vqcodec checkpoint: format and version, model kind and configuration, optimizer and training \
            counters, and every tensor with shape, dtype, element count and bytes, then the total parameter \
            count. For another HDF5 file (h5py, Keras, ...): every group and dataset with its attributes. \
            For safetensors: the metadata and every tensor.

            Exit codes: 0 shown; 1 the file is damaged; 2 the file cannot be read (missing, not HDF5 or \
            safetensors, or from a newer vqcodec).
            """
        )

        @Argument(help: "The file: .h5/.hdf5 (any HDF5 file) or .safetensors.")
        var file: String

        @Flag(help: "Also read every tensor and show min, max, mean, std and NaN/Inf counts (verifies checksums).")
        var stats = false

        @Flag(help: "Print the report as JSON.")
        var json = false

        func run() throws {
            let report: InspectReport
            do throws(CheckpointError) {
                report = try InspectReport(url: URL(fileURLWithPath: file), statistics: stats)
            } catch {
                throw failure(error)
            }
            if json { try printJSON(report) } else { print(report.text) }
        }
    }

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert between vqcodec HDF5 checkpoints and safetensors, or change the element type.",
            discussion: """
            The formats follow the extensions of IN and OUT (.h5/.hdf5 or .safetensors). --dtype converts \
            the model's floating-point tensors, rounding to nearest even; optimizer and training state keep \
            their float32 values so a resumed run stays exact. safetensors holds weights only: converting a \
            checkpoint with optimizer or training state to it needs --weights-only. A safetensors file \
            without vqcodec metadata (a plain PyTorch state_dict) needs --model-kind and --model-config to \
            become a vqcodec checkpoint; its tensors must then match that model exactly. OUT is written \
            atomically.

            Exit codes: 0 converted; 1 the input is damaged or the conversion was refused; 2 the input \
            cannot be read.
            """
        )

        @Argument(help: "The input file (.h5/.hdf5 or .safetensors).")
        var input: String

        @Argument(help: "The output file (.h5/.hdf5 or .safetensors).")
        var output: String

        @Option(help: "Element type of the model tensors: float32, float16 or bfloat16 (also float64).")
        var dtype: String?

        @Flag(help: "Drop the optimizer and training state.")
        var weightsOnly = false

        @Option(help: "Model kind to record when the input has none: mlp-vae, conv-vqvae or token-prior.")
        var modelKind: String?

        @Option(help: "Model configuration (JSON, Swift field names) to record when the input has none.")
        var modelConfig: String?

        func validate() throws {
            if let dtype {
                guard let type = TensorDType(name: dtype), type.isFloatingPoint else {
                    throw ValidationError("--dtype must be float32, float16, bfloat16 or float64; found '\(dtype)'")
                }
            }
            if let modelKind, !ModelRegistry.kinds.contains(modelKind) {
                throw ValidationError("--model-kind must be one of \(ModelRegistry.kinds.joined(separator: ", ")); found '\(modelKind)'")
            }
        }

        func run() throws {
            let conversion = CheckpointConversion(dtype: dtype.flatMap { TensorDType(name: $0) }, weightsOnly: weightsOnly,
                                                  modelKind: modelKind, modelConfiguration: modelConfig)
            do throws(CheckpointError) {
                let written = try conversion.convert(URL(fileURLWithPath: input), to: URL(fileURLWithPath: output))
                let bytes = written.tensors.reduce(0) { $0 + $1.tensor.byteCount }
                var parts = ["\(written.tensors.count) model tensors", "\(written.parameterCount) parameters", "\(bytes) bytes"]
                if written.optimizer != nil { parts.append("optimizer state") }
                if written.training != nil { parts.append("training state") }
                print("wrote \(output): " + parts.joined(separator: ", "))
            } catch {
                throw failure(error)
            }
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two checkpoints tensor by tensor.",
            discussion: """
            Lists tensors only in A, only in B, shape mismatches, differing records (model kind and \
            configuration, optimizer hyperparameters and step, training counters), and for every shared \
            tensor the largest absolute difference, the relative L2 difference ||a-b|| / max(||a||, ||b||) \
            and the share of elements that changed. HDF5 and safetensors files can be mixed.

            Exit codes: 0 equal within --atol; 1 different; 2 a file cannot be read or is damaged.
            """
        )

        @Argument(help: "The first file.")
        var a: String

        @Argument(help: "The second file.")
        var b: String

        @Option(help: "Largest absolute difference per element still counted as equal.")
        var atol: Double = 0

        @Flag(help: "Print the report as JSON.")
        var json = false

        func validate() throws {
            guard atol >= 0, atol.isFinite else { throw ValidationError("--atol must be a finite number >= 0; found \(atol)") }
        }

        func run() throws {
            let report: DiffReport
            do throws(CheckpointError) {
                report = try DiffReport(a: URL(fileURLWithPath: a), b: URL(fileURLWithPath: b), tolerance: atol)
            } catch {
                FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
                throw ExitCode(2)
            }
            if json { try printJSON(report) } else { print(report.text) }
            if !report.isEqual { throw ExitCode(1) }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a checkpoint's format, checksums and completeness.",
            discussion: """
            Reads every dataset and verifies its fletcher32 checksum (the one libhdf5 and h5py check; rank-0 \
            and empty datasets carry a CRC-32 instead), checks the root attributes and the format version, and checks that the tensors match \
            the recorded model exactly (names, shapes, types), including optimizer moments and training \
            state. safetensors files are checked for a valid structure (they have no checksums).

            Exit codes: 0 sound; 1 corrupt or incomplete; 2 unreadable (missing, not HDF5 or safetensors, \
            not a vqcodec checkpoint, or a newer format version).
            """
        )

        @Argument(help: "The file to check.")
        var file: String

        @Flag(help: "Print the report as JSON.")
        var json = false

        func run() throws {
            let report = VerifyReport(url: URL(fileURLWithPath: file))
            if json { try printJSON(report) } else { print(report.text) }
            if report.exitCode != 0 { throw ExitCode(report.exitCode) }
        }
    }

    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a checkpoint into a fresh model, optimizer and random generator (for tests).",
            discussion: "Exit codes: 0 loaded; 1 damaged or incomplete; 2 unreadable.",
            shouldDisplay: false
        )

        @Argument(help: "The checkpoint.")
        var file: String

        func run() throws {
            do throws(CheckpointError) {
                print(try RestoredRun(contentsOf: URL(fileURLWithPath: file)).summary)
            } catch {
                throw failure(error)
            }
        }
    }

    struct SaveLoop: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "save-loop",
            abstract: "Save a full training state to FILE again and again (for the kill test of atomic saving).",
            discussion: """
            Save i records global step i and sets the first weight to i, printing "saving i" before and \
            "saved i" after each save. Tools/checkpoint/kill_test.sh kills it at random moments and checks \
            that FILE always loads, at the last or the in-flight step.
            """,
            shouldDisplay: false
        )

        @Argument(help: "The checkpoint file to overwrite.")
        var file: String

        @Option(help: "Number of saves (0: until killed).")
        var count = 0

        @Flag(help: "Use the 10-million-parameter benchmark model instead of the reference conv VQ-VAE.")
        var large = false

        func run() throws {
            var rng = RandomGenerator(seed: 3)
            let model: any Layer
            let checkpointOf: (Adam, TrainingState) -> Checkpoint
            if large {
                let prior = CheckpointBenchmark.model()
                model = prior
                checkpointOf = { Checkpoint(model: prior, optimizer: $0, training: $1) }
            } else {
                let vqvae = ConvVQVAE(rng: &rng)
                model = vqvae
                checkpointOf = { Checkpoint(model: vqvae, optimizer: $0, training: $1) }
            }
            let adam = Adam(parameters: model.parameters)
            // Distinct, non-trivial moments, so readers of the file have something to get wrong.
            for i in adam.firstMoments.indices {
                for j in adam.firstMoments[i].indices {
                    adam.firstMoments[i][j] = Float(j % 101) * 1e-3 - 0.05 + Float(i)
                    adam.secondMoments[i][j] = Float((j * 7 + i) % 97) * 1e-7
                }
            }
            let url = URL(fileURLWithPath: file)
            var step = 1
            while count == 0 || step <= count {
                model.parameters[0].data[0] = Float(step)
                adam.step = step
                let training = TrainingState(globalStep: step, epoch: 0, randomState: rng.stateWords, dataOrder: Array((0..<1000).reversed()),
                                             dataPosition: step % 1000,
                                             metrics: ["loss": (0..<step).map { 1 / Double($0 + 1) }, "learning_rate": [1e-3, 5e-4]])
                // Unbuffered, so the killer sees exactly how far the loop got.
                FileHandle.standardOutput.write(Data("saving \(step)\n".utf8))
                do throws(CheckpointError) {
                    try checkpointOf(adam, training).write(to: url)
                } catch {
                    throw failure(error)
                }
                FileHandle.standardOutput.write(Data("saved \(step)\n".utf8))
                step += 1
            }
        }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time saving and loading a 10-million-parameter checkpoint against plain file I/O of the same bytes.",
            discussion: "Results go to Tools/bench/CHECKPOINT.md by hand.",
            shouldDisplay: false
        )

        @Option(help: "Folder for the temporary files (default: the system temporary folder).")
        var directory: String?

        @Option(help: "Repeats per case; the median is reported.")
        var repeats = 5

        @Option(help: "Transformer layers of the benchmark model (3 gives 10,008,576 parameters).")
        var layers = 3

        @Flag(help: "Print JSON.")
        var json = false

        @Option(help: "Only load the checkpoint this many times (for profiling) and print the median.")
        var profileLoads: Int?

        func run() throws {
            let folder = directory.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory
            if let profileLoads {
                print(String(format: "median load: %.1f ms", try CheckpointBenchmark.profileLoading(directory: folder, count: profileLoads) * 1000))
                return
            }
            let (measurements, ratios) = try CheckpointBenchmark.run(directory: folder, layers: layers, repeats: repeats) { message in
                FileHandle.standardError.write(Data((message + "\n").utf8))
            }
            if json {
                struct Output: Encodable { let measurements: [CheckpointBenchmark.Measurement]; let ratios: [String: Double] }
                try printJSON(Output(measurements: measurements, ratios: ratios))
                return
            }
            func padded(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
            for m in measurements {
                print(padded(m.name, 50) + String(format: "%9.1f ms %9.0f MB/s", m.seconds * 1000, m.megabytesPerSecond))
            }
            for key in ratios.keys.sorted() { print(padded(key, 50) + String(format: "%9.2fx", ratios[key]!)) }
        }
    }

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a freshly initialised model as a checkpoint (for interoperability scripts).",
            shouldDisplay: false
        )

        @Argument(help: "Model kind: \(ModelRegistry.kinds.joined(separator: ", ")).")
        var kind: String

        @Argument(help: "The checkpoint to write (.h5 or .safetensors).")
        var output: String

        @Option(help: "Configuration JSON (Swift field names); default: the kind's default configuration.")
        var config: String?

        @Option(help: "Seed of the initialisation.")
        var seed: UInt64 = 0

        func run() throws {
            do throws(CheckpointError) {
                var json = config ?? ""
                if config == nil { json = try ModelRegistry.defaultConfigurationJSON(kind: kind) }
                let model = try ModelRegistry.makeModel(kind: kind, configurationJSON: json, seed: seed)
                try Checkpoint.snapshot(of: model).write(to: URL(fileURLWithPath: output))
                print("wrote \(output): \(kind), \(model.parameterCount) parameters")
            } catch {
                throw failure(error)
            }
        }
    }

    struct Probe: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a checkpoint's model on the tensors of a safetensors file and write the outputs (see ModelProbe).",
            shouldDisplay: false
        )

        @Argument(help: "The checkpoint.")
        var checkpoint: String

        @Argument(help: "Inputs (.safetensors): x and noise (mlp-vae), x (conv-vqvae) or tokens (token-prior).")
        var inputs: String

        @Argument(help: "Where to write the outputs (.safetensors).")
        var outputs: String

        func run() throws {
            do throws(CheckpointError) {
                let result = try ModelProbe.run(checkpoint: URL(fileURLWithPath: checkpoint), inputs: URL(fileURLWithPath: inputs),
                                                outputs: URL(fileURLWithPath: outputs))
                print("wrote \(outputs): " + result.map { "\($0.name) \($0.tensor.shape)" }.joined(separator: ", "))
            } catch {
                throw failure(error)
            }
        }
    }

    struct ExportAll: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-all",
            abstract: "Write every tensor of a checkpoint (model, optimizer, training) to one safetensors file under full names.",
            shouldDisplay: false
        )

        @Argument(help: "The checkpoint.")
        var input: String

        @Argument(help: "The safetensors file to write.")
        var output: String

        func run() throws {
            do throws(CheckpointError) {
                let checkpoint = try Checkpoint(contentsOf: URL(fileURLWithPath: input))
                try checkpoint.exportAllTensors(to: URL(fileURLWithPath: output))
                print("wrote \(output): \(checkpoint.allTensors.count) tensors")
            } catch {
                throw failure(error)
            }
        }
    }
}
