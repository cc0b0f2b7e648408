#!/usr/bin/env python3
"""Writes 64x64 RGB PNG tiles cut from the Kodak photographs, for checks that need many small photographs
(Tools/prior/determinism.sh photo). Needs Pillow (the reference venv of Tools/reference/requirements.txt has it).
Usage: photo_tiles.py OUT_DIR COUNT [KODAK_DIR]"""
import os
import sys

from PIL import Image

out, count = sys.argv[1], int(sys.argv[2])
kodak = sys.argv[3] if len(sys.argv) > 3 else "../shared/data/kodak"
os.makedirs(out, exist_ok=True)
names = sorted(n for n in os.listdir(kodak) if n.endswith(".png"))
written = 0
for i in range(count):
    image = Image.open(os.path.join(kodak, names[i % len(names)])).convert("RGB")
    step = i // len(names)
    x = (97 * step + 40) % (image.width - 64)
    y = (61 * step + 30) % (image.height - 64)
    image.crop((x, y, x + 64, y + 64)).save(os.path.join(out, f"tile-{i:04d}.png"))
    written += 1
print(f"{written} tiles in {out}")
