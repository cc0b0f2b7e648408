/// Embedding lookup: rows of a table picked by integer indices; the backward scatter-adds into the table.
extension Tensor {
    /// Rows `indices` of this [V, D] table, shaped `indexShape + [D]`.
    public func embeddingLookup(_ indices: [Int], indexShape: [Int]) -> Tensor {
        precondition(rank == 2, "embedding: table must be [V, D], found shape \(shape)")
        precondition(indexShape.elementCount == indices.count, "embedding: index shape \(indexShape) does not hold \(indices.count) indices")
        let rows = shape[0], width = shape[1]
        for index in indices {
            precondition(index >= 0 && index < rows, "embedding: index \(index) is outside the table's \(rows) rows")
        }
        let out = data.withUnsafeBufferPointer { table in
            uninitializedFloats(indices.count * width) { o in
                for (i, index) in indices.enumerated() {
                    (o.baseAddress! + i * width).update(from: table.baseAddress! + index * width, count: width)
                }
            }
        }
        return Tensor.recorded("embedding", shape: indexShape + [width], data: out, inputs: [self]) { r in
            let g = r.grad!
            self.accumulateInPlace { gt in
                for (i, index) in indices.enumerated() {
                    for j in 0..<width { gt[index * width + j] += g[i * width + j] }
                }
            }
        }
    }
}
