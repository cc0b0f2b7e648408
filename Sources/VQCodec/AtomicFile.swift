import Foundation
#if canImport(Glibc)
import Glibc
private let posixWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let posixWrite = Darwin.write
#endif

/// Writes files atomically: the bytes go to a hidden temporary file in the destination's folder, which is renamed
/// over the destination only when complete. Temporary files still open when SIGINT or SIGTERM arrives are removed
/// before the process exits, so an error or Ctrl-C never leaves a partial output file.
public enum AtomicFile {
    /// Writes `bytes` to `url` atomically.
    public static func write(_ bytes: some Collection<UInt8>, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(counter.next())")
        let path = temporary.path
        registry.insert(path)
        defer { registry.remove(path) }
        // Plain POSIX calls: Foundation's createFile makes its own temporary file and syncs it, doubling the work
        // per output (which dominates batches of tiny files). Atomicity comes from the rename.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CodecError.cannotWrite(path: url.path, reason: writableReason(directory)) }
        let array = Array(bytes)
        var written = 0
        var failure: String?
        array.withUnsafeBytes { raw in
            while written < raw.count {
                let n = posixWrite(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                written += n
            }
        }
        if close(fd) != 0 && failure == nil { failure = String(cString: strerror(errno)) }
        if failure == nil && rename(path, url.path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(path)
            throw CodecError.cannotWrite(path: url.path, reason: failure)
        }
    }

    /// Installs the SIGINT/SIGTERM handlers that remove pending temporary files (idempotent).
    public static func installSignalCleanup() {
        installOnce.run {
            for sig in [SIGINT, SIGTERM] {
                signal(sig) { number in
                    AtomicFile.registry.unlinkAllForSignal()
                    // Re-raise with the default action so the exit status says which signal stopped us.
                    signal(number, SIG_DFL)
                    raise(number)
                }
            }
        }
    }

    private static func writableReason(_ directory: URL) -> String {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) {
            return "the folder \(directory.path) does not exist"
        }
        if !isDirectory.boolValue { return "\(directory.path) is not a folder" }
        return "the folder \(directory.path) is not writable (or the disk is full)"
    }

    static let registry = PendingFiles()
    private static let counter = Counter()
    private static let installOnce = Once()
}

/// Paths of temporary files being written, kept as C strings so a signal handler can unlink them without allocating.
final class PendingFiles: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var paths: [String: UnsafeMutablePointer<CChar>] = [:]
    // A fixed table the signal handler can walk without taking the lock or allocating.
    private let slots = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: 1024)

    init() {
        pthread_mutex_init(&lock, nil)
        slots.initialize(repeating: nil, count: 1024)
    }

    func insert(_ path: String) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        let copy = strdup(path)!
        paths[path] = copy
        for i in 0..<1024 where slots[i] == nil { slots[i] = copy; break }
    }

    func remove(_ path: String) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard let copy = paths.removeValue(forKey: path) else { return }
        for i in 0..<1024 where slots[i] == copy { slots[i] = nil; break }
        free(copy)
    }

    func unlinkAllForSignal() {
        for i in 0..<1024 { if let p = slots[i] { unlink(p) } }
    }
}

final class Counter: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var value = 0
    init() { pthread_mutex_init(&lock, nil) }
    func next() -> Int {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        value += 1
        return value
    }
}

final class Once: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var done = false
    init() { pthread_mutex_init(&lock, nil) }
    func run(_ body: () -> Void) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if !done { done = true; body() }
    }
}
