#!/usr/bin/env bash
# Atomic saving under SIGKILL: `vqcodec checkpoint save-loop` overwrites one checkpoint again and again; it is
# killed at random moments, and after every kill the file must verify and load, holding either the last
# completed save or the one in flight (never a mixture, never a broken file).
#
#   Tools/checkpoint/kill_test.sh [KILLS] [VQCODEC]        (default 30 kills, .build/release/vqcodec)
#
# Half the kills hit the reference conv VQ-VAE (fast saves, ~0.7 MB), half the 10-million-parameter model
# (full state ~120 MB, so kills land inside HDF5 writes, the flush and the rename). Exit 0 when every kill
# left a sound file.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
kills=${1:-30}
vqcodec=${2:-.build/release/vqcodec}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
file="$work/run.h5"
failures=0
leftovers=0
for ((k = 1; k <= kills; k++)); do
    large=""
    delay_ms=$((RANDOM % 400 + 20))
    if ((k % 2 == 0)); then large="--large"; delay_ms=$((RANDOM % 3000 + 200)); fi
    "$vqcodec" checkpoint save-loop "$file" $large > "$work/log" 2>&1 &
    pid=$!
    # Wait until at least one save completed, so a file exists, then kill at a random moment. (A busy machine can
    # take long over the first save of the large model; a kill before it would only find no file.)
    for _ in $(seq 1 6000); do grep -q '^saved' "$work/log" 2>/dev/null && break; sleep 0.05; done
    grep -q '^saved' "$work/log" || { echo "kill $k: the first save did not complete within 300 s; stopping" >&2; kill -KILL "$pid"; exit 2; }
    sleep "$(printf '0.%03d' $((delay_ms % 1000)))"; sleep $((delay_ms / 1000))
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    last_saved=$(grep '^saved' "$work/log" | tail -1 | cut -d' ' -f2)
    in_flight=$(grep '^saving' "$work/log" | tail -1 | cut -d' ' -f2)
    result=$("$vqcodec" checkpoint load "$file" 2>&1)
    status=$?
    step=$(echo "$result" | sed -n 's/.*training at step \([0-9]*\).*/\1/p')
    verdict=$("$vqcodec" checkpoint verify "$file" > /dev/null 2>&1; echo $?)
    temps=$(find "$work" -name '.run.h5.tmp-*' | wc -l)
    leftovers=$((leftovers + temps))
    find "$work" -name '.run.h5.tmp-*' -delete
    if [[ $status -ne 0 || $verdict -ne 0 || ( "$step" != "$last_saved" && "$step" != "$in_flight" ) ]]; then
        failures=$((failures + 1))
        echo "kill $k${large:+ (large)}: FAILED: load exit $status, verify exit $verdict, step '$step', last saved $last_saved, in flight $in_flight: $result"
    else
        echo "kill $k${large:+ (large)} after ${delay_ms} ms: ok, file at step $step (last saved $last_saved, in flight $in_flight), temporary files left $temps"
    fi
    rm -f "$file"
done
echo "$kills kills, $failures broken files, $leftovers temporary files left behind by killed saves (the script removes them; vqcodec itself removes such files once they are an hour old and their process is gone)"
exit $((failures > 0))
