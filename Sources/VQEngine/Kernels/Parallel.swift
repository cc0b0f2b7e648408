import Dispatch
import Synchronization
import COpenBLAS

/// How many threads the engine uses: OpenBLAS's pool and the engine's own parallel loops.
public enum ComputeThreads {
    private static let configured = Atomic<Int>(0)

    /// The current thread count (OpenBLAS's default until `set` is called).
    public static var count: Int {
        let n = configured.load(ordering: .relaxed)
        return n > 0 ? n : Int(openblas_get_num_threads())
    }

    /// Uses `threads` threads from now on, for BLAS and for the engine's loops.
    public static func set(_ threads: Int) {
        precondition(threads >= 1, "ComputeThreads.set: thread count must be at least 1, found \(threads)")
        configured.store(threads, ordering: .relaxed)
        openblas_set_num_threads(Int32(threads))
    }
}

/// Splits `0..<total` into at most `ComputeThreads.count` contiguous ranges and runs them concurrently.
/// Work below `minimumPerThread` items stays on the calling thread (thread start-up would cost more).
@inline(__always)
func parallelRanges(_ total: Int, minimumPerThread: Int = 16_384, _ body: (Range<Int>) -> Void) {
    let threads = min(ComputeThreads.count, max(1, total / max(1, minimumPerThread)))
    if threads <= 1 {
        body(0..<total)
        return
    }
    let chunk = (total + threads - 1) / threads
    // The ranges are disjoint, so the workers never touch the same elements.
    nonisolated(unsafe) let body = body
    DispatchQueue.concurrentPerform(iterations: threads) { t in
        let start = t * chunk
        let end = min(total, start + chunk)
        if start < end { body(start..<end) }
    }
}
