// Causal self-attention of one (batch, head) pair with AVX-512: the six small products of its forward and
// backward pass, and the softmax and its gradient between them. See include/CKernels.h.
//
// A pair's products are 49 x 49 x 32 in TokenPrior, far too small for a GEMM library: OpenBLAS spends most of
// such a call on its entry, its checks and packing. Here every product is a row-combination tile, C[r][:] =
// sum over p of A(r, p) * B[p][:], with up to 8 rows of C by 32 columns held in 16 registers, B read in place
// (rows contiguous) and A through two strides, so a transposed A costs nothing. Causality halves the work:
// probabilities and score gradients are zero after the diagonal, so sums over keys stop at the last row of a
// tile, and the scores are computed only up to it.

#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include "lanes.h"

#define AVX512 __attribute__((target("avx512f")))

enum { TILE_ROWS = 8, TILE_COLUMNS = 32 };

static inline size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

#define TILE_FMA(r)                                                                                              \
    do {                                                                                                         \
        __m512 broadcast = _mm512_set1_ps(a##r[p * a_step]);                                                     \
        c##r##0 = _mm512_fmadd_ps(broadcast, b0, c##r##0);                                                       \
        c##r##1 = _mm512_fmadd_ps(broadcast, b1, c##r##1);                                                       \
    } while (0)

#define TILE_STORE(r)                                                                                            \
    do {                                                                                                         \
        if (r < rows) {                                                                                          \
            float *row = c + (size_t)r * ldc;                                                                    \
            _mm512_mask_storeu_ps(row, low, _mm512_mul_ps(c##r##0, alpha_v));                                    \
            _mm512_mask_storeu_ps(row + 16, high, _mm512_mul_ps(c##r##1, alpha_v));                              \
        }                                                                                                        \
    } while (0)

/// C[r][0..<columns] = alpha * sum over p in [p_start, p_end), in order, of A(r, p) * B[p][0..<columns], for
/// r < rows <= 8 and columns <= 32, where A(r, p) = a[r * a_row + p * a_step] and row p of B starts at b + p * ldb.
/// Rows past `rows` read row 0 again; their sums are not stored.
AVX512 static void tile(size_t rows, size_t columns, size_t p_start, size_t p_end, const float *a, size_t a_row,
                        size_t a_step, const float *b, size_t ldb, float *c, size_t ldc, float alpha) {
    const float *a0 = a, *a1 = a + a_row * (rows > 1), *a2 = a + 2 * a_row * (rows > 2);
    const float *a3 = a + 3 * a_row * (rows > 3), *a4 = a + 4 * a_row * (rows > 4), *a5 = a + 5 * a_row * (rows > 5);
    const float *a6 = a + 6 * a_row * (rows > 6), *a7 = a + 7 * a_row * (rows > 7);
    __mmask16 low = vq_lanes_below(columns), high = vq_lanes_below(columns > 16 ? columns - 16 : 0);
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    __m512 c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (size_t p = p_start; p < p_end; p++) {
        const float *row = b + p * ldb;
        __m512 b0 = _mm512_maskz_loadu_ps(low, row), b1 = _mm512_maskz_loadu_ps(high, row + 16);
        TILE_FMA(0); TILE_FMA(1); TILE_FMA(2); TILE_FMA(3); TILE_FMA(4); TILE_FMA(5); TILE_FMA(6); TILE_FMA(7);
    }
    __m512 alpha_v = _mm512_set1_ps(alpha);
    TILE_STORE(0); TILE_STORE(1); TILE_STORE(2); TILE_STORE(3); TILE_STORE(4); TILE_STORE(5); TILE_STORE(6);
    TILE_STORE(7);
}

/// C (t x n) = W X, where W (t x t, row stride t) is zero after the diagonal, so row i sums p <= i.
/// X is t x n with row stride ldx.
AVX512 static void lower_times(size_t t, size_t n, const float *w, const float *x, size_t ldx, float *c, size_t ldc) {
    for (size_t i = 0; i < t; i += TILE_ROWS) {
        size_t rows = min_size(TILE_ROWS, t - i), end = i + rows;
        for (size_t j = 0; j < n; j += TILE_COLUMNS)
            tile(rows, min_size(TILE_COLUMNS, n - j), 0, end, w + i * t, t, 1, x + j, ldx, c + i * ldc + j, ldc, 1);
    }
}

/// C (t x n) = W^T X for the same W: row j of C sums rows p >= j of X.
AVX512 static void lower_transposed_times(size_t t, size_t n, const float *w, const float *x, size_t ldx, float *c,
                                          size_t ldc) {
    for (size_t j = 0; j < t; j += TILE_ROWS) {
        size_t rows = min_size(TILE_ROWS, t - j);
        for (size_t col = 0; col < n; col += TILE_COLUMNS)
            tile(rows, min_size(TILE_COLUMNS, n - col), j, t, w + j, 1, t, x + col, ldx, c + j * ldc + col, ldc, 1);
    }
}

/// S (t x t) = alpha * A B^T on and below the diagonal (entries after it, up to the end of each tile of rows,
/// get values that the caller overwrites). A and B are t x hs with row strides lda and ldb; `transposed`
/// (hs x stride t_padded) receives B^T so that the product runs as row combinations of its rows.
AVX512 static void lower_scores(size_t t, size_t hs, const float *a, size_t lda, const float *b, size_t ldb,
                                float *transposed, size_t t_padded, float *s, float alpha) {
    for (size_t j = 0; j < t; j++)
        for (size_t d = 0; d < hs; d++) transposed[d * t_padded + j] = b[j * ldb + d];
    for (size_t i = 0; i < t; i += TILE_ROWS) {
        size_t rows = min_size(TILE_ROWS, t - i), end = i + rows;
        for (size_t j = 0; j < end; j += TILE_COLUMNS)
            tile(rows, min_size(TILE_COLUMNS, end - j), 0, hs, a + i * lda, lda, 1, transposed + j, t_padded,
                 s + i * t + j, t, alpha);
    }
}

AVX512 void vq_causal_attention_forward_avx512(size_t t, size_t hs, float scale, const float *q, const float *k,
                                               const float *v, size_t ld_qkv, float *probabilities, float *out,
                                               size_t ld_out, float *scratch) {
    lower_scores(t, hs, q, ld_qkv, k, ld_qkv, scratch, (t + 15) / 16 * 16, probabilities, scale);
    for (size_t i = 0; i < t; i++) {
        float *row = probabilities + i * t, max, total;
        vq_softmax_row_avx512(row, i + 1, row, &max, &total);
        for (size_t j = i + 1; j < t; j++) row[j] = 0;
    }
    lower_times(t, hs, probabilities, v, ld_qkv, out, ld_out);
}

AVX512 void vq_causal_attention_backward_avx512(size_t t, size_t hs, float scale, const float *q, const float *k,
                                                const float *v, size_t ld_qkv, const float *probabilities,
                                                const float *d_out, size_t ld_out, float *dq, float *dk, float *dv,
                                                float *scratch) {
    size_t t_padded = (t + 15) / 16 * 16;
    float *ds = scratch, *transposed = scratch + t * t;
    // dv = P^T dO; dP = dO v^T (on and below the diagonal).
    lower_transposed_times(t, hs, probabilities, d_out, ld_out, dv, ld_qkv);
    lower_scores(t, hs, d_out, ld_out, v, ld_qkv, transposed, t_padded, ds, 1);
    // dS = P * (dP - rowsum(dP * P)) * scale, zero after the diagonal.
    __m512 scale_v = _mm512_set1_ps(scale);
    for (size_t i = 0; i < t; i++) {
        float *row = ds + i * t;
        const float *p_row = probabilities + i * t;
        size_t n = i + 1;
        __m512 dots = _mm512_setzero_ps();
        for (size_t j = 0; j < n; j += 16) {
            __mmask16 mask = vq_lanes_below(n - j);
            dots = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, row + j), _mm512_maskz_loadu_ps(mask, p_row + j), dots);
        }
        __m512 dot = _mm512_set1_ps(_mm512_reduce_add_ps(dots));
        for (size_t j = 0; j < n; j += 16) {
            __mmask16 mask = vq_lanes_below(n - j);
            __m512 gradient = _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, row + j), dot);
            gradient = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(mask, p_row + j), gradient), scale_v);
            _mm512_mask_storeu_ps(row + j, mask, gradient);
        }
        for (size_t j = n; j < t; j++) row[j] = 0;
    }
    // dq = dS k; dk = dS^T q.
    lower_times(t, hs, ds, k, ld_qkv, dq, ld_qkv);
    lower_transposed_times(t, hs, ds, q, ld_qkv, dk, ld_qkv);
}

#else

void vq_causal_attention_forward_avx512(size_t t, size_t hs, float scale, const float *q, const float *k,
                                        const float *v, size_t ld_qkv, float *probabilities, float *out,
                                        size_t ld_out, float *scratch) {}
void vq_causal_attention_backward_avx512(size_t t, size_t hs, float scale, const float *q, const float *k,
                                         const float *v, size_t ld_qkv, const float *probabilities,
                                         const float *d_out, size_t ld_out, float *dq, float *dk, float *dv,
                                         float *scratch) {}

#endif
