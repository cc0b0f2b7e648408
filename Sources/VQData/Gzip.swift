import CZlib
import Foundation

/// Errors decompressing a gzip stream.
public enum GzipError: Error, CustomStringConvertible {
    case corrupt(String)
    case truncated
    case tooLarge(limit: Int)

    public var description: String {
        switch self {
        case let .corrupt(reason): return "gzip data is corrupt (\(reason)); re-download or re-create the file"
        case .truncated: return "gzip data ends early: the file is truncated; re-download or re-create it"
        case let .tooLarge(limit): return "gzip data expands beyond \(limit) bytes; refusing to decompress it"
        }
    }
}

/// Whether `data` starts with the gzip magic bytes.
public func isGzip(_ data: Data) -> Bool { data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B }

/// Decompresses a gzip (or zlib) stream with zlib, refusing output beyond `limit` bytes.
public func gunzip(_ data: Data, limit: Int = 1 << 32) throws -> Data {
    var stream = z_stream()
    guard vq_inflate_init_gzip(&stream) == Z_OK else { throw GzipError.corrupt("zlib could not start") }
    defer { inflateEnd(&stream) }
    var output = Data()
    let chunk = 1 << 20
    var buffer = [UInt8](repeating: 0, count: chunk)
    return try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) -> Data in
        stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
        stream.avail_in = uInt(input.count)
        while true {
            let status = buffer.withUnsafeMutableBufferPointer { out -> Int32 in
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(chunk)
                return inflate(&stream, Z_NO_FLUSH)
            }
            output.append(contentsOf: buffer[0..<(chunk - Int(stream.avail_out))])
            if output.count > limit { throw GzipError.tooLarge(limit: limit) }
            switch status {
            case Z_STREAM_END: return output
            case Z_OK: if stream.avail_in == 0 && stream.avail_out != 0 { throw GzipError.truncated }
            case Z_BUF_ERROR: throw GzipError.truncated
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "status \(status)"
                throw GzipError.corrupt(message)
            }
        }
    }
}
