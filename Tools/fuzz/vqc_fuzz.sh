#!/usr/bin/env bash
# Fuzzes the .vqc reader and reports crashes and hangs (target: 0 of each).
#
#   Tools/fuzz/vqc_fuzz.sh [COUNT] [CLI_COUNT]
#
# 1. COUNT (default 100,000) mutated files in-process: FuzzTests in a release build (bit flips, overwrites,
#    truncation, extension, insertion, deletion, varint edge values; half with the checksum recomputed so the
#    mutation reaches the checks behind it). Each must be refused with a typed error or still decode; a crash
#    ends the run with a signal, a hang hits the `timeout`, and any file slower than 1 s fails the test.
# 2. CLI_COUNT (default 500) mutated files through the `vqcodec decode` binary: exit codes 0, 1, 2 are fine;
#    124 (timeout, 10 s) is a hang; 128+ is a crash.
# CI runs the in-process part with 3,000 files as part of `swift test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
COUNT=${1:-100000}
CLI_COUNT=${2:-500}
SCRATCH=${VQ_FUZZ_SCRATCH:-/tmp/build-vqc-fuzz}

echo "== in-process: $COUNT mutated files"
start=$(date +%s)
status=0
VQC_FUZZ_COUNT=$COUNT timeout 7200 swift test -c release -Xswiftc -enable-testing --scratch-path "$SCRATCH" \
    --filter FuzzTests 2>&1 | grep -E "vqc fuzz|^  [0-9]|passed|failed|error:|Fatal|signal" || status=$?
echo "in-process run: $(( $(date +%s) - start )) s (exit $status)"

echo "== through the binary: $CLI_COUNT mutated files"
swift build -c release --scratch-path "$SCRATCH" --product vqcodec >/dev/null
BIN="$SCRATCH/release/vqcodec"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" "$CLI_COUNT" Formats/testvectors/*.vqc <<'PY'
import random, sys, zlib
out, count, seeds = sys.argv[1], int(sys.argv[2]), [open(p, "rb").read() for p in sys.argv[3:]]
rng = random.Random(7)
for i in range(count):
    b = bytearray(rng.choice(seeds))
    kind = rng.randrange(5)
    if kind == 0:
        for _ in range(rng.randint(1, 3)): b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif kind == 1: b = b[:rng.randrange(len(b))]
    elif kind == 2: b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif kind == 3: b[rng.randrange(min(len(b), 40))] = rng.choice([0, 1, 0x7F, 0x80, 0xFF])
    else: b[rng.randrange(len(b))] = rng.randrange(256)
    if rng.random() < 0.5 and len(b) > 4:
        b[-4:] = (zlib.crc32(bytes(b[:-4])) & 0xFFFFFFFF).to_bytes(4, "little")
    open(f"{out}/m{i:06d}.vqc", "wb").write(bytes(b))
PY
declare -A codes=()
crashes=0 hangs=0
for f in "$work"/m*.vqc; do
    rc=0
    timeout 10 "$BIN" decode -q "$f" -o "$work/out.png" 2>/dev/null || rc=$?
    codes[$rc]=$(( ${codes[$rc]:-0} + 1 ))
    if (( rc == 124 )); then hangs=$((hangs + 1)); echo "hang: $f"; cp "$f" /tmp/; fi
    if (( rc >= 128 )); then crashes=$((crashes + 1)); echo "crash ($rc): $f"; cp "$f" /tmp/; fi
done
for rc in "${!codes[@]}"; do echo "  exit $rc: ${codes[$rc]} files"; done
echo "binary: $CLI_COUNT mutated files, $crashes crashes, $hangs hangs"
exit $(( status != 0 || crashes > 0 || hangs > 0 ))
