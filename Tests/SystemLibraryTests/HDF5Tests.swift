import CHDF5
import Foundation
import Testing

@Suite("HDF5")
struct HDF5Tests {
    @Test("chunked float32 dataset with fletcher32 and a fixed-length string attribute round-trips")
    func datasetRoundTrip() throws {
        vq_h5_silence_errors()
        let rows = 7, cols = 5
        let values: [Float] = (0..<(rows * cols)).map { Float($0) * 0.25 - 3.0 }
        let note = "vqcodec system library test"

        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("roundtrip.h5").path

            // Write.
            let file = H5Fcreate(path, vq_h5f_acc_trunc(), vq_h5p_default(), vq_h5p_default())
            #expect(file >= 0)
            var dims: [hsize_t] = [hsize_t(rows), hsize_t(cols)]
            let space = H5Screate_simple(2, &dims, nil)
            #expect(space >= 0)
            let dcpl = H5Pcreate(vq_h5p_dataset_create())
            #expect(dcpl >= 0)
            var chunk: [hsize_t] = [4, 3]  // does not divide the shape: exercises partial edge chunks
            #expect(H5Pset_chunk(dcpl, 2, &chunk) >= 0)
            #expect(H5Pset_fletcher32(dcpl) >= 0)
            let dataset = H5Dcreate2(file, "weights", vq_h5t_ieee_f32le(), space, vq_h5p_default(), dcpl, vq_h5p_default())
            #expect(dataset >= 0)
            let written = values.withUnsafeBufferPointer {
                H5Dwrite(dataset, vq_h5t_native_float(), vq_h5s_all(), vq_h5s_all(), vq_h5p_default(), $0.baseAddress)
            }
            #expect(written >= 0)

            let noteBytes = Array(note.utf8)
            let stringType = H5Tcopy(vq_h5t_c_s1())
            #expect(H5Tset_size(stringType, noteBytes.count) >= 0)
            #expect(H5Tset_strpad(stringType, H5T_STR_NULLPAD) >= 0)
            let scalar = H5Screate(H5S_SCALAR)
            let attribute = H5Acreate2(dataset, "note", stringType, scalar, vq_h5p_default(), vq_h5p_default())
            #expect(attribute >= 0)
            #expect(noteBytes.withUnsafeBytes { H5Awrite(attribute, stringType, $0.baseAddress) } >= 0)

            #expect(H5Aclose(attribute) >= 0)
            #expect(H5Sclose(scalar) >= 0)
            #expect(H5Tclose(stringType) >= 0)
            #expect(H5Dclose(dataset) >= 0)
            #expect(H5Pclose(dcpl) >= 0)
            #expect(H5Sclose(space) >= 0)
            #expect(H5Fclose(file) >= 0)

            // Read back, read-only.
            let rfile = H5Fopen(path, vq_h5f_acc_rdonly(), vq_h5p_default())
            try #require(rfile >= 0)
            defer { H5Fclose(rfile) }
            let rdataset = H5Dopen2(rfile, "weights", vq_h5p_default())
            try #require(rdataset >= 0)
            defer { H5Dclose(rdataset) }

            let rspace = H5Dget_space(rdataset)
            defer { H5Sclose(rspace) }
            #expect(H5Sget_simple_extent_ndims(rspace) == 2)
            var rdims: [hsize_t] = [0, 0]
            #expect(H5Sget_simple_extent_dims(rspace, &rdims, nil) == 2)
            #expect(rdims == [hsize_t(rows), hsize_t(cols)])

            // The stored type is little-endian IEEE float32.
            let ftype = H5Dget_type(rdataset)
            defer { H5Tclose(ftype) }
            #expect(H5Tget_class(ftype) == H5T_FLOAT)
            #expect(H5Tget_size(ftype) == 4)
            #expect(H5Tequal(ftype, vq_h5t_ieee_f32le()) > 0)

            // The creation properties survived: chunked layout and the fletcher32 filter.
            let rdcpl = H5Dget_create_plist(rdataset)
            defer { H5Pclose(rdcpl) }
            #expect(H5Pget_layout(rdcpl) == H5D_CHUNKED)
            var rchunk: [hsize_t] = [0, 0]
            #expect(H5Pget_chunk(rdcpl, 2, &rchunk) == 2)
            #expect(rchunk == [4, 3])
            #expect(H5Pget_nfilters(rdcpl) == 1)
            var flags: UInt32 = 0
            var cdCount = 0
            var filterConfig: UInt32 = 0
            let filter = H5Pget_filter2(rdcpl, 0, &flags, &cdCount, nil, 0, nil, &filterConfig)
            #expect(filter == H5Z_FILTER_FLETCHER32)

            var readBack = [Float](repeating: .nan, count: rows * cols)
            let read = readBack.withUnsafeMutableBufferPointer {
                H5Dread(rdataset, vq_h5t_native_float(), vq_h5s_all(), vq_h5s_all(), vq_h5p_default(), $0.baseAddress)
            }
            #expect(read >= 0)
            #expect(readBack.map(\.bitPattern) == values.map(\.bitPattern))

            let rattribute = H5Aopen(rdataset, "note", vq_h5p_default())
            try #require(rattribute >= 0)
            defer { H5Aclose(rattribute) }
            let atype = H5Aget_type(rattribute)
            defer { H5Tclose(atype) }
            #expect(H5Tget_class(atype) == H5T_STRING)
            #expect(H5Tis_variable_str(atype) == 0)
            let size = H5Tget_size(atype)
            #expect(size == noteBytes.count)
            var noteRead = [UInt8](repeating: 0, count: size)
            #expect(noteRead.withUnsafeMutableBytes { H5Aread(rattribute, atype, $0.baseAddress) } >= 0)
            #expect(String(decoding: noteRead, as: UTF8.self) == note)
        }
    }

    @Test("garbage, empty and missing files fail with a negative id instead of crashing")
    func garbageFileIsRejected() throws {
        vq_h5_silence_errors()
        try withTemporaryDirectory { dir in
            let garbage = dir.appendingPathComponent("garbage.h5")
            try Data(pseudoRandomBytes(count: 4096, seed: 42)).write(to: garbage)
            let empty = dir.appendingPathComponent("empty.h5")
            try Data().write(to: empty)
            let missing = dir.appendingPathComponent("missing.h5")

            for url in [garbage, empty, missing] {
                let id = H5Fopen(url.path, vq_h5f_acc_rdonly(), vq_h5p_default())
                #expect(id < 0, "H5Fopen accepted \(url.lastPathComponent)")
                if id >= 0 { H5Fclose(id) }
            }
            #expect(H5Fis_hdf5(garbage.path) <= 0)
        }
    }
}
