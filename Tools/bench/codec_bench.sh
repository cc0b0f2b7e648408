#!/usr/bin/env bash
# Speed of the codec as people use it: whole processes, real files.
#
#   Tools/bench/codec_bench.sh [BIN]      (default: .build/release/vqcodec; builds it if missing)
#
# 1. One MNIST digit (Samples/digit-00000-7.png): `vqcodec encode` and `vqcodec decode`, each a whole process,
#    11 runs, median wall time and median CPU time (user + sys). Target: 50 ms each.
# 2. The 10,000 MNIST test digits as PNG files (written by Tools/samples/mnist_pngs.py) to .vqc files and back, one
#    process each way, images/s end to end. Target: 2,000 images/s each way.
# 3. One Kodak image (Samples/kodim23.png, 768x512): encode and decode, 3 runs, median. Target: under 1 s each.
# Wall times depend on what else runs on the machine; the CPU times show what the process itself needs. The load
# average is printed with each figure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BIN=${1:-.build/release/vqcodec}
[[ -x $BIN ]] || { swift build -c release --product vqcodec >/dev/null; BIN=.build/release/vqcodec; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs "$@" N times; prints the median wall and CPU seconds.
median_run() {
    local n=$1; shift
    local walls=() cpus=()
    for _ in $(seq "$n"); do
        /usr/bin/time -f "%e %U %S" -o "$work/t" "$@" >/dev/null 2>&1
        read -r wall user sys <"$work/t"
        walls+=("$wall"); cpus+=("$(echo "$user + $sys" | bc)")
    done
    printf '%s %s\n' "$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(( (n + 1) / 2 ))p")" \
        "$(printf '%s\n' "${cpus[@]}" | sort -n | sed -n "$(( (n + 1) / 2 ))p")"
}
load() { cut -d' ' -f1 /proc/loadavg; }

digit=Samples/digit-00000-7.png
"$BIN" encode -q "$digit" -o "$work/d.vqc"
read -r w c < <(median_run 11 "$BIN" encode -q "$digit" -o "$work/d.vqc")
echo "one digit, encode process: median ${w} s wall, ${c} s CPU (load $(load))"
read -r w c < <(median_run 11 "$BIN" decode -q "$work/d.vqc" -o "$work/d.png")
echo "one digit, decode process: median ${w} s wall, ${c} s CPU (load $(load))"

python3 Tools/samples/mnist_pngs.py "$work/png" 10000
for direction in encode decode; do
    if [[ $direction == encode ]]; then src="$work/png"; dst="$work/vqc"; else src="$work/vqc"; dst="$work/back"; fi
    /usr/bin/time -f "%e %U %S" -o "$work/t" "$BIN" "$direction" -q "$src" -o "$dst"
    read -r wall user sys <"$work/t"
    echo "10,000 digits, $direction: ${wall} s wall ($(echo "10000 / $wall" | bc) images/s), CPU ${user} user + ${sys} sys (load $(load))"
done
echo "10,000 digits: $(du -cb "$work"/png/*.png | tail -1 | cut -f1) bytes of PNG -> $(du -cb "$work"/vqc/*.vqc | tail -1 | cut -f1) bytes of .vqc"

kodak=Samples/kodim23.png
"$BIN" encode -q "$kodak" -o "$work/k.vqc"
read -r w c < <(median_run 3 "$BIN" encode -q "$kodak" -o "$work/k.vqc")
echo "kodim23 (768x512), encode process: median ${w} s wall, ${c} s CPU (load $(load))"
read -r w c < <(median_run 3 "$BIN" decode -q "$work/k.vqc" -o "$work/k.png")
echo "kodim23 (768x512), decode process: median ${w} s wall, ${c} s CPU (load $(load))"
"$BIN" info "$work/k.vqc" | grep -E "model|sizes|rate"
