// Two builds of the engine's AVX-512 GEMM (Sources/CKernels/gemm_avx512.c) in one process, one thread, called in
// alternation (the order flips every call), so both meet the same machine: this shared machine's speed moves by
// 20-50% within seconds, which separate runs cannot tell from a change of a few percent. Prints each build's
// median GFLOP/s and the median (and quartiles) of the paired time ratios old/new: above 1, the new build is
// faster. The way each change to the kernels in 2026-12 was judged. A last argument > 0 writes that many MiB
// between calls, so the operands come from memory, as in a training step.
//
// Build HEAD's kernel against the working copy's, then run:
//   git show HEAD:Sources/CKernels/gemm_avx512.c > /tmp/gemm_old.c
//   clang -O2 -c -I Sources/CKernels/include -I Sources/CKernels -Dvq_sgemm_avx512=vq_sgemm_old /tmp/gemm_old.c -o /tmp/old.o
//   clang -O2 -c -I Sources/CKernels/include -I Sources/CKernels Sources/CKernels/gemm_avx512.c -o /tmp/new.o
//   clang -O2 Tools/bench/probes/kernel_pair.c /tmp/old.o /tmp/new.o -o /tmp/kernel_pair
//   /tmp/kernel_pair 41 512,128,6272,1,0 1        (calls, m,n,k,transA,transB, row sums of A^T, [MiB flushed])
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int gemm_fn(int, int, size_t, size_t, size_t, float, const float *, size_t, const float *, size_t, float,
                    float *, size_t, const float *, float *);
gemm_fn vq_sgemm_avx512, vq_sgemm_old;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int ascending(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s calls m,n,k,transA,transB row-sums [MiB flushed]\n", argv[0]); return 2; }
    int calls = atoi(argv[1]), m, n, k, ta, tb, sums = atoi(argv[3]);
    if (calls < 1 || sscanf(argv[2], "%d,%d,%d,%d,%d", &m, &n, &k, &ta, &tb) != 5) { fprintf(stderr, "bad arguments\n"); return 2; }
    size_t flush_bytes = argc > 4 ? (size_t)atoi(argv[4]) << 20 : 0;
    char *flush = flush_bytes ? malloc(flush_bytes) : NULL;
    size_t lda = ta ? m : k, ldb = tb ? k : n;
    float *a = aligned_alloc(64, (4L * m * k + 63) / 64 * 64), *b = aligned_alloc(64, (4L * k * n + 63) / 64 * 64);
    float *c = aligned_alloc(64, (4L * m * n + 63) / 64 * 64), *row_sums = malloc(4L * m);
    for (long i = 0; i < (long)m * k; i++) a[i] = (float)(i % 7) * 0.1f;
    for (long i = 0; i < (long)k * n; i++) b[i] = (float)(i % 5) * 0.1f;
    double *times[2] = {malloc(8 * calls), malloc(8 * calls)}, *ratios = malloc(8 * calls);
    gemm_fn *builds[2] = {vq_sgemm_old, vq_sgemm_avx512};
    for (int i = 0; i < calls; i++) {
        for (int half = 0; half < 2; half++) {
            int build = (i % 2) ^ half;
            if (flush) for (size_t q = 0; q < flush_bytes; q += 64) flush[q]++;
            double start = now();
            builds[build](ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, n, NULL, sums && ta ? row_sums : NULL);
            times[build][i] = now() - start;
        }
        ratios[i] = times[0][i] / times[1][i];
    }
    qsort(times[0], calls, 8, ascending); qsort(times[1], calls, 8, ascending); qsort(ratios, calls, 8, ascending);
    double gflop = 2.0 * m * n * k * 1e-9;
    printf("%dx%dx%d transposed %d%d: old %.1f new %.1f GFLOP/s (medians), paired old/new %.3f [quartiles %.3f %.3f]\n",
           m, n, k, ta, tb, gflop / times[0][calls / 2], gflop / times[1][calls / 2], ratios[calls / 2],
           ratios[calls / 4], ratios[3 * calls / 4]);
    return 0;
}
