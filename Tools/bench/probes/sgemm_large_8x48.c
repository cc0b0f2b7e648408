// sgemm_large.c's experiment in MKL's layout (read off its kernel, RESULTS.md 2026-12-01): tiles of 8 rows by 48
// columns (three vector loads and eight broadcasts a step of k), k in blocks of 384, A packed 512 x 384 (in L2) in
// panels of 8 rows with 8x8 transposes, B packed 384 x 1536 in panels 48 wide; one B panel at a time meets every A
// panel of the block; A prefetched 16 steps ahead, the tile's C rows prefetched for writing in its last 32 steps
// and the next tile's C rows during the tile. C = A B, row-major, no transposes, beta 0, n a multiple of 48 (2112,
// not 2048). -DNO_NEXT_C drops the next tile's prefetch; -DSKIP_PACKING and -DSCRATCH_C as in sgemm_large.c.
//   clang -O2 -mavx512f -mavx2 -shared -fPIC Tools/bench/probes/sgemm_large_8x48.c -o /tmp/large48.so
//   N=2112 R=41 /tmp/refenv/bin/python Tools/bench/probes/large_gemm_vs_torch.py /tmp/large.so /tmp/large48.so
#include <immintrin.h>
#include <stdlib.h>
#define MR 8
#define NR 48
#ifndef KC
#define KC 384
#endif
#ifndef NC
#define NC 1536
#endif
#ifndef MC
#define MC 512
#endif
#ifndef PFA
#define PFA 128   /* floats ahead in the A panel (16 k steps) */
#endif
#ifndef PFCK
#define PFCK 32   /* k steps before the end at which C rows are prefetched for writing */
#endif
static inline size_t mn(size_t a, size_t b) { return a < b ? a : b; }

static void pack_b(const float *b, size_t ldb, size_t kc, size_t nc, float *packed) {
    for (size_t j = 0; j < nc; j += NR) {
        float *panel = packed + j * kc;
        const float *s = b + j;
        for (size_t k = 0; k < kc; k++, s += ldb) {
            _mm512_store_ps(panel + k * NR, _mm512_loadu_ps(s));
            _mm512_store_ps(panel + k * NR + 16, _mm512_loadu_ps(s + 16));
            _mm512_store_ps(panel + k * NR + 32, _mm512_loadu_ps(s + 32));
        }
    }
}
// A[ic.., pc..] rows -> panels of 8 rows, k-major: 8 values per k.
static void pack_a(const float *a, size_t lda, size_t mc, size_t kc, float *p) {
    for (size_t i = 0; i < mc; i += MR, p += MR * kc) {
        size_t rows = mn(MR, mc - i);
        const float *src = a + i * lda;
        size_t k = 0;
        if (rows == MR) {
            for (; k + 8 <= kc; k += 8) {
                __m256 r[8];
                for (int q = 0; q < 8; q++) r[q] = _mm256_loadu_ps(src + q * lda + k);
                // 8x8 transpose
                __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
                __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
                __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
                __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
                __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
                __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
                __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
                __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
                float *d = p + k * MR;
                _mm256_store_ps(d + 0, _mm256_permute2f128_ps(u0, u4, 0x20));
                _mm256_store_ps(d + 8, _mm256_permute2f128_ps(u1, u5, 0x20));
                _mm256_store_ps(d + 16, _mm256_permute2f128_ps(u2, u6, 0x20));
                _mm256_store_ps(d + 24, _mm256_permute2f128_ps(u3, u7, 0x20));
                _mm256_store_ps(d + 32, _mm256_permute2f128_ps(u0, u4, 0x31));
                _mm256_store_ps(d + 40, _mm256_permute2f128_ps(u1, u5, 0x31));
                _mm256_store_ps(d + 48, _mm256_permute2f128_ps(u2, u6, 0x31));
                _mm256_store_ps(d + 56, _mm256_permute2f128_ps(u3, u7, 0x31));
            }
        }
        for (; k < kc; k++)
            for (size_t r = 0; r < MR; r++) p[k * MR + r] = r < rows ? src[r * lda + k] : 0;
    }
}
#define ACC(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = c##r##0, c##r##2 = c##r##0;
#define FMA(r) { __m512 x = _mm512_set1_ps(ap[r]); c##r##0 = _mm512_fmadd_ps(x, b0, c##r##0); c##r##1 = _mm512_fmadd_ps(x, b1, c##r##1); c##r##2 = _mm512_fmadd_ps(x, b2, c##r##2); }
#define STEP { __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16), b2 = _mm512_load_ps(bp + 32); \
    FMA(0) FMA(1) FMA(2) FMA(3) FMA(4) FMA(5) FMA(6) FMA(7) bp += NR; ap += MR; }
#define ST(r) if (r < rows) { float *row = c + (size_t)r * ldc; \
    if (first) { _mm512_storeu_ps(row, c##r##0); _mm512_storeu_ps(row + 16, c##r##1); _mm512_storeu_ps(row + 32, c##r##2); } \
    else { _mm512_storeu_ps(row, _mm512_add_ps(c##r##0, _mm512_loadu_ps(row))); _mm512_storeu_ps(row + 16, _mm512_add_ps(c##r##1, _mm512_loadu_ps(row + 16))); \
           _mm512_storeu_ps(row + 32, _mm512_add_ps(c##r##2, _mm512_loadu_ps(row + 32))); } }
__attribute__((noinline)) static void kernel(size_t kc, const float *ap, const float *bp, float *c, size_t ldc, size_t rows, int first, const float *cn) {
    ACC(0) ACC(1) ACC(2) ACC(3) ACC(4) ACC(5) ACC(6) ACC(7)
    size_t k = 0, main = kc > PFCK ? kc - PFCK : 0, q = 0;
    for (; k + 4 <= main; k += 4, q++) {
#ifndef NO_NEXT_C
        // The next tile's C rows, one line every third group of steps (24 lines in a block of 384).
        if (cn && q % 3 == 0 && q / 3 < 3 * MR) { size_t l = q / 3; _mm_prefetch((const char *)(cn + (l / 3) * ldc + (l % 3) * 16), _MM_HINT_T0); }
#endif
        _mm_prefetch((const char *)(ap + PFA), _MM_HINT_T0);
        STEP STEP
        _mm_prefetch((const char *)(ap + PFA), _MM_HINT_T0);
        STEP STEP
    }
    for (size_t r = 0; k < kc; r++) {
        if (r < rows) { const char *row = (const char *)(c + r * ldc); _mm_prefetch(row, _MM_HINT_ET0); _mm_prefetch(row + 64, _MM_HINT_ET0); _mm_prefetch(row + 128, _MM_HINT_ET0); }
        size_t end = mn(kc, k + 4);
        for (; k < end; k++) STEP
    }
    ST(0) ST(1) ST(2) ST(3) ST(4) ST(5) ST(6) ST(7)
}
static void *buffer(size_t bytes) { void *p; return posix_memalign(&p, 64, bytes) ? NULL : p; }
int vq_sgemm_avx512(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                    const float *b, size_t ldb, float beta, float *c, size_t ldc, const float *bias, float *sums) {
    if (ta || tb || n % NR || alpha != 1 || beta != 0 || bias || sums) return 0;
#ifdef SKIP_PACKING
    static float *pb, *pa; static int once;
    if (!pb) { pb = buffer((size_t)KC * NC * 4); pa = buffer((size_t)KC * (MC + MR) * 4); }
#else
    float *pb = buffer((size_t)KC * NC * 4), *pa = buffer((size_t)KC * (MC + MR) * 4);
    const int once = 0;
#endif
#ifdef SCRATCH_C
    static float scratch[MR * 192];
#endif
    for (size_t jc = 0; jc < n; jc += NC) {
        size_t nc = mn(NC, n - jc);
        for (size_t pc = 0; pc < k; pc += KC) {
            size_t kc = mn(KC, k - pc);
            if (!once) pack_b(b + pc * ldb + jc, ldb, kc, nc, pb);
            for (size_t ic = 0; ic < m; ic += MC) {
                size_t mc = mn(MC, m - ic);
                if (!once) pack_a(a + ic * lda + pc, lda, mc, kc, pa);
                // MKL's order: one B panel at a time, the block's A panels streaming past it.
                for (size_t jr = 0; jr < nc; jr += NR)
                    for (size_t ir = 0; ir < mc; ir += MR)
#ifdef SCRATCH_C
                        kernel(kc, pa + ir * kc, pb + jr * kc, scratch + (jr % 96), 192, mn(MR, mc - ir), pc == 0, NULL);
#else
                        kernel(kc, pa + ir * kc, pb + jr * kc, c + (ic + ir) * ldc + jc + jr, ldc, mn(MR, mc - ir), pc == 0,
                               ir + MR < mc ? c + (ic + ir + MR) * ldc + jc + jr : (jr + NR < nc ? c + ic * ldc + jc + jr + NR : NULL));
#endif
            }
        }
    }
#ifdef SKIP_PACKING
    once = 1;
#else
    free(pa); free(pb);
#endif
    return 1;
}
