import Foundation
import Synchronization
import CKernels
import COpenBLAS

/// How many threads the engine uses, for its own parallel loops and for splitting matrix products.
///
/// OpenBLAS itself always runs on one thread: the engine splits each large product into row (or column) bands
/// and multiplies them on its own threads. Measured here (2 cores, OpenBLAS 0.3.21 SkylakeX kernels), two
/// single-threaded halves beat OpenBLAS's own two-thread split on the reference models' forward shapes by 5% to
/// 97% (e.g. 12544x64x512: 213 against 165 GFLOP/s; some accumulated weight-gradient shapes go the other way,
/// Tools/bench/RESULTS.md), and no OpenBLAS worker spins on a core the engine's next kernel needs. Each band
/// is the same computation OpenBLAS does for those rows, so the result does not depend on the thread count.
public enum ComputeThreads {
    private static let configured = Atomic<Int>(0)

    /// The cores this process may use; OpenBLAS is set to one thread on first use (the `vqcodec` command and the
    /// scripts also start it with `OPENBLAS_NUM_THREADS=1`, so it makes no worker threads at all).
    private static let available: Int = {
        openblas_set_num_threads(1)
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// The current thread count (the available cores until `set` is called).
    public static var count: Int {
        let n = configured.load(ordering: .relaxed)
        return n > 0 ? n : available
    }

    /// Uses `threads` threads from now on. More threads than cores slow the engine down: its idle workers spin
    /// for 2 ms after each parallel loop (`vq_parallel_for`), on cores the working threads then wait for.
    public static func set(_ threads: Int) {
        precondition(threads >= 1, "ComputeThreads.set: thread count must be at least 1, found \(threads)")
        _ = available
        configured.store(threads, ordering: .relaxed)
    }

    /// Makes sure OpenBLAS runs single-threaded before the first product.
    @inline(__always)
    static func prepareBLAS() { _ = available }
}

/// Runs `body(i)` for every i in 0..<iterations on up to `threads` threads (the caller's and the engine's
/// workers, `vq_parallel_for`) and returns when all have run. Which thread runs which i is not fixed, so each
/// i must write its own part of the result. A loop started while another runs (from another thread, or inside
/// a body) runs on its caller's thread alone.
@inline(__always)
func parallelFor(_ iterations: Int, threads: Int = ComputeThreads.count, _ body: (Int) -> Void) {
    if iterations <= 0 { return }
    if threads <= 1 || iterations == 1 {
        for i in 0..<iterations { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        var body = body
        withUnsafeMutablePointer(to: &body) { context in
            vq_parallel_for(threads, iterations, { context, i in
                context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(i)
            }, context)
        }
    }
}

/// Splits `0..<total` into at most `threads` contiguous ranges and runs them concurrently.
/// Work below `minimumPerThread` items stays on the calling thread (splitting it would cost more than it saves).
/// Public for the layers above the engine (the optimisers' element loops).
@inline(__always)
public func parallelRanges(_ total: Int, minimumPerThread: Int = 16_384, threads: Int = ComputeThreads.count,
                    _ body: (Range<Int>) -> Void) {
    let threads = min(threads, max(1, total / max(1, minimumPerThread)))
    if threads <= 1 {
        body(0..<total)
        return
    }
    let chunk = (total + threads - 1) / threads
    // The ranges are disjoint, so the workers never touch the same elements.
    parallelFor(threads, threads: threads) { t in
        let start = t * chunk
        let end = min(total, start + chunk)
        if start < end { body(start..<end) }
    }
}
