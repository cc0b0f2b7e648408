import Foundation
import VQImage
import VQTokenizer

/// What `vqcodec encode` does, as a library call: read PNGs, tokenize in batches, write `.vqc` files atomically.
public struct EncodeJob: Sendable {
    public var inputs: [String]
    public var output: String?
    public var model: String?
    public var levels: Int?
    public var dropAlpha = false
    /// The payload coding; nil picks the smallest of methods 0 to 3 per file. `.prior` uses `prior`, or the
    /// built-in prior of the tokenizer.
    public var method: EntropyMethod?
    /// A prior for method 4 or 5: a built-in name or a checkpoint path (implies `.prior` when `method` is nil).
    public var prior: String?
    /// Progress on standard error for batches that take more than a second.
    public var showProgress = true
    /// Images read and tokenized per step (bounds memory in big batches).
    public var chunkSize = 1024

    public init(inputs: [String], output: String? = nil, model: String? = nil, levels: Int? = nil, dropAlpha: Bool = false) {
        self.inputs = inputs
        self.output = output
        self.model = model
        self.levels = levels
        self.dropAlpha = dropAlpha
    }

    /// Runs the job; per-file failures are reported in the outcomes, setup failures are thrown. `notes` receives
    /// remarks for the user (such as a substituted default model).
    public func run(notes: (String) -> Void = { _ in }) throws -> [FileOutcome] {
        let (tasks, single) = try BatchPlanner.plan(inputs, inputExtension: "png", newExtension: "vqc", output: output)
        if !single || output != nil && output != "-" { try BatchPlanner.createFolders(for: tasks.filter { $0.output != "-" }) }
        let fixed = try model.map { try ModelCatalog.tokenizer(named: $0) }
        let givenPrior = try prior.map { try ModelCatalog.prior(named: $0) }
        let method = self.method ?? (givenPrior != nil ? .prior : nil)
        let progress = ProgressLine(total: showProgress ? tasks.count : 0, label: "encoded")
        defer { progress.finish() }
        var outcomes: [FileOutcome] = []
        var notedDefault = Set<String>()
        for start in stride(from: 0, to: tasks.count, by: chunkSize) {
            let chunk = Array(tasks[start..<min(tasks.count, start + chunkSize)])
            var results = parallelMap(chunk.count) { i -> (FileOutcome, Image?) in
                var outcome = FileOutcome(task: chunk[i])
                do {
                    let path = chunk[i].input, name = displayName(path)
                    let data = try readInput(path)
                    let image = try Codec.prepare(try ImageInput.decode(Data(data), path: name), path: name, dropAlpha: dropAlpha)
                    outcome.pixels = image.width * image.height
                    outcome.inputBytes = data.count
                    return (outcome, image)
                } catch {
                    outcome.error = "\(error)"
                    outcome.inputProblem = true
                    return (outcome, nil)
                }
            }
            // Group by model (the default depends on the image), then tokenize each group as one batch.
            var groups: [ObjectIdentifier: (Tokenizer, [Int])] = [:]
            for i in results.indices {
                guard let image = results[i].1 else { continue }
                do {
                    let tokenizer: Tokenizer
                    if let fixed { tokenizer = fixed } else {
                        let (chosen, note) = try ModelCatalog.defaultTokenizer(for: image)
                        if let note, notedDefault.insert(note).inserted { notes(note) }
                        tokenizer = chosen
                    }
                    groups[ObjectIdentifier(tokenizer), default: (tokenizer, [])].1.append(i)
                } catch {
                    results[i].0.error = "\(error)"
                }
            }
            for (_, (tokenizer, members)) in groups.sorted(by: { $0.value.1[0] < $1.value.1[0] }) {
                do {
                    let coder = method == .prior ? try givenPrior ?? ModelCatalog.builtinPrior(for: tokenizer) : nil
                    let encoded = try Codec.encode(members.map { results[$0].1! }, tokenizer: tokenizer, levels: levels,
                                                   method: method, prior: coder)
                    let written = parallelMap(members.count) { j -> (Int, String?) in
                        let task = chunk[members[j]]
                        do {
                            try writeOutput(encoded[j], to: task.output)
                            return (encoded[j].count, nil)
                        } catch { return (0, "\(error)") }
                    }
                    for (j, (bytes, error)) in written.enumerated() {
                        results[members[j]].0.outputBytes = bytes
                        results[members[j]].0.error = error
                    }
                } catch {
                    for i in members {
                        results[i].0.error = "\(error)"
                        results[i].0.inputProblem = error is CodecError || error is TokenizerError
                    }
                }
            }
            outcomes += results.map(\.0)
            progress.advance(by: chunk.count)
        }
        return outcomes
    }
}

/// What `vqcodec decode` does: read `.vqc` files, find each one's model by fingerprint, decode in batches, write PNGs.
public struct DecodeJob: Sendable {
    public var inputs: [String]
    public var output: String?
    public var model: String?
    /// The prior of method 4 files, when it is not a built-in: a checkpoint path (or a built-in name).
    public var prior: String?
    public var showProgress = true
    public var chunkSize = 1024

    public init(inputs: [String], output: String? = nil, model: String? = nil, prior: String? = nil) {
        self.inputs = inputs
        self.output = output
        self.model = model
        self.prior = prior
    }

    public func run() throws -> [FileOutcome] {
        let (tasks, single) = try BatchPlanner.plan(inputs, inputExtension: "vqc", newExtension: "png", output: output)
        if !single || output != nil && output != "-" { try BatchPlanner.createFolders(for: tasks.filter { $0.output != "-" }) }
        let given = try model.map { try ModelCatalog.tokenizer(named: $0) }
        let givenPrior = try prior.map { try ModelCatalog.prior(named: $0) }
        let progress = ProgressLine(total: showProgress ? tasks.count : 0, label: "decoded")
        defer { progress.finish() }
        var outcomes: [FileOutcome] = []
        var resolved: [[UInt8]: Tokenizer] = [:]
        for start in stride(from: 0, to: tasks.count, by: chunkSize) {
            let chunk = Array(tasks[start..<min(tasks.count, start + chunkSize)])
            var results = parallelMap(chunk.count) { i -> (FileOutcome, ContainerFile?) in
                var outcome = FileOutcome(task: chunk[i])
                do {
                    let bytes = try readInput(chunk[i].input)
                    outcome.inputBytes = bytes.count
                    let file = try ContainerFile(bytes, prior: givenPrior)
                    outcome.pixels = file.header.width * file.header.height
                    return (outcome, file)
                } catch {
                    outcome.error = "\(displayName(chunk[i].input)): \(error)"
                    outcome.inputProblem = true
                    return (outcome, nil)
                }
            }
            var groups: [[UInt8]: [Int]] = [:]
            for i in results.indices {
                guard let file = results[i].1 else { continue }
                let key = file.header.fingerprint
                if resolved[key] == nil {
                    do {
                        resolved[key] = try ModelCatalog.tokenizer(for: file.header, path: displayName(chunk[i].input), given: given)
                    } catch {
                        results[i].0.error = "\(error)"
                        results[i].0.inputProblem = true
                        continue
                    }
                }
                groups[key, default: []].append(i)
            }
            for (key, members) in groups.sorted(by: { $0.value[0] < $1.value[0] }) {
                do {
                    let images = try Codec.decode(members.map { results[$0].1! }, tokenizer: resolved[key]!)
                    let written = parallelMap(members.count) { j -> (Int, String?) in
                        do {
                            let png = [UInt8](try images[j].pngData())
                            try writeOutput(png, to: chunk[members[j]].output)
                            return (png.count, nil)
                        } catch { return (0, "\(error)") }
                    }
                    for (j, (bytes, error)) in written.enumerated() {
                        results[members[j]].0.outputBytes = bytes
                        results[members[j]].0.error = error
                    }
                } catch {
                    for i in members {
                        results[i].0.error = "\(displayName(chunk[i].input)): \(error)"
                        results[i].0.inputProblem = true
                    }
                }
            }
            outcomes += results.map(\.0)
            progress.advance(by: chunk.count)
        }
        return outcomes
    }
}

func displayName(_ path: String) -> String { path == "-" ? "standard input" : path }

/// Reads a whole file (`-`: standard input), refusing more than `limit` bytes.
public func readInput(_ path: String, limit: Int = 1 << 30) throws -> [UInt8] {
    if path == "-" { return [UInt8](FileHandle.standardInput.readDataToEndOfFile()) }
    // One open and read; the size check comes after (files are at most a gigabyte by then, and usually tiny).
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw CodecError.cannotRead(path: path, reason: ImageInput.describe(error))
    }
    guard data.count <= limit else {
        throw CodecError.cannotRead(path: path, reason: "the file is \(data.count) bytes, more than any valid input (\(limit))")
    }
    return [UInt8](data)
}

/// Writes atomically to a file, or to standard output for `-`.
public func writeOutput(_ bytes: [UInt8], to path: String) throws {
    if path == "-" {
        FileHandle.standardOutput.write(Data(bytes))
        return
    }
    try AtomicFile.write(bytes, to: URL(fileURLWithPath: path))
}
