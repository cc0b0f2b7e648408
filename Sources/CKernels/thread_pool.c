// The engine's worker threads: a parallel loop whose workers spin for a while before they sleep.
// See include/CKernels.h.
//
// Why not Dispatch: on this 2-core VM a parked Dispatch worker took 0.3-0.85 ms on average to start its half
// of a product (a halted virtual CPU has to be scheduled again), and a TokenPrior step runs about 30 split
// products, so one core sat idle for 8-11% of a step at 2 threads. Workers here watch a counter for a short
// while after each loop; a loop that follows within that time starts on every core at once. (OpenMP, which
// PyTorch uses, spins the same way.)
//
// One loop at a time: a caller that finds the pool busy (another thread's loop, or a loop started inside a
// loop's body) runs its iterations itself, so nothing waits on a worker that waits on it.

#include "CKernels.h"
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

enum { MAX_WORKERS = 63 };
// How long an idle worker keeps watching for the next loop before it sleeps. The gaps between the parallel
// loops of a training step are mostly far shorter; longer would only burn a core after the last loop.
static const int64_t SPIN_NANOSECONDS = 2000000;

static struct {
    atomic_int busy;                    // 1 while a caller owns the pool
    atomic_uint generation;             // bumped to publish a loop; workers sleep on it
    atomic_uint open_generation;        // the generation whose loop may still be joined; 0 once closed
    atomic_int attached;                // workers inside a loop's fields right now
    atomic_int sleepers;                // workers asleep (or about to be) on `generation`
    atomic_size_t next, done;           // the next unclaimed iteration; iterations finished
    size_t iterations;
    size_t workers_wanted;              // workers 0..<workers_wanted join this loop
    void (*body)(void *, size_t);
    void *context;
    int workers;                        // threads started so far
    pthread_t threads[MAX_WORKERS];
    unsigned first_seen[MAX_WORKERS];   // the generation before the loop that started each worker
    pthread_mutex_t start_lock;
} pool = {.start_lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void sleep_while_equal(atomic_uint *word, unsigned value) {
#if defined(__linux__)
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
#else
    struct timespec pause = {0, 50000};
    if (atomic_load(word) == value) nanosleep(&pause, NULL);
#endif
}

static void wake_all(atomic_uint *word) {
#if defined(__linux__)
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    (void)word;
#endif
}

/// Claims iterations until none are left.
static void run_iterations(void) {
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&pool.next, 1, memory_order_relaxed);
        if (i >= pool.iterations) return;
        pool.body(pool.context, i);
        atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
    }
}

static void *worker_main(void *argument) {
    size_t index = (size_t)(uintptr_t)argument;
    // Not the current generation: the loop that started this worker may already be published, and it joins it.
    unsigned seen = pool.first_seen[index];
    for (;;) {
        // Watch for the next loop, then sleep until it comes.
        int64_t deadline = now_nanoseconds() + SPIN_NANOSECONDS;
        unsigned current;
        for (int spins = 0; (current = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen; spins++) {
            CPU_RELAX();
            if ((spins & 255) == 255 && now_nanoseconds() > deadline) {
                atomic_fetch_add(&pool.sleepers, 1);
                while ((current = atomic_load(&pool.generation)) == seen) sleep_while_equal(&pool.generation, seen);
                atomic_fetch_sub(&pool.sleepers, 1);
                break;
            }
        }
        seen = current;
        // Join only the loop of this generation, and only while the caller has not closed it (Dekker with
        // the caller's close-then-check of `attached`: one of the two sees the other).
        atomic_fetch_add(&pool.attached, 1);
        if (atomic_load(&pool.open_generation) == seen && index < pool.workers_wanted) run_iterations();
        atomic_fetch_sub(&pool.attached, 1);
    }
    return NULL;
}

/// Starts workers until there are `count` (or as many as the system gives). Called by the pool's owner.
static int ensure_workers(int count) {
    pthread_mutex_lock(&pool.start_lock);
    while (pool.workers < count) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        pool.first_seen[pool.workers] = atomic_load(&pool.generation);
        int failed = pthread_create(&thread, &attributes, worker_main, (void *)(uintptr_t)pool.workers);
        pthread_attr_destroy(&attributes);
        if (failed) break;
        pool.threads[pool.workers++] = thread;
    }
    int started = pool.workers;
    pthread_mutex_unlock(&pool.start_lock);
    return started;
}

void vq_parallel_for(size_t threads, size_t iterations, void (*body)(void *context, size_t index), void *context) {
    size_t wanted = threads < iterations ? threads : iterations;
    int expected = 0;
    if (wanted <= 1 || !atomic_compare_exchange_strong(&pool.busy, &expected, 1)) {
        for (size_t i = 0; i < iterations; i++) body(context, i);
        return;
    }
    int workers = ensure_workers((int)(wanted - 1 < MAX_WORKERS ? wanted - 1 : MAX_WORKERS));
    // No worker may still be reading the previous loop's fields (it closed that loop before returning).
    while (atomic_load(&pool.attached) != 0) CPU_RELAX();
    pool.body = body;
    pool.context = context;
    pool.iterations = iterations;
    pool.workers_wanted = (size_t)workers < wanted - 1 ? (size_t)workers : wanted - 1;
    atomic_store_explicit(&pool.next, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    unsigned generation = atomic_load(&pool.generation) + 1;
    if (generation == 0) generation = 1;  // 0 means closed
    atomic_store(&pool.open_generation, generation);
    atomic_store(&pool.generation, generation);
    if (atomic_load(&pool.sleepers) > 0) wake_all(&pool.generation);
    run_iterations();
    // Wait for the iterations the workers claimed.
    for (int spins = 0; atomic_load_explicit(&pool.done, memory_order_acquire) < iterations; spins++) {
        CPU_RELAX();
        if ((spins & 4095) == 4095) sched_yield();
    }
    atomic_store(&pool.open_generation, 0);
    atomic_store(&pool.busy, 0);
}

int vq_parallel_workers_started(void) {
    pthread_mutex_lock(&pool.start_lock);
    int started = pool.workers;
    pthread_mutex_unlock(&pool.start_lock);
    return started;
}

double vq_parallel_workers_cpu_seconds(void) {
    double total = 0;
    pthread_mutex_lock(&pool.start_lock);
    for (int i = 0; i < pool.workers; i++) {
        clockid_t clock;
        struct timespec t;
        if (pthread_getcpuclockid(pool.threads[i], &clock) == 0 && clock_gettime(clock, &t) == 0)
            total += (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
    }
    pthread_mutex_unlock(&pool.start_lock);
    return total;
}
