#!/usr/bin/env python3
"""Mutation test of checkpoint reading through the command line: damaged checkpoints must never crash or hang
`vqcodec checkpoint inspect --stats`, `verify` or `load`, and a damaged HDF5 checkpoint that still verifies must
hold exactly the original values (no silent corruption).

    Tools/fuzz/checkpoint_mutation.py [--count 2000] [--vqcodec .build/release/vqcodec] [--seed 1] [--jobs 2]

Sources: a full training-state checkpoint (conv VQ-VAE with Adam moments, RNG, data order, metrics), the same
weights-only, a bfloat16 conversion, and a safetensors export. Damage: bit flips, random bytes, truncation,
garbage blocks, zeroed ranges, damage to the first 4 KiB (superblock, root header, JSON header). Exit codes 0, 1
and 2 are clean outcomes; a signal or any other code is a crash; more than --timeout seconds is a hang.
Standard library only. The Swift test `MutationTests` runs a smaller in-process version in CI.
"""

import argparse
import collections
import concurrent.futures
import os
import random
import re
import subprocess
import sys
import tempfile
import time


def mutate(data, rng):
    data = bytearray(data)
    choice = rng.randrange(6)
    if choice == 0:
        n = rng.randint(1, 8)
        for _ in range(n):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data), f"{n} bit flips"
    if choice == 1:
        n = rng.randint(1, 16)
        for _ in range(n):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data), f"{n} random bytes"
    if choice == 2:
        length = rng.randrange(len(data))
        return bytes(data[:length]), f"truncated to {length}"
    if choice == 3:
        start, length = rng.randrange(len(data)), rng.randint(1, 4096)
        data[start:start + length] = os.urandom(min(length, len(data) - start)) if rng.random() < 0.5 else bytes(rng.randrange(256) for _ in range(length))
        return bytes(data), f"garbage at {start}"
    if choice == 4:
        start, length = rng.randrange(len(data)), rng.randint(1, 512)
        data[start:start + length] = bytes(min(length, len(data) - start))
        return bytes(data), f"zeroed at {start}"
    n = rng.randint(1, 4)
    for _ in range(n):
        data[rng.randrange(min(4096, len(data)))] ^= rng.randint(1, 255)
    return bytes(data), f"{n} bytes in the first 4 KiB"


def run(command, timeout):
    start = time.monotonic()
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        return result.returncode, result.stderr.strip() or result.stdout.strip(), time.monotonic() - start
    except subprocess.TimeoutExpired:
        return "hang", "", timeout


def classify(code):
    if code == "hang":
        return "hang"
    return "clean" if code in (0, 1, 2) else "crash"


def normalise(message):
    message = re.sub(r"(?<![\w'])/\S+", "FILE", message.splitlines()[0] if message else "")
    return re.sub(r"\d+", "N", message)[:150]


def check(args, vqcodec, index, name, original_path, data, what):
    path = os.path.join(args.work, f"m{index}-{name}")
    with open(path, "wb") as f:
        f.write(data)
    outcome = {"file": f"m{index}-{name} ({what})", "runs": {}, "silent": False}
    for label, command in [("inspect", [vqcodec, "checkpoint", "inspect", "--stats", path]),
                           ("verify", [vqcodec, "checkpoint", "verify", path]),
                           ("load", [vqcodec, "checkpoint", "load", path])]:
        outcome["runs"][label] = run(command, args.timeout)
    if name.endswith(".h5") and outcome["runs"]["verify"][0] == 0:
        code, message, _ = run([vqcodec, "checkpoint", "diff", original_path, path], args.timeout)
        outcome["silent"] = code != 0
        outcome["diff"] = message
    os.remove(path)
    return outcome


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--vqcodec", default=".build/release/vqcodec")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=20)
    args = parser.parse_args()
    vqcodec = os.path.abspath(args.vqcodec)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as work:
        args.work = work
        full = os.path.join(work, "full.h5")
        subprocess.run([vqcodec, "checkpoint", "save-loop", full, "--count", "1"], check=True, capture_output=True)
        sources = {"full.h5": full}
        for name, extra in [("weights.h5", ["--weights-only"]), ("bf16.h5", ["--dtype", "bfloat16"]), ("weights.safetensors", ["--weights-only"])]:
            path = os.path.join(work, name)
            subprocess.run([vqcodec, "checkpoint", "convert", full, path, *extra], check=True, capture_output=True)
            sources[name] = path
        originals = {name: open(path, "rb").read() for name, path in sources.items()}
        names = list(originals)
        def jobs():
            # Generated lazily: 2,000 damaged copies held at once would take gigabytes.
            for i in range(args.count):
                name = names[i % len(names)]
                data, what = mutate(originals[name], rng)
                yield i, name, sources[name], data, what
        tally = collections.Counter()
        exits = collections.defaultdict(collections.Counter)
        messages = collections.Counter()
        problems = []
        slowest = 0.0
        start = time.monotonic()
        def outcomes():
            with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
                pending = collections.deque()
                for job in jobs():
                    pending.append(pool.submit(check, args, vqcodec, *job))
                    if len(pending) >= 4 * args.jobs:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()

        for outcome in outcomes():
            tally["files"] += 1
            for label, (code, message, seconds) in outcome["runs"].items():
                kind = classify(code)
                tally[f"{label} {kind}"] += 1
                exits[label][code] += 1
                slowest = max(slowest, seconds)
                if kind != "clean":
                    problems.append(f"{label} {kind} (exit {code}) on {outcome['file']}: {message[:300]}")
                elif label == "load" and code != 0:
                    messages[normalise(message)] += 1
            if outcome["silent"]:
                problems.append(f"silently wrong values in {outcome['file']}: {outcome['diff'][-300:]}")
                tally["silent"] += 1
        elapsed = time.monotonic() - start
    print(f"{tally['files']} mutated files ({', '.join(names)}), {elapsed:.0f} s, slowest single run {slowest:.2f} s")
    for label in ["inspect", "verify", "load"]:
        codes = ", ".join(f"exit {c}: {n}" for c, n in sorted(exits[label].items(), key=lambda kv: str(kv[0])))
        print(f"  {label:8} crashes {tally[f'{label} crash']}, hangs {tally[f'{label} hang']}; {codes}")
    print(f"  damaged HDF5 files that verified but held different values: {tally['silent']}")
    print("most frequent load errors:")
    for message, n in messages.most_common(15):
        print(f"  {n:5}  {message}")
    if problems:
        print(f"{len(problems)} PROBLEMS:")
        for p in problems[:50]:
            print("  " + p)
        sys.exit(1)


if __name__ == "__main__":
    main()
