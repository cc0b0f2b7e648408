#!/usr/bin/env bash
# Trains the built-in photo tokenizer and installs it as a package resource.
# One command, the exact settings (the `photo` preset of VQVAETrainingConfiguration, see RESULTS.md):
#   PhotoVQVAE, downsampling 8, channels 32 -> 64, 2 residual blocks each side, D = 32; 4 residual levels of
#   K = 512 (9 bits each: 0.14 bpp per level); EMA codebooks (0.99), k-means init, dead-code restarts after
#   100 unused steps, level dropout 0.5; 32x32 random crops with flips of BSDS500 train+val (300 images),
#   16 crops per image per epoch; batch 16; Adam 1e-3 cosine to 1e-4; 30 epochs (about 20 minutes); 1 thread; evaluation on the
#   first 4 BSDS500 test images after each epoch (Kodak is never used for training).
# BSDS500 ships as JPEG and vqcodec has no JPEG decoder: the photos are converted once with djpeg
# (libjpeg-turbo-progs) to PPM in a cache outside the repository.
# Usage: Tools/train/photo.sh [OUT_DIR] [extra `vqcodec train vqvae` flags, e.g. --epochs 4 or --resume OUT_DIR/last.h5]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/vqcodec-train/photo}
shift || true
# shellcheck source=../lib/bsds-ppm.sh
source Tools/lib/bsds-ppm.sh
# shellcheck source=../lib/release-binary.sh
source Tools/lib/release-binary.sh
mkdir -p "$OUT"
"$BIN" train vqvae --preset photo --data "$CACHE" --out "$OUT" "$@"
cp "$OUT/model.safetensors" Sources/VQTokenizer/Models/photo.safetensors
echo "installed Sources/VQTokenizer/Models/photo.safetensors ($(du -h Sources/VQTokenizer/Models/photo.safetensors | cut -f1))"
