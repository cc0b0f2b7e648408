// Float32 GEMM with AVX-512 for large products (hundreds to thousands on every side, gemm-2048), row-major, on
// the engine's worker threads. See include/CKernels.h.
//
// MKL's layout, read off a profile of torch.mm (Tools/bench/RESULTS.md): C is cut into tiles of 8 rows by 48
// columns, 24 of the 32 vector registers accumulating a tile; each step of k loads three vectors of B and
// broadcasts eight values of A. B is packed a block of k at a time, the whole width of C (up to NC columns), into
// panels 48 wide; A a block of MC rows at a time into panels 8 high. One B panel at a time meets every A panel of
// the block. The inner loop is written in assembly: the compiler's loop from intrinsics reached 0.90-0.92 of MKL
// on gemm-2048 (Tools/bench/probes/sgemm_large_8x48.c), this one 0.91-0.99 (probes/gemm_large_vs_torch.py), on an
// Intel Xeon; on an AMD EPYC (Zen 4), where MKL is slower, 1.27. It loads the next step's B while the current one
// is multiplied, and prefetches A and B 16 steps ahead.
//
// With several threads, B's panels are packed, then blocks of MC rows of C multiplied, each claimed by whichever
// thread is free (a core the machine slows down takes fewer; fixed halves were 0.917 of MKL at 2 threads, these
// 0.937, probes/gemm_large_vs_torch.py, 31 rounds). B is packed once, not once a thread (two single-threaded
// OpenBLAS halves each pack all of B). Every element of C is the same sum in the same order whatever the thread
// count: k runs in order within blocks, the blocks in order, and the block sizes depend only on the shape.

#include "CKernels.h"
#include <stdlib.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include "lanes.h"

enum { MR = 8, NR = 48, KC = 512, MC = 384, NC = 2112, MAX_THREADS = 64 };

#define AVX512 __attribute__((target("avx512f")))

static inline size_t min_size(size_t a, size_t b) { return a < b ? a : b; }
static inline size_t round_up(size_t value, size_t step) { return (value + step - 1) / step * step; }
/// `total` cut into ceil(total / limit) even blocks, rounded up to `step`: no short last block.
static inline size_t even_block(size_t total, size_t limit, size_t step) {
    size_t blocks = (total + limit - 1) / limit;
    return round_up((total + blocks - 1) / blocks, step);
}

/// Packs panel `index` of B[pc..<pc+kc, jc..<jc+nc] (untransposed): its NR columns, kc x NR, k-major, at
/// packed + index * NR * kc, columns past `nc` zero.
AVX512 static void pack_b_panel(const float *b, size_t ldb, size_t pc, size_t jc, size_t kc, size_t nc,
                                size_t index, float *packed) {
    size_t j = index * NR, width = min_size(NR, nc - j);
    __mmask16 m0 = vq_lanes_below(width), m1 = vq_lanes_below(width > 16 ? width - 16 : 0);
    __mmask16 m2 = vq_lanes_below(width > 32 ? width - 32 : 0);
    const float *source = b + pc * ldb + jc + j;
    float *panel = packed + j * kc;
    for (size_t k = 0; k < kc; k++, source += ldb, panel += NR) {
        _mm512_store_ps(panel, _mm512_maskz_loadu_ps(m0, source));
        _mm512_store_ps(panel + 16, _mm512_maskz_loadu_ps(m1, source + 16));
        _mm512_store_ps(panel + 32, _mm512_maskz_loadu_ps(m2, source + 32));
    }
}

/// Packs op(A)[ic..<ic+mc, pc..<pc+kc] into panels of MR rows, each kc x MR, k-major, rows past `mc` zero.
/// Untransposed, eight rows are read eight values at a time and transposed in registers; transposed (A stored
/// k-major), a panel's eight values per k are already contiguous.
AVX512 static void pack_a(int trans, const float *a, size_t lda, size_t ic, size_t pc, size_t mc, size_t kc,
                          float *packed) {
    for (size_t i = 0; i < mc; i += MR, packed += MR * kc) {
        size_t rows = min_size(MR, mc - i);
        if (trans) {
            __mmask16 valid = vq_lanes_below(rows);
            const float *source = a + pc * lda + ic + i;
            for (size_t k = 0; k < kc; k++)
                _mm256_store_ps(packed + k * MR, _mm512_castps512_ps256(_mm512_maskz_loadu_ps(valid, source + k * lda)));
            continue;
        }
        const float *source = a + (ic + i) * lda + pc;
        size_t k = 0;
        if (rows == MR) {
            for (; k + 8 <= kc; k += 8) {
                __m256 r0 = _mm256_loadu_ps(source + k), r1 = _mm256_loadu_ps(source + lda + k);
                __m256 r2 = _mm256_loadu_ps(source + 2 * lda + k), r3 = _mm256_loadu_ps(source + 3 * lda + k);
                __m256 r4 = _mm256_loadu_ps(source + 4 * lda + k), r5 = _mm256_loadu_ps(source + 5 * lda + k);
                __m256 r6 = _mm256_loadu_ps(source + 6 * lda + k), r7 = _mm256_loadu_ps(source + 7 * lda + k);
                __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
                __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
                __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
                __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
                __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
                __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
                __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
                __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
                float *d = packed + k * MR;
                _mm256_store_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
                _mm256_store_ps(d + 8, _mm256_permute2f128_ps(u1, u5, 0x20));
                _mm256_store_ps(d + 16, _mm256_permute2f128_ps(u2, u6, 0x20));
                _mm256_store_ps(d + 24, _mm256_permute2f128_ps(u3, u7, 0x20));
                _mm256_store_ps(d + 32, _mm256_permute2f128_ps(u0, u4, 0x31));
                _mm256_store_ps(d + 40, _mm256_permute2f128_ps(u1, u5, 0x31));
                _mm256_store_ps(d + 48, _mm256_permute2f128_ps(u2, u6, 0x31));
                _mm256_store_ps(d + 56, _mm256_permute2f128_ps(u3, u7, 0x31));
            }
        }
        for (; k < kc; k++)
            for (size_t r = 0; r < MR; r++) packed[k * MR + r] = r < rows ? source[r * lda + k] : 0;
    }
}

// The microkernel's assembly. Accumulators: row r of the tile in zmm(3r)..zmm(3r+2). B: zmm24-26 on even steps,
// zmm27-29 on odd ones; broadcasts of A alternate between zmm30 and zmm31. Offsets are assembler expressions.
#define ROW(s, r, c0, c1, c2, x, b0, b1, b2)                                                                   \
    "vbroadcastss " #s "*32+" #r "*4(%[a]), %%zmm" #x "\n\t"                                                   \
    "vfmadd231ps %%zmm" #b0 ", %%zmm" #x ", %%zmm" #c0 "\n\t"                                                  \
    "vfmadd231ps %%zmm" #b1 ", %%zmm" #x ", %%zmm" #c1 "\n\t"                                                  \
    "vfmadd231ps %%zmm" #b2 ", %%zmm" #x ", %%zmm" #c2 "\n\t"
#define LOAD_B(s, b0, b1, b2)                                                                                  \
    "vmovaps " #s "*192(%[b]), %%zmm" #b0 "\n\t"                                                               \
    "vmovaps " #s "*192+64(%[b]), %%zmm" #b1 "\n\t"                                                            \
    "vmovaps " #s "*192+128(%[b]), %%zmm" #b2 "\n\t"
// B's three lines of a step, 16 steps ahead (3,072 bytes), one after each of three rows.
#define PREFETCH_B(s, line) "prefetcht0 3072+" #s "*192+" #line "*64(%[b])\n\t"
// A's line 16 steps ahead (512 bytes), every other step (a line holds two steps).
#define PREFETCH_A(s) "prefetcht0 512+" #s "*32(%[a])\n\t"
// Step s of a group of four, multiplying B in b0..b2; `next` loads the next step's B, `extra` adds prefetches.
#define STEP(s, b0, b1, b2, next, extra_a, extra_b)                                                            \
    ROW(s, 0, 0, 1, 2, 30, b0, b1, b2) ROW(s, 1, 3, 4, 5, 31, b0, b1, b2) next                                 \
    ROW(s, 2, 6, 7, 8, 30, b0, b1, b2) PREFETCH_B(s, 0) ROW(s, 3, 9, 10, 11, 31, b0, b1, b2)                   \
    ROW(s, 4, 12, 13, 14, 30, b0, b1, b2) extra_a ROW(s, 5, 15, 16, 17, 31, b0, b1, b2) extra_b                \
    ROW(s, 6, 18, 19, 20, 30, b0, b1, b2) PREFETCH_B(s, 2) ROW(s, 7, 21, 22, 23, 31, b0, b1, b2)
#define ZERO(r) "vpxord %%zmm" #r ", %%zmm" #r ", %%zmm" #r "\n\t"
#define ZERO_ROW(c0, c1, c2) ZERO(c0) ZERO(c1) ZERO(c2)
#define STORE_ROW(c0, c1, c2)                                                                                  \
    "vmovups %%zmm" #c0 ", (%[c])\n\t" "vmovups %%zmm" #c1 ", 64(%[c])\n\t" "vmovups %%zmm" #c2 ", 128(%[c])\n\t" \
    "add %[ldc], %[c]\n\t"
#define ADD_ROW(c0, c1, c2)                                                                                    \
    "vaddps (%[c]), %%zmm" #c0 ", %%zmm" #c0 "\n\t" "vaddps 64(%[c]), %%zmm" #c1 ", %%zmm" #c1 "\n\t"          \
    "vaddps 128(%[c]), %%zmm" #c2 ", %%zmm" #c2 "\n\t" STORE_ROW(c0, c1, c2)
#define ALL_ROWS(OP) OP(0, 1, 2) OP(3, 4, 5) OP(6, 7, 8) OP(9, 10, 11) OP(12, 13, 14) OP(15, 16, 17)            \
    OP(18, 19, 20) OP(21, 22, 23)

/// C[0..<8, 0..<48] (row stride ldc floats) = (add ? C : 0) + the product of a packed A panel (8 values per k)
/// and a packed B panel (48 per k) over kc steps. Reads up to one step of B past the panel (the buffer is padded).
/// Ends with vzeroupper, as compiled AVX code does, so that SSE code after it pays no transition.
AVX512 static void kernel_8x48(size_t kc, const float *a, const float *b, float *c, size_t ldc, int add) {
    size_t groups = kc / 4, rest = kc % 4, ldc_bytes = ldc * sizeof(float);
    long accumulate = add;
    __asm__ volatile(
        ALL_ROWS(ZERO_ROW)
        "test %[groups], %[groups]\n\t"
        "jz 2f\n\t"
        LOAD_B(0, 24, 25, 26)
        "1:\n\t"
        STEP(0, 24, 25, 26, LOAD_B(1, 27, 28, 29), PREFETCH_A(0), PREFETCH_B(0, 1))
        STEP(1, 27, 28, 29, LOAD_B(2, 24, 25, 26), , PREFETCH_B(1, 1))
        STEP(2, 24, 25, 26, LOAD_B(3, 27, 28, 29), PREFETCH_A(2), PREFETCH_B(2, 1))
        STEP(3, 27, 28, 29, LOAD_B(4, 24, 25, 26), , PREFETCH_B(3, 1))
        "add $128, %[a]\n\t"
        "add $768, %[b]\n\t"
        "dec %[groups]\n\t"
        "jnz 1b\n\t"
        "2:\n\t"
        "test %[rest], %[rest]\n\t"
        "jz 4f\n\t"
        "3:\n\t"
        LOAD_B(0, 24, 25, 26)
        STEP(0, 24, 25, 26, , , )
        "add $32, %[a]\n\t"
        "add $192, %[b]\n\t"
        "dec %[rest]\n\t"
        "jnz 3b\n\t"
        "4:\n\t"
        "test %[accumulate], %[accumulate]\n\t"
        "jnz 5f\n\t"
        ALL_ROWS(STORE_ROW)
        "jmp 6f\n\t"
        "5:\n\t"
        ALL_ROWS(ADD_ROW)
        "6:\n\t"
        "vzeroupper\n\t"
        : [a] "+r"(a), [b] "+r"(b), [c] "+r"(c), [groups] "+r"(groups), [rest] "+r"(rest)
        : [ldc] "r"(ldc_bytes), [accumulate] "r"(accumulate)
        : "zmm0", "zmm1", "zmm2", "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "zmm9", "zmm10", "zmm11", "zmm12",
          "zmm13", "zmm14", "zmm15", "zmm16", "zmm17", "zmm18", "zmm19", "zmm20", "zmm21", "zmm22", "zmm23", "zmm24",
          "zmm25", "zmm26", "zmm27", "zmm28", "zmm29", "zmm30", "zmm31", "cc", "memory");
}

/// A tile of at most 32 columns, the last of a width that is not a multiple of 48 (2,048 = 42 x 48 + 32): two
/// vectors a step instead of three, so no multiplications go to padding. Written with intrinsics: it is a small
/// share of a product.
AVX512 static void kernel_narrow(size_t kc, const float *a, const float *b, float *c, size_t ldc, size_t rows,
                                 size_t columns, int add) {
    __m512 c0[MR], c1[MR];
    for (size_t r = 0; r < MR; r++) c0[r] = c1[r] = _mm512_setzero_ps();
    for (size_t k = 0; k < kc; k++, a += MR, b += NR) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        for (size_t r = 0; r < MR; r++) {
            __m512 x = _mm512_set1_ps(a[r]);
            c0[r] = _mm512_fmadd_ps(x, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(x, b1, c1[r]);
        }
    }
    __mmask16 low = vq_lanes_below(columns), high = vq_lanes_below(columns > 16 ? columns - 16 : 0);
    for (size_t r = 0; r < rows; r++, c += ldc) {
        if (add) {
            c0[r] = _mm512_add_ps(c0[r], _mm512_maskz_loadu_ps(low, c));
            c1[r] = _mm512_add_ps(c1[r], _mm512_maskz_loadu_ps(high, c + 16));
        }
        _mm512_mask_storeu_ps(c, low, c0[r]);
        _mm512_mask_storeu_ps(c + 16, high, c1[r]);
    }
}

/// One tile of C at `c`, `rows` x `columns` of it real. Whole tiles are written in place (their rows prefetched
/// into L2 first: they come from memory, and the kernel would wait for them at its end); edge tiles go through a
/// scratch tile, narrow ones through `kernel_narrow`.
AVX512 static void tile(size_t kc, const float *ap, const float *bp, float *c, size_t ldc, size_t rows,
                        size_t columns, int add) {
    if (columns <= 32) {
        kernel_narrow(kc, ap, bp, c, ldc, rows, columns, add);
        return;
    }
    if (rows == MR && columns == NR) {
        for (size_t r = 0; r < MR; r++) {
            const char *row = (const char *)(c + r * ldc);
            _mm_prefetch(row, _MM_HINT_T1);
            _mm_prefetch(row + 64, _MM_HINT_T1);
            _mm_prefetch(row + 128, _MM_HINT_T1);
        }
        kernel_8x48(kc, ap, bp, c, ldc, add);
        return;
    }
    float scratch[MR * NR] __attribute__((aligned(64)));
    kernel_8x48(kc, ap, bp, scratch, NR, 0);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < columns; j++) c[r * ldc + j] = (add ? c[r * ldc + j] : 0) + scratch[r * NR + j];
}

typedef struct {
    int trans_a, add_first;
    size_t m, lda, ldb, ldc, threads, mc_block;
    const float *a, *b;
    float *c, *packed_b, *packed_a[MAX_THREADS];
    size_t jc, nc, pc, kc;  // the current blocks of columns and of k
    _Atomic int slot_taken[MAX_THREADS];
} product;

static void pack_b_share(void *context, size_t index) {
    product *p = context;
    pack_b_panel(p->b, p->ldb, p->pc, p->jc, p->kc, p->nc, index, p->packed_b);
}

/// Block `index` of MC rows of C over the current blocks of k and of columns, its A packed into a free slot.
AVX512 static void multiply_block(void *context, size_t index) {
    product *p = context;
    size_t slot = 0;
    for (;; slot = (slot + 1) % p->threads)
        if (!atomic_exchange(&p->slot_taken[slot], 1)) break;
    float *packed_a = p->packed_a[slot];
    size_t ic = index * p->mc_block, mc = min_size(p->mc_block, p->m - ic);
    int add = p->pc > 0 || p->add_first;
    pack_a(p->trans_a, p->a, p->lda, ic, p->pc, mc, p->kc, packed_a);
    for (size_t jr = 0; jr < p->nc; jr += NR) {
        const float *bp = p->packed_b + jr * p->kc;
        for (size_t ir = 0; ir < mc; ir += MR)
            tile(p->kc, packed_a + ir * p->kc, bp, p->c + (ic + ir) * p->ldc + p->jc + jr, p->ldc,
                 min_size(MR, mc - ir), min_size(NR, p->nc - jr), add);
    }
    atomic_store(&p->slot_taken[slot], 0);
}

// The packing buffers of the last product, kept for the next one, in pages of their own (mmap) rather than on the
// heap. Allocated afresh each time, a product of 2,048 in a `vqcodec bench` run peaked at 83 to 107 MiB from run
// to run; kept on the heap, above the 16 MB output it is freed between, the hole left by each output got split by
// small allocations and the next output went to fresh pages (83 MiB after 60 steps, 99 after 200). One buffer is
// kept (a few MB: B's block is at most KC x NC floats), taken by one call at a time; a call that finds it taken
// or too small maps its own.
typedef struct { size_t bytes; } buffer_header;
enum { HEADER_FLOATS = 16 };  // 64 bytes, so the floats after the header stay aligned
static _Atomic(float *) kept_buffer;

static void unmap_buffer(float *buffer) {
    if (buffer) munmap(buffer, ((buffer_header *)buffer)->bytes);
}

static float *take_buffer(size_t floats) {
    size_t bytes = (floats + HEADER_FLOATS) * sizeof(float);
    float *buffer = atomic_exchange(&kept_buffer, NULL);
    if (buffer && ((buffer_header *)buffer)->bytes >= bytes) return buffer + HEADER_FLOATS;
    unmap_buffer(buffer);
    buffer = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buffer == MAP_FAILED) return NULL;
    ((buffer_header *)buffer)->bytes = bytes;
    return buffer + HEADER_FLOATS;
}

static void give_back_buffer(float *floats) {
    if (floats) unmap_buffer(atomic_exchange(&kept_buffer, floats - HEADER_FLOATS));
}

int vq_sgemm_large(int trans_a, size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                   size_t ldb, float beta, float *c, size_t ldc, size_t threads) {
    if (m == 0 || n == 0 || k == 0 || (beta != 0 && beta != 1) || !__builtin_cpu_supports("avx512f")) return 0;
    product p = {.trans_a = trans_a, .add_first = beta == 1, .m = m, .lda = lda, .ldb = ldb, .ldc = ldc, .a = a,
                 .b = b, .c = c};
    // Blocks of at most MC rows, as many as a multiple of the thread count where the rows allow (1,024 rows in
    // three blocks left one of two threads idle for a third of the time: 0.78 of MKL at 2 threads), evened out.
    size_t wanted = min_size(threads ? threads : 1, MAX_THREADS);
    size_t row_blocks = min_size(round_up((m + MC - 1) / MC, wanted), (m + MR - 1) / MR);
    p.mc_block = round_up((m + row_blocks - 1) / row_blocks, MR);
    row_blocks = (m + p.mc_block - 1) / p.mc_block;
    // No more threads than blocks of rows: each running block holds a slot for its A.
    p.threads = min_size(wanted, row_blocks);
    size_t block_k = even_block(k, KC, 8), block_n = even_block(n, NC, NR);
    // B's block (and one step past its last panel, read ahead by the kernel), then a block of A for each thread.
    size_t b_floats = round_up(block_k * block_n + NR, 16), a_floats = block_k * p.mc_block;
    float *buffer = take_buffer(b_floats + p.threads * a_floats);
    if (!buffer) return 0;
    p.packed_b = buffer;
    for (size_t t = 0; t < p.threads; t++) p.packed_a[t] = buffer + b_floats + t * a_floats;
    for (p.jc = 0; p.jc < n; p.jc += block_n) {
        p.nc = min_size(block_n, n - p.jc);
        for (p.pc = 0; p.pc < k; p.pc += block_k) {
            p.kc = min_size(block_k, k - p.pc);
            vq_parallel_for(p.threads, (p.nc + NR - 1) / NR, pack_b_share, &p);
            vq_parallel_for(p.threads, row_blocks, multiply_block, &p);
        }
    }
    give_back_buffer(buffer);
    return 1;
}

#else

int vq_sgemm_large(int trans_a, size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                   size_t ldb, float beta, float *c, size_t ldc, size_t threads) {
    return 0;
}

#endif
