#!/usr/bin/env bash
# Trains the built-in MNIST tokenizer and installs it as a package resource.
# One command, the exact settings (the `mnist` preset of VQVAETrainingConfiguration):
#   ConvVQVAE layout of MISSION.md (7x7 grid, K = 512, D = 64) with 64 hidden channels; EMA codebook (decay 0.99,
#   Laplace eps 1e-5), k-means initialisation from the first batch, dead-code restarts after 100 unused steps;
#   beta 0.25; Adam 1e-3 with a cosine decay to 5e-5; batch 64; 5 epochs; seed 0; 2 threads.
# Usage: Tools/train/mnist.sh [OUT_DIR] [extra `vqcodec train vqvae` flags, e.g. --resume OUT_DIR/last.h5]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/vqcodec-train/mnist}
shift || true
DATA=${VQ_MNIST_DIR:-../shared/data/mnist}
# shellcheck source=../lib/release-binary.sh
source Tools/lib/release-binary.sh
mkdir -p "$OUT"
"$BIN" train vqvae --preset mnist --data "$DATA" --out "$OUT" "$@"
# Weights only (with the quantiser's buffers), as shipped: Sources/VQTokenizer/Models/mnist.safetensors.
cp "$OUT/model.safetensors" Sources/VQTokenizer/Models/mnist.safetensors
echo "installed Sources/VQTokenizer/Models/mnist.safetensors ($(du -h Sources/VQTokenizer/Models/mnist.safetensors | cut -f1))"
