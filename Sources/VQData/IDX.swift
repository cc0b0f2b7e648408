import Foundation

/// Errors reading IDX files (the MNIST format), with what was expected and found.
public enum IDXError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "cannot read \(path): \(reason)"
        case let .malformed(path, reason):
            return "\(path) is not a valid IDX file: \(reason). Expected the MNIST format (big-endian magic 0x0000080N, sizes, then unsigned bytes), optionally gzipped."
        }
    }
}

/// An unsigned-byte IDX array: the MNIST format, usable for any count, size and channel layout
/// (Fashion-MNIST and other IDX datasets work unchanged). Gzipped files are read transparently.
public struct IDXArray: Sendable {
    public let dimensions: [Int]
    public let bytes: [UInt8]

    public init(contentsOf url: URL) throws {
        let raw: Data
        do { raw = try Data(contentsOf: url) } catch {
            throw IDXError.unreadable(path: url.path, reason: (error as NSError).localizedDescription)
        }
        let data: Data
        do { data = isGzip(raw) ? try gunzip(raw) : raw } catch {
            throw IDXError.malformed(path: url.path, reason: "\(error)")
        }
        try self.init(data: data, path: url.path)
    }

    public init(data: Data, path: String = "<memory>") throws {
        let bytes = [UInt8](data)
        guard bytes.count >= 4 else { throw IDXError.malformed(path: path, reason: "only \(bytes.count) bytes") }
        guard bytes[0] == 0, bytes[1] == 0 else { throw IDXError.malformed(path: path, reason: "magic starts with \(bytes[0]), \(bytes[1]) instead of 0, 0") }
        guard bytes[2] == 0x08 else { throw IDXError.malformed(path: path, reason: "element type 0x\(String(bytes[2], radix: 16)) is not unsigned byte (0x08)") }
        let rank = Int(bytes[3])
        guard rank >= 1, rank <= 8 else { throw IDXError.malformed(path: path, reason: "rank \(rank) is outside 1...8") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else { throw IDXError.malformed(path: path, reason: "header needs \(headerSize) bytes, file has \(bytes.count)") }
        var dimensions: [Int] = []
        var total = 1
        for i in 0..<rank {
            let o = 4 + 4 * i
            let d = Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
            dimensions.append(d)
            total = total.multipliedReportingOverflow(by: d).overflow ? Int.max : total * d
        }
        guard bytes.count - headerSize == total else {
            throw IDXError.malformed(path: path, reason: "dimensions \(dimensions) need \(total) data bytes, file has \(bytes.count - headerSize)")
        }
        self.dimensions = dimensions
        self.bytes = Array(bytes[headerSize...])
    }
}

/// Images with labels from a pair of IDX files, as floats in [0, 1], NCHW.
public struct LabeledImages: Sendable {
    public let count: Int
    public let channels: Int
    public let height: Int
    public let width: Int
    /// count x channels x height x width values in [0, 1].
    public let pixels: [Float]
    public let labels: [Int]

    public var imageSize: Int { channels * height * width }

    /// Reads `images` ([N, H, W] or [N, H, W, C]) and optional `labels` ([N]).
    public init(images: URL, labels: URL?) throws {
        let array = try IDXArray(contentsOf: images)
        let d = array.dimensions
        guard d.count == 3 || d.count == 4 else {
            throw IDXError.malformed(path: images.path, reason: "images need dimensions [N, H, W] or [N, H, W, C], found \(d)")
        }
        let (count, height, width, channels) = (d[0], d[1], d[2], d.count == 4 ? d[3] : 1)
        (self.count, self.height, self.width, self.channels) = (count, height, width, channels)
        let hw = height * width
        var pixels = [Float](repeating: 0, count: array.bytes.count)
        // IDX stores channels last; the engine wants NCHW.
        array.bytes.withUnsafeBufferPointer { src in
            for n in 0..<count {
                for p in 0..<hw {
                    for c in 0..<channels {
                        pixels[(n * channels + c) * hw + p] = Float(src[(n * hw + p) * channels + c]) / 255
                    }
                }
            }
        }
        self.pixels = pixels
        if let labels {
            let l = try IDXArray(contentsOf: labels)
            guard l.dimensions == [count] else {
                throw IDXError.malformed(path: labels.path, reason: "labels have dimensions \(l.dimensions), expected [\(count)] to match the images")
            }
            self.labels = l.bytes.map(Int.init)
        } else {
            self.labels = []
        }
    }

    /// The MNIST-style split in `directory`: `train-images-idx3-ubyte[.gz]` or `t10k-images-idx3-ubyte[.gz]`
    /// with the matching labels file.
    public static func mnist(directory: URL, split: Split) throws -> LabeledImages {
        let prefix = split == .train ? "train" : "t10k"
        func find(_ stem: String) -> URL? {
            for name in [stem, stem + ".gz"] {
                let url = directory.appendingPathComponent(name)
                if FileManager.default.fileExists(atPath: url.path) { return url }
            }
            return nil
        }
        guard let images = find("\(prefix)-images-idx3-ubyte") else {
            throw IDXError.unreadable(path: directory.appendingPathComponent("\(prefix)-images-idx3-ubyte[.gz]").path,
                                      reason: "file not found; --data must name a folder with the MNIST IDX files (e.g. ../shared/data/mnist)")
        }
        return try LabeledImages(images: images, labels: find("\(prefix)-labels-idx1-ubyte"))
    }

    public enum Split: String, Sendable { case train, test }

    /// Pixels of the images at `indices`, concatenated (a batch in NCHW order).
    public func batch(_ indices: some Collection<Int>) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(indices.count * imageSize)
        for i in indices { out.append(contentsOf: pixels[(i * imageSize)..<((i + 1) * imageSize)]) }
        return out
    }

    /// The first `n` images (or all), for quick runs on a subset.
    public func prefix(_ n: Int) -> LabeledImages {
        LabeledImages(count: Swift.min(n, count), channels: channels, height: height, width: width,
                      pixels: Array(pixels.prefix(Swift.min(n, count) * imageSize)), labels: Array(labels.prefix(n)))
    }

    init(count: Int, channels: Int, height: Int, width: Int, pixels: [Float], labels: [Int]) {
        self.count = count; self.channels = channels; self.height = height; self.width = width
        self.pixels = pixels; self.labels = labels
    }
}
