import Foundation

/// What is known about a built-in model without loading it: its file, and the figures measured when it was
/// trained (`Models/<name>.json`, written by `Tools/train/evaluate.sh`).
public struct BuiltinModelInfo: Sendable {
    public let builtin: BuiltinTokenizer
    /// The weights file, or nil when this build lacks it.
    public let url: URL?
    public let fileSize: Int?
    /// Measured figures (name -> value and text), if recorded.
    public let figures: BuiltinFigures?

    public static func all() -> [BuiltinModelInfo] {
        BuiltinTokenizer.allCases.map { builtin in
            let url = Tokenizer.builtinURL(builtin)
            let size = url.flatMap { try? FileManager.default.attributesOfItem(atPath: $0.path)[.size] as? Int }
            let figures = Bundle.module.url(forResource: builtin.rawValue, withExtension: "json", subdirectory: "Models")
                .flatMap { try? Data(contentsOf: $0) }
                .flatMap { try? JSONDecoder().decode(BuiltinFigures.self, from: $0) }
            return BuiltinModelInfo(builtin: builtin, url: url, fileSize: size, figures: figures)
        }
    }
}

/// Figures recorded for a built-in model.
public struct BuiltinFigures: Codable, Sendable {
    /// The data set the figures were measured on ("MNIST test (10,000)", "Kodak (24)").
    public var evaluatedOn: String
    /// One entry per residual level count.
    public var levels: [Level]
    /// Throughput measured on this machine, e.g. "encode 9000 images/s (batch 256, 2 threads)".
    public var throughput: [String]
    /// How long training ran, and how far it got.
    public var training: String
    /// Share of tokens that encode -> decode -> encode reproduces.
    public var reencodeAgreement: Double?

    public struct Level: Codable, Sendable {
        public var levels: Int
        public var psnr: Double
        public var bitsPerPixel: Double
        public var codebookUsage: Double
        public var perplexity: Double

        public init(levels: Int, psnr: Double, bitsPerPixel: Double, codebookUsage: Double, perplexity: Double) {
            self.levels = levels
            self.psnr = psnr
            self.bitsPerPixel = bitsPerPixel
            self.codebookUsage = codebookUsage
            self.perplexity = perplexity
        }
    }

    public init(evaluatedOn: String, levels: [Level], throughput: [String], training: String, reencodeAgreement: Double? = nil) {
        self.reencodeAgreement = reencodeAgreement
        self.evaluatedOn = evaluatedOn
        self.levels = levels
        self.throughput = throughput
        self.training = training
    }
}
