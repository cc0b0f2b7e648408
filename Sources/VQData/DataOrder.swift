import VQEngine

/// The order in which a training run visits its examples: a reproducible shuffle per epoch, and the
/// position reached, so a resumed run continues with exactly the batches an uninterrupted run would see.
public struct DataOrder: Codable, Sendable, Equatable {
    public let count: Int
    public let seed: UInt64
    public private(set) var epoch: Int
    /// Index into `permutation` of the next example.
    public private(set) var position: Int
    public private(set) var permutation: [Int]

    public init(count: Int, seed: UInt64, epoch: Int = 0) {
        self.count = count
        self.seed = seed
        self.epoch = epoch
        self.position = 0
        self.permutation = DataOrder.shuffle(count: count, seed: seed, epoch: epoch)
    }

    static func shuffle(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = RandomGenerator(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        return rng.permutation(count)
    }

    /// Batches left in the current epoch (the last partial batch is dropped, as `drop_last=True`).
    public func batchesLeft(batchSize: Int) -> Int { (count - position) / batchSize }

    /// The next batch's example indices, or nil at the end of the epoch (call `nextEpoch()`).
    public mutating func nextBatch(size: Int) -> ArraySlice<Int>? {
        guard position + size <= count else { return nil }
        defer { position += size }
        return permutation[position..<(position + size)]
    }

    public mutating func nextEpoch() {
        epoch += 1
        position = 0
        permutation = DataOrder.shuffle(count: count, seed: seed, epoch: epoch)
    }
}
