import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The checkpoint file opened a second time for reading chunk data with `pread`, at the addresses libhdf5's
/// chunk index gives. The kernel copies each chunk straight into the tensor's memory (as a plain `read` of
/// the file would) and the checksum then runs over bytes still in cache: one trip through memory.
///
/// Every read is bounds-checked against the size at opening time; a short read (a file truncated by another
/// program meanwhile) is an error, never a crash.
final class ChunkFile {
    private let descriptor: Int32
    let size: Int

    init?(path: String) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_size > 0 else {
            close(descriptor)
            return nil
        }
        self.descriptor = descriptor
        size = Int(status.st_size)
    }

    deinit { close(descriptor) }

    /// Reads exactly `buffer.count` bytes at `offset`; false when the file ends first or the read fails.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Bool {
        guard offset >= 0, offset <= size, buffer.count <= size - offset else { return false }
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }
}

/// One chunk as libhdf5's index locates it: `chunkBytes` of data then its 4-byte little-endian fletcher32 at
/// `address` in the file; the first `bytes` of the data belong at `offset` in the tensor (an edge chunk is
/// padded to `chunkBytes`).
struct LocatedChunk {
    var coordinates: [UInt64]
    var address: Int
    var offset: Int
    var bytes: Int
    var chunkBytes: Int
}

extension ChunkFile {
    /// Bytes read and checksummed at a time: small enough to be checksummed while still in the core's cache
    /// (the kernel's copy of a whole 1 MiB chunk leaves much of it in memory only), large enough to keep the
    /// number of reads small.
    static let piece = 1 << 18

    /// Reads and verifies `chunks`, each into the tensor memory given with it, spread over the cores.
    /// Returns the failure of the first chunk (in the given order) that is short or fails its checksum.
    func readAndVerify(_ chunks: [(chunk: LocatedChunk, tensor: UnsafeMutableRawPointer)]) -> (index: Int, error: HDF5Failure)? {
        enum Outcome: UInt8 { case pending, sound, short, checksum }
        let results = UnsafeMutableBufferPointer<Outcome>.allocate(capacity: chunks.count)
        results.initialize(repeating: .pending)
        defer { results.deallocate() }
        func readAndVerify(_ index: Int) {
            let (chunk, tensor) = chunks[index]
            // A full chunk goes straight to its place; a padded edge chunk through a scratch buffer.
            let scratch: UnsafeMutableRawBufferPointer? = chunk.bytes < chunk.chunkBytes
                ? .allocate(byteCount: chunk.chunkBytes, alignment: 64) : nil
            defer { scratch?.deallocate() }
            let target = scratch ?? UnsafeMutableRawBufferPointer(start: tensor + chunk.offset, count: chunk.chunkBytes)
            var running = Fletcher32.Running()
            var done = 0
            while done < target.count {
                let piece = UnsafeMutableRawBufferPointer(rebasing: target[done..<min(target.count, done + Self.piece)])
                guard read(into: piece, at: chunk.address + done) else { results[index] = .short; return }
                running.add(UnsafeRawBufferPointer(piece))
                done += piece.count
            }
            var expected: UInt32 = 0
            guard withUnsafeMutableBytes(of: &expected, { read(into: $0, at: chunk.address + chunk.chunkBytes) }) else {
                results[index] = .short
                return
            }
            expected = UInt32(littleEndian: expected)
            let computed = running.value
            guard expected == computed || expected == Fletcher32.legacyVariant(computed) else { results[index] = .checksum; return }
            if let scratch { (tensor + chunk.offset).copyMemory(from: scratch.baseAddress!, byteCount: chunk.bytes) }
            results[index] = .sound
        }
        if chunks.count > 1 {
            // Each iteration writes only its own chunk's bytes and its own result slot.
            let work = UncheckedSendable(readAndVerify)
            DispatchQueue.concurrentPerform(iterations: chunks.count) { work.value($0) }
        } else {
            for index in chunks.indices { readAndVerify(index) }
        }
        guard let bad = results.firstIndex(where: { $0 != .sound }) else { return nil }
        let chunk = chunks[bad].chunk
        return (bad, HDF5Failure("read chunk at \(chunk.coordinates)", detail: results[bad] == .checksum
            ? "data error detected by Fletcher32 checksum"
            : "the file ended before the chunk's \(chunk.chunkBytes + 4) bytes at \(chunk.address)"))
    }
}

/// Fresh memory for large tensors is backed by 2 MiB pages where the kernel allows it (transparent huge pages
/// in `madvise` mode): filling a new 40 MB array then takes 20 page faults instead of 10,000, which halves the
/// time to load a large checkpoint from the page cache.
enum HugePages {
    static let size = 1 << 21

    /// Advises huge pages for the whole 2 MiB pages inside `count` bytes at `start`, before they are touched.
    static func advise(_ start: UnsafeMutableRawPointer, count: Int) {
        #if os(Linux)
        guard count >= 2 * size else { return }
        let first = (Int(bitPattern: start) + size - 1) & ~(size - 1)
        let end = (Int(bitPattern: start) + count) & ~(size - 1)
        if end > first { _ = madvise(UnsafeMutableRawPointer(bitPattern: first), end - first, MADV_HUGEPAGE) }
        #endif
    }
}
