"""Square products (N x N x N, N=2048 by default) on PyTorch's MKL and on builds of Tools/bench/probes/sgemm_large.c,
one thread, in one process, called in alternation (the order flips each round), with the core's FMA peak
(vq_probe_fma_peak of sgemm_large.c) among them. Prints each one's median GFLOP/s and the median and quartiles of
the paired ratios time(torch) / time(it): above 1, faster than MKL. Build commands: the top of sgemm_large.c.
    R=41 /tmp/refenv/bin/python Tools/bench/probes/large_gemm_vs_torch.py /tmp/large.so [/tmp/bound.so ...]
Env: N (size, a multiple of 32), R (rounds). Builds made with SKIP_PACKING or SCRATCH_C give wrong products, so
only the first build's product is checked against PyTorch's.
"""
import ctypes, os, statistics, sys, time, torch

torch.set_num_threads(1)
N, R = int(os.environ.get("N", "2048")), int(os.environ.get("R", "15"))
A, B, C = torch.randn(N, N), torch.randn(N, N), torch.empty(N, N)
runs = [("torch", lambda: torch.mm(A, B, out=C))]
peak = None
for path in sys.argv[1:]:
    library = ctypes.CDLL(os.path.abspath(path))
    f = library.vq_sgemm_avx512
    f.argtypes = [ctypes.c_int, ctypes.c_int] + [ctypes.c_size_t] * 3 + [ctypes.c_float, ctypes.c_void_p, ctypes.c_size_t,
                  ctypes.c_void_p, ctypes.c_size_t, ctypes.c_float, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p]
    runs.append((os.path.basename(path), lambda f=f: f(0, 0, N, N, N, 1.0, A.data_ptr(), N, B.data_ptr(), N, 0.0, C.data_ptr(), N, None, None)))
    if len(runs) == 2:
        runs[1][1]()
        error = ((C - torch.mm(A, B)).abs().max() / torch.mm(A, B).abs().max()).item()
        assert error < 1e-5, f"{path}: relative error {error}"
    if peak is None and hasattr(library, "vq_probe_fma_peak"):
        library.vq_probe_fma_peak.argtypes = [ctypes.c_long]
        library.vq_probe_fma_peak.restype = ctypes.c_float
        peak = ("FMA peak", lambda library=library: library.vq_probe_fma_peak(2 * N ** 3 // 768))
if peak:
    runs.append(peak)
times = {name: [] for name, _ in runs}
for r in range(R):
    for name, run in (runs if r % 2 == 0 else runs[::-1]):
        start = time.perf_counter(); run(); times[name].append(time.perf_counter() - start)
flops = 2 * N ** 3
for name, t in times.items():
    ratios = [a / b for a, b in zip(times["torch"], t)]
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    print(f"{name:>12}: {flops / statistics.median(t) * 1e-9:6.1f} GFLOP/s, paired vs torch {statistics.median(ratios):.3f} [{q[0]:.2f}-{q[2]:.2f}]")
