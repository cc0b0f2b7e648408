import Foundation
import VQData
import VQEngine
import VQImage
import VQModels

/// The pictures of the course notes, drawn from a trained VAE and the test set.
public enum VAEPlotKind: String, CaseIterable, Sendable {
    case reconstructions, samples, interpolation, manifold, scatter, analogies
}

public struct VAEPlotOptions: Sendable {
    /// Grid size of the manifold (15 or 30 in the notes).
    public var manifoldSize = 15
    /// Rows of reconstructions, interpolations or analogies.
    public var rows = 8
    /// Columns of samples, or steps of an interpolation.
    public var columns = 10
    /// At most this many test points in the scatter plot.
    public var scatterPoints = 10_000
    public var seed: UInt64 = 0
    public init() {}
}

public enum VAEPlots {
    /// Draws `kind`. Errors say when the model or data cannot make that picture.
    public static func draw(_ kind: VAEPlotKind, model: any VariationalAutoencoder, test: LabeledImages,
                            options: VAEPlotOptions = .init()) throws -> Image {
        try VAEEvaluation.check(test, for: model, source: "the test data")
        var rng = RandomGenerator(seed: options.seed)
        return try Autograd.withoutRecording { () throws -> Image in
            switch kind {
            case .reconstructions: return reconstructions(model, test, rows: options.rows, columns: options.columns)
            case .samples: return samples(model, rows: options.rows, columns: options.columns, rng: &rng)
            case .interpolation: return interpolation(model, test, rows: options.rows, steps: options.columns)
            case .manifold:
                guard model.latentSize == 2 else { throw VAEError.needsLatentSize(expected: 2, found: model.latentSize, kind: kind.rawValue) }
                guard model.classes == 0 else { throw VAEError.invalidArgument("the manifold picture is drawn for unconditional models; this one is conditional") }
                return manifold(model, size: options.manifoldSize)
            case .scatter:
                guard test.labels.count == test.count else { throw VAEError.needsLabels(what: "the scatter plot (colours by class)") }
                return scatter(model, test, points: options.scatterPoints)
            case .analogies:
                guard model.classes > 0 else { throw VAEError.needsConditionalModel(kind: kind.rawValue) }
                return analogies(model, test, rows: options.rows)
            }
        }
    }

    /// Images from flat model outputs [N, C*H*W].
    static func images(_ flat: Tensor, shape: [Int]) -> [Image] {
        let size = shape.reduce(1, *)
        return (0..<flat.shape[0]).map { i in
            Image(tensor: Tensor(shape: shape, data: Array(flat.data[(i * size)..<((i + 1) * size)])))
        }
    }

    static func labels(_ test: LabeledImages, _ indices: [Int], _ model: any VariationalAutoencoder) -> [Int]? {
        model.classes > 0 ? indices.map { test.labels[$0] } : nil
    }

    /// Rows in pairs: test images, then their reconstructions decoded from the posterior mean.
    static func reconstructions(_ model: any VariationalAutoencoder, _ test: LabeledImages, rows: Int, columns: Int) -> Image {
        let pairs = Swift.max(1, rows / 2)
        let indices = Array(0..<Swift.min(test.count, pairs * columns))
        let (x, labels) = test.batch(indices, conditional: model.classes > 0)
        let (mean, _) = model.encode(x, labels: labels)
        let originals = images(x.reshaped([indices.count, -1]), shape: model.imageShape)
        let decoded = images(model.decode(mean, labels: labels), shape: model.imageShape)
        var tiles: [Image] = []
        for r in 0..<((indices.count + columns - 1) / columns) {
            let range = (r * columns)..<Swift.min(indices.count, (r + 1) * columns)
            tiles += originals[range] + Array(repeating: blank(model), count: columns - range.count)
            tiles += decoded[range] + Array(repeating: blank(model), count: columns - range.count)
        }
        return Image.grid(tiles, columns: columns)
    }

    static func blank(_ model: any VariationalAutoencoder) -> Image {
        let s = model.imageShape
        return Image(width: s[2], height: s[1], channels: s[0], pixels: [UInt8](repeating: 255, count: s.reduce(1, *)))
    }

    /// Decoded z ~ N(0, I); a conditional model gets class c in column c (mod its classes).
    static func samples(_ model: any VariationalAutoencoder, rows: Int, columns: Int, rng: inout RandomGenerator) -> Image {
        let n = rows * columns
        let z = rng.normal([n, model.latentSize])
        let labels = model.classes > 0 ? (0..<n).map { $0 % columns % model.classes } : nil
        return Image.grid(images(model.decode(z, labels: labels), shape: model.imageShape), columns: columns)
    }

    /// Each row: a test image, the decodings of z1 + t (z2 - z1) for t = 0...1 (posterior means of two test
    /// images of different classes), and the second test image.
    static func interpolation(_ model: any VariationalAutoencoder, _ test: LabeledImages, rows: Int, steps: Int) -> Image {
        var tiles: [Image] = []
        var next = 0
        for _ in 0..<rows {
            guard next + 1 < test.count else { break }
            let a = next
            var b = a + 1
            if !test.labels.isEmpty { while b + 1 < test.count && test.labels[b] == test.labels[a] { b += 1 } }
            next = b + 1
            let (x, labels) = test.batch([a, b], conditional: model.classes > 0)
            let (mean, _) = model.encode(x, labels: labels)
            let l = model.latentSize
            let z1 = Array(mean.data[0..<l]), z2 = Array(mean.data[l..<(2 * l)])
            var path = [Float]()
            for s in 0..<steps {
                let t = Float(s) / Float(Swift.max(steps - 1, 1))
                for j in 0..<l { path.append(z1[j] + t * (z2[j] - z1[j])) }
            }
            // A conditional model keeps the first image's label along the path.
            let pathLabels = labels.map { Array(repeating: $0[0], count: steps) }
            let originals = images(x.reshaped([2, -1]), shape: model.imageShape)
            tiles.append(originals[0])
            tiles += images(model.decode(Tensor(shape: [steps, l], data: path), labels: pathLabels), shape: model.imageShape)
            tiles.append(originals[1])
        }
        return Image.grid(tiles, columns: steps + 2)
    }

    /// The 2-D latent space as a size x size grid of decoded digits, at the standard normal's quantiles
    /// (0.5 + i) / size: z1 grows to the right, z2 upwards, as in Kingma & Welling's figure.
    static func manifold(_ model: any VariationalAutoencoder, size: Int) -> Image {
        var z = [Float]()
        for row in 0..<size {
            for column in 0..<size {
                z.append(Float(normalQuantile((Double(column) + 0.5) / Double(size))))
                z.append(Float(normalQuantile((Double(size - 1 - row) + 0.5) / Double(size))))
            }
        }
        let decoded = model.decode(Tensor(shape: [size * size, 2], data: z), labels: nil)
        return Image.grid(images(decoded, shape: model.imageShape), columns: size, gap: 0)
    }

    /// The analogies of the conditional VAE: each row takes the style z (posterior mean) of one test image and
    /// decodes it with every class label; the first column is the test image itself.
    static func analogies(_ model: any VariationalAutoencoder, _ test: LabeledImages, rows: Int) -> Image {
        let indices = Array(0..<Swift.min(rows, test.count))
        let (x, labels) = test.batch(indices, conditional: true)
        let (mean, _) = model.encode(x, labels: labels)
        let l = model.latentSize, k = Swift.min(model.classes, 10)
        var z = [Float](), targets = [Int]()
        for r in indices.indices {
            for c in 0..<k { z += mean.data[(r * l)..<((r + 1) * l)]; targets.append(c) }
        }
        let decoded = images(model.decode(Tensor(shape: [indices.count * k, l], data: z), labels: targets), shape: model.imageShape)
        let originals = images(x.reshaped([indices.count, -1]), shape: model.imageShape)
        var tiles: [Image] = []
        for r in indices.indices {
            tiles.append(originals[r])
            tiles += decoded[(r * k)..<((r + 1) * k)]
        }
        return Image.grid(tiles, columns: k + 1)
    }
}

/// The standard normal quantile function (Acklam's rational approximation, relative error below 1.2e-9).
func normalQuantile(_ p: Double) -> Double {
    let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
    let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
    let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
    let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
    let low = 0.02425
    if p < low {
        let q = (-2 * Foundation.log(p)).squareRoot()
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    }
    if p > 1 - low { return -normalQuantile(1 - p) }
    let q = p - 0.5, r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
}
