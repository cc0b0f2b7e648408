#!/usr/bin/env bash
# Measures a built-in model on held-out data and records the figures that `vqcodec models` shows.
#   Tools/train/evaluate.sh mnist   # MNIST test set (10,000): PSNR, usage, perplexity, throughput at batch 256
#   Tools/train/evaluate.sh photo [NOTE] [flags]   # Kodak (24): PSNR and raw bpp per image and per residual level, MP/s
# The model file must already be installed (Tools/train/mnist.sh or photo.sh do that).
set -euo pipefail
cd "$(dirname "$0")/../.."
NAME=${1:?usage: evaluate.sh mnist|photo}
NOTE=${2:-}
shift; shift || true   # further arguments go to `vqcodec models evaluate` (e.g. --threads 1)
case "$NAME" in
    mnist) DATA=${VQ_MNIST_DIR:-../shared/data/mnist} ;;
    photo) DATA=${VQ_KODAK_DIR:-../shared/data/kodak} ;;
    *) echo "unknown model $NAME (mnist or photo)" >&2; exit 2 ;;
esac
# shellcheck source=../lib/release-binary.sh
source Tools/lib/release-binary.sh
"$BIN" models evaluate --model "Sources/VQTokenizer/Models/$NAME.safetensors" --data "$DATA" --per-image \
    --figures "Sources/VQTokenizer/Models/$NAME.json" --training-note "$NOTE" "$@"
