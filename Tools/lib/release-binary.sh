# shellcheck shell=bash
# Sourced by the training and evaluation recipes: sets BIN to $VQ_BIN, or builds the release product and uses it.
BIN=${VQ_BIN:-}
if [[ -z "$BIN" ]]; then
    swift build -c release --product vqcodec
    BIN=$(swift build -c release --show-bin-path)/vqcodec
fi
