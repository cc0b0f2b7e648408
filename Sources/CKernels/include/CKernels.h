#ifndef VQ_CKERNELS_H
#define VQ_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Plain C kernels over buffers that Swift cannot compile as fast: Swift builds for baseline x86-64 (SSE2),
/// while these pick AVX2 or AVX-512 at run time through function target attributes (no special compiler flags).
/// And the engine's worker threads (`vq_parallel_for`): they spin with the CPU's pause instruction and sleep on
/// a futex (a variadic `syscall`), neither of which Swift reaches.

/// HDF5's fletcher32 sums over big-endian 16-bit words, fed piece by piece: sum1 = sum(w_i) and
/// sum2 = sum((n - i) w_i), each kept reduced modulo 65535; `nonzero` is 1 once some word is not zero.
/// The caller applies libhdf5's final folding.
typedef struct {
    uint64_t sum1, sum2;
    int nonzero;
} vq_fletcher32_state;

/// Adds `bytes[0..<count]` to `state`. Every piece but the last must have an even length; an odd last
/// byte is the high byte of a last word.
void vq_fletcher32_update(vq_fletcher32_state *state, const uint8_t *bytes, size_t count);

/// 1 when the AVX2 path of `vq_fletcher32_update` runs on this CPU, else 0 (for tests and benchmarks).
int vq_fletcher32_uses_avx2(void);

/// Forces the portable path (nonzero) or lets the CPU decide (0), for tests comparing the two paths.
void vq_fletcher32_force_portable(int on);

/// 1 when the CPU runs AVX-512F, so the `_avx512` kernels below may be called; 0 otherwise.
int vq_has_avx512(void);

/// Exact-erf GELU with its derivative: out = x Phi(x), slope = Phi(x) + x phi(x), for `count` elements, with
/// the engine's erf and exp approximations (absolute error of Phi below 4e-7). Only when `vq_has_avx512()`.
void vq_gelu_avx512(const float *x, float *out, float *slope, size_t count);

/// The maximum m of x[0..<width] (0 when all are -infinity) and the sum of e^(x - m). Only with AVX-512.
void vq_row_max_exp_sum_avx512(const float *x, size_t width, float *max, float *total);

/// out = softmax(x[0..<width]) (out may be x), with the maximum and the sum of e^(x - max). Only with AVX-512.
void vq_softmax_row_avx512(const float *x, size_t width, float *out, float *max, float *total);

/// Unfolds one (image, channel) plane (height x image_width) into its rows of a column matrix: entry (y, x) of
/// tap (i, j), at columns + (i * kernel_width + j) * tap_stride + y * width + x for y < rows and x < width, is
/// pixel (y * stride + i - padding, x * stride + j - padding), or 0 in the padding. Stride 1 or 2 only; only
/// with AVX-512.
void vq_im2col_plane_avx512(const float *image, size_t height, size_t image_width, size_t kernel_height,
                            size_t kernel_width, size_t stride, size_t padding, size_t rows, size_t width,
                            float *columns, size_t tap_stride);

/// Folds one (image, channel) plane of a column matrix into an image plane (height x image_width): pixel
/// (Y, X) receives, in tap order, entry (y, x) of every tap (i, j) with Y + padding = y * stride + i and
/// X + padding = x * stride + j; tap (i, j)'s entries start at columns + (i * kernel_width + j) * tap_stride, `rows`
/// by `width`. Then image = sum (+ shift when has_shift), or with `accumulate` image += sum + shift, as the
/// engine's scalar fold does, and with `relu` values <= 0 become +0. Stride 1 or 2 only, kernel_width at most
/// VQ_COL2IM_MAX_KERNEL_WIDTH; only with AVX-512.
#define VQ_COL2IM_MAX_KERNEL_WIDTH 16
void vq_col2im_plane_avx512(const float *columns, size_t tap_stride, size_t kernel_height, size_t kernel_width,
                            size_t stride, size_t padding, size_t rows, size_t width, float *image, size_t height,
                            size_t image_width, int accumulate, int has_shift, float shift, int relu);

/// Causal self-attention of one (batch, head) pair, forward: q, k and v are t x hs with row stride ld_qkv;
/// probabilities (t x t) = softmax over keys j <= i of scale * q k^T, zero after the diagonal; out (row stride
/// ld_out) = probabilities v. `scratch` holds hs x round_up(t, 16) floats. Only with AVX-512.
void vq_causal_attention_forward_avx512(size_t t, size_t hs, float scale, const float *q, const float *k,
                                        const float *v, size_t ld_qkv, float *probabilities, float *out,
                                        size_t ld_out, float *scratch);

/// Its backward, from the forward's probabilities and the output's gradient d_out (row stride ld_out): writes
/// dq, dk and dv (row stride ld_qkv). `scratch` holds t x t + hs x round_up(t, 16) floats. Only with AVX-512.
void vq_causal_attention_backward_avx512(size_t t, size_t hs, float scale, const float *q, const float *k,
                                         const float *v, size_t ld_qkv, const float *probabilities,
                                         const float *d_out, size_t ld_out, float *dq, float *dk, float *dv,
                                         float *scratch);

/// C[m x n] = alpha * op(A) * op(B) (+ bias[j] on every row j-th column) + beta * C, on one thread, row-major:
/// cblas_sgemm's CblasRowMajor arguments (lda, ldb, ldc: leading dimensions of the stored matrices; C is not read
/// when beta is 0), plus an optional bias of n values (NULL for none). Every element sums over k in the same order
/// wherever it lies, so a band of rows or columns of C gives the bits of the whole product. Returns 1, or 0 without
/// touching C when a size is 0 or the packing buffers cannot be allocated. With a transposed A, `a_row_sums`
/// (NULL for none) receives the m sums over k of op(A)'s rows, k in order (a bias gradient, read on the way).
/// Only with AVX-512.
int vq_sgemm_avx512(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc, const float *bias,
                    float *a_row_sums);

/// C[m x n] = op(A) * op(B) + beta * C for beta 0 or 1 (C is not read when beta is 0), row-major with
/// cblas_sgemm's leading dimensions, B untransposed, on up to `threads` of the engine's threads
/// (`vq_parallel_for`): for large products (hundreds to thousands on every side). Every element sums over k in
/// the same order whatever the thread count. Returns 1, or 0 without touching C when a size is 0, beta is neither
/// 0 nor 1, the CPU lacks AVX-512 or the packing buffers cannot be allocated.
int vq_sgemm_large(int trans_a, size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                   size_t ldb, float beta, float *c, size_t ldc, size_t threads);

/// Calls body(context, i) once for every i in 0..<iterations, on the calling thread and up to threads - 1
/// of the engine's worker threads (started on first use), and returns when all calls have returned. Each
/// iteration runs exactly once; which thread runs it is not fixed. Idle workers spin for 2 ms after a loop
/// before they sleep, so loops in quick succession start on every core at once. One loop runs at a time: a
/// call made while another is running (from another thread, or from inside a body) runs its iterations on
/// its own thread. `body` must not unwind.
void vq_parallel_for(size_t threads, size_t iterations, void (*body)(void *context, size_t index), void *context);

/// How many worker threads `vq_parallel_for` has started, and the CPU time they have used (for tests).
int vq_parallel_workers_started(void);
double vq_parallel_workers_cpu_seconds(void);

#endif
