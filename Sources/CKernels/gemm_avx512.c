// Single-threaded float32 GEMM with AVX-512, row-major, for the tall products of the engine's linear layers.
// See include/CKernels.h.
//
// The layout of Goto's paper and BLIS, written for row-major C. C is cut into tiles of 12 rows by 32 columns: 24
// of the 32 vector registers accumulate a tile, and each step of k loads two vectors of B and broadcasts twelve
// values of A. B is packed a block of KC x NC at a time into panels 32 wide (the block stays in L2); each tile
// streams one panel while its twelve rows of A stay in L1 across the block's panels. A is read in place (OpenBLAS
// packs it too, which on products 128 columns wide costs a third of the time); a transposed A is packed, 12 rows a
// panel, since its twelve values per k are then contiguous. Every element of C is the same sum in the same order
// wherever its tile falls: k runs in order within blocks of KC, and the blocks in order. So a band of rows or
// columns computed alone gives the bits of the whole product, and the engine can split products over threads.

#include "CKernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include "lanes.h"

enum { MR = 12, NR = 32, KC = 384, MC = 192, NC = 1024 };

#define AVX512 __attribute__((target("avx512f")))

static inline size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/// Packs op(B)[pc..<pc+kc, jc..<jc+nc] into panels of NR columns, each kc x NR, k-major, zero-padded. A panel at
/// a time: its columns are read down the rows of B (for an untransposed B, two vectors a row) and written out in
/// order. (Row by row instead, each row writes to every panel, and panels 48 KB apart fall in one set of L1.)
AVX512 static void pack_b(int trans, const float *b, size_t ldb, size_t pc, size_t jc, size_t kc, size_t nc,
                          float *packed) {
    for (size_t j = 0; j < nc; j += NR) {
        size_t width = min_size(NR, nc - j);
        float *panel = packed + j * kc;
        if (!trans) {
            __mmask16 low = vq_lanes_below(width), high = vq_lanes_below(width > 16 ? width - 16 : 0);
            const float *source = b + pc * ldb + jc + j;
            for (size_t k = 0; k < kc; k++, source += ldb) {
                _mm512_store_ps(panel + k * NR, _mm512_maskz_loadu_ps(low, source));
                _mm512_store_ps(panel + k * NR + 16, _mm512_maskz_loadu_ps(high, source + 16));
            }
            continue;
        }
        // op(B)[k][n] = B[n][k]: each column of the panel is a contiguous run of a row of B.
        if (width < NR) memset(panel, 0, kc * NR * sizeof(float));
        for (size_t column = 0; column < width; column++) {
            const float *source = b + (jc + j + column) * ldb + pc;
            for (size_t k = 0; k < kc; k++) panel[k * NR + column] = source[k];
        }
    }
}

/// Packs op(A)[ic..<ic+mc, pc..<pc+kc] = A^T (A stored k-major) into panels of MR rows, each kc x MR, k-major,
/// zero-padded. A panel at a time: its twelve values per k are read down the rows of A, four steps of k (48
/// values) written as three full vectors. With `sums`, adds each row of op(A) over this block of k to
/// sums[0..<mc], k in order, in a register (a sum loaded right after its masked store would wait for it).
AVX512 static void pack_transposed_a(const float *a, size_t lda, size_t ic, size_t pc, size_t mc, size_t kc,
                                     float *packed, float *sums) {
    // Lanes of two rows of twelve that make up each of the three vectors.
    const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19);
    const __m512i second = _mm512_setr_epi32(4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23);
    const __m512i third = _mm512_setr_epi32(8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27);
    for (size_t i = 0; i < mc; i += MR) {
        __mmask16 valid = vq_lanes_below(min_size(MR, mc - i));
        const float *source = a + pc * lda + ic + i;
        float *panel = packed + i * kc;
        __m512 sum = sums ? _mm512_maskz_loadu_ps(valid, sums + i) : _mm512_setzero_ps();
        size_t k = 0;
        for (; k + 4 <= kc; k += 4) {
            __m512 r0 = _mm512_maskz_loadu_ps(valid, source + k * lda);
            __m512 r1 = _mm512_maskz_loadu_ps(valid, source + (k + 1) * lda);
            __m512 r2 = _mm512_maskz_loadu_ps(valid, source + (k + 2) * lda);
            __m512 r3 = _mm512_maskz_loadu_ps(valid, source + (k + 3) * lda);
            if (sums) sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(sum, r0), r1), r2), r3);
            _mm512_storeu_ps(panel + k * MR, _mm512_permutex2var_ps(r0, first, r1));
            _mm512_storeu_ps(panel + k * MR + 16, _mm512_permutex2var_ps(r1, second, r2));
            _mm512_storeu_ps(panel + k * MR + 32, _mm512_permutex2var_ps(r2, third, r3));
        }
        for (; k < kc; k++) {
            __m512 row = _mm512_maskz_loadu_ps(valid, source + k * lda);
            if (sums) sum = _mm512_add_ps(sum, row);
            _mm512_mask_storeu_ps(panel + k * MR, 0x0FFF, row);
        }
        if (sums) _mm512_mask_storeu_ps(sums + i, valid, sum);
    }
}

#define FMA_ROW(r, value)                                                                                        \
    do {                                                                                                         \
        __m512 broadcast = _mm512_set1_ps(value);                                                                \
        c##r##0 = _mm512_fmadd_ps(broadcast, b0, c##r##0);                                                       \
        c##r##1 = _mm512_fmadd_ps(broadcast, b1, c##r##1);                                                       \
    } while (0)

// C = alpha * sum (+ bias) (+ beta * C), in that order; C is not read when beta is 0.
#define STORE(r)                                                                                                 \
    do {                                                                                                         \
        if (r < rows) {                                                                                          \
            float *row = c + (size_t)r * ldc;                                                                    \
            __m512 v0 = _mm512_mul_ps(c##r##0, alpha_v), v1 = _mm512_mul_ps(c##r##1, alpha_v);                  \
            if (bias) {                                                                                          \
                v0 = _mm512_add_ps(v0, bias0);                                                                   \
                v1 = _mm512_add_ps(v1, bias1);                                                                   \
            }                                                                                                    \
            if (beta != 0) {                                                                                     \
                v0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(low, row), beta_v, v0);                               \
                v1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(high, row + 16), beta_v, v1);                          \
            }                                                                                                    \
            _mm512_mask_storeu_ps(row, low, v0);                                                                 \
            _mm512_mask_storeu_ps(row + 16, high, v1);                                                           \
        }                                                                                                        \
    } while (0)

// The tile's loop over k and its stores; A(r) is row r's value at step k, ADVANCE moves A on by one step.
#define KERNEL_BODY(A, ADVANCE)                                                                                  \
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00; \
    __m512 c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;              \
    __m512 c80 = c00, c81 = c00, c90 = c00, c91 = c00, c100 = c00, c101 = c00, c110 = c00, c111 = c00;          \
    for (size_t k = 0; k < kc; k++) {                                                                            \
        __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);                                            \
        FMA_ROW(0, A(0)); FMA_ROW(1, A(1)); FMA_ROW(2, A(2)); FMA_ROW(3, A(3)); FMA_ROW(4, A(4));                \
        FMA_ROW(5, A(5)); FMA_ROW(6, A(6)); FMA_ROW(7, A(7)); FMA_ROW(8, A(8)); FMA_ROW(9, A(9));                \
        FMA_ROW(10, A(10)); FMA_ROW(11, A(11));                                                                  \
        bp += NR;                                                                                                \
        ADVANCE;                                                                                                 \
    }                                                                                                            \
    __mmask16 low = vq_lanes_below(columns), high = vq_lanes_below(columns > 16 ? columns - 16 : 0);                  \
    __m512 alpha_v = _mm512_set1_ps(alpha), beta_v = _mm512_set1_ps(beta);                                      \
    __m512 bias0 = _mm512_setzero_ps(), bias1 = bias0;                                                           \
    if (bias) {                                                                                                  \
        bias0 = _mm512_maskz_loadu_ps(low, bias);                                                                \
        bias1 = _mm512_maskz_loadu_ps(high, bias + 16);                                                          \
    }                                                                                                            \
    STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5); STORE(6); STORE(7); STORE(8); STORE(9);         \
    STORE(10); STORE(11);

/// Tile C[0..<rows, 0..<columns] from a packed panel of A (12 values per k) and a packed panel of B.
AVX512 static void kernel_packed(size_t kc, const float *ap, const float *bp, float *c, size_t ldc, size_t rows,
                                 size_t columns, float alpha, const float *bias, float beta) {
#define PACKED(r) ap[r]
    KERNEL_BODY(PACKED, ap += MR)
#undef PACKED
}

/// The same with A read in place, row r at a + r * lda. Rows past `rows` read row 0 again; their sums are not
/// stored.
AVX512 static void kernel_rows(size_t kc, const float *a, size_t lda, const float *bp, float *c, size_t ldc,
                               size_t rows, size_t columns, float alpha, const float *bias, float beta) {
    const float *r0 = a, *r1 = a + lda * (rows > 1), *r2 = a + 2 * lda * (rows > 2), *r3 = a + 3 * lda * (rows > 3);
    const float *r4 = a + 4 * lda * (rows > 4), *r5 = a + 5 * lda * (rows > 5), *r6 = a + 6 * lda * (rows > 6);
    const float *r7 = a + 7 * lda * (rows > 7), *r8 = a + 8 * lda * (rows > 8), *r9 = a + 9 * lda * (rows > 9);
    const float *r10 = a + 10 * lda * (rows > 10), *r11 = a + 11 * lda * (rows > 11);
#define IN_PLACE(i) r##i[k]
    KERNEL_BODY(IN_PLACE, (void)0)
#undef IN_PLACE
}

AVX512 int vq_sgemm_avx512(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                           size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc,
                           const float *bias, float *a_row_sums) {
    if (m == 0 || n == 0 || k == 0 || (a_row_sums && !trans_a)) return 0;
    size_t b_floats = min_size(KC, k) * ((min_size(NC, n) + NR - 1) / NR * NR);
    size_t a_floats = trans_a ? min_size(KC, k) * ((min_size(MC, m) + MR - 1) / MR * MR) : 0;
    float *packed_b = aligned_alloc(64, (b_floats * sizeof(float) + 63) / 64 * 64);
    float *packed_a = trans_a ? aligned_alloc(64, (a_floats * sizeof(float) + 63) / 64 * 64) : NULL;
    if (!packed_b || (trans_a && !packed_a)) {
        free(packed_a);
        free(packed_b);
        return 0;
    }
    if (a_row_sums) memset(a_row_sums, 0, m * sizeof(float));
    for (size_t jc = 0; jc < n; jc += NC) {
        size_t nc = min_size(NC, n - jc);
        for (size_t pc = 0; pc < k; pc += KC) {
            size_t kc = min_size(KC, k - pc);
            // The first block of k applies the bias and beta; later blocks add to what it left.
            float block_beta = pc == 0 ? beta : 1.0f;
            const float *block_bias = pc == 0 && bias ? bias + jc : NULL;
            pack_b(trans_b, b, ldb, pc, jc, kc, nc, packed_b);
            for (size_t ic = 0; ic < m; ic += MC) {
                size_t mc = min_size(MC, m - ic);
                if (trans_a)
                    pack_transposed_a(a, lda, ic, pc, mc, kc, packed_a, jc == 0 && a_row_sums ? a_row_sums + ic : NULL);
                for (size_t ir = 0; ir < mc; ir += MR) {
                    size_t rows = min_size(MR, mc - ir);
                    for (size_t jr = 0; jr < nc; jr += NR) {
                        float *tile = c + (ic + ir) * ldc + jc + jr;
                        size_t columns = min_size(NR, nc - jr);
                        const float *tile_bias = block_bias ? block_bias + jr : NULL;
                        if (trans_a)
                            kernel_packed(kc, packed_a + ir * kc, packed_b + jr * kc, tile, ldc, rows, columns, alpha,
                                          tile_bias, block_beta);
                        else
                            kernel_rows(kc, a + (ic + ir) * lda + pc, lda, packed_b + jr * kc, tile, ldc, rows,
                                        columns, alpha, tile_bias, block_beta);
                    }
                }
            }
        }
    }
    free(packed_a);
    free(packed_b);
    return 1;
}

#else

int vq_sgemm_avx512(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc, const float *bias,
                    float *a_row_sums) {
    return 0;
}

#endif
