import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VQImage
import VQTokenizer

/// One codec at one setting on one image (or averaged over images).
public struct RatePoint: Codable, Sendable {
    /// "vqc", "png", "webp-lossless", "jpeg", "webp".
    public var codec: String
    /// "levels 2", "q 10", "lossless".
    public var setting: String
    public var bytes: Double
    public var bitsPerPixel: Double
    /// nil when lossless (infinite PSNR).
    public var psnr: Double?
    public var ssim: Double
}

public struct ImageEvaluation: Codable, Sendable {
    public var path: String
    public var width: Int
    public var height: Int
    public var channels: Int
    public var points: [RatePoint]
}

public struct EvaluationReport: Codable, Sendable {
    public var model: String
    public var fingerprint: String
    public var images: [ImageEvaluation]
    /// Means over the images of bytes, bits per pixel, PSNR (of the finite ones) and SSIM, per codec and setting.
    public var averages: [RatePoint]
    public var skipped: [String]
    public var notes: [String]
}

/// `vqcodec eval`: real file sizes and quality of our codec against PNG, JPEG and WebP at several qualities.
/// JPEG and WebP go through Debian's command-line tools (`cjpeg`/`djpeg` from libjpeg-turbo-progs, `cwebp`/`dwebp`
/// from webp), so the numbers are those of the real libraries.
public struct Evaluation: Sendable {
    public var data: [String]
    public var model: String?
    public var limit: Int?
    public var jpegQualities = [5, 10, 25, 50, 75, 90]
    public var webpQualities = [0, 5, 25, 50, 75, 90]

    public init(data: [String], model: String? = nil, limit: Int? = nil) {
        self.data = data
        self.model = model
        self.limit = limit
    }

    public static let tools = ["cjpeg", "djpeg", "cwebp", "dwebp"]

    public func run(showProgress: Bool = true) throws -> EvaluationReport {
        let all = try BatchPlanner.expand(data, fileExtension: "png").map(\.path).filter { $0 != "-" }
        let inputs = limit.map { Array(all.prefix($0)) } ?? all
        guard !inputs.isEmpty else { throw CodecError.cannotRead(path: data.joined(separator: " "), reason: "no PNG images found") }
        var notes: [String] = []
        var skipped: [String] = []
        let loaded = parallelMap(inputs.count) { i -> Result<Image, Error> in
            Result { try Codec.prepare(try ImageInput.read(path: inputs[i]), path: inputs[i], dropAlpha: true) }
        }
        var images: [(String, Image)] = []
        for (path, result) in zip(inputs, loaded) {
            switch result {
            case let .success(image): images.append((path, image))
            case let .failure(error): skipped.append("\(error)")
            }
        }
        guard !images.isEmpty else { throw CodecError.cannotRead(path: inputs[0], reason: "no readable images: \(skipped[0])") }
        let tokenizer: Tokenizer
        if let model { tokenizer = try ModelCatalog.tokenizer(named: model) } else {
            let (chosen, note) = try ModelCatalog.defaultTokenizer(for: images[0].1)
            tokenizer = chosen
            if let note { notes.append(note) }
        }
        let missing = Evaluation.tools.filter { Evaluation.which($0) == nil }
        if missing.contains(where: { $0.hasSuffix("jpeg") }) {
            notes.append("JPEG skipped: cjpeg/djpeg not found; install them with `apt-get install libjpeg-turbo-progs`")
        }
        if missing.contains(where: { $0.hasSuffix("webp") }) {
            notes.append("WebP skipped: cwebp/dwebp not found; install them with `apt-get install webp`")
        }

        // Our codec at every level count, in batches through the tokenizer; with the model's built-in prior too
        // ("vqc-prior": the same tokens, so the same image, in fewer bytes).
        var ours = [[RatePoint]](repeating: [], count: images.count)
        let prior = PriorCoder.builtin(for: tokenizer)
        for levels in 1...tokenizer.levels {
            let encoded = try Codec.encode(images.map(\.1), tokenizer: tokenizer, levels: levels)
            let decoded = try Codec.decode(try encoded.map { try ContainerFile($0) }, tokenizer: tokenizer)
            let priorCoded = try prior.map { try Codec.encode(images.map(\.1), tokenizer: tokenizer, levels: levels, method: .prior, prior: $0) }
            for i in images.indices {
                ours[i].append(point("vqc", "levels \(levels)", bytes: encoded[i].count, original: images[i].1, decoded: decoded[i]))
                if let priorCoded {
                    ours[i].append(point("vqc-prior", "levels \(levels)", bytes: priorCoded[i].count, original: images[i].1, decoded: decoded[i]))
                }
            }
        }
        let (loadedImages, ourPoints) = (images, ours)
        let progress = showProgress ? ProgressLine(total: images.count, label: "evaluated") : nil
        defer { progress?.finish() }
        let results = parallelMap(images.count) { i -> ImageEvaluation in
            let (path, image) = loadedImages[i]
            var points = ourPoints[i]
            points += baselines(image, missing: missing)
            progress?.advance(by: 1)
            return ImageEvaluation(path: path, width: image.width, height: image.height, channels: image.channels, points: points)
        }
        return EvaluationReport(model: tokenizer.name ?? "checkpoint", fingerprint: tokenizer.fingerprint,
                                images: results, averages: Evaluation.average(results), skipped: skipped, notes: notes)
    }

    func point(_ codec: String, _ setting: String, bytes: Int, original: Image, decoded: Image?) -> RatePoint {
        let bpp = Double(bytes * 8) / Double(original.width * original.height)
        guard let decoded else { return RatePoint(codec: codec, setting: setting, bytes: Double(bytes), bitsPerPixel: bpp, psnr: nil, ssim: 1) }
        let psnr = Metrics.psnr(original, decoded)
        return RatePoint(codec: codec, setting: setting, bytes: Double(bytes), bitsPerPixel: bpp,
                         psnr: psnr.isFinite ? psnr : nil, ssim: Metrics.ssim(original, decoded))
    }

    /// PNG (libpng), WebP lossless, JPEG and WebP at each quality, for one image.
    func baselines(_ image: Image, missing: [String]) -> [RatePoint] {
        var points: [RatePoint] = []
        if let png = try? image.pngData() { points.append(point("png", "lossless", bytes: png.count, original: image, decoded: nil)) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vqc-eval-\(UUID().uuidString)")
        guard (try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)) != nil else { return points }
        defer { try? FileManager.default.removeItem(at: folder) }
        let pnm = folder.appendingPathComponent("in.pnm").path, png = folder.appendingPathComponent("in.png").path
        try? Data(PNM.encode(image)).write(to: URL(fileURLWithPath: pnm))
        try? image.write(to: URL(fileURLWithPath: png))
        if !missing.contains("cjpeg") && !missing.contains("djpeg") {
            for q in jpegQualities {
                let jpg = folder.appendingPathComponent("q\(q).jpg").path, out = folder.appendingPathComponent("q\(q).out.pnm").path
                guard Evaluation.run("cjpeg", ["-quality", "\(q)", "-outfile", jpg, pnm]),
                      Evaluation.run("djpeg", ["-pnm", "-outfile", out, jpg]),
                      let size = fileSize(jpg), let decoded = PNM.read(out)?.converted(toChannels: image.channels) else { continue }
                points.append(point("jpeg", "q \(q)", bytes: size, original: image, decoded: decoded))
            }
        }
        if !missing.contains("cwebp") && !missing.contains("dwebp") {
            let lossless = folder.appendingPathComponent("lossless.webp").path
            if Evaluation.run("cwebp", ["-quiet", "-lossless", png, "-o", lossless]), let size = fileSize(lossless) {
                points.append(point("webp-lossless", "lossless", bytes: size, original: image, decoded: nil))
            }
            for q in webpQualities {
                let webp = folder.appendingPathComponent("q\(q).webp").path, out = folder.appendingPathComponent("q\(q).ppm").path
                guard Evaluation.run("cwebp", ["-quiet", "-q", "\(q)", png, "-o", webp]),
                      Evaluation.run("dwebp", ["-quiet", webp, "-ppm", "-o", out]),
                      let size = fileSize(webp), let decoded = PNM.read(out)?.converted(toChannels: image.channels) else { continue }
                points.append(point("webp", "q \(q)", bytes: size, original: image, decoded: decoded))
            }
        }
        return points
    }

    static func average(_ results: [ImageEvaluation]) -> [RatePoint] {
        var order: [String] = []
        var groups: [String: [RatePoint]] = [:]
        for r in results {
            for p in r.points {
                let key = p.codec + "|" + p.setting
                if groups[key] == nil { order.append(key) }
                groups[key, default: []].append(p)
            }
        }
        return order.map { key in
            let g = groups[key]!
            let n = Double(g.count)
            let finite = g.compactMap(\.psnr)
            return RatePoint(codec: g[0].codec, setting: g[0].setting, bytes: g.map(\.bytes).reduce(0, +) / n,
                             bitsPerPixel: g.map(\.bitsPerPixel).reduce(0, +) / n,
                             psnr: finite.count == g.count ? finite.reduce(0, +) / n : nil,
                             ssim: g.map(\.ssim).reduce(0, +) / n)
        }
    }

    /// The rate-distortion chart of the averages: one series per lossy codec.
    public static func plot(_ report: EvaluationReport, title: String) -> Image {
        var series: [RateDistortionPlot.Series] = []
        let names = ["vqc": "VQC (\(report.model))", "vqc-prior": "VQC + prior", "jpeg": "JPEG", "webp": "WEBP"]
        for codec in ["vqc", "vqc-prior", "jpeg", "webp"] {
            let points = report.averages.filter { $0.codec == codec && $0.psnr != nil }
                .map { (bpp: $0.bitsPerPixel, psnr: $0.psnr!) }
            if !points.isEmpty { series.append(.init(name: names[codec]!, points: points)) }
        }
        return RateDistortionPlot(series: series, title: title).render()
    }

    static func which(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs a tool with posix_spawn (Foundation's Process is several times slower to start and reap), its output
    /// discarded; true when it exits with status 0.
    static func run(_ tool: String, _ arguments: [String]) -> Bool {
        guard let path = which(tool) else { return false }
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, path, &actions, nil, argv, environ) == 0 else { return false }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status == 0
    }

    func fileSize(_ path: String) -> Int? { (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int }
}

/// Binary PGM/PPM (P5/P6, maxval 255): what cjpeg reads and djpeg/dwebp write.
enum PNM {
    static func encode(_ image: Image) -> [UInt8] {
        let gray = image.channels == 1
        let source = gray ? image : image.converted(toChannels: 3)
        return Array("\(gray ? "P5" : "P6")\n\(image.width) \(image.height)\n255\n".utf8) + source.pixels
    }

    static func read(_ path: String) -> Image? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let bytes = [UInt8](data)
        var fields: [String] = []
        var i = 0
        while fields.count < 4 && i < bytes.count {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
            if i < bytes.count, bytes[i] == 0x23 { while i < bytes.count, bytes[i] != 0x0A { i += 1 }; continue }
            let start = i
            while i < bytes.count, !(bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09) { i += 1 }
            fields.append(String(decoding: bytes[start..<i], as: UTF8.self))
        }
        i += 1
        guard fields.count == 4, let w = Int(fields[1]), let h = Int(fields[2]), fields[3] == "255", w > 0, h > 0 else { return nil }
        let channels = fields[0] == "P5" ? 1 : fields[0] == "P6" ? 3 : 0
        guard channels > 0, bytes.count - i >= w * h * channels else { return nil }
        return Image(width: w, height: h, channels: channels, pixels: Array(bytes[i..<(i + w * h * channels)]))
    }
}
