import Foundation
import VQImage

/// Reading the images `vqcodec encode` accepts: 8-bit gray or RGB PNG (gray+alpha and RGBA with a flag), with
/// every refusal explained before pixels are allocated.
public enum ImageInput {
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Reads a PNG file (`-` for standard input).
    public static func read(path: String) throws -> Image {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw CodecError.cannotRead(path: path, reason: describe(error))
            }
        }
        return try decode(data, path: path == "-" ? "standard input" : path)
    }

    /// Checks the PNG header (signature, size, bit depth, colour type), then decodes with libpng.
    public static func decode(_ data: Data, path: String) throws -> Image {
        let bytes = [UInt8](data.prefix(33))
        guard bytes.count >= 8, Array(bytes[0..<8]) == pngSignature else {
            throw CodecError.notPNG(path: path, reason: data.isEmpty ? "the file is empty" : "no PNG signature")
        }
        guard bytes.count >= 29, Array(bytes[12..<16]) == Array("IHDR".utf8) else {
            throw CodecError.notPNG(path: path, reason: "the header chunk is missing or truncated")
        }
        func be32(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        let width = be32(16), height = be32(20)
        let depth = bytes[24], colourType = bytes[25]
        if width == 0 || height == 0 { throw CodecError.notPNG(path: path, reason: "zero width or height (\(width)x\(height))") }
        if width > ContainerHeader.maximumSide || height > ContainerHeader.maximumSide || width * height > ContainerHeader.maximumPixels {
            throw CodecError.imageTooLarge(path: path, width: width, height: height)
        }
        if depth == 16 {
            throw CodecError.unsupportedPNG(path: path, found: "16-bit",
                                            fix: "convert it to 8 bits first (for example `convert IN.png -depth 8 OUT.png`)")
        }
        if colourType == 3 {
            throw CodecError.unsupportedPNG(path: path, found: "palette (indexed-colour)",
                                            fix: "convert it to RGB first (for example `convert IN.png PNG24:OUT.png`)")
        }
        do { return try Image(pngData: data, path: path) } catch let error as ImageError {
            if case let .notPNG(_, reason) = error { throw CodecError.notPNG(path: path, reason: reason) }
            throw CodecError.notPNG(path: path, reason: error.description)
        }
    }

    static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain && ns.code == NSFileReadNoSuchFileError { return "no such file" }
        return ns.localizedDescription
    }
}
