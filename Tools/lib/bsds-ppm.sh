# shellcheck shell=bash
# Sourced by the photo recipes: converts BSDS500 (JPEG; vqcodec has no JPEG decoder) once with djpeg
# (libjpeg-turbo-progs) to PPM in a cache outside the repository, and sets CACHE to it.
SRC=${VQ_BSDS_DIR:-../shared/data/bsds500}
CACHE=${VQ_BSDS_CACHE:-/tmp/bsds500-ppm}
command -v djpeg >/dev/null || { echo "djpeg not found: apt-get install -y libjpeg-turbo-progs" >&2; exit 2; }
for split in train val test; do
    mkdir -p "$CACHE/$split"
    for f in "$SRC/$split"/*.jpg; do
        out="$CACHE/$split/$(basename "${f%.jpg}").ppm"
        [[ -f "$out" ]] || djpeg -outfile "$out" "$f"
    done
done
