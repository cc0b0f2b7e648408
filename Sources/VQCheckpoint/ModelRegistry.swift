import Foundation
import VQEngine
import VQLayers
import VQModels

/// The model kinds a checkpoint can name, and how to rebuild each from its recorded configuration.
/// Configurations from files are checked before anything is built, so a damaged or hostile file cannot make
/// a layer constructor trap or allocate without bound.
public enum ModelRegistry {
    public static let kinds = [MLPVAE.kind, ConvVQVAE.kind, TokenPrior.kind, ConvVAE.kind, PhotoVQVAE.kind, ContextPrior.kind]

    /// At most this many parameters (1 GiB of float32) in a configuration read from a file.
    public static let parameterLimit = 1 << 28

    /// The configuration as canonical JSON (sorted keys), as stored in checkpoints.
    public static func configurationJSON<M: ConfigurableModel>(of model: M) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding plain structs of numbers cannot fail.
        let data = (try? encoder.encode(model.configuration)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The default configuration of `kind` as JSON.
    public static func defaultConfigurationJSON(kind: String) throws(CheckpointError) -> String {
        func json<C: Encodable>(_ configuration: C) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return String(decoding: (try? encoder.encode(configuration)) ?? Data("{}".utf8), as: UTF8.self)
        }
        switch kind {
        case MLPVAE.kind: return json(MLPVAE.Configuration())
        case ConvVQVAE.kind: return json(ConvVQVAE.Configuration())
        case TokenPrior.kind: return json(TokenPrior.Configuration())
        case PhotoVQVAE.kind: return json(PhotoVQVAE.Configuration())
        case ConvVAE.kind: return json(ConvVAE.Configuration())
        case ContextPrior.kind: return json(ContextPrior.Configuration())
        default: throw .unknownModelKind(kind)
        }
    }

    /// Decodes and checks a configuration of `kind`; returns an upper bound of the parameter count it implies
    /// (exact for the plain reference models).
    @discardableResult
    public static func validate(kind: String, configurationJSON json: String) throws(CheckpointError) -> Int {
        switch kind {
        case MLPVAE.kind: return try parameterCount(decode(MLPVAE.Configuration.self, kind: kind, json: json))
        case ConvVQVAE.kind: return try parameterCount(decode(ConvVQVAE.Configuration.self, kind: kind, json: json))
        case TokenPrior.kind: return try parameterCount(decode(TokenPrior.Configuration.self, kind: kind, json: json))
        case ConvVAE.kind: return try parameterCount(decode(ConvVAE.Configuration.self, kind: kind, json: json))
        case PhotoVQVAE.kind: return try parameterCount(decode(PhotoVQVAE.Configuration.self, kind: kind, json: json))
        case ContextPrior.kind: return try parameterCount(decode(ContextPrior.Configuration.self, kind: kind, json: json))
        default: throw .unknownModelKind(kind)
        }
    }

    /// A freshly initialised model of `kind` (weights drawn from `seed`, to be overwritten by a checkpoint).
    public static func makeModel(kind: String, configurationJSON json: String, seed: UInt64 = 0) throws(CheckpointError) -> any Layer {
        try validate(kind: kind, configurationJSON: json)
        var rng = RandomGenerator(seed: seed)
        switch kind {
        case MLPVAE.kind: return MLPVAE(configuration: try decode(MLPVAE.Configuration.self, kind: kind, json: json), rng: &rng)
        case ConvVQVAE.kind: return ConvVQVAE(configuration: try decode(ConvVQVAE.Configuration.self, kind: kind, json: json), rng: &rng)
        case TokenPrior.kind: return TokenPrior(configuration: try decode(TokenPrior.Configuration.self, kind: kind, json: json), rng: &rng)
        case ConvVAE.kind: return ConvVAE(configuration: try decode(ConvVAE.Configuration.self, kind: kind, json: json), rng: &rng)
        case PhotoVQVAE.kind: return PhotoVQVAE(configuration: try decode(PhotoVQVAE.Configuration.self, kind: kind, json: json), rng: &rng)
        case ContextPrior.kind: return ContextPrior(configuration: try decode(ContextPrior.Configuration.self, kind: kind, json: json), rng: &rng)
        default: throw .unknownModelKind(kind)
        }
    }

    static func decode<C: Decodable>(_ type: C.Type, kind: String, json: String) throws(CheckpointError) -> C {
        do {
            return try JSONDecoder().decode(C.self, from: Data(json.utf8))
        } catch {
            throw .invalidConfiguration(kind: kind, detail: "cannot decode \(json.prefix(200)): \(error)")
        }
    }

    // MARK: Parameter counts from configurations, checked before building.

    private static func require(_ condition: Bool, _ kind: String, _ detail: String) throws(CheckpointError) {
        if !condition { throw .invalidConfiguration(kind: kind, detail: detail) }
    }

    private static func sizes(_ kind: String, _ values: [(String, Int)], max: Int = 1 << 20) throws(CheckpointError) {
        for (name, value) in values {
            try require(value >= 1 && value <= max, kind, "\(name) is \(value); expected 1...\(max)")
        }
    }

    private static func bounded(_ kind: String, _ count: Double) throws(CheckpointError) -> Int {
        try require(count <= Double(parameterLimit), kind, "it implies \(count) parameters, more than the limit of \(parameterLimit)")
        return Int(count)
    }

    static func parameterCount(_ c: MLPVAE.Configuration) throws(CheckpointError) -> Int {
        let kind = MLPVAE.kind
        try sizes(kind, [("inputSize", c.inputSize), ("hiddenSize", c.hiddenSize), ("latentSize", c.latentSize)])
        try vaeOptions(kind, classes: c.classes, outputVariance: c.outputVariance)
        let (i, h, l, y) = (Double(c.inputSize), Double(c.hiddenSize), Double(c.latentSize), Double(c.classes))
        return try bounded(kind, ((i + y) * h + h) + 2 * (h * l + l) + ((l + y) * h + h) + (h * i + i))
    }

    private static func vaeOptions(_ kind: String, classes: Int, outputVariance: Float) throws(CheckpointError) {
        try require(classes >= 0 && classes <= 1 << 16, kind, "classes is \(classes); expected 0...65536")
        try require(outputVariance.isFinite && outputVariance > 0, kind, "outputVariance is \(outputVariance); expected a positive number")
    }

    static func parameterCount(_ c: ConvVAE.Configuration) throws(CheckpointError) -> Int {
        let kind = ConvVAE.kind
        try sizes(kind, [("channels", c.channels), ("height", c.height), ("width", c.width), ("hiddenChannels", c.hiddenChannels),
                         ("featureChannels", c.featureChannels), ("denseSize", c.denseSize), ("latentSize", c.latentSize)])
        try require(c.height % 4 == 0 && c.width % 4 == 0, kind, "height and width are \(c.height)x\(c.width); expected multiples of 4")
        try vaeOptions(kind, classes: c.classes, outputVariance: c.outputVariance)
        let (ch, h, f, d, l, y) = (Double(c.channels), Double(c.hiddenChannels), Double(c.featureChannels), Double(c.denseSize),
                                   Double(c.latentSize), Double(c.classes))
        let features = f * Double(c.height / 4) * Double(c.width / 4)
        let encoder = (ch * h * 9 + h) + (h * f * 9 + f) + ((features + y) * d + d) + 2 * (d * l + l)
        let decoder = ((l + y) * features + features) + (f * f * 9 + f) + (f * h * 9 + h) + (h * ch * 9 + ch)
        return try bounded(kind, encoder + decoder)
    }

    static func parameterCount(_ c: ConvVQVAE.Configuration) throws(CheckpointError) -> Int {
        let kind = ConvVQVAE.kind
        try sizes(kind, [("channels", c.channels), ("hiddenChannels", c.hiddenChannels),
                         ("latentChannels", c.latentChannels), ("codes", c.codes)])
        try require(c.commitmentWeight.isFinite, kind, "commitmentWeight is \(c.commitmentWeight); expected a finite number")
        let (ch, h, l) = (Double(c.channels), Double(c.hiddenChannels), Double(c.latentChannels))
        let encoder = (ch * h * 16 + h) + (h * l * 16 + l) + (l * l * 9 + l)
        let decoder = (l * l * 9 + l) + (l * h * 16 + h) + (h * ch * 16 + ch)
        let quantizer = c.quantizer == nil ? Double(c.codes) * l : try quantizerBound(kind, c.quantizerOptions, codes: c.codes, dimension: c.latentChannels)
        return try bounded(kind, encoder + quantizer + decoder)
    }

    /// At most: per level a codebook, EMA sums of the same size, and a few per-code and scalar buffers.
    private static func quantizerBound(_ kind: String, _ options: QuantizerOptions, codes: Int, dimension: Int) throws(CheckpointError) -> Double {
        if let problem = options.problem { throw .invalidConfiguration(kind: kind, detail: "quantizer: \(problem)") }
        let (k, d) = (Double(codes), Double(dimension))
        return Double(options.levels) * (3 * k * d + 4 * k + 8)
    }

    static func parameterCount(_ c: PhotoVQVAE.Configuration) throws(CheckpointError) -> Int {
        let kind = PhotoVQVAE.kind
        if let problem = c.problem { throw .invalidConfiguration(kind: kind, detail: problem) }
        let s = c.stageChannels.map(Double.init)
        let (ch, l, top) = (Double(c.channels), Double(c.latentChannels), s.last!)
        var count = (ch * s[0] * 9 + s[0]) + (s[0] * ch * 9 + ch)  // encoder in, decoder out
        for i in 0..<(s.count - 1) { count += 2 * (s[i] * s[i + 1] * 16 + s[i + 1]) }  // down and up
        count += 2 * Double(c.residualBlocks) * (top * top * 9 + top + top * top + top)
        count += (top * l + l) + (l * top * 9 + top)  // enc.out, dec.in
        return try bounded(kind, count + quantizerBound(kind, c.quantizer, codes: c.codes, dimension: c.latentChannels))
    }

    static func parameterCount(_ c: TokenPrior.Configuration) throws(CheckpointError) -> Int {
        let kind = TokenPrior.kind
        try sizes(kind, [("vocabulary", c.vocabulary), ("sequenceLength", c.sequenceLength), ("dimension", c.dimension),
                         ("heads", c.heads), ("hiddenSize", c.hiddenSize)])
        try require(c.layers >= 0 && c.layers <= 1024, kind, "layers is \(c.layers); expected 0...1024")
        try require(c.dimension % c.heads == 0, kind, "dimension \(c.dimension) is not divisible by \(c.heads) heads")
        try require(c.classes >= 0 && c.classes <= 1 << 16, kind, "classes is \(c.classes); expected 0...65536")
        let (v, s, d, f) = (Double(c.vocabulary), Double(c.sequenceLength), Double(c.dimension), Double(c.hiddenSize))
        let block = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (d * f + f) + (f * d + d)
        return try bounded(kind, (v + 1 + Double(c.classes)) * d + s * d + Double(c.layers) * block + 2 * d + (d * v + v))
    }

    static func parameterCount(_ c: ContextPrior.Configuration) throws(CheckpointError) -> Int {
        let kind = ContextPrior.kind
        try sizes(kind, [("vocabulary", c.vocabulary), ("embedding", c.embedding), ("hiddenSize", c.hiddenSize)])
        try require(c.vocabulary >= 2 && c.vocabulary <= 65536, kind, "vocabulary is \(c.vocabulary); expected 2...65536")
        try require(c.levels >= 1 && c.levels <= 4, kind, "levels is \(c.levels); expected 1...4")
        let (v, e, h, s) = (Double(c.vocabulary), Double(c.embedding), Double(c.hiddenSize), Double(c.slots))
        return try bounded(kind, s * (v + 1) * e + Double(c.levels) * h + (s * e * h + h) + (h * v + v))
    }
}
