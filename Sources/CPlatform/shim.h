#pragma once
// Allocator controls of glibc that the Glibc module does not export.
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
static inline void vq_keep_large_blocks_for_reuse(int mmap_threshold, int trim_threshold) {
    mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    mallopt(M_TRIM_THRESHOLD, trim_threshold);
    // Blocks above the largest threshold glibc accepts (32 MiB: a photo's activations) would still be mapped
    // and unmapped each time; serving every block from the heap keeps them for reuse too.
    mallopt(M_MMAP_MAX, 0);
}
#else
static inline void vq_keep_large_blocks_for_reuse(int mmap_threshold, int trim_threshold) {
    (void)mmap_threshold; (void)trim_threshold;
}
#endif

// Flush-to-zero and denormals-are-zero for the calling thread: optimiser moments that decay towards zero
// (Adam's m *= beta1 for rarely used weights) otherwise reach the denormal range, where every x86 float
// operation is tens of times slower.
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
static inline void vq_flush_denormals_to_zero(void) { _mm_setcsr(_mm_getcsr() | 0x8040); }
#elif defined(__aarch64__)
#include <stdint.h>
static inline void vq_flush_denormals_to_zero(void) {
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    fpcr |= (uint64_t)1 << 24;
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
}
#else
static inline void vq_flush_denormals_to_zero(void) {}
#endif
