#pragma once
// Allocator controls of glibc that the Glibc module does not export.
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
static inline void vq_keep_large_blocks_for_reuse(int mmap_threshold, int trim_threshold) {
    mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    mallopt(M_TRIM_THRESHOLD, trim_threshold);
}
#else
static inline void vq_keep_large_blocks_for_reuse(int mmap_threshold, int trim_threshold) {
    (void)mmap_threshold; (void)trim_threshold;
}
#endif
