import VQEngine
import VQLayers

/// Nearest-code quantisation of the VQ-VAE: each D-vector of the encoder output is replaced by its nearest
/// codebook entry (squared distance ||z||^2 - 2 z.e + ||e||^2, ties to the lowest index). Gradients use
/// the straight-through estimator: the decoder's gradient passes to the encoder unchanged, and the codebook
/// learns only from ||sg[z_e] - e||^2 (or, with `.ema`, follows moving averages of its assigned vectors).
///
/// Buffers (saved with the parameters, PyTorch-style): `ema_cluster_size` [K] and `ema_embed_sum` [K, D] for
/// EMA; `code_age` [K] (training steps since each code was last chosen) and `steps` [1] for dead-code
/// restarts; `initialized` [1] for k-means initialisation. The plain configuration has none.
public final class VectorQuantizer: Quantizer {
    /// The codebook [codes, dimension], initialised U(-1/codes, 1/codes).
    public let codebook: Tensor
    public let options: QuantizerOptions
    public let emaClusterSize: Tensor?
    public let emaEmbedSum: Tensor?
    public let codeAge: Tensor?
    public let steps: Tensor?
    public let initialized: Tensor?
    public var isTraining = false
    /// Distinguishes the random streams of restarts in different residual levels.
    let salt: UInt64
    private var counts: [Int]

    public convenience init(codes: Int, dimension: Int, rng: inout RandomGenerator) {
        self.init(codes: codes, dimension: dimension, options: QuantizerOptions(), rng: &rng)
    }

    public init(codes: Int, dimension: Int, options: QuantizerOptions, salt: UInt64 = 0, rng: inout RandomGenerator) {
        codebook = rng.uniform([codes, dimension], low: -1 / Float(codes), high: 1 / Float(codes))
        self.options = options
        self.salt = salt
        let ema = options.kind == .ema
        codebook.requiresGrad = !ema
        // Each code starts as if it had been seen once, so unused codes keep their value instead of dividing by ~0.
        emaClusterSize = ema ? Tensor(repeating: 1, shape: [codes]) : nil
        emaEmbedSum = ema ? Tensor(shape: [codes, dimension], data: codebook.data) : nil
        codeAge = options.deadCodeSteps > 0 ? Tensor(zeros: [codes]) : nil
        steps = options.deadCodeSteps > 0 ? Tensor(zeros: [1]) : nil
        initialized = options.kmeansInit ? Tensor(zeros: [1]) : nil
        counts = [Int](repeating: 0, count: codes)
    }

    public var codes: Int { codebook.shape[0] }
    public var dimension: Int { codebook.shape[1] }
    public var codebookSizes: [Int] { [codes] }
    public var codebookParameterNames: [String] { ["codebook"] }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        var result: [(name: String, tensor: Tensor)] = [("codebook", codebook)]
        if let emaClusterSize, let emaEmbedSum { result += [("ema_cluster_size", emaClusterSize), ("ema_embed_sum", emaEmbedSum)] }
        if let codeAge, let steps { result += [("code_age", codeAge), ("steps", steps)] }
        if let initialized { result.append(("initialized", initialized)) }
        return result
    }

    public var usageCounts: [[Int]] { [counts] }
    public func resetStatistics() { counts = [Int](repeating: 0, count: codes) }
    public var deadCodeCounts: [Int] {
        guard let codeAge else { return [] }
        return [codeAge.data.filter { $0 >= Float(options.deadCodeSteps) }.count]
    }

    /// Indices of the nearest codes for vectors [N, D].
    public func nearestCodes(_ vectors: Tensor) -> [Int] {
        vectors.nearestRows(in: codebook)
    }

    /// Codebook rows for `indices`, as NCHW [B, D, H, W].
    public func lookup(_ indices: [Int], batch: Int, height: Int, width: Int) -> Tensor {
        codebook.embeddingLookup(indices, indexShape: [batch, height, width]).permuted([0, 3, 1, 2])
    }

    public func indices(for encoded: Tensor, levels: Int) -> [[Int]] {
        [nearestCodes(channelsLast(encoded.detached()))]
    }

    public func embed(_ indices: [[Int]], batch: Int, height: Int, width: Int) -> Tensor {
        lookup(indices[0], batch: batch, height: height, width: width)
    }

    /// One level's work: the chosen codes (values without the straight-through), their indices, and the
    /// unweighted codebook and commitment losses. Training passes also maintain the codebook.
    func quantizeLevel(_ encoded: Tensor) -> (values: Tensor, indices: [Int], codebookLoss: Tensor, commitmentLoss: Tensor) {
        precondition(encoded.rank == 4 && encoded.shape[1] == dimension,
                     "VectorQuantizer: expects [B, \(dimension), H, W], found \(encoded.shape)")
        let (b, h, w) = (encoded.shape[0], encoded.shape[2], encoded.shape[3])
        let flat = channelsLast(encoded.detached())
        if isTraining, let initialized, initialized.data[0] == 0 {
            initializeByKMeans(flat)
            initialized.data[0] = 1
        }
        let indices = nearestCodes(flat)
        let values = lookup(indices, batch: b, height: h, width: w)
        let codebookLoss = mseLoss(values, encoded.stopGradient())
        let commitmentLoss = mseLoss(encoded, values.stopGradient())
        if isTraining { maintain(flat, indices: indices) }
        return (values, indices, codebookLoss, commitmentLoss)
    }

    public func callAsFunction(_ encoded: Tensor) -> QuantizerOutput {
        let level = quantizeLevel(encoded)
        let straightThrough = encoded + (level.values - encoded).stopGradient()
        let beta = options.commitmentWeight
        let loss = options.kind == .ema ? level.commitmentLoss * beta : level.codebookLoss + level.commitmentLoss * beta
        return QuantizerOutput(quantized: straightThrough, indices: [level.indices], loss: loss,
                               terms: [("codebook", level.codebookLoss), ("commitment", level.commitmentLoss)])
    }

    // MARK: Codebook maintenance (training passes only)

    private func maintain(_ flat: Tensor, indices: [Int]) {
        for i in indices { counts[i] += 1 }
        if options.kind == .ema { updateMovingAverages(flat, indices: indices) }
        if let codeAge, let steps {
            var used = [Bool](repeating: false, count: codes)
            for i in indices { used[i] = true }
            for k in 0..<codes { codeAge.data[k] = used[k] ? 0 : codeAge.data[k] + 1 }
            var rng = RandomGenerator(seed: UInt64(steps.data[0]) &* 0x9E37_79B9_7F4A_7C15 ^ (salt &+ 0x5151))
            for k in 0..<codes where codeAge.data[k] >= Float(options.deadCodeSteps) {
                let row = Int(rng.next() % UInt64(flat.shape[0]))
                restart(code: k, with: Array(flat.data[(row * dimension)..<((row + 1) * dimension)]))
                codeAge.data[k] = 0
            }
            steps.data[0] += 1
        }
    }

    /// cluster_size = decay * cluster_size + (1 - decay) * n_k; embed_sum likewise with the sum of the
    /// vectors assigned to k; e_k = embed_sum_k / smoothed n_k, where the Laplace-smoothed size is
    /// (cluster_size_k + eps) / (n + K eps) * n and n is the total of the cluster sizes.
    func updateMovingAverages(_ flat: Tensor, indices: [Int]) {
        guard let emaClusterSize, let emaEmbedSum else { return }
        let (k, d) = (codes, dimension)
        var batchCounts = [Float](repeating: 0, count: k)
        var batchSums = [Float](repeating: 0, count: k * d)
        flat.data.withUnsafeBufferPointer { v in
            for (row, code) in indices.enumerated() {
                batchCounts[code] += 1
                for j in 0..<d { batchSums[code * d + j] += v[row * d + j] }
            }
        }
        let decay = options.emaDecay, eps = options.emaEpsilon
        for c in 0..<k { emaClusterSize.data[c] = decay * emaClusterSize.data[c] + (1 - decay) * batchCounts[c] }
        for i in 0..<(k * d) { emaEmbedSum.data[i] = decay * emaEmbedSum.data[i] + (1 - decay) * batchSums[i] }
        let n = emaClusterSize.data.reduce(0, +)
        for c in 0..<k {
            let smoothed = (emaClusterSize.data[c] + eps) / (n + Float(k) * eps) * n
            for j in 0..<d { codebook.data[c * d + j] = emaEmbedSum.data[c * d + j] / smoothed }
        }
    }

    /// Re-seeds code `k` at `vector` (and, with EMA, as a cluster of one there).
    func restart(code k: Int, with vector: [Float]) {
        let d = dimension
        for j in 0..<d { codebook.data[k * d + j] = vector[j] }
        if let emaClusterSize, let emaEmbedSum {
            emaClusterSize.data[k] = 1
            for j in 0..<d { emaEmbedSum.data[k * d + j] = vector[j] }
        }
    }

    private func initializeByKMeans(_ flat: Tensor) {
        var rng = RandomGenerator(seed: 0x6B6D_6561_6E73 ^ salt)
        let centres = kMeans(flat, clusters: codes, iterations: 10, rng: &rng)
        codebook.data = centres.data
        if let emaClusterSize, let emaEmbedSum {
            emaClusterSize.data = [Float](repeating: 1, count: codes)
            emaEmbedSum.data = centres.data
        }
    }
}

/// Lloyd's k-means on rows [N, D]: centres start at distinct random rows (repeating rows when N < clusters);
/// empty clusters keep their centre. Returns [clusters, D].
public func kMeans(_ rows: Tensor, clusters: Int, iterations: Int, rng: inout RandomGenerator) -> Tensor {
    let (n, d) = (rows.shape[0], rows.shape[1])
    precondition(n > 0, "kMeans: no rows")
    let order = rng.permutation(n)
    var centres = [Float](repeating: 0, count: clusters * d)
    for c in 0..<clusters {
        let r = order[c % n]
        for j in 0..<d { centres[c * d + j] = rows.data[r * d + j] }
    }
    for _ in 0..<iterations {
        let assignment = rows.nearestRows(in: Tensor(shape: [clusters, d], data: centres))
        var sums = [Float](repeating: 0, count: clusters * d)
        var sizes = [Int](repeating: 0, count: clusters)
        for (r, c) in assignment.enumerated() {
            sizes[c] += 1
            for j in 0..<d { sums[c * d + j] += rows.data[r * d + j] }
        }
        for c in 0..<clusters where sizes[c] > 0 {
            for j in 0..<d { centres[c * d + j] = sums[c * d + j] / Float(sizes[c]) }
        }
    }
    return Tensor(shape: [clusters, d], data: centres)
}
