import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes that leave either the old file or the new one, never a mixture: the content goes to a temporary
/// file in the same folder, is flushed to the disk, and is renamed over the target (rename is atomic within a
/// file system); then the folder is flushed so the rename itself survives a power cut.
enum AtomicFile {
    /// Calls `body` with a temporary path next to `url`, then moves the result into place. On any error the
    /// temporary file is removed and `url` is untouched.
    static func write(to url: URL, _ body: (String) throws(CheckpointError) -> Void) throws(CheckpointError) {
        let target = url.standardizedFileURL
        let folder = target.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .writeFailed(path: url.path, detail: "folder \(folder.path) does not exist")
        }
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let temporary = folder.appendingPathComponent(".\(target.lastPathComponent).tmp-\(getpid())-\(suffix)").path
        do throws(CheckpointError) {
            try body(temporary)
            try synchronize(temporary, what: "the temporary file")
            guard rename(temporary, target.path) == 0 else {
                throw CheckpointError.writeFailed(path: url.path, detail: "rename from \(temporary) failed: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
        // The new file is in place; failing to flush the folder entry only weakens durability, not atomicity.
        try? synchronize(folder.path, what: "the folder")
        removeAbandonedTemporaries(of: target)
    }

    /// Temporary files of saves that were killed (their process is gone) and are over an hour old. The age
    /// rule keeps this from touching a live save whose process id was reused.
    static func removeAbandonedTemporaries(of target: URL) {
        let folder = target.deletingLastPathComponent()
        let prefix = ".\(target.lastPathComponent).tmp-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names where name.hasPrefix(prefix) {
            let parts = name.dropFirst(prefix.count).split(separator: "-")
            guard parts.count == 2, let pid = Int32(parts[0]), pid != getpid() else { continue }
            let path = folder.appendingPathComponent(name).path
            let alive = kill(pid, 0) == 0 || errno == EPERM
            let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? Date()
            if !alive && Date().timeIntervalSince(modified) > 3600 { unlink(path) }
        }
    }

    /// Writes `data` atomically to `url`.
    static func write(_ data: Data, to url: URL) throws(CheckpointError) {
        try write(to: url) { (temporary: String) throws(CheckpointError) in
            guard FileManager.default.createFile(atPath: temporary, contents: data) else {
                throw .writeFailed(path: url.path, detail: "cannot create \(temporary)")
            }
        }
    }

    /// fsync of a file or folder.
    static func synchronize(_ path: String, what: String) throws(CheckpointError) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw .writeFailed(path: path, detail: "cannot open \(what) to flush it: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw .writeFailed(path: path, detail: "flushing \(what) failed: \(String(cString: strerror(errno)))") }
    }
}
