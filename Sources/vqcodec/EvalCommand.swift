import ArgumentParser
import Foundation
import VQCodec

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",  // the default subcommand of `vqcodec eval` (EvalGroupCommand)
        abstract: "Compare the codec with PNG, JPEG and WebP: real file sizes (bits per pixel), PSNR and SSIM.",
        discussion: """
        For each image and on average: our .vqc files at every residual level count (also coded with the model's \
        built-in prior, "vqc-prior": the same image in fewer bytes), PNG (libpng, lossless), \
        WebP lossless, JPEG (qualities 5 to 90) and WebP (qualities 0 to 90) through the real libraries' \
        Debian tools (cjpeg/djpeg from libjpeg-turbo-progs, cwebp/dwebp from webp; Tools/setup installs them). \
        A missing tool is reported and its codec skipped. PSNR is over all channels (peak 255); SSIM is the \
        mean SSIM of Wang et al. (11x11 Gaussian window, sigma 1.5), averaged over channels. Images with alpha \
        are composited over white first.

        Exit codes: 0 success; 1 failure; 2 bad usage or no readable images.
        """
    )

    @Option(name: .customLong("data"), parsing: .upToNextOption, help: "PNG images or folders of them.")
    var data: [String]

    @Option(help: "Tokenizer: a built-in name (mnist, photo) or a checkpoint path (default: chosen from the first image).")
    var model: String?

    @Option(help: "Use only the first N images (sorted by path).")
    var limit: Int?

    @Flag(help: "Print one JSON object (every image, every codec) instead of tables.")
    var json = false

    @Option(help: "Write a rate-distortion chart (bits per pixel against PSNR) of the averages to this PNG.")
    var plot: String?

    func validate() throws {
        if data.isEmpty { throw ValidationError("--data needs at least one folder or PNG file") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, found \(limit)") }
    }

    func run() throws {
        AtomicFile.installSignalCleanup()
        let report: EvaluationReport
        do {
            report = try Evaluation(data: data, model: model, limit: limit).run()
            if let plot {
                let title = "\(report.images.count) IMAGES, MODEL \(report.model)"
                try writeOutput([UInt8](try Evaluation.plot(report, title: title).pngData()), to: plot)
            }
        } catch { throw fail(error) }
        for note in report.notes { printError(note) }
        for skipped in report.skipped { printError("skipped: \(skipped)") }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        func f(_ v: Double?, _ digits: Int) -> String { v.map { String(format: "%.\(digits)f", $0) } ?? "lossless" }
        print("model \(report.model) (fingerprint \(report.fingerprint.prefix(16))), \(report.images.count) images")
        if report.images.count <= 50 {
            print("\nper image: ours at all levels, then PNG")
            for image in report.images {
                let ours = image.points.filter { $0.codec == "vqc" }.last
                let png = image.points.first { $0.codec == "png" }
                print("  \(image.path) \(image.width)x\(image.height): vqc \(Int(ours?.bytes ?? 0)) B \(f(ours?.bitsPerPixel, 3)) bpp "
                      + "PSNR \(f(ours?.psnr, 2)) dB SSIM \(f(ours?.ssim, 4)); png \(Int(png?.bytes ?? 0)) B \(f(png?.bitsPerPixel, 3)) bpp")
            }
        }
        print("\naverages over \(report.images.count) images")
        print(pad("codec", 14) + pad("setting", 10) + pad("bytes", 10) + pad("bpp", 9) + pad("PSNR dB", 10) + "SSIM")
        for p in report.averages {
            print(pad(p.codec, 14) + pad(p.setting, 10) + pad(String(format: "%.1f", p.bytes), 10) + pad(f(p.bitsPerPixel, 3), 9)
                  + pad(f(p.psnr, 2), 10) + f(p.ssim, 4))
        }
        if let plot { print("\nrate-distortion chart: \(plot)") }
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
}
