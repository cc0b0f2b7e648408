import Foundation
import VQData
import VQEngine
import VQImage
import VQTokenizer

/// Why training data could not be read.
public enum TrainingDataError: Error, CustomStringConvertible, Equatable {
    case noImages(folder: String, jpegCount: Int)
    case tooSmall(path: String, width: Int, height: Int, crop: Int)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .noImages(folder, jpegs):
            let hint = jpegs > 0
                ? "it holds \(jpegs) JPEG files, which vqcodec does not decode; convert them to PNG once (Tools/train/photo.sh shows how, with djpeg)"
                : "expected PNG photographs there"
            return "no PNG or PPM images in \(folder): \(hint)"
        case let .tooSmall(path, w, h, crop):
            return "\(path) is \(w)x\(h), smaller than the \(crop)x\(crop) training crop; lower cropSize or remove the image"
        case let .unreadable(path, reason):
            return "cannot read training data at \(path): \(reason)"
        }
    }
}

/// Where training batches come from.
protocol TrainingSource {
    /// Examples per epoch.
    var count: Int { get }
    var channels: Int { get }
    /// The batch [B, C, H, W] for these example indices; photo crops and flips are drawn from `rng`.
    func batch(_ indices: ArraySlice<Int>, rng: inout RandomGenerator) -> Tensor
}

struct MNISTSource: TrainingSource {
    let images: LabeledImages
    var count: Int { images.count }
    var channels: Int { images.channels }
    func batch(_ indices: ArraySlice<Int>, rng: inout RandomGenerator) -> Tensor {
        Tensor(shape: [indices.count, images.channels, images.height, images.width], data: images.batch(indices))
    }
}

/// Random square crops of photographs, flipped left-right with probability 1/2. Example `i` of an epoch is a
/// crop of image `i % images.count`, so each image gives `cropsPerImage` crops per epoch.
struct PhotoCropSource: TrainingSource {
    let images: [Image]
    let crop: Int
    let cropsPerImage: Int
    var count: Int { images.count * cropsPerImage }
    var channels: Int { images.first?.channels ?? 3 }

    func batch(_ indices: ArraySlice<Int>, rng: inout RandomGenerator) -> Tensor {
        let c = channels, plane = crop * crop
        var data = [Float](repeating: 0, count: indices.count * c * plane)
        for (b, index) in indices.enumerated() {
            let image = images[index % images.count]
            let x0 = Int(rng.next() % UInt64(image.width - crop + 1))
            let y0 = Int(rng.next() % UInt64(image.height - crop + 1))
            let flip = rng.next() & 1 == 1
            image.pixels.withUnsafeBufferPointer { px in
                for y in 0..<crop {
                    for x in 0..<crop {
                        let sx = x0 + (flip ? crop - 1 - x : x)
                        let src = ((y0 + y) * image.width + sx) * image.channels
                        for k in 0..<c { data[(b * c + k) * plane + y * crop + x] = Float(px[src + k]) / 255 }
                    }
                }
            }
        }
        return Tensor(shape: [indices.count, c, crop, crop], data: data)
    }
}

/// A binary PPM (P6, 8-bit), the output of `djpeg`: the way JPEG datasets reach training without a JPEG
/// decoder in the project.
func readPPM(_ url: URL) throws -> Image {
    let bytes: [UInt8]
    do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
        throw TrainingDataError.unreadable(path: url.path, reason: (error as NSError).localizedDescription)
    }
    var fields: [Int] = [], position = 2
    guard bytes.count > 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "6") else {
        throw TrainingDataError.unreadable(path: url.path, reason: "not a binary PPM (P6) file")
    }
    while fields.count < 3 && position < bytes.count {
        let b = bytes[position]
        if b == UInt8(ascii: "#") {
            while position < bytes.count && bytes[position] != 10 { position += 1 }
        } else if b >= 48 && b <= 57 {
            var v = 0
            while position < bytes.count && bytes[position] >= 48 && bytes[position] <= 57 && v < 1 << 20 {
                v = v * 10 + Int(bytes[position] - 48); position += 1
            }
            fields.append(v)
            continue
        }
        position += 1
    }
    guard fields.count == 3, fields[2] == 255, fields[0] > 0, fields[1] > 0, bytes.count - position >= fields[0] * fields[1] * 3 else {
        throw TrainingDataError.unreadable(path: url.path, reason: "unsupported PPM header \(fields) or truncated data (8-bit P6 expected)")
    }
    let start = bytes.count - fields[0] * fields[1] * 3
    return Image(width: fields[0], height: fields[1], channels: 3, pixels: Array(bytes[start...]))
}

/// The PNG images of `folders`, in name order, converted to `channels` colour channels (alpha dropped).
public func loadPNGFolders(_ folders: [URL], channels: Int) throws -> [Image] {
    var result: [Image] = []
    for folder in folders {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() } catch {
            throw TrainingDataError.unreadable(path: folder.path, reason: (error as NSError).localizedDescription)
        }
        let pngs = names.filter { $0.lowercased().hasSuffix(".png") || $0.lowercased().hasSuffix(".ppm") }
        if pngs.isEmpty {
            throw TrainingDataError.noImages(folder: folder.path, jpegCount: names.filter { $0.lowercased().hasSuffix(".jpg") || $0.lowercased().hasSuffix(".jpeg") }.count)
        }
        for name in pngs {
            let url = folder.appendingPathComponent(name)
            var image = name.lowercased().hasSuffix(".ppm") ? try readPPM(url) : try Image(contentsOf: url)
            if image.hasAlpha { image = image.removingAlpha() }
            if image.channels != channels { image = image.converted(toChannels: channels) }
            result.append(image)
        }
    }
    return result
}
