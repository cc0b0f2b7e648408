#!/usr/bin/env bash
# Prior coding (.vqc methods 4 and 5) is bit-identical across build configurations and thread counts: encodes images
# with a release build on 2 threads, then with a debug build on 1 thread, and requires identical bytes; then decodes
# the release files with the debug build on 1 thread and requires the same images as the same tokens stored without
# the prior (method 1) give. PRIOR mnist (or a transformer prior's checkpoint): MNIST test digits with the mnist
# model; PRIOR photo (or a context prior's checkpoint, with MODEL=photo): 64x64 Kodak tiles at all 4 levels
# (Tools/samples/photo_tiles.py; needs Pillow, VQ_PYTHON defaults to the reference venv /tmp/refenv/bin/python).
# Usage: Tools/prior/determinism.sh [COUNT] [PRIOR]   (default 1,000 images; the built-in mnist prior)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
COUNT=${1:-1000}
PRIOR=${2:-mnist}
WORK=$(mktemp -d /tmp/vq-determinism.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
source Tools/lib/install-deps.sh
vq_select_blas_core
swift build -c release --product vqcodec >/dev/null
swift build -c debug --product vqcodec >/dev/null
RELEASE=$(swift build -c release --show-bin-path)/vqcodec
DEBUG=$(swift build -c debug --show-bin-path)/vqcodec
MODEL=${MODEL:-$([[ $PRIOR == photo ]] && echo photo || echo mnist)}
if [[ $MODEL == photo ]]; then
    "${VQ_PYTHON:-/tmp/refenv/bin/python}" Tools/samples/photo_tiles.py "$WORK/png" "$COUNT" >/dev/null
    FLAGS=(--model photo --level 4)
else
    python3 Tools/samples/mnist_pngs.py "$WORK/png" "$COUNT" >/dev/null
    FLAGS=(--model mnist)
fi
start=$(date +%s.%N)
"$RELEASE" encode "$WORK/png" -o "$WORK/release" "${FLAGS[@]}" --prior "$PRIOR" --threads 2 -q
middle=$(date +%s.%N)
"$DEBUG" encode "$WORK/png" -o "$WORK/debug" "${FLAGS[@]}" --prior "$PRIOR" --threads 1 -q
end=$(date +%s.%N)
"$RELEASE" encode "$WORK/png" -o "$WORK/stored" "${FLAGS[@]}" --entropy stored --threads 2 -q
"$DEBUG" decode "$WORK/release" -o "$WORK/decoded-prior" --prior "$PRIOR" --threads 1 -q
"$DEBUG" decode "$WORK/stored" -o "$WORK/decoded-stored" --threads 1 -q
files=$(find "$WORK/release" -name '*.vqc' | wc -l)
if diff -r -q "$WORK/release" "$WORK/debug" >/dev/null && diff -r -q "$WORK/decoded-prior" "$WORK/decoded-stored" >/dev/null; then
    printf '%d images (%s): release/2 threads and debug/1 thread wrote identical prior-coded files; the debug build decoded them to the same images as the stored tokens (encode %.1f s release, %.1f s debug)\n' \
        "$files" "$MODEL" \
        "$(awk "BEGIN { print $middle - $start }")" "$(awk "BEGIN { print $end - $middle }")"
else
    echo "MISMATCH: $(diff -r -q "$WORK/release" "$WORK/debug" | wc -l) encoded files and $(diff -r -q "$WORK/decoded-prior" "$WORK/decoded-stored" | wc -l) decoded images differ"
    exit 1
fi
