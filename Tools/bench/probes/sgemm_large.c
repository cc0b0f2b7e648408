// A GEMM for large square products (gemm-2048), written to see how close C with AVX-512 intrinsics gets to MKL:
// C = A B, row-major, no transposes, beta 0, n a multiple of 32. Not in the engine: at 0.90 of MKL (2026-12-01,
// Tools/bench/RESULTS.md) it is no clear gain over OpenBLAS. Exports vq_sgemm_avx512's signature so that
// large_gemm_vs_torch.py can load it in place of the engine's kernel.
//
// Tiles of 12 rows by 32 columns (24 accumulators); k in blocks of 256 so that a tile's A panel (12 KB) and the
// B panel streaming past it (32 KB) fit L1 together; B packed 256 x 1024 at a time (1 MiB, in L2), prefetched
// 256 floats ahead in the tile loop; A packed a panel of 12 rows at a time with 4x4 transposes; each tile's C
// rows prefetched into L2 as the tile starts. Switches for the experiments of RESULTS.md (results wrong, speed
// an upper bound): -DSKIP_PACKING packs only on the first call; -DSCRATCH_C writes every tile to one small
// buffer in L1 instead of C.
//
//   clang -O2 -mavx512f -shared -fPIC Tools/bench/probes/sgemm_large.c -o /tmp/large.so
//   clang -O2 -mavx512f -shared -fPIC -DSKIP_PACKING -DSCRATCH_C Tools/bench/probes/sgemm_large.c -o /tmp/bound.so
//   R=41 /tmp/refenv/bin/python Tools/bench/probes/large_gemm_vs_torch.py /tmp/large.so /tmp/bound.so
#include <immintrin.h>
#include <stdlib.h>

enum { MR = 12, NR = 32, KC = 256, NC = 1024, PREFETCH_B = 256 };

static inline size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

static void pack_b(const float *b, size_t ldb, size_t kc, size_t nc, float *packed) {
    for (size_t j = 0; j < nc; j += NR) {
        float *panel = packed + j * kc;
        const float *source = b + j;
        for (size_t k = 0; k < kc; k++, source += ldb) {
            _mm512_store_ps(panel + k * NR, _mm512_loadu_ps(source));
            _mm512_store_ps(panel + k * NR + 16, _mm512_loadu_ps(source + 16));
        }
    }
}

static void pack_a(const float *a, size_t lda, size_t rows, size_t kc, float *panel) {
    size_t k = 0;
    if (rows == MR)
        for (; k + 4 <= kc; k += 4)
            for (int group = 0; group < 3; group++) {
                const float *s = a + 4 * group * lda + k;
                __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + lda), r2 = _mm_loadu_ps(s + 2 * lda),
                       r3 = _mm_loadu_ps(s + 3 * lda);
                _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                float *d = panel + k * MR + 4 * group;
                _mm_storeu_ps(d, r0); _mm_storeu_ps(d + MR, r1); _mm_storeu_ps(d + 2 * MR, r2); _mm_storeu_ps(d + 3 * MR, r3);
            }
    for (; k < kc; k++)
        for (size_t r = 0; r < MR; r++) panel[k * MR + r] = r < rows ? a[r * lda + k] : 0;
}

#define ACC(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps();
#define FMA(r) { __m512 x = _mm512_set1_ps(ap[r]); c##r##0 = _mm512_fmadd_ps(x, b0, c##r##0); c##r##1 = _mm512_fmadd_ps(x, b1, c##r##1); }
#define STORE(r) if (r < rows) { float *row = c + (size_t)r * ldc;                                              \
    if (first) { _mm512_storeu_ps(row, c##r##0); _mm512_storeu_ps(row + 16, c##r##1); }                       \
    else { _mm512_storeu_ps(row, _mm512_add_ps(c##r##0, _mm512_loadu_ps(row)));                              \
           _mm512_storeu_ps(row + 16, _mm512_add_ps(c##r##1, _mm512_loadu_ps(row + 16))); } }

__attribute__((noinline)) static void tile(size_t kc, const float *ap, const float *bp, float *c, size_t ldc,
                                           size_t rows, int first) {
    for (size_t r = 0; r < rows; r++) {
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T1);
        _mm_prefetch((const char *)(c + r * ldc + 16), _MM_HINT_T1);
    }
    ACC(0) ACC(1) ACC(2) ACC(3) ACC(4) ACC(5) ACC(6) ACC(7) ACC(8) ACC(9) ACC(10) ACC(11)
    for (size_t k = 0; k < kc; k++, bp += NR, ap += MR) {
        __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
        _mm_prefetch((const char *)(bp + PREFETCH_B), _MM_HINT_T0);
        _mm_prefetch((const char *)(bp + PREFETCH_B + 16), _MM_HINT_T0);
        FMA(0) FMA(1) FMA(2) FMA(3) FMA(4) FMA(5) FMA(6) FMA(7) FMA(8) FMA(9) FMA(10) FMA(11)
    }
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7) STORE(8) STORE(9) STORE(10) STORE(11)
}

int vq_sgemm_avx512(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc, const float *bias,
                    float *a_row_sums) {
    if (trans_a || trans_b || n % NR || alpha != 1 || beta != 0 || bias || a_row_sums) return 0;
#ifdef SKIP_PACKING
    static float *packed_b, *packed_a;
    static int packed_once;
    if (!packed_b) { packed_b = aligned_alloc(64, KC * NC * 4); packed_a = aligned_alloc(64, KC * MR * 4); }
#else
    float *packed_b = aligned_alloc(64, KC * NC * 4), *packed_a = aligned_alloc(64, KC * MR * 4);
    const int packed_once = 0;
#endif
#ifdef SCRATCH_C
    static float scratch[MR * 96];
#endif
    for (size_t jc = 0; jc < n; jc += NC) {
        size_t nc = min_size(NC, n - jc);
        for (size_t pc = 0; pc < k; pc += KC) {
            size_t kc = min_size(KC, k - pc);
            if (!packed_once) pack_b(b + pc * ldb + jc, ldb, kc, nc, packed_b);
            for (size_t ir = 0; ir < m; ir += MR) {
                size_t rows = min_size(MR, m - ir);
                if (!packed_once) pack_a(a + ir * lda + pc, lda, rows, kc, packed_a);
                for (size_t jr = 0; jr < nc; jr += NR)
#ifdef SCRATCH_C
                    tile(kc, packed_a, packed_b + jr * kc, scratch + jr % 64, 96, rows, pc == 0);
#else
                    tile(kc, packed_a, packed_b + jr * kc, c + ir * ldc + jc + jr, ldc, rows, pc == 0);
#endif
            }
        }
    }
#ifdef SKIP_PACKING
    packed_once = 1;
#else
    free(packed_a);
    free(packed_b);
#endif
    return 1;
}

/// The core's FMA peak for comparison: 24 independent chains of 16-wide FMAs, n steps of each (32 flops a step).
float vq_probe_fma_peak(long n) {
    __m512 acc[24];
    for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps(i * 0.001f);
    __m512 a = _mm512_set1_ps(0.9999f), b = _mm512_set1_ps(0.0001f);
    for (long step = 0; step < n; step++)
#pragma GCC unroll 24
        for (int i = 0; i < 24; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    float sum = 0;
    for (int i = 0; i < 24; i++) sum += _mm512_reduce_add_ps(acc[i]);
    return sum;
}
