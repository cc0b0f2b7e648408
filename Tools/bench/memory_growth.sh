#!/usr/bin/env bash
# Does training memory stay flat? Runs one `vqcodec bench` case for a short and a long run (default
# ConvVQVAE-train, 100 vs 1,000 timed steps, each in a fresh process) and compares the processes' peak
# resident memory (peak_mib, from getrusage ru_maxrss). Passes when long/short <= 1 + tolerance (default 5%).
# The 1,000-step run takes a few minutes (it is a benchmark, not a unit test).
#
# Usage: Tools/bench/memory_growth.sh [options]    (from anywhere; it changes to the repository root)
#   --case NAME       bench case (default ConvVQVAE-train; env CASE)
#   --short N         steps of the short run (default 100; env SHORT)
#   --long N          steps of the long run (default 1000; env LONG)
#   --threads N       threads (default 1; env THREADS)
#   --tolerance F     allowed relative growth (default 0.05; env TOLERANCE)
#   --scratch-path P  swift build scratch path (default .build; env SCRATCH_PATH)
#   --bin PATH        use this vqcodec binary and skip the build (env VQCODEC_BIN)
#   --no-build        do not build; use the binary under the scratch path
# Exit status: 0 within tolerance, 1 over it, 2 usage or run errors.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

CASE=${CASE:-ConvVQVAE-train}
SHORT=${SHORT:-100}
LONG=${LONG:-1000}
THREADS=${THREADS:-1}
TOLERANCE=${TOLERANCE:-0.05}
SCRATCH_PATH=${SCRATCH_PATH:-.build}
VQCODEC_BIN=${VQCODEC_BIN:-}
BUILD=1

die() { echo "memory_growth.sh: $*" >&2; exit 2; }
need_value() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --case) need_value "$@"; CASE=$2; shift 2 ;;
        --short) need_value "$@"; SHORT=$2; shift 2 ;;
        --long) need_value "$@"; LONG=$2; shift 2 ;;
        --threads) need_value "$@"; THREADS=$2; shift 2 ;;
        --tolerance) need_value "$@"; TOLERANCE=$2; shift 2 ;;
        --scratch-path) need_value "$@"; SCRATCH_PATH=$2; shift 2 ;;
        --bin) need_value "$@"; VQCODEC_BIN=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for n in "$SHORT" "$LONG" "$THREADS"; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "not a positive number: '$n'"; done
[[ $TOLERANCE =~ ^[0-9]*\.?[0-9]+$ ]] || die "not a tolerance: '$TOLERANCE'"

if [[ -z $VQCODEC_BIN ]]; then
    if [[ $BUILD == 1 ]]; then
        swift build -c release --scratch-path "$SCRATCH_PATH" >&2 || die "swift build failed"
    fi
    VQCODEC_BIN="$(swift build -c release --scratch-path "$SCRATCH_PATH" --show-bin-path)/vqcodec"
fi
[[ -x $VQCODEC_BIN ]] || die "no vqcodec binary at $VQCODEC_BIN"

peak_of() {  # steps -> prints the JSON line
    local line
    echo "# $CASE, $1 steps, $THREADS thread(s) (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    line=$("$VQCODEC_BIN" bench --case "$CASE" --threads "$THREADS" --steps "$1" --json | grep '^{' | tail -1) \
        || die "vqcodec bench failed for $1 steps"
    [[ -n $line ]] || die "vqcodec bench printed no result for $1 steps"
    echo "$line"
}

short_json=$(peak_of "$SHORT") || exit 2
long_json=$(peak_of "$LONG") || exit 2

python3 - "$short_json" "$long_json" "$SHORT" "$LONG" "$TOLERANCE" <<'EOF'
import json, sys
short, long_, n_short, n_long, tol = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
a, b = short["peak_mib"], long_["peak_mib"]
ratio = b / a
verdict = "PASS" if ratio <= 1 + tol else "FAIL"
print(f"{short['case']} threads={short['threads']}: peak {a:.1f} MiB after {n_short} steps, {b:.1f} MiB after "
      f"{n_long} steps; ratio {ratio:.3f} (limit {1 + tol:.2f}) {verdict}")
print(f"  step time: {short['ms']:.1f} ms (short run), {long_['ms']:.1f} ms (long run)")
sys.exit(0 if verdict == "PASS" else 1)
EOF
