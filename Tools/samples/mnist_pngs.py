#!/usr/bin/env python3
"""Writes MNIST test digits as 8-bit gray PNG files (standard library only).

Usage: Tools/samples/mnist_pngs.py OUT_DIR [COUNT] [--first N]
  COUNT digits (default all 10,000) from ../shared/data/mnist/t10k-images-idx3-ubyte.gz, named
  digit-INDEX-LABEL.png. Samples/ holds the first few; benchmarks use all of them.
"""
import gzip, os, struct, sys, zlib

def png(width, height, rows):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))

def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "mnist")
    images = gzip.open(os.path.join(root, "t10k-images-idx3-ubyte.gz")).read()
    labels = gzip.open(os.path.join(root, "t10k-labels-idx1-ubyte.gz")).read()
    magic, n, h, w = struct.unpack(">IIII", images[:16])
    assert magic == 0x803, "not an IDX image file"
    os.makedirs(out, exist_ok=True)
    for i in range(min(count, n)):
        pixels = images[16 + i * h * w: 16 + (i + 1) * h * w]
        rows = [pixels[y * w:(y + 1) * w] for y in range(h)]
        with open(os.path.join(out, "digit-%05d-%d.png" % (i, labels[8 + i])), "wb") as f:
            f.write(png(w, h, rows))

if __name__ == "__main__":
    main()
