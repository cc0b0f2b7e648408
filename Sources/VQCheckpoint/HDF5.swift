import CHDF5
import Foundation

/// The serial build of libhdf5 is not thread-safe, so every call into it runs under this one lock
/// (recursive, so the wrappers below can call each other). Each entry also silences the library's error
/// printing, a per-thread setting, so whichever thread gets here first is covered.
enum HDF5 {
    private static let lock = NSRecursiveLock()

    /// libhdf5 cleans up at process exit; after reading some damaged files its free lists never drain and it
    /// prints "infinite loop closing library" there. Files are closed explicitly, so that exit work is skipped.
    private static let skipsCleanupAtExit: Bool = H5dont_atexit() >= 0

    static func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock.lock()
        defer { lock.unlock() }
        _ = skipsCleanupAtExit
        vq_h5_silence_errors()
        return try body()
    }

    /// The library's own explanation of the last failure on this thread ("" if it left none).
    static func errorText() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        vq_h5_error_describe(&buffer, buffer.count)
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Files, groups, datasets, attributes and types currently open (0 when nothing leaks).
    static var openObjectCount: Int { locked { vq_h5_open_object_count() } }

    /// Whether the file starts with the HDF5 signature (at offset 0 or after a user block).
    static func hasSignature(_ path: String) -> Bool {
        locked { H5Fis_hdf5(path) > 0 }
    }
}

/// A failed libhdf5 call: what we tried and the library's reason.
struct HDF5Failure: Error, CustomStringConvertible {
    let operation: String
    let detail: String

    /// `detail` defaults to the innermost two messages of libhdf5's error stack (the cause and its context).
    init(_ operation: String, detail: String = HDF5.errorText().components(separatedBy: "; ").prefix(2).joined(separator: "; ")) {
        self.operation = operation
        self.detail = detail
    }

    var description: String { detail.isEmpty ? operation : "\(operation): \(detail)" }

    /// Fletcher32 (data) or metadata checksum failures.
    var isChecksumFailure: Bool {
        let text = detail.lowercased()
        return text.contains("fletcher32") || text.contains("checksum")
    }
}

/// An HDF5 identifier, closed when the last reference goes away.
final class H5Handle {
    let id: hid_t
    private let closer: (hid_t) -> herr_t
    private var isOpen = true

    init(_ id: hid_t, _ operation: @autoclosure () -> String, closer: @escaping (hid_t) -> herr_t) throws(HDF5Failure) {
        guard id >= 0 else { throw HDF5Failure(operation()) }
        self.id = id
        self.closer = closer
    }

    /// A library-owned identifier (predefined types) that must not be closed.
    init(borrowing id: hid_t) {
        self.id = id
        closer = { _ in 0 }
    }

    /// Closes now, reporting failure (e.g. a file whose last writes do not reach the disk).
    func close() -> Bool {
        HDF5.locked {
            guard isOpen else { return true }
            isOpen = false
            return closer(id) >= 0
        }
    }

    deinit { _ = close() }
}

@inline(__always)
private func check(_ status: herr_t, _ operation: @autoclosure () -> String) throws(HDF5Failure) {
    if status < 0 { throw HDF5Failure(operation()) }
}

/// Anything that carries attributes: the file's root group, groups and datasets.
protocol H5Object {
    var handle: H5Handle { get }
}

enum H5ObjectKind { case group, dataset, other }

/// A group (the file itself stands for its root group).
struct H5Group: H5Object {
    let handle: H5Handle

    func createGroup(_ name: String) throws(HDF5Failure) -> H5Group {
        try HDF5.locked { () throws(HDF5Failure) -> H5Group in
            let gcpl = try H5Handle(H5Pcreate(vq_h5p_group_create()), "create group properties", closer: H5Pclose)
            // Keep members in the order written (the model's state_dict order) for inspect and diff.
            try check(H5Pset_link_creation_order(gcpl.id, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED)),
                      "track creation order")
            // Keep links in the (checksummed) object header rather than "dense" storage: the fractal heap of
            // dense groups has no checksum by default, and libhdf5 1.10.8 frees garbage pointers when a damaged
            // one fails to parse (H5G__dense_get_name_by_idx -> H5G__link_release_table), found by the mutation test.
            try check(H5Pset_link_phase_change(gcpl.id, 65_535, 6), "keep links compact")
            return H5Group(handle: try H5Handle(H5Gcreate2(handle.id, name, vq_h5p_default(), gcpl.id, vq_h5p_default()),
                                                "create group '\(name)'", closer: H5Gclose))
        }
    }

    func openGroup(_ name: String) throws(HDF5Failure) -> H5Group {
        try HDF5.locked { () throws(HDF5Failure) -> H5Group in
            H5Group(handle: try H5Handle(H5Gopen2(handle.id, name, vq_h5p_default()), "open group '\(name)'", closer: H5Gclose))
        }
    }

    /// Whether a direct member `name` exists (no '/' in `name`).
    func contains(_ name: String) throws(HDF5Failure) -> Bool {
        try HDF5.locked { () throws(HDF5Failure) -> Bool in
            let status = H5Lexists(handle.id, name, vq_h5p_default())
            if status < 0 { throw HDF5Failure("look up '\(name)'") }
            return status > 0
        }
    }

    /// The members' names, in creation order when the group tracks it, else in name order.
    func memberNames(limit: Int = 1_000_000) throws(HDF5Failure) -> [String] {
        try HDF5.locked { () throws(HDF5Failure) -> [String] in
            var info = H5G_info_t()
            try check(H5Gget_info(handle.id, &info), "list group members")
            guard info.nlinks <= UInt64(limit) else {
                throw HDF5Failure("list group members", detail: "the group claims \(info.nlinks) members, more than the limit of \(limit)")
            }
            let count = Int(info.nlinks)
            func names(_ index: H5_index_t) -> [String]? {
                var result: [String] = []
                for i in 0..<count {
                    let length = H5Lget_name_by_idx(handle.id, ".", index, H5_ITER_INC, hsize_t(i), nil, 0, vq_h5p_default())
                    guard length >= 0, length < 65_536 else { return nil }
                    var buffer = [CChar](repeating: 0, count: Int(length) + 1)
                    guard H5Lget_name_by_idx(handle.id, ".", index, H5_ITER_INC, hsize_t(i), &buffer, buffer.count,
                                             vq_h5p_default()) >= 0 else { return nil }
                    result.append(buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
                }
                return result
            }
            if let ordered = names(H5_INDEX_CRT_ORDER) { return ordered }
            if let byName = names(H5_INDEX_NAME) { return byName }
            throw HDF5Failure("list group members")
        }
    }

    func kind(of name: String) throws(HDF5Failure) -> H5ObjectKind {
        try HDF5.locked { () throws(HDF5Failure) -> H5ObjectKind in
            let object = try H5Handle(H5Oopen(handle.id, name, vq_h5p_default()), "open '\(name)'", closer: H5Oclose)
            switch H5Iget_type(object.id) {
            case H5I_GROUP: return .group
            case H5I_DATASET: return .dataset
            default: return .other
            }
        }
    }

    func openDataset(_ name: String) throws(HDF5Failure) -> H5Dataset {
        try HDF5.locked { () throws(HDF5Failure) -> H5Dataset in
            H5Dataset(handle: try H5Handle(H5Dopen2(handle.id, name, vq_h5p_default()), "open dataset '\(name)'", closer: H5Dclose))
        }
    }

    /// Writes `tensor` as dataset `name`. Tensors with elements are stored in chunks of at most 1 MiB with
    /// the fletcher32 filter; rank-0 and empty tensors cannot be chunked, so they carry a CRC-32 attribute.
    func writeDataset(_ name: String, _ tensor: StoredTensor) throws(HDF5Failure) {
        guard let type = tensor.dataType else { throw HDF5Failure("write '\(name)'", detail: "unsupported dtype \(tensor.dtype)") }
        guard tensor.byteCount == tensor.elementCount * type.byteCount else {
            throw HDF5Failure("write '\(name)'", detail: "\(tensor.byteCount) bytes do not hold \(type.rawValue) \(tensor.shape)")
        }
        try HDF5.locked { () throws(HDF5Failure) in
            let fileType = try H5Types.handle(for: type)
            var dims = tensor.shape.map { hsize_t($0) }
            let space = try H5Handle(tensor.shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), &dims, nil),
                                     "create dataspace", closer: H5Sclose)
            let dcpl = try H5Handle(H5Pcreate(vq_h5p_dataset_create()), "create dataset properties", closer: H5Pclose)
            let checksummed = !tensor.shape.isEmpty && tensor.elementCount > 0
            if checksummed {
                var chunk = H5Types.chunkShape(tensor.shape, elementSize: type.byteCount).map { hsize_t($0) }
                try check(H5Pset_chunk(dcpl.id, Int32(chunk.count), &chunk), "set chunk shape")
                try check(H5Pset_fletcher32(dcpl.id), "enable fletcher32")
            }
            let dataset = try H5Handle(H5Dcreate2(handle.id, name, fileType.id, space.id, vq_h5p_default(), dcpl.id, vq_h5p_default()),
                                       "create dataset '\(name)'", closer: H5Dclose)
            if checksummed {
                try H5Dataset(handle: dataset).writeChunks(tensor, grid: ChunkGrid(shape: tensor.shape, elementSize: type.byteCount))
            } else if tensor.elementCount > 0 {
                let status = tensor.withUnsafeBytes {
                    H5Dwrite(dataset.id, fileType.id, vq_h5s_all(), vq_h5s_all(), vq_h5p_default(), $0.baseAddress)
                }
                try check(status, "write dataset '\(name)'")
            }
            if !checksummed {
                try H5Dataset(handle: dataset).setStringAttribute(H5Types.crcAttribute, CRC32.hex(of: tensor.bytes))
            }
        }
    }
}

/// A dataset: its shape, element type, filters and contents.
struct H5Dataset: H5Object {
    let handle: H5Handle

    /// The dimensions (empty for a scalar dataspace).
    func shape() throws(HDF5Failure) -> [Int] {
        try HDF5.locked { () throws(HDF5Failure) -> [Int] in
            let space = try H5Handle(H5Dget_space(handle.id), "get dataspace", closer: H5Sclose)
            let rank = H5Sget_simple_extent_ndims(space.id)
            guard rank >= 0, rank <= 32 else { throw HDF5Failure("get dataspace", detail: "invalid rank \(rank)") }
            if H5Sget_simple_extent_type(space.id) == H5S_NULL {
                throw HDF5Failure("get dataspace", detail: "null dataspace (no elements, no shape)")
            }
            var dims = [hsize_t](repeating: 0, count: Int(rank))
            guard H5Sget_simple_extent_dims(space.id, &dims, nil) == rank else { throw HDF5Failure("get dimensions") }
            var product = 1
            for d in dims {
                guard d <= hsize_t(Int32.max) else { throw HDF5Failure("get dimensions", detail: "dimension \(d) is implausibly large") }
                let (p, overflow) = product.multipliedReportingOverflow(by: Int(d))
                guard !overflow, p <= 1 << 40 else { throw HDF5Failure("get dimensions", detail: "shape \(dims) is implausibly large") }
                product = p
            }
            return dims.map { Int($0) }
        }
    }

    /// The element type, or a description of a type vqcodec does not handle.
    func dataType() throws(HDF5Failure) -> Result<TensorDType, H5TypeDescription> {
        try HDF5.locked { () throws(HDF5Failure) -> Result<TensorDType, H5TypeDescription> in
            let type = try H5Handle(H5Dget_type(handle.id), "get element type", closer: H5Tclose)
            return H5Types.classify(type.id)
        }
    }

    /// The filter names, in pipeline order ("fletcher32", "deflate", ...).
    func filters() throws(HDF5Failure) -> [String] {
        try HDF5.locked { () throws(HDF5Failure) -> [String] in
            let dcpl = try H5Handle(H5Dget_create_plist(handle.id), "get dataset properties", closer: H5Pclose)
            let count = H5Pget_nfilters(dcpl.id)
            guard count >= 0, count < 64 else { throw HDF5Failure("get filters") }
            return (0..<count).map { i -> String in
                var flags: UInt32 = 0, elements = 0, config: UInt32 = 0
                var name = [CChar](repeating: 0, count: 64)
                let filter = H5Pget_filter2(dcpl.id, UInt32(i), &flags, &elements, nil, name.count, &name, &config)
                switch filter {
                case H5Z_FILTER_FLETCHER32: return "fletcher32"
                case H5Z_FILTER_DEFLATE: return "deflate"
                case H5Z_FILTER_SHUFFLE: return "shuffle"
                case H5Z_FILTER_SZIP: return "szip"
                case H5Z_FILTER_NBIT: return "nbit"
                case H5Z_FILTER_SCALEOFFSET: return "scaleoffset"
                default: return "filter \(filter)"
                }
            }
        }
    }

    /// Bytes the dataset occupies in the file.
    func storageSize() -> Int { HDF5.locked { Int(clamping: H5Dget_storage_size(handle.id)) } }

    /// The elements as little-endian bytes of `type`, checksums verified. Datasets laid out as vqcodec writes
    /// them (contiguous chunks, fletcher32 only, stored type = `type`) are read chunk by chunk straight into
    /// the result and checked with `Fletcher32`; anything else goes through libhdf5's pipeline, which converts
    /// types and verifies fletcher32 itself.
    func read(as type: TensorDType, elementCount: Int, chunkFile: ChunkFile? = nil) throws(HDF5Failure) -> Data {
        guard elementCount > 0 else { return Data() }
        // Uninitialised memory: every byte is written (or the read fails), so zero-filling first would be
        // wasted work. 4 spare bytes hold the checksum of the last chunk read in place.
        let byteCount = elementCount * type.byteCount
        let storage = UnsafeMutableRawPointer.allocate(byteCount: byteCount + 4, alignment: 64)
        HugePages.advise(storage, count: byteCount + 4)
        do throws(HDF5Failure) {
            try read(into: UnsafeMutableRawBufferPointer(start: storage, count: byteCount + 4), as: type, byteCount: byteCount, chunkFile: chunkFile)
        } catch {
            storage.deallocate()
            throw error
        }
        // Only wrapped once filled: Data copies small buffers inline and frees the original at once.
        return Data(bytesNoCopy: storage, count: byteCount, deallocator: .custom { pointer, _ in pointer.deallocate() })
    }

    /// float32 elements straight into a new array (no intermediate buffer), for loading weights.
    func readFloat32(elementCount: Int, chunkFile: ChunkFile? = nil) throws(HDF5Failure) -> [Float] {
        var failure: HDF5Failure?
        // One spare element: room for the last chunk's checksum when it is read in place.
        let values = [Float](unsafeUninitializedCapacity: elementCount + 1) { buffer, initialized in
            HugePages.advise(UnsafeMutableRawPointer(buffer.baseAddress!), count: buffer.count * 4)
            do throws(HDF5Failure) {
                try read(into: UnsafeMutableRawBufferPointer(buffer), as: .f32, byteCount: elementCount * 4, chunkFile: chunkFile)
                initialized = elementCount
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return values
    }

    /// Fills the first `byteCount` bytes of `buffer` (which has at least 4 more) with the elements as `type`.
    private func read(into buffer: UnsafeMutableRawBufferPointer, as type: TensorDType, byteCount: Int,
                      chunkFile: ChunkFile?) throws(HDF5Failure) {
        guard byteCount > 0 else { return }
        try HDF5.locked { () throws(HDF5Failure) in
            let memoryType = try H5Types.handle(for: type)
            if let grid = try directChunkGrid(type: type, memoryType: memoryType.id) {
                try readChunks(into: buffer, dataBytes: byteCount, grid: grid, chunkFile: chunkFile)
            } else {
                try check(H5Dread(handle.id, memoryType.id, vq_h5s_all(), vq_h5s_all(), vq_h5p_default(), buffer.baseAddress), "read")
            }
        }
    }

    /// The chunk grid when this dataset can be read chunk by chunk: stored as `memoryType`, chunked exactly as
    /// `ChunkGrid` lays it out, with fletcher32 as the only filter.
    private func directChunkGrid(type: TensorDType, memoryType: hid_t) throws(HDF5Failure) -> ChunkGrid? {
        let shape = try shape()
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }), try filters() == ["fletcher32"] else { return nil }
        let fileType = try H5Handle(H5Dget_type(handle.id), "get element type", closer: H5Tclose)
        guard H5Tequal(fileType.id, memoryType) > 0 else { return nil }
        let dcpl = try H5Handle(H5Dget_create_plist(handle.id), "get dataset properties", closer: H5Pclose)
        guard H5Pget_layout(dcpl.id) == H5D_CHUNKED else { return nil }
        var chunk = [hsize_t](repeating: 0, count: shape.count)
        guard H5Pget_chunk(dcpl.id, Int32(shape.count), &chunk) == shape.count else { return nil }
        let grid = ChunkGrid(shape: shape, elementSize: type.byteCount)
        return grid.chunk.map { hsize_t($0) } == chunk ? grid : nil
    }

    /// Reads every chunk's stored bytes (data, then the 4-byte little-endian fletcher32) and verifies it.
    /// A chunk is read in place when its padding and checksum fit before the end of `buffer` (they land on
    /// the next chunk's bytes, which are read afterwards); otherwise through a scratch buffer.
    private func readChunks(into buffer: UnsafeMutableRawBufferPointer, dataBytes: Int, grid: ChunkGrid,
                            chunkFile: ChunkFile?) throws(HDF5Failure) {
        let stored = grid.chunkBytes + 4
        if let chunkFile {
            try readLocatedChunks(into: buffer, grid: grid, file: chunkFile)
            return
        }
        var scratch: UnsafeMutableRawBufferPointer?
        defer { scratch?.deallocate() }
        try grid.forEach { (coordinates, offset, bytes) throws(HDF5Failure) in
            var size: hsize_t = 0
            guard H5Dget_chunk_storage_size(handle.id, coordinates, &size) >= 0 else { throw HDF5Failure("read chunk at \(coordinates)") }
            guard size == hsize_t(stored) else {
                throw HDF5Failure("read chunk at \(coordinates)", detail: "the chunk holds \(size) bytes, expected \(stored)")
            }
            let target: UnsafeMutableRawBufferPointer
            if offset + stored <= buffer.count {
                target = UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + stored)])
            } else {
                if scratch == nil { scratch = .allocate(byteCount: stored, alignment: 64) }
                target = scratch!
            }
            var filterMask: UInt32 = 0
            guard H5Dread_chunk(handle.id, vq_h5p_default(), coordinates, &filterMask, target.baseAddress) >= 0 else {
                throw HDF5Failure("read chunk at \(coordinates)")
            }
            guard filterMask == 0 else {
                throw HDF5Failure("read chunk at \(coordinates)", detail: "the chunk skipped its filters (mask \(filterMask))")
            }
            let expected = UInt32(littleEndian: target.loadUnaligned(fromByteOffset: grid.chunkBytes, as: UInt32.self))
            let computed = Fletcher32.checksum(UnsafeRawBufferPointer(rebasing: target[0..<grid.chunkBytes]))
            guard expected == computed || expected == Fletcher32.legacyVariant(computed) else {
                throw HDF5Failure("read chunk at \(coordinates)", detail: "data error detected by Fletcher32 checksum")
            }
            if target.baseAddress != buffer.baseAddress! + offset {
                (buffer.baseAddress! + offset).copyMemory(from: target.baseAddress!, byteCount: bytes)
            }
        }
    }

    /// Like `readChunks`, but reads each chunk's bytes with `pread` at the address libhdf5's chunk index gives
    /// (bounds-checked against the file), skipping libhdf5's I/O layers, spread over the cores.
    private func readLocatedChunks(into buffer: UnsafeMutableRawBufferPointer, grid: ChunkGrid, file: ChunkFile) throws(HDF5Failure) {
        let chunks = try locateChunks(grid: grid, file: file)
        if let failure = file.readAndVerify(chunks.map { ($0, buffer.baseAddress!) }) { throw failure.error }
    }

    /// Where each chunk's stored bytes lie in the file, from libhdf5's chunk index, checked against the file's
    /// size; nil when the dataset is not laid out as vqcodec writes float32 tensors (see `directChunkGrid`).
    func locatedFloat32Chunks(file: ChunkFile) throws(HDF5Failure) -> [LocatedChunk]? {
        try HDF5.locked { () throws(HDF5Failure) -> [LocatedChunk]? in
            let memoryType = try H5Types.handle(for: .f32)
            guard let grid = try directChunkGrid(type: .f32, memoryType: memoryType.id) else { return nil }
            return try locateChunks(grid: grid, file: file)
        }
    }

    private func locateChunks(grid: ChunkGrid, file: ChunkFile) throws(HDF5Failure) -> [LocatedChunk] {
        let stored = grid.chunkBytes + 4
        var chunks: [LocatedChunk] = []
        try grid.forEach { (coordinates, offset, bytes) throws(HDF5Failure) in
            var filterMask: UInt32 = 0, address: haddr_t = 0, size: hsize_t = 0
            guard H5Dget_chunk_info_by_coord(handle.id, coordinates, &filterMask, &address, &size) >= 0 else {
                throw HDF5Failure("locate chunk at \(coordinates)")
            }
            guard size == hsize_t(stored), filterMask == 0, address < haddr_t(file.size), haddr_t(file.size) - address >= haddr_t(stored) else {
                throw HDF5Failure("locate chunk at \(coordinates)",
                                  detail: "the chunk index gives \(size) bytes at \(address) (filters \(filterMask)); expected \(stored) bytes inside the \(file.size)-byte file")
            }
            chunks.append(LocatedChunk(coordinates: coordinates, address: Int(address), offset: offset, bytes: bytes, chunkBytes: grid.chunkBytes))
        }
        return chunks
    }

    /// Writes `bytes` chunk by chunk with their fletcher32 appended, as the filter would store them.
    func writeChunks(_ tensor: StoredTensor, grid: ChunkGrid) throws(HDF5Failure) {
        let stored = grid.chunkBytes + 4
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: stored, alignment: 64)
        defer { scratch.deallocate() }
        var failure: HDF5Failure?
        tensor.withUnsafeBytes { (source: UnsafeRawBufferPointer) in
            do throws(HDF5Failure) {
                try grid.forEach { (coordinates, offset, count) throws(HDF5Failure) in
                    scratch.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: count)
                    if count < grid.chunkBytes {
                        (scratch.baseAddress! + count).initializeMemory(as: UInt8.self, repeating: 0, count: grid.chunkBytes - count)
                    }
                    let checksum = Fletcher32.checksum(UnsafeRawBufferPointer(rebasing: scratch[0..<grid.chunkBytes]))
                    scratch.storeBytes(of: checksum.littleEndian, toByteOffset: grid.chunkBytes, as: UInt32.self)
                    try HDF5.locked { () throws(HDF5Failure) in
                        try check(H5Dwrite_chunk(handle.id, vq_h5p_default(), 0, coordinates, stored, scratch.baseAddress),
                                  "write chunk at \(coordinates)")
                    }
                }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    /// Numeric elements as Double (for statistics of datasets in files that are not ours).
    func readDoubles(elementCount: Int) throws(HDF5Failure) -> [Double] {
        var values = [Double](repeating: 0, count: elementCount)
        guard elementCount > 0 else { return values }
        try HDF5.locked { () throws(HDF5Failure) in
            let status = values.withUnsafeMutableBytes {
                H5Dread(handle.id, vq_h5t_native_double(), vq_h5s_all(), vq_h5s_all(), vq_h5p_default(), $0.baseAddress)
            }
            try check(status, "read")
        }
        return values
    }
}

/// An HDF5 file, opened read-only or created for writing.
final class H5File {
    let path: String
    let root: H5Group

    private init(path: String, handle: H5Handle) {
        self.path = path
        root = H5Group(handle: handle)
    }

    /// Creates (or truncates) a file in the 1.10 format, whose metadata carries checksums.
    static func create(_ path: String) throws(HDF5Failure) -> H5File {
        try HDF5.locked { () throws(HDF5Failure) -> H5File in
            let fapl = try H5Handle(H5Pcreate(vq_h5p_file_access()), "create file access properties", closer: H5Pclose)
            try check(vq_h5_use_checksummed_metadata(fapl.id), "select the 1.10 file format")
            let id = H5Fcreate(path, vq_h5f_acc_trunc(), vq_h5p_default(), fapl.id)
            return H5File(path: path, handle: try H5Handle(id, "create file", closer: H5Fclose))
        }
    }

    /// Bytes before the HDF5 data (addresses inside the file are relative to its end).
    func userBlockSize() -> Int? {
        HDF5.locked {
            let fcpl = H5Fget_create_plist(root.handle.id)
            guard fcpl >= 0 else { return nil }
            defer { H5Pclose(fcpl) }
            var size: hsize_t = 0
            return H5Pget_userblock(fcpl, &size) >= 0 ? Int(size) : nil
        }
    }

    static func openReadOnly(_ path: String) throws(HDF5Failure) -> H5File {
        try HDF5.locked { () throws(HDF5Failure) -> H5File in
            let id = H5Fopen(path, vq_h5f_acc_rdonly(), vq_h5p_default())
            return H5File(path: path, handle: try H5Handle(id, "open file", closer: H5Fclose))
        }
    }

    /// Writes every buffered byte of the file to the operating system.
    func flush() throws(HDF5Failure) {
        try HDF5.locked { () throws(HDF5Failure) in try check(H5Fflush(root.handle.id, H5F_SCOPE_GLOBAL), "flush") }
    }

    /// Closes the file (objects still open inside it keep it open until they close too).
    func close() throws(HDF5Failure) {
        try HDF5.locked { () throws(HDF5Failure) in
            if !root.handle.close() { throw HDF5Failure("close") }
        }
    }
}

/// A value handed to worker threads whose accesses are disjoint by construction (each worker touches only
/// its own indices).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
