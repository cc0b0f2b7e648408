// HDF5's fletcher32 sums, at memory speed. See include/CKernels.h.
//
// Over a block of B words, sum2 grows by B * sum1 (every earlier word's weight rises by B) plus the block's
// own sum of (B - j) w_j. The AVX2 path handles 32-byte vectors of 16 words with signed 16-bit multiply-adds.

#include "CKernels.h"
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VQ_X86 1
#endif

// Atomic: a test sets it while other tests' checkpoint writes read it (the two paths give the same sums).
static _Atomic int force_portable = 0;

void vq_fletcher32_force_portable(int on) { atomic_store_explicit(&force_portable, on, memory_order_relaxed); }

// Adds words [from, to) to the running sums, one at a time (the tail of the fast path, and the portable path).
static void add_words(const uint8_t *bytes, size_t from, size_t to, uint64_t *s1, uint64_t *s2, int *nonzero) {
    uint64_t sum1 = *s1, sum2 = *s2;
    // Up to 360 words keep both sums below 2^32 before a reduction (libhdf5's own bound).
    while (from < to) {
        size_t end = to - from > 360 ? from + 360 : to;
        for (size_t i = from; i < end; i++) {
            uint32_t w = (uint32_t)bytes[2 * i] << 8 | bytes[2 * i + 1];
            sum1 += w;
            sum2 += sum1;
            if (w) *nonzero = 1;
        }
        sum1 %= 65535;
        sum2 %= 65535;
        from = end;
    }
    *s1 = sum1;
    *s2 = sum2;
}

#ifdef VQ_X86
static int64_t sum_i32x8(__m256i v) __attribute__((target("avx2")));
static int64_t sum_i32x8(__m256i v) {
    __m256i wide = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)),
                                    _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(wide), _mm256_extracti128_si256(wide, 1));
    return _mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1);
}

// Whole blocks of 128 vectors (2048 words); returns how many words it consumed.
static size_t add_blocks_avx2(const uint8_t *bytes, size_t words, uint64_t *s1, uint64_t *s2, int *nonzero)
    __attribute__((target("avx2")));
static size_t add_blocks_avx2(const uint8_t *bytes, size_t words, uint64_t *s1, uint64_t *s2, int *nonzero) {
    enum { VECTORS = 128, BLOCK = 16 * VECTORS };
    // Each word w is swapped to little-endian and offset to the signed w - 32768, so the signed 16-bit
    // multiply-add can sum it; the offsets are added back per block. In 32-bit lanes a block's running sum
    // stays within 128 * 2^16, its total of running sums within 2^13 * 2^16, its weighted sum within 2^27.
    const __m256i swap = _mm256_setr_epi8(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14,
                                          1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    const __m256i offset = _mm256_set1_epi16((short)0x8000), ones = _mm256_set1_epi16(1);
    // Weight 16 - p for word p of a 16-word vector (the low 128-bit half holds words 0..7).
    const __m256i weights = _mm256_setr_epi16(16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
    // What the offsets removed: 32768 per word from a block's sum, 32768 * B (B + 1) / 2 from its weighted sum.
    const int64_t offset_sum = 32768LL * BLOCK, offset_weighted = 32768LL * BLOCK * (BLOCK + 1) / 2;
    uint64_t sum1 = *s1, sum2 = *s2;
    size_t done = 0;
    while (words - done >= BLOCK) {
        const uint8_t *p = bytes + 2 * done;
        __m256i running = _mm256_setzero_si256(), totals = running, weighted = running;
        for (int v = 0; v < VECTORS; v++) {
            __m256i x = _mm256_xor_si256(_mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(p + 32 * v)), swap), offset);
            totals = _mm256_add_epi32(totals, running);
            running = _mm256_add_epi32(running, _mm256_madd_epi16(x, ones));
            weighted = _mm256_add_epi32(weighted, _mm256_madd_epi16(x, weights));
        }
        int64_t block_sum = sum_i32x8(running) + offset_sum;
        // Word j = 16 v + p of the block has weight B - j = 16 (VECTORS - 1 - v) + (16 - p).
        int64_t inner = 16 * sum_i32x8(totals) + sum_i32x8(weighted) + offset_weighted;
        sum2 = (sum2 + (uint64_t)BLOCK * sum1 + (uint64_t)inner) % 65535;
        sum1 = (sum1 + (uint64_t)block_sum) % 65535;
        if (block_sum) *nonzero = 1;
        done += BLOCK;
    }
    *s1 = sum1;
    *s2 = sum2;
    return done;
}
#endif

int vq_fletcher32_uses_avx2(void) {
#ifdef VQ_X86
    return !atomic_load_explicit(&force_portable, memory_order_relaxed) && __builtin_cpu_supports("avx2");
#else
    return 0;
#endif
}

void vq_fletcher32_update(vq_fletcher32_state *state, const uint8_t *bytes, size_t count) {
    size_t words = count / 2, done = 0;
#ifdef VQ_X86
    if (vq_fletcher32_uses_avx2()) done = add_blocks_avx2(bytes, words, &state->sum1, &state->sum2, &state->nonzero);
#endif
    add_words(bytes, done, words, &state->sum1, &state->sum2, &state->nonzero);
    if (count % 2) {
        uint32_t w = (uint32_t)bytes[count - 1] << 8;
        state->sum1 = (state->sum1 + w) % 65535;
        state->sum2 = (state->sum2 + state->sum1) % 65535;
        if (w) state->nonzero = 1;
    }
}
