import Foundation
import Testing
@testable import VQCheckpoint

/// Each rule of the safetensors spec that the reader enforces, on a hand-built file.
@Suite struct SafetensorsValidationTests {
    /// A file with `header` as its JSON and `buffer` as its data.
    static func file(_ header: String, _ buffer: [UInt8]) -> Data {
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: buffer)
        return data
    }

    static func reason(_ data: Data) -> SafetensorsError? {
        do { _ = try SafetensorsFile(data: data); return nil } catch let error as SafetensorsError { return error } catch { return nil }
    }

    @Test("a valid file with two tensors and metadata reads back")
    func valid() throws {
        let header = #"{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[1,3],"data_offsets":[8,11]}}"#
        let parsed = try SafetensorsFile(data: Self.file(header, Array(0..<11)))
        #expect(parsed.metadata == ["k": "v"] && parsed.order == ["a", "b"] && parsed.tensors["b"]?.shape == [1, 3])
    }

    @Test("broken headers, offsets and buffers are refused with the reason")
    func refused() {
        let f32 = #""dtype":"F32","shape":[2]"#
        let cases: [(String, Data, (SafetensorsError) -> Bool)] = [
            ("shorter than the length field", Data([1, 2, 3]), { if case .truncated = $0 { return true }; return false }),
            ("header longer than the file", Self.file("{}", []).prefix(9), { if case .truncated = $0 { return true }; return false }),
            ("absurd header length", { var d = Data(repeating: 0xff, count: 8); d.append(contentsOf: [1]); return d }(),
             { if case .headerTooLarge = $0 { return true }; return false }),
            ("not JSON", Self.file("{not json", []), { if case .malformedHeader = $0 { return true }; return false }),
            ("metadata value not a string", Self.file(#"{"__metadata__":{"k":1}}"#, []), { if case .malformedHeader = $0 { return true }; return false }),
            ("unknown dtype", Self.file(#"{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}"#, [0]),
             { if case .unsupportedDType = $0 { return true }; return false }),
            ("span does not match the shape", Self.file(#"{"a":{\#(f32),"data_offsets":[0,4]}}"#, [0, 0, 0, 0]),
             { if case .badOffsets = $0 { return true }; return false }),
            ("offsets outside the buffer", Self.file(#"{"a":{\#(f32),"data_offsets":[0,8]}}"#, [0, 0, 0, 0]),
             { if case .badOffsets = $0 { return true }; return false }),
            ("overlapping tensors", Self.file(#"{"a":{\#(f32),"data_offsets":[0,8]},"b":{\#(f32),"data_offsets":[4,12]}}"#, Array(repeating: 0, count: 12)),
             { if case .badOffsets = $0 { return true }; return false }),
            ("a gap between tensors", Self.file(#"{"a":{\#(f32),"data_offsets":[0,8]},"b":{\#(f32),"data_offsets":[12,20]}}"#, Array(repeating: 0, count: 20)),
             { if case .badOffsets = $0 { return true }; return false }),
            ("bytes after the last tensor", Self.file(#"{"a":{\#(f32),"data_offsets":[0,8]}}"#, Array(repeating: 0, count: 9)),
             { if case .badOffsets = $0 { return true }; return false }),
            ("negative shape", Self.file(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#, []),
             { if case .malformedHeader = $0 { return true }; return false }),
            ("overflowing shape", Self.file(#"{"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,0]}}"#, []),
             { if case .badOffsets = $0 { return true }; return false }),
        ]
        for (what, data, matches) in cases {
            guard let error = Self.reason(data) else { Issue.record("\(what): accepted"); continue }
            #expect(matches(error), "\(what): \(error)")
        }
    }
}
