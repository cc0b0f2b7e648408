// The unfold of images into column matrices (im2col) and its adjoint, the fold back (col2im), one (image,
// channel) plane at a time, with AVX-512. See include/CKernels.h.
//
// Unfold: each tap's entries for a run of 16 output columns of an output row are one masked load from the
// image row (with stride 2, the even lanes of two), then one store; lanes that fall in the padding read no
// memory and hold 0, so there is no zero-bordered copy of the image.
//
// Fold, in gather form: each run of 16 output pixels is summed in a register over the taps that reach it, then
// written once, so there is no scratch plane and no read-modify-write of memory (masked stores followed by
// overlapping loads stall store forwarding, which made a scatter form slower than scalar code). With stride 2 the
// entries of taps j and j + 1 of one input row interleave into one contiguous run. Every pixel receives its taps in
// the order (i, j) of the scalar fold, so the sums are the same bits. Lanes a tap does not reach add +0, which
// leaves every sum as it is: a sum that starts at +0 is never -0.

#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include "lanes.h"

#define AVX512 __attribute__((target("avx512f")))

/// A masked load at row + offset (the base may lie before the row): lanes outside the mask read no memory and
/// cannot fault.
AVX512 static inline __m512 load_lanes(__mmask16 mask, const float *row, long offset) {
    return _mm512_maskz_loadu_ps(mask, (const float *)((const char *)row + offset * (long)sizeof(float)));
}

AVX512 void vq_col2im_plane_avx512(const float *columns, size_t tap_stride, size_t kernel_height,
                                   size_t kernel_width, size_t stride, size_t padding, size_t rows, size_t width,
                                   float *image, size_t height, size_t image_width, int accumulate, int has_shift,
                                   float shift, int relu) {
    const __m512i interleave = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const long w = (long)width, kw = (long)kernel_width, pad = (long)padding;
    const __m512 shift_v = _mm512_set1_ps(shift);
    const long stride_mask = stride == 2 ? 1 : 0, stride_shift = stride == 2 ? 1 : 0;
    // The next plane's entries follow this one's in every tap row; bring them in while this plane is summed
    // (10-20% faster right after the GEMM that wrote them).
    size_t plane_bytes = rows * width * sizeof(float);
    for (size_t tap = 0; tap < kernel_height * kernel_width; tap++) {
        const char *next = (const char *)(columns + tap * tap_stride) + plane_bytes;
        for (size_t offset = 0; offset < plane_bytes; offset += 64) _mm_prefetch(next + offset, _MM_HINT_T0);
    }
    // Runs of 16 padded-plane columns starting at even x0, so stride-2 pairs always start on an even lane. A
    // tap column's lanes and offset depend only on the run, so they are worked out once per run, not per row.
    for (long x0 = 0; x0 < pad + (long)image_width; x0 += 16) {
        __mmask16 store = vq_lanes(pad - x0, pad + (long)image_width - x0);
        if (!store) continue;
        long offset[VQ_COL2IM_MAX_KERNEL_WIDTH];
        __mmask16 load[VQ_COL2IM_MAX_KERNEL_WIDTH], merge[VQ_COL2IM_MAX_KERNEL_WIDTH];
        for (long j = 0; j < kw; j += (long)stride) {
            if (stride == 1) {
                // Lane l is plane column x0 + l, fed by entry x0 + l - j of tap (i, j).
                offset[j] = x0 - j;
                load[j] = vq_lanes(j - x0, j - x0 + w);
            } else {
                // Lanes 2m and 2m + 1 are fed by entry base + m of taps j and j + 1.
                long base = (x0 - j) / 2;
                offset[j] = base;
                load[j] = vq_lanes(-base, w - base) & 0xFF;
                merge[j] = vq_lanes(2 * (-base), 2 * (w - base)) & (j + 1 < kw ? 0xFFFF : 0x5555);
            }
        }
        for (long out_y = 0; out_y < (long)height; out_y++) {
            long plane_y = out_y + pad;
            float *out_row = image + out_y * (long)image_width;
            __m512 sum = _mm512_setzero_ps();
            for (long i = 0; i < (long)kernel_height; i++) {
                long dy = plane_y - i;
                // Stride 1 or 2: a mask and a shift, not a division.
                if (dy < 0 || (dy & stride_mask)) continue;
                long y = dy >> stride_shift;
                if (y >= (long)rows) continue;
                const float *tap_row = columns + i * kw * (long)tap_stride + y * w;
                if (stride == 1) {
                    for (long j = 0; j < kw; j++)
                        sum = _mm512_add_ps(sum, load_lanes(load[j], tap_row + j * tap_stride, offset[j]));
                } else {
                    for (long j = 0; j < kw; j += 2) {
                        __m512 even = load_lanes(load[j], tap_row + j * tap_stride, offset[j]);
                        __m512 odd = j + 1 < kw ? load_lanes(load[j], tap_row + (j + 1) * tap_stride, offset[j])
                                                : _mm512_setzero_ps();
                        sum = _mm512_add_ps(sum, _mm512_maskz_permutex2var_ps(merge[j], even, interleave, odd));
                    }
                }
            }
            // The scalar fold's last step: image = plane (+ shift), or image += plane + shift.
            if (has_shift || accumulate) sum = _mm512_add_ps(sum, shift_v);
            if (accumulate) sum = _mm512_add_ps(load_lanes(store, out_row, x0 - pad), sum);
            // ReLU as the engine's: v <= 0 becomes +0 (so -0 does too), NaN stays.
            if (relu) sum = _mm512_mask_mov_ps(sum, _mm512_cmp_ps_mask(sum, _mm512_setzero_ps(), _CMP_LE_OQ), _mm512_setzero_ps());
            _mm512_mask_storeu_ps((float *)((char *)out_row + (x0 - pad) * (long)sizeof(float)), store, sum);
        }
    }
}

AVX512 void vq_im2col_plane_avx512(const float *image, size_t height, size_t image_width, size_t kernel_height,
                                   size_t kernel_width, size_t stride, size_t padding, size_t rows, size_t width,
                                   float *columns, size_t tap_stride) {
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const long h = (long)height, iw = (long)image_width, pad = (long)padding, s = (long)stride;
    for (long i = 0; i < (long)kernel_height; i++) {
        for (long j = 0; j < (long)kernel_width; j++) {
            float *tap = columns + (i * (long)kernel_width + j) * (long)tap_stride;
            for (long x0 = 0; x0 < (long)width; x0 += 16) {
                __mmask16 store = vq_lanes_below((size_t)((long)width - x0));
                // Lane l reads image column first + s * l; the loads' lanes outside 0..<iw read nothing and hold 0.
                long first = x0 * s + j - pad;
                __mmask16 low = vq_lanes(-first, iw - first), high = vq_lanes(-first - 16, iw - first - 16);
                for (long y = 0; y < (long)rows; y++) {
                    long source_y = y * s + i - pad;
                    float *out = tap + y * (long)width + x0;
                    __m512 v = _mm512_setzero_ps();
                    if (source_y >= 0 && source_y < h) {
                        const float *row = image + source_y * iw;
                        v = load_lanes(low, row, first);
                        if (s == 2) v = _mm512_permutex2var_ps(v, evens, load_lanes(high, row, first + 16));
                    }
                    _mm512_mask_storeu_ps(out, store, v);
                }
            }
        }
    }
}

#else

void vq_im2col_plane_avx512(const float *image, size_t height, size_t image_width, size_t kernel_height,
                            size_t kernel_width, size_t stride, size_t padding, size_t rows, size_t width,
                            float *columns, size_t tap_stride) {}

void vq_col2im_plane_avx512(const float *columns, size_t tap_stride, size_t kernel_height, size_t kernel_width,
                            size_t stride, size_t padding, size_t rows, size_t width, float *image, size_t height,
                            size_t image_width, int accumulate, int has_shift, float shift, int relu) {}

#endif
