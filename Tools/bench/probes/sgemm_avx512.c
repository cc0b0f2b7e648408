// The engine's AVX-512 GEMM (Sources/CKernels/gemm_avx512.c) against OpenBLAS, one thread, on the reference
// models' shapes and every transpose case: best-of-N GFLOP/s and the largest difference (ONLY=abc... picks
// shapes by letter; a first argument multiplies the repetitions). gemm_vs_torch.py adds PyTorch's MKL. Build and run:
// cc -O2 -I Sources/CKernels/include Tools/bench/probes/sgemm_avx512.c Sources/CKernels/gemm_avx512.c \
//    -o /tmp/sgemm_avx512 -lopenblas && OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=SkylakeX /tmp/sgemm_avx512
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "CKernels.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
    // m, n, k, transA, transB, beta
    int shapes[][6] = {
        {2048, 2048, 2048, 0, 0, 0},
        {6272, 384, 128, 0, 1, 0}, {6272, 128, 384, 0, 0, 0}, {384, 128, 6272, 1, 0, 1},
        {6272, 512, 128, 0, 1, 0}, {6272, 128, 512, 0, 1, 0}, {6272, 128, 512, 0, 0, 0}, {512, 128, 6272, 1, 0, 1},
        {6272, 512, 128, 0, 1, 0}, {49, 49, 32, 0, 1, 0}, {49, 32, 49, 0, 0, 0},
        {64, 3136, 576, 0, 0, 0}, {576, 3136, 64, 1, 0, 0}, {64, 576, 3136, 0, 1, 1},
        {32, 3136, 16, 0, 0, 0}, {128, 784, 1024, 0, 0, 0}, {1024, 784, 128, 1, 0, 0},
        {100, 100, 100, 0, 0, 0}, {13, 37, 51, 1, 1, 1},
    };
    int count = sizeof shapes / sizeof shapes[0];
    const char *only = getenv("ONLY");
    for (int s = 0; s < count; s++) {
        if (only && !strchr(only, 'a' + s)) continue;
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ta = shapes[s][3], tb = shapes[s][4];
        float beta = shapes[s][5];
        int lda = ta ? m : k, ldb = tb ? k : n;
        float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
        float *c0 = malloc(sizeof(float) * m * n), *c1 = malloc(sizeof(float) * m * n);
        for (long i = 0; i < (long)m * k; i++) a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        for (long i = 0; i < (long)k * n; i++) b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
        for (long i = 0; i < (long)m * n; i++) c0[i] = c1[i] = (float)(i % 13) * 0.1f;
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, beta, c0, n);
        vq_sgemm_avx512(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c1, n, NULL, NULL);
        double worst = 0;
        for (long i = 0; i < (long)m * n; i++) { double d = fabs(c0[i] - c1[i]) / (fabs(c0[i]) + 1); if (d > worst) worst = d; }
        double flop = 2.0 * m * n * k;
        int reps = flop > 5e9 ? 5 : (int)(2e9 / flop) + 3; if (reps > 200) reps = 200;
        double best[2] = {1e9, 1e9}; reps = reps * (argc > 1 ? atoi(argv[1]) : 1);
        for (int r = 0; r < reps; r++) {
            double t = now();
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, beta, c0, n);
            t = now() - t; if (t < best[0]) best[0] = t;
            t = now();
            vq_sgemm_avx512(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c1, n, NULL, NULL);
            t = now() - t; if (t < best[1]) best[1] = t;
        }
        printf("%5d x %5d x %5d  tA=%d tB=%d beta=%.0f  openblas %6.1f  avx512 %6.1f GFLOP/s  ratio %.2f  maxdiff %.1e\n",
               m, n, k, ta, tb, beta, flop / best[0] * 1e-9, flop / best[1] * 1e-9, best[0] / best[1], worst);
        free(a); free(b); free(c0); free(c1);
    }
    return 0;
}
