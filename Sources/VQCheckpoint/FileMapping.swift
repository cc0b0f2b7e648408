import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file. Loading reads chunk data through it: the page cache is mapped
/// rather than copied, so a checksum-and-copy pass is the only trip through the bytes.
///
/// Every access is bounds-checked against the size at mapping time. (A file truncated by another program
/// while mapped would fault on access; vqcodec never truncates a checkpoint in place — it replaces it with
/// a rename, which leaves a reader's mapping intact.)
final class FileMapping {
    let bytes: UnsafeRawBufferPointer

    init?(path: String) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_size > 0 else { return nil }
        let size = Int(status.st_size)
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), address != MAP_FAILED else { return nil }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count) }
}
