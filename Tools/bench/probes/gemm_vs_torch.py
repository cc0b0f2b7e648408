"""The engine's GEMM against OpenBLAS and PyTorch (MKL) in one process, one thread, alternating, median GFLOP/s.

The shapes are TokenPrior's linear layers (forward, input gradient, weight gradient) and gemm-2048. Build the kernel
as a shared library, then run with the reference venv:
    clang -O2 -shared -fPIC -I Sources/CKernels/include Sources/CKernels/gemm_avx512.c -o /tmp/vqgemm.so
    OPENBLAS_CORETYPE=SkylakeX /tmp/refenv/bin/python Tools/bench/probes/gemm_vs_torch.py /tmp/vqgemm.so
(more .so paths compare variants; SHAPES=0,3 picks shapes by index).
"""
import ctypes, time, torch, statistics, sys, os
torch.set_num_threads(1)
ob = ctypes.CDLL("/usr/lib/x86_64-linux-gnu/libopenblas.so.0")
ob.cblas_sgemm.argtypes = [ctypes.c_int]*6 + [ctypes.c_float, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_float, ctypes.c_void_p, ctypes.c_int]
ob.openblas_set_num_threads(1)
libs = []
for path in sys.argv[1:]:
    l = ctypes.CDLL(path)
    l.vq_sgemm_avx512.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_float, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_float, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p]
    libs.append((os.path.basename(path), l))
shapes = [(6272,384,128,0,1),(6272,128,384,0,0),(384,128,6272,1,0),(6272,512,128,0,1),(6272,128,512,0,0),(512,128,6272,1,0),
          (6272,128,512,0,1),(6272,512,128,0,0),(128,512,6272,1,0),(6272,128,128,0,1),(6272,128,128,0,0),(128,128,6272,1,0),(2048,2048,2048,0,0)]
if os.environ.get("SHAPES"): shapes = [shapes[int(i)] for i in os.environ["SHAPES"].split(",")]
names = ["torch", "openblas"] + [n for n, _ in libs]
tot = {n: 0 for n in names}
for m,n,k,ta,tb in shapes:
    A = torch.randn(k,m) if ta else torch.randn(m,k)
    B = torch.randn(n,k) if tb else torch.randn(k,n)
    C = torch.empty(m,n)
    a = A.t() if ta else A
    b = B.t() if tb else B
    fs = [lambda: torch.mm(a, b, out=C),
          lambda: ob.cblas_sgemm(101, 112 if ta else 111, 112 if tb else 111, m, n, k, 1.0, A.data_ptr(), m if ta else k, B.data_ptr(), k if tb else n, 0.0, C.data_ptr(), n)]
    for _, l in libs:
        fs.append(lambda l=l: l.vq_sgemm_avx512(ta, tb, m, n, k, 1.0, A.data_ptr(), m if ta else k, B.data_ptr(), k if tb else n, 0.0, C.data_ptr(), n, None, None))
    ref = torch.mm(a, b)
    for i, f in enumerate(fs[2:]):
        C.zero_(); f(); err = ((C - ref).abs().max() / ref.abs().max()).item()
        assert err < 1e-5, (names[i+2], err)
    res = [[] for _ in fs]
    reps = 5 if m == 2048 else 25
    for r in range(reps):
        for i, f in enumerate(fs):
            s = time.perf_counter(); f(); res[i].append(time.perf_counter() - s)
    md = [statistics.median(x) for x in res]
    fl = 2*m*n*k
    if m != 2048:
        for nm, t in zip(names, md): tot[nm] += t
    print(f"{m:5}x{n:4}x{k:5} {ta}{tb}: " + "  ".join(f"{nm} {fl/t*1e-9:5.1f}" for nm, t in zip(names, md)))
if tot["torch"] > 0:
    print("TokenPrior total ms: " + "  ".join(f"{nm} {t*1e3:.2f} ({t/tot['torch']:.2f})" for nm, t in tot.items()))
