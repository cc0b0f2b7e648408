import Testing
@testable import VQEngine

/// The nearest-code scan against the plain three-step definition it replaced: the distances, their minimum
/// ignoring NaN, then the first index at or below it (the last index when there is none).
@Suite struct NearestCodeTests {
    static func reference(dots: [Float], squaredNorm: Float, codeNorms: [Float]) -> Int {
        let distances = zip(dots, codeNorms).map { (squaredNorm + $0) + $1 }
        var best = Float.infinity
        for d in distances where d < best { best = d }
        var index = 0
        while index < distances.count - 1 && !(distances[index] <= best) { index += 1 }
        return index
    }

    static func scan(_ dots: [Float], _ squaredNorm: Float, _ codeNorms: [Float]) -> Int {
        dots.withUnsafeBufferPointer { d in
            codeNorms.withUnsafeBufferPointer { n in
                nearestIndex(dots: d.baseAddress!, squaredNorm: squaredNorm, codeNorms: n.baseAddress!, codes: d.count)
            }
        }
    }

    @Test func matchesTheDefinitionOnTiesNaNsAndInfinities() {
        var rng = RandomGenerator(seed: 11)
        for codes in [1, 3, 7, 8, 9, 15, 16, 17, 24, 64, 70, 512] {
            for pattern in 0..<12 {
                // Few distinct values, so ties fall in every lane, across lanes and in the tail.
                var dots = rng.uniform([codes]).data.map { Float(Int($0 * 4)) }
                let codeNorms = rng.uniform([codes]).data.map { Float(Int($0 * 2)) }
                switch pattern {
                case 1: dots[codes - 1] = -100  // the minimum in the last slot (the tail when codes % 8 != 0)
                case 2: dots[codes / 2] = .nan
                case 3: dots = dots.map { _ in .nan }  // no distance at all: the last index
                case 4: dots = dots.map { _ in .infinity }  // nothing finite: the first index
                case 5: for i in stride(from: 0, to: codes, by: 2) { dots[i] = .nan }; dots[codes - 1] = .infinity
                case 6: dots[0] = -.infinity; dots[codes - 1] = -.infinity
                case 7: dots = dots.map { _ in -5 }  // all tied: index 0
                case 8: for i in 0..<codes where i % 8 != 5 { dots[i] = .nan }  // only lane 5 is a number
                case 9: dots = dots.enumerated().map { $0.offset >= codes / 8 * 8 ? -50 : .infinity }
                default: break
                }
                let expected = Self.reference(dots: dots, squaredNorm: 0.5, codeNorms: codeNorms)
                #expect(Self.scan(dots, 0.5, codeNorms) == expected, "codes \(codes), pattern \(pattern)")
            }
        }
    }

    @Test func squaredNormsSumInTheOrderOfOneRowAtATime() {
        var rng = RandomGenerator(seed: 12)
        for (count, dimension) in [(1, 5), (4, 64), (7, 64), (13, 3)] {
            let rows = rng.normal([count, dimension]).data.map { $0 * 1000 }
            var norms = [Float](repeating: .nan, count: count)
            rows.withUnsafeBufferPointer { r in
                norms.withUnsafeMutableBufferPointer { squaredNorms(r.baseAddress!, rows: count, dimension: dimension, into: $0.baseAddress!) }
            }
            for r in 0..<count {
                var s: Float = 0
                for d in 0..<dimension { s += rows[r * dimension + d] * rows[r * dimension + d] }
                #expect(norms[r].bitPattern == s.bitPattern, "row \(r) of \(count) x \(dimension)")
            }
        }
    }
}
