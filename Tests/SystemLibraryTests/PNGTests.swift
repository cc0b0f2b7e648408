import CPNG
import Foundation
import Testing

@Suite("libpng")
struct PNGTests {
    private func newImage(width: Int, height: Int, format: png_uint_32) -> png_image {
        var image = png_image()
        image.version = png_uint_32(vq_png_image_version)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = format
        return image
    }

    private func message(_ image: inout png_image) -> String {
        String(cString: vq_png_image_message(&image))
    }

    /// Encodes 8-bit pixels to PNG bytes in memory with the simplified API.
    private func encode(_ pixels: [UInt8], width: Int, height: Int, format: png_uint_32) throws -> [UInt8] {
        var image = newImage(width: width, height: height, format: format)
        var size: png_alloc_size_t = 0
        // First call with no buffer asks for the size.
        let sized = pixels.withUnsafeBytes {
            png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil)
        }
        try #require(sized != 0, "\(message(&image))")
        #expect(size > 0)
        var out = [UInt8](repeating: 0, count: Int(size))
        image = newImage(width: width, height: height, format: format)
        let ok = out.withUnsafeMutableBytes { dst in
            pixels.withUnsafeBytes { png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        try #require(ok != 0, "\(message(&image))")
        out.removeSubrange(Int(size)...)
        return out
    }

    /// Decodes PNG bytes from memory into 8-bit pixels of `format`.
    private func decode(_ png: [UInt8], format: png_uint_32) throws -> (pixels: [UInt8], width: Int, height: Int) {
        var image = png_image()
        image.version = png_uint_32(vq_png_image_version)
        let begun = png.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard begun != 0 else { throw PNGError(message: message(&image)) }
        return try finishRead(&image, format: format)
    }

    private func finishRead(_ image: inout png_image, format: png_uint_32) throws -> (pixels: [UInt8], width: Int, height: Int) {
        image.format = format
        let width = Int(image.width), height = Int(image.height)
        let count = width * height * Int(vq_png_image_channels(format))
        guard count <= 1 << 28 else { png_image_free(&image); throw PNGError(message: "image too large") }
        var pixels = [UInt8](repeating: 0, count: count)
        let ok = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard ok != 0 else { throw PNGError(message: message(&image)) }
        return (pixels, width, height)
    }

    struct PNGError: Error { let message: String }

    @Test("RGB image round-trips through memory, pixel-exact")
    func rgbRoundTripInMemory() throws {
        let width = 13, height = 9
        let pixels = pseudoRandomBytes(count: width * height * 3, seed: 11)
        let png = try encode(pixels, width: width, height: height, format: vq_png_format_rgb)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let decoded = try decode(png, format: vq_png_format_rgb)
        #expect(decoded.width == width && decoded.height == height)
        #expect(decoded.pixels == pixels)
    }

    @Test("gray image round-trips through a file, pixel-exact")
    func grayRoundTripThroughFile() throws {
        let width = 31, height = 4
        let pixels = (0..<(width * height)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("gray.png").path
            var image = newImage(width: width, height: height, format: vq_png_format_gray)
            let written = pixels.withUnsafeBytes { png_image_write_to_file(&image, path, 0, $0.baseAddress, 0, nil) }
            try #require(written != 0, "\(message(&image))")

            var reader = png_image()
            reader.version = png_uint_32(vq_png_image_version)
            try #require(png_image_begin_read_from_file(&reader, path) != 0, "\(message(&reader))")
            #expect(reader.width == png_uint_32(width) && reader.height == png_uint_32(height))
            #expect(vq_png_image_channels(reader.format) == 1)
            let decoded = try finishRead(&reader, format: vq_png_format_gray)
            #expect(decoded.pixels == pixels)

            // The same file read as bytes decodes the same through the memory reader.
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(try decode(bytes, format: vq_png_format_gray).pixels == pixels)
        }
    }

    @Test("garbage and truncated buffers fail cleanly with a message")
    func garbageFailsWithMessage() throws {
        let garbage = pseudoRandomBytes(count: 1000, seed: 5)
        let error = try #require(throws: PNGError.self) { try decode(garbage, format: vq_png_format_rgb) }
        #expect(!error.message.isEmpty)

        let png = try encode(pseudoRandomBytes(count: 16 * 16 * 3, seed: 9), width: 16, height: 16, format: vq_png_format_rgb)
        let truncated = try #require(throws: PNGError.self) {
            try decode(Array(png.prefix(png.count / 2)), format: vq_png_format_rgb)
        }
        #expect(!truncated.message.isEmpty)
    }
}
