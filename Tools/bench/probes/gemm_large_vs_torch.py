"""vq_sgemm_large (Sources/CKernels/gemm_large.c) against PyTorch's MKL and OpenBLAS, N x N x N products, in one
process, called in alternation (the order flips each round). Prints each one's median GFLOP/s and the median and
quartiles of the paired ratios time(torch) / time(it): above 1, faster than MKL. Checks the product first.
    clang -O2 -shared -fPIC -I Sources/CKernels/include Sources/CKernels/gemm_large.c \\
        Sources/CKernels/thread_pool.c -o /tmp/large.so
    T=1 N=2048 R=31 OPENBLAS_CORETYPE=SkylakeX /tmp/refenv/bin/python Tools/bench/probes/gemm_large_vs_torch.py /tmp/large.so [more.so]
Env: T threads (1 or 2; OpenBLAS at 2 threads runs as two single-threaded halves of rows, as the engine splits
them), N size, R rounds, NOCHECK=1 to time experimental builds that give wrong products (skipped packing, one
panel reused). OPENBLAS_NUM_THREADS is forced to 1.
"""
import ctypes, os, statistics, sys, threading, time
os.environ["OPENBLAS_NUM_THREADS"] = "1"
import torch

T, N, R = int(os.environ.get("T", "1")), int(os.environ.get("N", "2048")), int(os.environ.get("R", "15"))
torch.set_num_threads(T)
A, B, C = torch.randn(N, N), torch.randn(N, N), torch.empty(N, N)
ob = ctypes.CDLL("/usr/lib/x86_64-linux-gnu/libopenblas.so.0")
ob.cblas_sgemm.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                                ctypes.c_int, ctypes.c_float, ctypes.c_void_p, ctypes.c_int]
ob.cblas_sgemm.restype = None

def openblas_rows(first, count):
    ob.cblas_sgemm(101, 111, 111, count, N, N, 1.0, A.data_ptr() + 4 * first * N, N, B.data_ptr(), N, 0.0,
                   C.data_ptr() + 4 * first * N, N)

def openblas():
    if T == 1:
        return openblas_rows(0, N)
    half = (N // 2 + 15) // 16 * 16
    other = threading.Thread(target=openblas_rows, args=(half, N - half)); other.start()
    openblas_rows(0, half); other.join()

runs = [("torch", lambda: torch.mm(A, B, out=C)), ("OpenBLAS", openblas)]
for path in sys.argv[1:]:
    f = ctypes.CDLL(os.path.abspath(path)).vq_sgemm_large
    f.argtypes = [ctypes.c_int] + [ctypes.c_size_t] * 3 + [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                  ctypes.c_size_t, ctypes.c_float, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
    run = lambda f=f: f(0, N, N, N, A.data_ptr(), N, B.data_ptr(), N, 0.0, C.data_ptr(), N, T)
    assert run() == 1, path
    error = ((C - torch.mm(A, B)).abs().max() / torch.mm(A, B).abs().max()).item()
    assert error < 1e-5 or os.environ.get("NOCHECK"), f"{path}: relative error {error}"
    runs.append((os.path.basename(path), run))
times = {name: [] for name, _ in runs}
for r in range(R):
    for name, run in (runs if r % 2 == 0 else runs[::-1]):
        start = time.perf_counter(); run(); times[name].append(time.perf_counter() - start)
print(f"N={N}, {T} thread(s), {R} rounds")
for name, t in times.items():
    ratios = [a / b for a, b in zip(times["torch"], t)]
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    print(f"{name:>14}: {2 * N ** 3 / statistics.median(t) * 1e-9:6.1f} GFLOP/s, paired vs torch "
          f"{statistics.median(ratios):.3f} [{q[0]:.2f}-{q[2]:.2f}]")
