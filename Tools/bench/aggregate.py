#!/usr/bin/env python3
"""Summarise benchmark JSON lines from Tools/bench/compare.sh (standard library only).

Input: one JSON object per line, as printed by `vqcodec bench --json` and `Tools/reference/bench_torch.py --json`
(case, threads, batch, per_s, ms, gflops, unit, peak_mib, optionally cpu_ms), tagged by compare.sh with
"engine" ("swift" or "torch"), "round" and "load1" (the 1-minute load average when that run started). Lines that
are not JSON objects are skipped.

Output: per case and thread count, the median over rounds of per_s for each engine (with the min-max range and
the number of runs), the ratio Swift/PyTorch of the medians, and the median CPU ms per step of each engine.

    python3 Tools/bench/aggregate.py results.jsonl [more.jsonl ...] [--markdown]
"""

import argparse
import json
import statistics
import sys

CASE_ORDER = ["MLPVAE-train", "ConvVQVAE-train", "TokenPrior-train", "ConvVQVAE-encode", "ConvVQVAE-decode",
              "gemm-2048"]
ENGINES = ("swift", "torch")


def load(paths):
    rows = []
    for path in paths:
        with (sys.stdin if path == "-" else open(path)) as f:
            for n, text in enumerate(f, 1):
                text = text.strip()
                if not text.startswith("{"):
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError:
                    print(f"{path}:{n}: skipped a line that is not valid JSON", file=sys.stderr)
                    continue
                if isinstance(row, dict) and "case" in row and "per_s" in row:
                    rows.append(row)
    return rows


def fmt_num(x, digits=1):
    """Thousands separators for big numbers, more decimals for small ones (gemm/s is about 1-10)."""
    return f"{x:,.{digits}f}" if x >= 100 else f"{x:.2f}"


def fmt_rate(values):
    if not values:
        return "-"
    m = statistics.median(values)
    if len(values) == 1:
        return fmt_num(m)
    return f"{fmt_num(m)} ({fmt_num(min(values), 0)}-{fmt_num(max(values), 0)}, n={len(values)})"


def summarise(rows):
    groups = {}
    for r in rows:
        key = (r["case"], int(r["threads"]))
        g = groups.setdefault(key, {"unit": r.get("unit", ""), "batch": r.get("batch"),
                                    **{e: {"per_s": [], "cpu_ms": [], "peak": [], "load": []} for e in ENGINES}})
        engine = r.get("engine", "swift")
        if engine not in ENGINES:
            continue
        g[engine]["per_s"].append(float(r["per_s"]))
        if "cpu_ms" in r:
            g[engine]["cpu_ms"].append(float(r["cpu_ms"]))
        if "peak_mib" in r:
            g[engine]["peak"].append(float(r["peak_mib"]))
        if "load1" in r:
            g[engine]["load"].append(float(r["load1"]))

    def order(key):
        case, threads = key
        return (threads, CASE_ORDER.index(case) if case in CASE_ORDER else len(CASE_ORDER), case)

    table = []
    for key in sorted(groups, key=order):
        case, threads = key
        g = groups[key]
        s, t = g["swift"], g["torch"]
        ms = statistics.median(s["per_s"]) if s["per_s"] else None
        mt = statistics.median(t["per_s"]) if t["per_s"] else None
        table.append({
            "case": case, "threads": threads, "unit": g["unit"], "batch": g["batch"],
            "swift": fmt_rate(s["per_s"]), "torch": fmt_rate(t["per_s"]),
            "ratio": f"{ms / mt:.2f}" if ms and mt else "-",
            "swift_cpu": f"{statistics.median(s['cpu_ms']):.1f}" if s["cpu_ms"] else "-",
            "torch_cpu": f"{statistics.median(t['cpu_ms']):.1f}" if t["cpu_ms"] else "-",
            "cpu_ratio": (f"{statistics.median(t['cpu_ms']) / statistics.median(s['cpu_ms']):.2f}"
                          if s["cpu_ms"] and t["cpu_ms"] else "-"),
        })
    loads = [x for g in groups.values() for e in ENGINES for x in g[e]["load"]]
    peaks = {e: max((x for g in groups.values() for x in g[e]["peak"]), default=None) for e in ENGINES}
    return table, loads, peaks


HEADERS = [("case", "case"), ("threads", "thr"), ("batch", "batch"), ("unit", "unit"),
           ("swift", "Swift per_s median (min-max, n)"), ("torch", "PyTorch per_s median (min-max, n)"),
           ("ratio", "Swift/PyTorch"), ("swift_cpu", "Swift cpu ms/step"), ("torch_cpu", "PyTorch cpu ms/step"),
           ("cpu_ratio", "cpu PyTorch/Swift")]


def render(table, markdown):
    cells = [[str(row[k]) for k, _ in HEADERS] for row in table]
    titles = [t for _, t in HEADERS]
    if markdown:
        out = ["| " + " | ".join(titles) + " |", "|" + "|".join("---" for _ in titles) + "|"]
        out += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(out)
    widths = [max(len(titles[i]), *(len(c[i]) for c in cells)) if cells else len(titles[i]) for i in range(len(titles))]
    out = ["  ".join(titles[i].ljust(widths[i]) for i in range(len(titles)))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c[i].ljust(widths[i]) for i in range(len(titles))) for c in cells]
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description="Median-per-case table of Swift vs PyTorch benchmark JSON lines.")
    p.add_argument("files", nargs="+", help="JSON-lines files ('-' for standard input)")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = p.parse_args(argv)
    rows = load(args.files)
    if not rows:
        print("no benchmark results found", file=sys.stderr)
        return 1
    table, loads, peaks = summarise(rows)
    print(render(table, args.markdown))
    print()
    print("ratio = median Swift per_s / median PyTorch per_s (> 1: Swift faster); cpu ratio = PyTorch cpu ms / "
          "Swift cpu ms per step (> 1: Swift uses less CPU time).")
    if loads:
        print(f"1-minute load average at the start of each run: min {min(loads):.2f}, median "
              f"{statistics.median(loads):.2f}, max {max(loads):.2f}.")
    if any(v is not None for v in peaks.values()):
        print("Peak resident memory of a whole run (all cases in one process): "
              + ", ".join(f"{'Swift' if e == 'swift' else 'PyTorch'} {v:.0f} MiB" for e, v in peaks.items()
                          if v is not None) + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
