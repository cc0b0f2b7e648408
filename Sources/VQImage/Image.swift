import CPNG
import Foundation
import VQEngine

/// Errors loading or saving images: each says what was expected, what was found, and what to do.
public enum ImageError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case notPNG(path: String, reason: String)
    case tooLarge(width: Int, height: Int, limit: Int)
    case empty(path: String)
    case writeFailed(path: String, reason: String)
    case channelMismatch(expected: Int, found: Int)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "cannot read \(path): \(reason)"
        case let .notPNG(path, reason): return "\(path) is not a readable PNG image (\(reason)); convert it to 8-bit PNG first"
        case let .tooLarge(width, height, limit):
            return "image of \(width)x\(height) pixels exceeds the limit of \(limit) pixels; downscale it first"
        case let .empty(path): return "\(path) has zero width or height"
        case let .writeFailed(path, reason): return "cannot write \(path): \(reason)"
        case let .channelMismatch(expected, found): return "expected an image with \(expected) channels, found \(found)"
        }
    }
}

/// An 8-bit image: `channels` interleaved samples per pixel (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA),
/// rows top to bottom. PNG in and out through libpng; 16-bit and palette files are converted to 8 bits.
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var pixels: [UInt8]

    /// Decoding refuses images above this many pixels before allocating (about 16k x 16k).
    public static let maximumPixels = 1 << 28

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition((1...4).contains(channels) && pixels.count == width * height * channels,
                     "Image: \(pixels.count) samples do not make a \(width)x\(height)x\(channels) image")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// Reads a PNG file, keeping its gray/colour and alpha layout.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ImageError.unreadable(path: url.path, reason: (error as NSError).localizedDescription)
        }
        try self.init(pngData: data, path: url.path)
    }

    /// Decodes PNG bytes.
    public init(pngData data: Data, path: String = "<memory>") throws {
        var image = png_image()
        image.version = png_uint_32(vq_png_image_version)
        let begun = data.withUnsafeBytes { raw in png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) }
        guard begun != 0 else {
            let reason = String(cString: vq_png_image_message(&image))
            png_image_free(&image)
            throw ImageError.notPNG(path: path, reason: reason)
        }
        let width = Int(image.width), height = Int(image.height)
        guard width > 0, height > 0 else { png_image_free(&image); throw ImageError.empty(path: path) }
        guard width * height <= Image.maximumPixels else {
            png_image_free(&image)
            throw ImageError.tooLarge(width: width, height: height, limit: Image.maximumPixels)
        }
        let hasColor = image.format & png_uint_32(PNG_FORMAT_FLAG_COLOR) != 0
        let hasAlpha = image.format & png_uint_32(PNG_FORMAT_FLAG_ALPHA) != 0
        let format: png_uint_32 = hasColor ? (hasAlpha ? vq_png_format_rgba : vq_png_format_rgb) : (hasAlpha ? vq_png_format_ga : vq_png_format_gray)
        image.format = format
        let channels = Int(vq_png_image_channels(format))
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        let finished = data.withUnsafeBytes { _ in
            pixels.withUnsafeMutableBytes { out in png_image_finish_read(&image, nil, out.baseAddress, Int32(width * channels), nil) }
        }
        guard finished != 0 else {
            let reason = String(cString: vq_png_image_message(&image))
            png_image_free(&image)
            throw ImageError.notPNG(path: path, reason: reason)
        }
        self.init(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Encodes as PNG.
    public func pngData() throws -> Data {
        var image = png_image()
        image.version = png_uint_32(vq_png_image_version)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = [vq_png_format_gray, vq_png_format_ga, vq_png_format_rgb, vq_png_format_rgba][channels - 1]
        let stride = Int32(width * channels)
        // One compression pass into a buffer that nearly always suffices (deflate grows incompressible data by a
        // few bytes per block, IDAT chunks add 12 bytes per 8 KiB, rows one filter byte each). Asking libpng for
        // the size first would compress the image twice.
        let raw = (width * channels + 1) * height
        var size = png_alloc_size_t(raw + raw / 100 + 4096)
        var out = Data(count: Int(size))
        var ok = out.withUnsafeMutableBytes { o in
            pixels.withUnsafeBytes { png_image_write_to_memory(&image, o.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        if ok == 0 && Int(size) > out.count {
            // Too small after all: libpng reported the size it needs.
            out = Data(count: Int(size))
            ok = out.withUnsafeMutableBytes { o in
                pixels.withUnsafeBytes { png_image_write_to_memory(&image, o.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
            }
        }
        guard ok != 0 else { throw ImageError.writeFailed(path: "<memory>", reason: String(cString: vq_png_image_message(&image))) }
        return out.prefix(Int(size))
    }

    /// Writes a PNG file atomically (a temporary file in the same folder, then a rename).
    public func write(to url: URL) throws {
        let data = try pngData()
        do { try data.write(to: url, options: .atomic) } catch {
            throw ImageError.writeFailed(path: url.path, reason: (error as NSError).localizedDescription)
        }
    }

    // MARK: Tensors

    /// The image as floats in [0, 1], [channels, height, width] (alpha included when present).
    public func tensor() -> Tensor {
        let hw = width * height
        var values = [Float](repeating: 0, count: pixels.count)
        for p in 0..<hw { for c in 0..<channels { values[c * hw + p] = Float(pixels[p * channels + c]) / 255 } }
        return Tensor(shape: [channels, height, width], data: values)
    }

    /// An image from [channels, height, width] (or [1, C, H, W]) floats, clamped to [0, 1] and rounded.
    public init(tensor: Tensor) {
        let s = tensor.rank == 4 ? Array(tensor.shape.dropFirst()) : tensor.shape
        precondition(s.count == 3 && (1...4).contains(s[0]) && tensor.count == s.reduce(1, *),
                     "Image(tensor:): expects [C, H, W] with 1 to 4 channels, found \(tensor.shape)")
        let (c, h, w) = (s[0], s[1], s[2])
        var pixels = [UInt8](repeating: 0, count: c * h * w)
        tensor.data.withUnsafeBufferPointer { v in
            for p in 0..<(h * w) {
                for k in 0..<c { pixels[p * c + k] = UInt8((Swift.min(Swift.max(v[k * h * w + p], 0), 1) * 255).rounded()) }
            }
        }
        self.init(width: w, height: h, channels: c, pixels: pixels)
    }

    /// Tiles equally sized images into a grid with `columns` columns and a `gap`-pixel border of `background`.
    public static func grid(_ images: [Image], columns: Int, gap: Int = 2, background: UInt8 = 255) -> Image {
        precondition(!images.isEmpty && columns >= 1, "Image.grid: needs images and at least one column")
        let (w, h, c) = (images[0].width, images[0].height, images[0].channels)
        precondition(images.allSatisfy { $0.width == w && $0.height == h && $0.channels == c }, "Image.grid: images differ in size")
        let rows = (images.count + columns - 1) / columns
        let gw = columns * (w + gap) + gap, gh = rows * (h + gap) + gap
        var pixels = [UInt8](repeating: background, count: gw * gh * c)
        for (i, image) in images.enumerated() {
            let x0 = gap + (i % columns) * (w + gap), y0 = gap + (i / columns) * (h + gap)
            for y in 0..<h {
                let dst = ((y0 + y) * gw + x0) * c
                pixels.replaceSubrange(dst..<(dst + w * c), with: image.pixels[(y * w * c)..<((y + 1) * w * c)])
            }
        }
        return Image(width: gw, height: gh, channels: c, pixels: pixels)
    }
}
