"""Checks that h5py, an independent HDF5 reader, reads every tensor of vqcodec checkpoints exactly.

For a full training-state checkpoint and its float16 and bfloat16 conversions, written by the Swift code:
- every dataset read by h5py is compared bit for bit with the same tensor exported by `vqcodec checkpoint
  export-all` to safetensors and read by the `safetensors` package (two independent readers, one writer);
- every attribute must be a fixed-length string, every dataset with elements chunked with fletcher32;
- the root attributes must parse as Formats/checkpoint.md says.
Then the other direction: files written by h5py (Keras-like layout, variable-length string attributes, gzip,
a non-vqcodec dataset type) must be shown by `vqcodec checkpoint inspect --stats` without error.

Run from the package root (needs h5py, numpy, safetensors and torch, e.g. /tmp/refenv):
    /tmp/refenv/bin/python Tools/reference/check_h5py.py [--vqcodec .build/release/vqcodec]
Exit status 0 when everything matches.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch
from safetensors.torch import load_file

UNSIGNED = {"F64": np.uint64, "F32": np.uint32, "F16": np.uint16, "BF16": np.uint16, "I64": np.uint64, "U64": np.uint64}


def run(vqcodec, *args):
    result = subprocess.run([vqcodec, *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"vqcodec {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def reference_bits(tensor):
    """Raw bits of a torch tensor from safetensors, as an unsigned numpy array."""
    if tensor.dtype == torch.bfloat16:
        return tensor.view(torch.int16).numpy().view(np.uint16)
    if tensor.dtype == torch.uint64:
        return tensor.numpy()
    return tensor.numpy().view({8: np.uint64, 4: np.uint32, 2: np.uint16, 1: np.uint8}[tensor.element_size()])


def h5py_bits(dataset):
    """Raw bits of a dataset as h5py reads it, plus a description of the numpy type h5py chose."""
    data = dataset[()]
    array = np.asarray(data)
    if array.dtype.kind == "f" and array.dtype.itemsize == 4 and dataset.id.get_type().get_size() == 2:
        # A 2-byte float h5py widened to float32 (bfloat16): narrow back; exact because bf16 -> f32 is exact.
        return (array.view(np.uint32) >> 16).astype(np.uint16), f"{array.dtype} (widened by h5py)"
    return array.view({8: np.uint64, 4: np.uint32, 2: np.uint16, 1: np.uint8}[array.dtype.itemsize]), str(array.dtype)


def check_file(vqcodec, path, workdir, report):
    exported = os.path.join(workdir, os.path.basename(path) + ".all.safetensors")
    run(vqcodec, "checkpoint", "export-all", path, exported)
    reference = load_file(exported)
    problems = []
    seen = set()
    with h5py.File(path, "r") as f:
        for name in ["format", "format_version", "model_kind", "model_config", "software_version", "created"]:
            if name not in f.attrs:
                problems.append(f"root attribute {name} missing")
        if f.attrs["format"] != b"vqcodec-checkpoint":
            problems.append(f"format attribute is {f.attrs['format']!r}")
        json.loads(f.attrs["model_config"])

        def visit(name, obj):
            for attribute in obj.attrs:
                kind = obj.attrs.get_id(attribute).get_type()
                if not isinstance(kind, h5py.h5t.TypeStringID) or kind.is_variable_str():
                    problems.append(f"{name}@{attribute} is not a fixed-length string")
            if not isinstance(obj, h5py.Dataset):
                return
            key = name[len("model/"):] if name.startswith("model/") else name
            seen.add(key)
            if obj.size > 0 and obj.ndim > 0 and not (obj.chunks and obj.fletcher32):
                problems.append(f"{name}: not chunked with fletcher32")
            if obj.size == 0 or obj.ndim == 0:
                if "vqcodec_crc32" not in obj.attrs:
                    problems.append(f"{name}: rank-0/empty dataset without CRC-32")
            if key not in reference:
                problems.append(f"{name}: not in the export")
                return
            ours, numpy_type = h5py_bits(obj)
            theirs = reference_bits(reference[key])
            if ours.shape != theirs.shape or not np.array_equal(ours, theirs):
                differing = int(np.sum(ours != theirs)) if ours.shape == theirs.shape else "shape"
                problems.append(f"{name}: h5py ({numpy_type}) differs from the export: {differing}")
            stored = reference[key].dtype
            report["types"].add(f"{str(stored).replace('torch.', '')} -> {numpy_type}")
            report["elements"] += obj.size
            report["datasets"] += 1

        f.visititems(visit)
    missing = set(reference) - seen
    if missing:
        problems.append(f"in the export but not found by h5py: {sorted(missing)}")
    return problems


def check_foreign(vqcodec, workdir):
    """Files that are not vqcodec checkpoints, written by h5py, shown by `inspect`."""
    keras = os.path.join(workdir, "keras_like.h5")
    with h5py.File(keras, "w") as f:
        f.attrs["keras_version"] = "2.15.0"  # variable-length string
        f.attrs["backend"] = np.bytes_("tensorflow")  # fixed-length
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential"})
        weights = f.create_group("model_weights/dense")
        weights.attrs["weight_names"] = np.array([b"dense/kernel:0", b"dense/bias:0"])
        weights.create_dataset("dense/kernel:0", data=np.arange(12, dtype=np.float32).reshape(3, 4), compression="gzip", shuffle=True)
        weights.create_dataset("dense/bias:0", data=np.zeros(4, dtype=np.float64))
        f.create_dataset("labels", data=np.array([b"a", b"bc"], dtype="S2"))
        f.create_dataset("counts", data=np.arange(5, dtype=np.int16))
        f.create_dataset("scalar", data=np.float32(3.5))
    output = run(vqcodec, "checkpoint", "inspect", "--stats", keras)
    problems = []
    for expected in ["/model_weights/dense/dense/kernel:0", "filters: shuffle deflate", "mean 5.5", "@backend = \"tensorflow\"",
                     "string (fixed, 2 bytes)", "I16", "@keras_version = (string (variable length), not shown)"]:
        if expected not in output:
            problems.append(f"inspect of an h5py file lacks {expected!r}")
    verify = subprocess.run([vqcodec, "checkpoint", "verify", keras], capture_output=True, text=True)
    if verify.returncode != 2:
        problems.append(f"verify of a non-vqcodec HDF5 file exited {verify.returncode}, expected 2")
    return problems, output


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vqcodec", default=".build/release/vqcodec", help="the vqcodec executable")
    args = parser.parse_args()
    vqcodec = os.path.abspath(args.vqcodec)
    report = {"files": 0, "datasets": 0, "elements": 0, "types": set(), "tools": set()}
    problems = []
    with tempfile.TemporaryDirectory() as workdir:
        full = os.path.join(workdir, "full.h5")
        run(vqcodec, "checkpoint", "save-loop", full, "--count", "3")
        files = [full]
        for dtype in ["float16", "bfloat16"]:
            path = os.path.join(workdir, f"{dtype}.h5")
            run(vqcodec, "checkpoint", "convert", full, path, "--dtype", dtype)
            files.append(path)
        large = os.path.join(workdir, "large.h5")  # 10M parameters: many multi-chunk datasets
        run(vqcodec, "checkpoint", "save-loop", large, "--count", "1", "--large")
        files.append(large)
        for kind in ["mlp-vae", "token-prior"]:
            path = os.path.join(workdir, f"{kind}.h5")
            run(vqcodec, "checkpoint", "new", kind, path, "--seed", "4")
            files.append(path)
        for tool in (["h5dump", "-H"], ["h5ls", "-r", "-v"]):
            # The standard HDF5 tools (hdf5-tools) must read the layout without complaint.
            for path in files:
                shown = subprocess.run(tool + [path], capture_output=True, text=True)
                if shown.returncode != 0 or "error" in shown.stderr.lower():
                    problems.append(f"{' '.join(tool)} {os.path.basename(path)}: exit {shown.returncode}: {shown.stderr[:200]}")
                report["tools"].add(tool[0])
        for path in files:
            report["files"] += 1
            for problem in check_file(vqcodec, path, workdir, report):
                problems.append(f"{os.path.basename(path)}: {problem}")
        foreign_problems, foreign_output = check_foreign(vqcodec, workdir)
        problems += foreign_problems
    print(f"h5py {h5py.__version__} (HDF5 {h5py.version.hdf5_version}), numpy {np.__version__}")
    print(f"checked {report['files']} vqcodec files, {report['datasets']} datasets, {report['elements']:,} elements; "
          f"stored type -> numpy type from h5py: {', '.join(sorted(report['types']))}")
    print("h5py-written Keras-like file, as `vqcodec checkpoint inspect --stats` shows it:")
    print("\n".join("    " + line for line in foreign_output.strip().splitlines()))
    if problems:
        print(f"{len(problems)} PROBLEMS:")
        for p in problems:
            print("  " + p)
        sys.exit(1)
    print(f"{' and '.join(sorted(report['tools']))} read all {report['files']} files without error")
    print("every tensor read by h5py is bit-identical to the export; all attributes fixed-length; all checksummed")


if __name__ == "__main__":
    main()
