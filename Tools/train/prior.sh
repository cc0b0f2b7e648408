#!/usr/bin/env bash
# Trains the built-in MNIST prior and installs it as a package resource (Sources/VQTokenizer/Models/mnist-prior.safetensors).
# One command, the exact settings (PriorTrainingConfiguration.mnist): the TokenPrior of MISSION.md (2 pre-LN blocks,
# width 128, 4 heads, MLP 512) with a class token (10 classes, 10% of sequences unconditional) over the built-in
# `mnist` tokenizer's 7x7 grids; Adam 1e-3 with a cosine decay to 5e-5, gradient clipping at norm 1, batch 128,
# 12 epochs, seed 0, 2 threads. About 35 minutes on this 2-core machine when it is otherwise idle.
# Usage: Tools/train/prior.sh [OUT_DIR] [extra `vqcodec train prior` flags, e.g. --resume OUT_DIR/last.h5]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/vqcodec-train/prior}
shift || true
DATA=${VQ_MNIST_DIR:-../shared/data/mnist}
# shellcheck source=../lib/release-binary.sh
source Tools/lib/release-binary.sh
mkdir -p "$OUT"
"$BIN" train prior --tokenizer mnist --conditional --data "$DATA" --out "$OUT" "$@"
cp "$OUT/model.safetensors" Sources/VQTokenizer/Models/mnist-prior.safetensors
echo "installed Sources/VQTokenizer/Models/mnist-prior.safetensors ($(du -h Sources/VQTokenizer/Models/mnist-prior.safetensors | cut -f1))"
