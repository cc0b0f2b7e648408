import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One input file of a batch and where its output goes.
public struct FileTask: Sendable, Equatable {
    public var input: String
    public var output: String
}

/// The outcome for one file.
public struct FileOutcome: Sendable {
    public var task: FileTask
    public var inputBytes = 0
    public var outputBytes = 0
    /// Image pixels (for bits per pixel).
    public var pixels = 0
    public var error: String?
    /// Whether the failure was the input's fault (exit code 2) rather than ours or the system's (1).
    public var inputProblem = false
}

/// Input expansion and output naming shared by `encode` and `decode`.
public enum BatchPlanner {
    /// Files named on the command line, with folders expanded to the files with `fileExtension` inside them
    /// (recursively, sorted). Each entry keeps its path relative to the folder it came from.
    public static func expand(_ arguments: [String], fileExtension: String) throws -> [(path: String, relative: String, fromFolder: Bool)] {
        var result: [(String, String, Bool)] = []
        for argument in arguments {
            if argument == "-" { result.append(("-", "-", false)); continue }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                throw CodecError.cannotRead(path: argument, reason: "no such file or folder")
            }
            if !isDirectory.boolValue { result.append((argument, (argument as NSString).lastPathComponent, false)); continue }
            guard let walker = FileManager.default.enumerator(atPath: argument) else {
                throw CodecError.cannotRead(path: argument, reason: "the folder cannot be listed")
            }
            var found: [String] = []
            while let relative = walker.nextObject() as? String {
                if (relative as NSString).pathExtension.lowercased() == fileExtension { found.append(relative) }
            }
            if found.isEmpty { throw CodecError.cannotRead(path: argument, reason: "the folder has no .\(fileExtension) files") }
            for relative in found.sorted() {
                result.append(((argument as NSString).appendingPathComponent(relative), relative, true))
            }
        }
        return result
    }

    /// Pairs inputs with outputs. One plain file: `output` is the output file (default: input with the extension
    /// replaced by `newExtension`, or standard output for standard input). Several files or a folder: `output` is a
    /// folder (created if needed) receiving each relative path with `newExtension`; without it, outputs go next
    /// to their inputs.
    public static func plan(_ arguments: [String], inputExtension: String, newExtension: String,
                            output: String?) throws -> (tasks: [FileTask], single: Bool) {
        let inputs = try expand(arguments, fileExtension: inputExtension)
        let single = inputs.count == 1 && !inputs[0].fromFolder
        if single {
            let input = inputs[0].path
            let out = output ?? (input == "-" ? "-" : replacingExtension(input, with: newExtension))
            return ([FileTask(input: input, output: out)], true)
        }
        if inputs.contains(where: { $0.path == "-" }) {
            throw CodecError.cannotRead(path: "-", reason: "standard input can only be used alone, not in a batch")
        }
        if let output {
            if output == "-" { throw CodecError.cannotWrite(path: "-", reason: "several outputs cannot all go to standard output") }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), !isDirectory.boolValue {
                throw CodecError.cannotWrite(path: output, reason: "with several inputs, -o must name a folder, and this is a file")
            }
        }
        var seen = Set<String>()
        var tasks: [FileTask] = []
        for input in inputs {
            let out: String
            if let output {
                out = (output as NSString).appendingPathComponent(replacingExtension(input.relative, with: newExtension))
            } else {
                out = replacingExtension(input.path, with: newExtension)
            }
            guard seen.insert(out).inserted else {
                throw CodecError.cannotWrite(path: out, reason: "two inputs would write the same output file; use separate -o folders")
            }
            tasks.append(FileTask(input: input.path, output: out))
        }
        return (tasks, false)
    }

    static func replacingExtension(_ path: String, with newExtension: String) -> String {
        let ns = path as NSString
        return (ns.pathExtension.isEmpty ? path : ns.deletingPathExtension) + "." + newExtension
    }

    /// Creates the folders the outputs go into.
    public static func createFolders(for tasks: [FileTask]) throws {
        let folders = Set(tasks.map { ($0.output as NSString).deletingLastPathComponent }.filter { !$0.isEmpty })
        for folder in folders.sorted() {
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw CodecError.cannotWrite(path: folder, reason: ImageInput.describe(error))
            }
        }
    }
}

/// Runs `body(i)` for `0..<count` on `threads` threads (blocking waits, no spinning) and keeps the results in order.
/// Worker threads of the codec's batch work (files read, coded and written in parallel); `--threads`.
public enum CodecThreads {
    nonisolated(unsafe) public static var count = ProcessInfo.processInfo.activeProcessorCount
}

public func parallelMap<T: Sendable>(_ count: Int, threads: Int = CodecThreads.count,
                                     _ body: @Sendable (Int) -> T) -> [T] {
    let box = ResultBox<T>(count)
    let workers = max(1, min(threads, count))
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        var i = w
        while i < count { box.set(i, body(i)); i += workers }
    }
    return box.values()
}

private final class ResultBox<T>: @unchecked Sendable {
    // A buffer, not an array: workers writing their slots of one array each take a mutating access to the whole
    // array at once (ThreadSanitizer reports it as a race).
    private let storage: UnsafeMutableBufferPointer<T?>
    init(_ count: Int) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: nil)
    }
    deinit {
        _ = storage.deinitialize()
        storage.deallocate()
    }
    // Each index is written by exactly one worker.
    func set(_ i: Int, _ value: T) { storage[i] = value }
    func values() -> [T] { storage.map { $0! } }
}

/// A progress line on standard error, shown only once the work has taken more than a second.
public final class ProgressLine: @unchecked Sendable {
    private let total: Int
    private let label: String
    private let start = Date()
    private var done = 0
    private var shown = false
    private var lastPrint = Date.distantPast
    private let lock = NSLock()
    private let terminal = isatty(2) != 0

    public init(total: Int, label: String) {
        self.total = total
        self.label = label
    }

    public func advance(by n: Int) {
        lock.lock()
        defer { lock.unlock() }
        done += n
        let now = Date()
        guard total > 1, now.timeIntervalSince(start) > 1, now.timeIntervalSince(lastPrint) > (terminal ? 0.2 : 5) else { return }
        lastPrint = now
        shown = true
        let rate = Double(done) / now.timeIntervalSince(start)
        let text = "\(label) \(done)/\(total) files (\(Int(rate)) files/s)"
        FileHandle.standardError.write(Data((terminal ? "\r" + text : text + "\n").utf8))
    }

    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        if shown && terminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
