#!/usr/bin/env python3
"""PyTorch CPU mirror of `vqcodec bench` (Sources/VQBench/Benchmarks.swift).

Same cases, same settings, same output: each case trains (or runs in inference) one reference architecture
from Tools/reference/models.py on random data, runs `--warmup` untimed steps, then `--steps` timed steps, and
prints the median step as one line (or, with `--json`, one JSON object per line with the fields of the Swift
`BenchmarkResult`: case, threads, batch, per_s, ms, gflops, unit, peak_mib, cpu_ms).

    MLPVAE-train       batch 128, Adam 1e-3, BCE(sum) + KL(sum), x ~ U(0,1), fixed noise eps ~ N(0, I)
    ConvVQVAE-train    batch 128, Adam 2e-4, mse + codebook + 0.25 commitment, x ~ U(0,1)
    TokenPrior-train   batch 128, Adam 3e-4, cross-entropy, tokens uniform in [0, 512)
    ConvVQVAE-encode   batch 256, no_grad: encoder convs + nearest-code argmin
    ConvVQVAE-decode   batch 256, no_grad: codebook lookup of random indices + decoder
    gemm-2048          one 2048x2048 @ 2048x2048 float32 matmul

GFLOP/s use the same FLOP counts as the Swift suite (2 FLOPs per multiply-add; training = 3x forward).
`peak_mib` is the process's peak resident set so far (ru_maxrss), which for PyTorch includes the ~200-300 MiB
of the loaded libraries; `cpu_ms` is the median CPU time of all the process's threads per step.

Usage (from anywhere):
    /tmp/refenv/bin/python Tools/reference/bench_torch.py [--threads N] [--steps N] [--warmup N] [--case NAME]... [--json]
"""

import argparse
import json
import os
import resource
import sys
import time

CASE_NAMES = ["MLPVAE-train", "ConvVQVAE-train", "TokenPrior-train", "ConvVQVAE-encode", "ConvVQVAE-decode",
              "gemm-2048"]

CONV_VQVAE_FORWARD_MACS = 8.63e6  # per image, as in MISSION.md and Benchmarks.swift


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Measure PyTorch CPU training and inference speed of the reference architectures on random "
                    "data (the cases of `vqcodec bench`). Cases: " + ", ".join(CASE_NAMES))
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (torch.set_num_threads); inter-op is 1")
    p.add_argument("--steps", type=int, default=20, help="timed steps per case (the median is reported)")
    p.add_argument("--warmup", type=int, default=3, help="untimed warm-up steps per case")
    p.add_argument("--case", dest="cases", action="append", default=[], metavar="NAME",
                   help="run only this case (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object per line instead of a table")
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error(f"--threads must be at least 1, found {args.threads}")
    if args.steps < 1:
        p.error(f"--steps must be at least 1, found {args.steps}")
    if args.warmup < 0:
        p.error(f"--warmup must not be negative, found {args.warmup}")
    for name in args.cases:
        if name not in CASE_NAMES:
            p.error(f"unknown case '{name}'; known cases: {', '.join(CASE_NAMES)}")
    return args


def peak_resident_mib():
    """Peak resident set size of this process in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 == 1 else (v[n // 2 - 1] + v[n // 2]) / 2


def encoder_macs(model):
    """Multiply-adds of the encoder convolutions per image (as BenchmarkSuite.encoderMACs)."""
    enc1 = 14 * 14 * model.hidden_channels * model.channels * 16
    enc2 = 7 * 7 * model.latent_channels * model.hidden_channels * 16
    enc3 = 7 * 7 * model.latent_channels * model.latent_channels * 9
    return float(enc1 + enc2 + enc3)


def token_prior_forward_macs(m):
    """Forward multiply-adds per sequence (as BenchmarkSuite.tokenPriorForwardMACs)."""
    t, d = float(m.sequence_length), float(m.dimension)
    per_block = t * (d * 3 * d + d * d + 2 * d * m.hidden_size) + 2 * t * t * d
    return m.layers * per_block + t * d * m.vocabulary


def make_case(name, torch, models):
    """Returns (step, batch, flops_per_step, unit) for a case, or None for an unknown name."""
    if name == "MLPVAE-train":
        batch, unit = 128, "images"
        model = models.MLPVAE()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = torch.rand(batch, model.input_size)
        eps = torch.randn(batch, model.latent_size)
        macs = model.input_size * model.hidden_size * 2 + model.hidden_size * model.latent_size * 3
        flops = 6.0 * macs * batch

        def step():
            optimizer.zero_grad()
            total, _ = model.loss_terms(x, eps)
            total.backward()
            optimizer.step()
    elif name == "ConvVQVAE-train":
        batch, unit = 128, "images"
        model = models.ConvVQVAE()
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
        x = torch.rand(batch, 1, 28, 28)
        flops = 6.0 * CONV_VQVAE_FORWARD_MACS * batch

        def step():
            optimizer.zero_grad()
            total, _ = model.loss_terms(x)
            total.backward()
            optimizer.step()
    elif name == "TokenPrior-train":
        batch, unit = 128, "sequences"
        model = models.TokenPrior()
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
        tokens = torch.randint(0, model.vocabulary, (batch, model.sequence_length), dtype=torch.int64)
        flops = 3.0 * 2.0 * token_prior_forward_macs(model) * batch

        def step():
            optimizer.zero_grad()
            total, _ = model.loss_terms(tokens)
            total.backward()
            optimizer.step()
    elif name == "ConvVQVAE-encode":
        batch, unit = 256, "images"
        model = models.ConvVQVAE().eval()
        x = torch.rand(batch, 1, 28, 28)
        flops = 2.0 * encoder_macs(model) * batch

        def step():
            with torch.no_grad():
                z = model.encode(x)
                model.vq.nearest_codes(z.permute(0, 2, 3, 1).reshape(-1, model.latent_channels))
    elif name == "ConvVQVAE-decode":
        batch, unit = 256, "images"
        model = models.ConvVQVAE().eval()
        indices = torch.randint(0, model.codes, (batch, 7, 7), dtype=torch.int64)
        flops = 2.0 * (CONV_VQVAE_FORWARD_MACS - encoder_macs(model)) * batch

        def step():
            with torch.no_grad():
                model.decode(model.vq.lookup(indices))
    elif name == "gemm-2048":
        batch, unit = 1, "gemm"
        a, b = torch.rand(2048, 2048), torch.rand(2048, 2048)
        flops = 2.0 * 2048 ** 3

        def step():
            with torch.no_grad():
                torch.mm(a, b)
    else:
        return None
    return step, batch, flops, unit


def run_case(name, threads, steps, warmup, torch, models):
    torch.manual_seed(1234)
    made = make_case(name, torch, models)
    if made is None:
        return None
    step, batch, flops, unit = made
    for _ in range(warmup):
        step()
    times, cpu_times = [], []
    for _ in range(max(1, steps)):
        start, cpu_start = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    m = median(times)
    return {"case": name, "threads": threads, "batch": batch, "per_s": batch / m, "ms": m * 1000,
            "gflops": flops / m / 1e9, "unit": unit, "peak_mib": peak_resident_mib(),
            "cpu_ms": median(cpu_times) * 1000}


def line(r):
    """The Swift `BenchmarkResult.line` format."""
    name = r["case"].ljust(18)[:18]
    return (f"{name} threads={r['threads']} batch={r['batch']:<4d} {r['per_s']:10.1f} {r['unit']}/s "
            f"{r['ms']:9.2f} ms/step {r['gflops']:7.1f} GFLOP/s  cpu {r['cpu_ms']:.2f} ms  peak {r['peak_mib']:.0f} MiB")


def main(argv=None):
    args = parse_args(argv)
    import torch  # after argument checks, so --help and usage errors are fast

    # Thread settings must come before any parallel work: inter-op threads can only be set once, up front.
    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import models

    for name in args.cases or CASE_NAMES:
        result = run_case(name, args.threads, args.steps, args.warmup, torch, models)
        if result is None:
            continue
        print(json.dumps(result, sort_keys=True, separators=(",", ":")) if args.json else line(result), flush=True)


if __name__ == "__main__":
    main()
