#!/usr/bin/env bash
# Regenerates what the codec derives from the built-in models; run after a built-in model is retrained:
#  1. token statistics for .vqc method 3: Sources/VQCodec/Statistics/<fingerprint>.vqstats (MNIST training split;
#     the photo model's grids vary with the image size, so it has none and its files use methods 0 to 2);
#  2. the pinned test vectors in Formats/testvectors/ (then review `git diff Formats/testvectors`).
# Usage: Tools/codec/refresh_artifacts.sh [--limit N]   (N training images for the statistics; default all 60,000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
LIMIT=()
if [[ ${1:-} == --limit ]]; then LIMIT=(--limit "$2"); fi
SCRATCH=${VQ_SCRATCH:-.build}
swift build -c release --scratch-path "$SCRATCH" --product vqcodec >/dev/null
BIN="$SCRATCH/release/vqcodec"
rm -f Sources/VQCodec/Statistics/*.vqstats
if [[ -f Sources/VQTokenizer/Models/mnist.safetensors ]]; then
    "$BIN" token-stats --model mnist --mnist "${VQ_MNIST_DIR:-../shared/data/mnist}" --out Sources/VQCodec/Statistics "${LIMIT[@]}"
fi
VQC_WRITE_TESTVECTORS=1 swift test --scratch-path "$SCRATCH" --filter TestVectorTests >/dev/null
swift test --scratch-path "$SCRATCH" --filter VQCodecTests 2>&1 | tail -1
git status --short Sources/VQCodec/Statistics Formats/testvectors
