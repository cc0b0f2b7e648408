#ifndef VQ_CKERNELS_H
#define VQ_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Plain C kernels over buffers that Swift cannot compile as fast: Swift builds for baseline x86-64 (SSE2),
/// while these pick AVX2 or AVX-512 at run time through function target attributes (no special compiler flags).

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

#endif
