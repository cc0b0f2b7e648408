#!/usr/bin/env bash
# Trains the built-in photo prior and installs it as a package resource (Sources/VQTokenizer/Models/photo-prior.safetensors).
# One command, the exact settings (ContextPriorTrainingConfiguration.photo, with 8 epochs): a ContextPrior over the
# built-in `photo` tokenizer's 4 residual levels (K = 512): per token, embeddings (32 each) of 6 already-coded
# neighbours of its level and of the 3 lower levels at its place, Linear to 256 + a level embedding, GELU, Linear
# to the 512 logits; every token of every level of BSDS500 train + val (300 photographs, 3.0 million tokens),
# batch 512, Adam 2e-3 with a cosine decay to 1e-4, gradient clipping at norm 1, seed 0, 2 threads; the first 50
# BSDS500 test photographs held out (Kodak is never used for training). About 10 minutes on this 2-core machine.
# Usage: Tools/train/photo-prior.sh [OUT_DIR] [extra `vqcodec train prior` flags, e.g. --resume OUT_DIR/last.h5]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/vqcodec-train/photo-prior}
shift || true
# shellcheck source=../lib/bsds-ppm.sh
source Tools/lib/bsds-ppm.sh
# shellcheck source=../lib/release-binary.sh
source Tools/lib/release-binary.sh
mkdir -p "$OUT"
"$BIN" train prior --tokenizer photo --data "$CACHE" --out "$OUT" --epochs 8 "$@"
cp "$OUT/model.safetensors" Sources/VQTokenizer/Models/photo-prior.safetensors
echo "installed Sources/VQTokenizer/Models/photo-prior.safetensors ($(du -h Sources/VQTokenizer/Models/photo-prior.safetensors | cut -f1))"
