// How long after a parallel loop starts does its second thread begin its share? Dispatch's dispatch_apply (what
// the engine used before 2026-12-01) against the engine's workers (Sources/CKernels/thread_pool.c), with 200 us
// of single-threaded work between loops, as between the split products of a training step. Prints the median
// and 90th percentile (and the mean) delay of iteration 1's start after the loop's start, over 2,000 loops each,
// alternating.
// Build and run (Dispatch's header and library come with Swift):
//   clang -O2 -I Sources/CKernels/include -I /opt/swift/usr/lib/swift Tools/bench/probes/loop_start.c \
//      Sources/CKernels/thread_pool.c -o /tmp/loop_start -L /opt/swift/usr/lib/swift/linux -ldispatch -lpthread \
//      -Wl,-rpath,/opt/swift/usr/lib/swift/linux && /tmp/loop_start
#include <dispatch/dispatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "CKernels.h"

static int64_t now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }
static int ascending(const void *a, const void *b) { int64_t x = *(const int64_t *)a, y = *(const int64_t *)b; return x < y ? -1 : x > y; }

static volatile int64_t loop_start, second_start;
static void share(void *context, size_t i) {
    if (i == 1) second_start = now();
    volatile double x = 0;
    for (int j = 0; j < 20000; j++) x += j;  // some work in each share
}
static void dispatch_share(void *context, size_t i) { share(context, i); }
static void serial_work(void) { int64_t end = now() + 200000; while (now() < end) {} }

int main(void) {
    enum { LOOPS = 2000 };
    static int64_t delays[2][LOOPS];
    dispatch_queue_t queue = dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0);
    for (int i = 0; i < LOOPS; i++)
        for (int which = 0; which < 2; which++) {
            serial_work();
            loop_start = now();
            if (which == 0) dispatch_apply_f(2, queue, NULL, dispatch_share);
            else vq_parallel_for(2, 2, share, NULL);
            delays[which][i] = second_start - loop_start;
        }
    const char *names[2] = {"dispatch_apply", "vq_parallel_for"};
    for (int which = 0; which < 2; which++) {
        double total = 0;
        for (int i = 0; i < LOOPS; i++) total += delays[which][i];
        qsort(delays[which], LOOPS, sizeof(int64_t), ascending);
        printf("%-16s second share starts after: median %.1f us, 90th percentile %.1f us, mean %.1f us\n",
               names[which], delays[which][LOOPS / 2] / 1e3, delays[which][LOOPS * 9 / 10] / 1e3, total / LOOPS / 1e3);
    }
    return 0;
}
