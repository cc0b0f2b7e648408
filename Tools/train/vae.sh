#!/bin/bash
# The VAE runs of Tools/train/VAE_RESULTS.md: the MLPVAE (10 epochs), the 2-D convolutional VAE and the
# class-conditional VAE, then the evaluations and every figure. Checkpoints go to $OUT (outside the repo).
# Usage: Tools/train/vae.sh [DATA=../shared/data/mnist] [OUT=/tmp/vae-runs] [CONV_EPOCHS=30]
set -euo pipefail
DATA=${1:-../shared/data/mnist}
OUT=${2:-/tmp/vae-runs}
CONV_EPOCHS=${3:-30}
swift build -c release --scratch-path /tmp/build-vae-rel
BIN=/tmp/vae-bin
cp /tmp/build-vae-rel/release/vqcodec "$BIN"   # a stable copy: rebuilds do not disturb the runs
FIG=Samples/figures
mkdir -p "$OUT" "$FIG"

"$BIN" train vae --arch mlp --data "$DATA" --epochs 10 --batch 128 --lr 1e-3 --seed 1 --out "$OUT/mlp"
"$BIN" eval vae "$OUT/mlp/epoch-010.h5" --data "$DATA"
"$BIN" eval vae "$OUT/mlp/epoch-010.h5" --data "$DATA" --iw-samples 5000 --iw-limit 500
"$BIN" experiment gradient-variance "$OUT/mlp/epoch-010.h5" --data "$DATA" --samples 1 10 100 --repetitions 50 --images 4
for k in reconstructions samples interpolation scatter; do
  "$BIN" plot vae "$OUT/mlp/epoch-010.h5" --data "$DATA" --kind $k -o "$FIG/mlpvae-$k.png"
done

"$BIN" train vae --arch conv --latent 2 --data "$DATA" --epochs "$CONV_EPOCHS" --seed 1 --out "$OUT/conv2d"
"$BIN" eval vae "$OUT/conv2d/last.h5" --data "$DATA"
"$BIN" plot vae "$OUT/conv2d/last.h5" --data "$DATA" --kind manifold --size 15 -o "$FIG/convvae-manifold15.png"
"$BIN" plot vae "$OUT/conv2d/last.h5" --data "$DATA" --kind manifold --size 30 -o "$FIG/convvae-manifold30.png"
for k in scatter reconstructions; do
  "$BIN" plot vae "$OUT/conv2d/last.h5" --data "$DATA" --kind $k -o "$FIG/convvae-$k.png"
done

"$BIN" train vae --arch mlp --conditional --latent 2 --data "$DATA" --epochs 10 --seed 1 --out "$OUT/cvae2"
"$BIN" eval vae "$OUT/cvae2/epoch-010.h5" --data "$DATA"
for k in analogies samples; do
  "$BIN" plot vae "$OUT/cvae2/epoch-010.h5" --data "$DATA" --kind $k -o "$FIG/cvae-latent2-$k.png"
done
