import Foundation

/// Summary statistics of a tensor's values. Min, max, mean and std are over the finite elements only
/// (nil when there are none); NaN and infinities are counted separately.
public struct TensorStatistics: Codable, Sendable, Equatable {
    public var min: Double?
    public var max: Double?
    public var mean: Double?
    /// Population standard deviation (divides by the count, as `torch.std(unbiased=False)`).
    public var std: Double?
    public var nanCount: Int
    public var infinityCount: Int

    public init(_ values: [Double]) {
        var count = 0, nan = 0, infinite = 0
        var low = Double.infinity, high = -Double.infinity
        // Welford's update: stable for long tensors with a large mean.
        var mean = 0.0, m2 = 0.0
        for v in values {
            if v.isNaN { nan += 1; continue }
            if v.isInfinite { infinite += 1; continue }
            count += 1
            low = Swift.min(low, v)
            high = Swift.max(high, v)
            let delta = v - mean
            mean += delta / Double(count)
            m2 += delta * (v - mean)
        }
        self.min = count > 0 ? low : nil
        self.max = count > 0 ? high : nil
        self.mean = count > 0 ? mean : nil
        self.std = count > 0 ? (m2 / Double(count)).squareRoot() : nil
        nanCount = nan
        infinityCount = infinite
    }
}

/// How two tensors of the same shape differ.
public struct TensorDifference: Codable, Sendable, Equatable {
    public var name: String
    /// The largest |a - b| (infinity when NaN or infinity appears on one side only).
    public var maxAbsoluteDifference: Double
    /// ||a - b||_2 / max(||a||_2, ||b||_2), 0 when both are zero.
    public var relativeL2Difference: Double
    /// The share of elements that differ (NaN equals NaN here; -0 equals +0).
    public var changedFraction: Double
    public var withinTolerance: Bool

    init(name: String, a: [Double], b: [Double], tolerance: Double) {
        self.name = name
        var maxDiff = 0.0, diffSquares = 0.0, aSquares = 0.0, bSquares = 0.0, changed = 0
        for (x, y) in zip(a, b) {
            if x.isNaN && y.isNaN { continue }
            if x == y { aSquares += x.isFinite ? x * x : 0; bSquares += y.isFinite ? y * y : 0; continue }
            changed += 1
            let d = (x - y).magnitude
            maxDiff = Swift.max(maxDiff, d.isNaN ? .infinity : d)
            if d.isFinite { diffSquares += d * d }
            if x.isFinite { aSquares += x * x }
            if y.isFinite { bSquares += y * y }
        }
        maxAbsoluteDifference = maxDiff
        let scale = Swift.max(aSquares, bSquares).squareRoot()
        relativeL2Difference = diffSquares == 0 ? (maxDiff.isInfinite ? .infinity : 0) : diffSquares.squareRoot() / scale
        changedFraction = a.isEmpty ? 0 : Double(changed) / Double(a.count)
        withinTolerance = maxDiff <= tolerance
    }
}

extension JSONEncoder {
    /// Sorted keys, and NaN/infinity as the strings "nan", "inf", "-inf" (plain JSON has no such numbers).
    static var checkpointReports: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }
}

/// Compact number formatting for reports.
func formatNumber(_ value: Double?) -> String {
    guard let value else { return "-" }
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    if value == 0 { return "0" }
    let magnitude = Swift.abs(value)
    if magnitude >= 1e-3 && magnitude < 1e6 { return String(format: "%.6g", value) }
    return String(format: "%.4e", value)
}

/// "1,234,567".
func groupedInteger(_ value: Int) -> String {
    let digits = String(Swift.abs(value))
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (value < 0 ? "-" : "") + out
}
