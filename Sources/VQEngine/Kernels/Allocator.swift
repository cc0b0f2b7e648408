import CPlatform

/// Process-wide allocator settings for training loops. glibc serves large blocks with mmap and returns
/// them on free, so each step of a training loop page-faults its activations in afresh (several percent of
/// a step). Raising the mmap and trim thresholds keeps freed blocks in the heap for the next step. Programs
/// (the `vqcodec` command) call this once at start; a library never changes it behind its host's back.
public enum AllocatorTuning {
    public static func keepLargeBlocksForReuse() {
        // 32 MiB is the largest mmap threshold glibc accepts on 64-bit (a larger value is silently refused).
        vq_keep_large_blocks_for_reuse(32 << 20, 1 << 30)
    }
}

/// An array of `count` floats whose every element `fill` writes (no zero-fill first).
@inline(__always)
func uninitializedFloats(_ count: Int, _ fill: (UnsafeMutableBufferPointer<Float>) -> Void) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        fill(buffer)
        initialized = count
    }
}
