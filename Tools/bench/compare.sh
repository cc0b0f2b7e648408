#!/usr/bin/env bash
# Swift vs PyTorch CPU on the `vqcodec bench` cases.
#
# Builds vqcodec in release mode, then for each thread count runs `vqcodec bench --json` and
# Tools/reference/bench_torch.py --json in alternation for several rounds (the order flips every round, so neither
# engine always runs first), saves every JSON line (tagged with engine, round and the 1-minute load average) to a
# file, and prints the median-per-case table of Tools/bench/aggregate.py.
#
# Usage: Tools/bench/compare.sh [options]          (from anywhere; it changes to the repository root)
#   --rounds N        runs per engine and thread count (default 3; env ROUNDS)
#   --steps N         timed steps per case (default 10; env STEPS)
#   --warmup N        warm-up steps per case (default 3; env WARMUP)
#   --threads "1 2"   thread counts (default "1 2"; env THREADS)
#   --case NAME       only this case (repeatable; env CASES="A B")
#   --out FILE        raw JSON lines (default /tmp/vqcodec-compare-<time>.jsonl; env OUT)
#   --markdown        print the table as Markdown
#   --scratch-path P  swift build scratch path (default .build; env SCRATCH_PATH)
#   --bin PATH        use this vqcodec binary and skip the build (env VQCODEC_BIN)
#   --no-build        do not build; use the binary under the scratch path
# Env: TORCH_PYTHON (default /tmp/refenv/bin/python), PYTHON for the aggregator (default python3),
#      BUILD_RETRIES (default 2; a failed build is retried after 30 s, since others edit the tree concurrently).
# OPENBLAS_CORETYPE and other environment variables are passed through to both engines unchanged.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-10}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-"1 2"}
CASES=${CASES:-}
OUT=${OUT:-}
SCRATCH_PATH=${SCRATCH_PATH:-.build}
VQCODEC_BIN=${VQCODEC_BIN:-}
TORCH_PYTHON=${TORCH_PYTHON:-/tmp/refenv/bin/python}
PYTHON=${PYTHON:-python3}
BUILD_RETRIES=${BUILD_RETRIES:-2}
BUILD=1
MARKDOWN=()

die() { echo "compare.sh: $*" >&2; exit 2; }
need_value() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) need_value "$@"; ROUNDS=$2; shift 2 ;;
        --steps) need_value "$@"; STEPS=$2; shift 2 ;;
        --warmup) need_value "$@"; WARMUP=$2; shift 2 ;;
        --threads) need_value "$@"; THREADS=$2; shift 2 ;;
        --case) need_value "$@"; CASES="$CASES $2"; shift 2 ;;
        --out) need_value "$@"; OUT=$2; shift 2 ;;
        --scratch-path) need_value "$@"; SCRATCH_PATH=$2; shift 2 ;;
        --bin) need_value "$@"; VQCODEC_BIN=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --markdown) MARKDOWN=(--markdown); shift ;;
        -h|--help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

for n in "$ROUNDS" "$STEPS" "$WARMUP"; do [[ $n =~ ^[0-9]+$ ]] || die "not a number: '$n'"; done
[[ $ROUNDS -ge 1 && $STEPS -ge 1 ]] || die "--rounds and --steps must be at least 1"
for t in $THREADS; do [[ $t =~ ^[1-9][0-9]*$ ]] || die "not a thread count: '$t'"; done
command -v "$PYTHON" >/dev/null || PYTHON=$TORCH_PYTHON
[[ -x $TORCH_PYTHON ]] || die "no PyTorch interpreter at $TORCH_PYTHON (set TORCH_PYTHON; see Tools/reference/README.md)"
"$TORCH_PYTHON" -c 'import torch' 2>/dev/null || die "$TORCH_PYTHON cannot import torch"

# --- the Swift binary -------------------------------------------------------------------------------------------
if [[ -n $VQCODEC_BIN ]]; then
    BUILD=0
else
    if [[ $BUILD == 1 ]]; then
        attempt=0
        until swift build -c release --scratch-path "$SCRATCH_PATH" >&2; do
            attempt=$((attempt + 1))
            [[ $attempt -le $BUILD_RETRIES ]] || die "swift build failed $attempt times"
            echo "compare.sh: build failed; retrying in 30 s ($attempt of $BUILD_RETRIES)" >&2
            sleep 30
        done
    fi
    VQCODEC_BIN="$(swift build -c release --scratch-path "$SCRATCH_PATH" --show-bin-path)/vqcodec"
fi
[[ -x $VQCODEC_BIN ]] || die "no vqcodec binary at $VQCODEC_BIN"

# --- run ----------------------------------------------------------------------------------------------------------
[[ -n $OUT ]] || OUT="${TMPDIR:-/tmp}/vqcodec-compare-$(date +%Y%m%d-%H%M%S).jsonl"
mkdir -p "$(dirname "$OUT")"
: > "$OUT"

case_args=()
for c in $CASES; do case_args+=(--case "$c"); done
common=(--steps "$STEPS" --warmup "$WARMUP" --json "${case_args[@]}")

echo "# vqcodec:  $VQCODEC_BIN" >&2
echo "# PyTorch:  $TORCH_PYTHON ($("$TORCH_PYTHON" -c 'import torch; print(torch.__version__)'))" >&2
echo "# tree:     $(git rev-parse --short HEAD 2>/dev/null || echo '?') ($(git status --porcelain -- Sources Package.swift 2>/dev/null | wc -l) changed source files)" >&2
echo "# machine:  $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); OpenBLAS core (Swift): $("$VQCODEC_BIN" bench --case gemm-2048 --steps 1 --warmup 0 --json 2>/dev/null | sed -n 's/.*"blas_core":"\([^"]*\)".*/\1/p' | head -1)${OPENBLAS_CORETYPE:+ (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE)}" >&2
echo "# rounds=$ROUNDS steps=$STEPS warmup=$WARMUP threads=[$THREADS] cases=[${CASES:-all}]  raw: $OUT" >&2
failures=0

run_engine() {  # engine round threads
    local engine=$1 round=$2 threads=$3 load1 output status
    load1=$(cut -d' ' -f1 /proc/loadavg)
    echo "# round $round, threads $threads, $engine (load $load1)" >&2
    if [[ $engine == swift ]]; then
        output=$("$VQCODEC_BIN" bench --threads "$threads" "${common[@]}")
    else
        output=$("$TORCH_PYTHON" Tools/reference/bench_torch.py --threads "$threads" "${common[@]}")
    fi
    status=$?
    if [[ $status -ne 0 ]]; then
        echo "compare.sh: $engine run (round $round, threads $threads) exited with status $status" >&2
        failures=$((failures + 1))
    fi
    # Keep only JSON objects; tag each with where it came from.
    grep '^{' <<<"$output" | sed "s/^{/{\"engine\":\"$engine\",\"round\":$round,\"load1\":$load1,/" >> "$OUT"
}

for threads in $THREADS; do
    for ((round = 1; round <= ROUNDS; round++)); do
        if ((round % 2 == 1)); then order=(swift torch); else order=(torch swift); fi
        for engine in "${order[@]}"; do run_engine "$engine" "$round" "$threads"; done
    done
done

echo >&2
echo "# $(grep -c '^{' "$OUT") results in $OUT" >&2
"$PYTHON" Tools/bench/aggregate.py "${MARKDOWN[@]}" "$OUT"
status=$?
[[ $failures -eq 0 ]] || { echo "compare.sh: $failures run(s) failed; the table is incomplete" >&2; exit 1; }
exit $status
