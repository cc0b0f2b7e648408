/// Several float arrays created uninitialised and filled together, so that one parallel pass can write into
/// all of them: `[Float](unsafeUninitializedCapacity:)` lends its buffer only inside its closure, so each
/// array's closure opens the next one, and `fill` runs in the innermost with every buffer.
enum UninitializedArrays {
    /// Arrays of `counts` elements that `fill` must write completely; when `fill` returns false, the arrays
    /// come back empty.
    static func make(counts: [Int], fill: ([UnsafeMutableBufferPointer<Float>]) -> Bool) -> [[Float]] {
        var buffers: [UnsafeMutableBufferPointer<Float>] = []
        buffers.reserveCapacity(counts.count)
        var filled = false
        func open(_ index: Int) -> [[Float]] {
            guard index < counts.count else {
                filled = fill(buffers)
                return []
            }
            var rest: [[Float]] = []
            let array = [Float](unsafeUninitializedCapacity: counts[index]) { buffer, initialized in
                if let base = buffer.baseAddress { HugePages.advise(UnsafeMutableRawPointer(base), count: buffer.count * 4) }
                buffers.append(buffer)
                rest = open(index + 1)
                initialized = filled ? counts[index] : 0
            }
            return [array] + rest
        }
        return open(0)
    }
}
