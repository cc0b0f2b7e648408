// Lane masks for 16-wide float vectors, shared by the AVX-512 kernels of this target (not part of its interface).
#ifndef VQ_LANES_H
#define VQ_LANES_H

#include <immintrin.h>
#include <stddef.h>

/// The first `count` lanes of 16 (all 16 from 16 on).
static inline __mmask16 vq_lanes_below(size_t count) {
    return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
}

/// Lanes [low, high) of 16, clamped to 0..<16 (none when high <= low).
static inline __mmask16 vq_lanes(long low, long high) {
    if (low < 0) low = 0;
    if (high <= low) return 0;
    return (__mmask16)(vq_lanes_below((size_t)high) & ~vq_lanes_below((size_t)low));
}

#endif
