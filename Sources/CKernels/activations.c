// Elementwise activations with AVX-512 where the CPU has it. See include/CKernels.h.
//
// The same approximations as the engine's Swift code (Kernels/VectorMath.swift): a Cephes-style exp and
// Abramowitz-Stegun 7.1.26 for erf, here 16 lanes wide with fused multiply-adds.

#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include "lanes.h"

int vq_has_avx512(void) { return __builtin_cpu_supports("avx512f"); }

__attribute__((target("avx512f"))) static inline __m512 exp16(__m512 x) {
    __m512 z = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33f)), _mm512_set1_ps(88.72f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(z, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), z));
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    __m512 result = _mm512_scalef_ps(y, n);
    // Below the clamp the true value underflows to 0.
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33f), _CMP_GE_OQ), result);
}

__attribute__((target("avx512f")))
void vq_gelu_avx512(const float *x, float *out, float *slope, size_t count) {
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 mask = vq_lanes_below(count - i);
        __m512 v = _mm512_maskz_loadu_ps(mask, x + i);
        __m512 z = _mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f));
        __m512 a = _mm512_abs_ps(z);
        __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
        __m512 p = _mm512_set1_ps(1.061405429f);
        p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
        p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
        p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
        p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
        __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(a, a)));
        __m512 erf = _mm512_fnmadd_ps(_mm512_mul_ps(p, t), e, _mm512_set1_ps(1.0f));
        // erf is odd: negative z gets -erf (the sign bit of z copied onto it).
        erf = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(erf),
                                  _mm512_and_si512(_mm512_castps_si512(z), _mm512_set1_epi32((int)0x80000000))));
        __m512 cdf = _mm512_mul_ps(_mm512_set1_ps(0.5f), _mm512_add_ps(_mm512_set1_ps(1.0f), erf));
        __m512 density = _mm512_mul_ps(e, _mm512_set1_ps(0.39894228040143268f));
        _mm512_mask_storeu_ps(out + i, mask, _mm512_mul_ps(v, cdf));
        _mm512_mask_storeu_ps(slope + i, mask, _mm512_fmadd_ps(v, density, cdf));
    }
}

// Rows are read in 16-lane vectors; a partial last vector is padded with -infinity, whose exponential is 0.
__attribute__((target("avx512f"))) static inline __m512 load_row(const float *x, size_t j, size_t width) {
    __mmask16 mask = vq_lanes_below(width - j);
    return _mm512_mask_loadu_ps(_mm512_set1_ps(-__builtin_inff()), mask, x + j);
}

__attribute__((target("avx512f"))) static inline float row_max(const float *x, size_t width) {
    __m512 lanes = _mm512_set1_ps(-__builtin_inff());
    for (size_t j = 0; j < width; j += 16) lanes = _mm512_max_ps(lanes, load_row(x, j, width));
    float m = _mm512_reduce_max_ps(lanes);
    return m == -__builtin_inff() ? 0.0f : m;
}

__attribute__((target("avx512f")))
void vq_row_max_exp_sum_avx512(const float *x, size_t width, float *max, float *total) {
    float m = row_max(x, width);
    __m512 sums = _mm512_setzero_ps(), shift = _mm512_set1_ps(m);
    for (size_t j = 0; j < width; j += 16) sums = _mm512_add_ps(sums, exp16(_mm512_sub_ps(load_row(x, j, width), shift)));
    *max = m;
    *total = _mm512_reduce_add_ps(sums);
}

__attribute__((target("avx512f")))
void vq_softmax_row_avx512(const float *x, size_t width, float *out, float *max, float *total) {
    float m = row_max(x, width);
    __m512 sums = _mm512_setzero_ps(), shift = _mm512_set1_ps(m);
    for (size_t j = 0; j < width; j += 16) {
        __mmask16 mask = vq_lanes_below(width - j);
        __m512 e = exp16(_mm512_sub_ps(load_row(x, j, width), shift));
        sums = _mm512_add_ps(sums, e);
        _mm512_mask_storeu_ps(out + j, mask, e);
    }
    float t = _mm512_reduce_add_ps(sums);
    __m512 inverse = _mm512_set1_ps(1.0f / t);
    for (size_t j = 0; j < width; j += 16) {
        __mmask16 mask = vq_lanes_below(width - j);
        _mm512_mask_storeu_ps(out + j, mask, _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, out + j), inverse));
    }
    *max = m;
    *total = t;
}
#else
int vq_has_avx512(void) { return 0; }
void vq_row_max_exp_sum_avx512(const float *x, size_t width, float *max, float *total) { (void)x; (void)width; *max = 0; *total = 0; }
void vq_softmax_row_avx512(const float *x, size_t width, float *out, float *max, float *total) {
    (void)x; (void)width; (void)out; *max = 0; *total = 0;
}
void vq_gelu_avx512(const float *x, float *out, float *slope, size_t count) { (void)x; (void)out; (void)slope; (void)count; }
#endif
