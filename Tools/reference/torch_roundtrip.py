"""PyTorch round trip of vqcodec checkpoints, both directions, for the three reference architectures.

Swift -> PyTorch: `vqcodec checkpoint new` writes a Swift-initialised model, `convert` turns it into
safetensors, the PyTorch mirror (Tools/reference/models.py) loads it with load_state_dict(strict=True), and both
run the same inputs (`vqcodec checkpoint probe` on the Swift side).
PyTorch -> Swift: a PyTorch-initialised model's state_dict is saved as a plain safetensors file (no metadata),
`convert --model-kind --model-config` makes it a vqcodec checkpoint, and the Swift model runs the same inputs.
Prints the largest absolute difference per output; exits 1 if any exceeds the tolerance (1e-4 relative to the
output's scale) or a code index differs.

Run from the package root (needs torch and safetensors, e.g. /tmp/refenv):
    /tmp/refenv/bin/python Tools/reference/torch_roundtrip.py [--vqcodec .build/release/vqcodec]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import build_model  # noqa: E402

BATCH = 8


def run(vqcodec, *args):
    result = subprocess.run([vqcodec, *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"vqcodec {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def make_inputs(kind, config):
    g = torch.Generator().manual_seed(1234)
    if kind == "token-prior":
        vocabulary = config.get("vocabulary", 512)
        length = config.get("sequenceLength", 49)
        return {"tokens": torch.randint(0, vocabulary, (BATCH, length), generator=g, dtype=torch.int64)}
    x = torch.rand(BATCH, 1, 28, 28, generator=g)
    if kind == "mlp-vae":
        return {"x": x.reshape(BATCH, 784).contiguous(), "noise": torch.randn(BATCH, config.get("latentSize", 20), generator=g)}
    return {"x": x}


@torch.no_grad()
def torch_outputs(kind, model, inputs):
    model.eval()
    if kind == "mlp-vae":
        x, eps = inputs["x"], inputs["noise"]
        mu, logvar = model.encode(x)
        total, terms = model.loss_terms(x, eps)
        out = {"mean": mu, "logvar": logvar, "reconstruction": model.decode(model.reparameterize(mu, logvar, eps)), "loss": total}
    elif kind == "conv-vqvae":
        recon, indices, _, _, _ = model(inputs["x"])
        total, terms = model.loss_terms(inputs["x"])
        out = {"reconstruction": recon, "indices": indices, "loss": total}
    else:
        tokens = inputs["tokens"]
        total, terms = model.loss_terms(tokens)
        out = {"logits": model(model.shifted_inputs(tokens)), "loss": total}
    out.update({f"loss.{k}": v for k, v in terms.items()})
    return out


def compare(swift, reference, label, results):
    ok = True
    for name, expected in reference.items():
        if name not in swift:
            print(f"  {label}: output {name} missing on the Swift side")
            ok = False
            continue
        got = swift[name]
        if expected.dtype == torch.int64:
            mismatches = int((got.reshape(expected.shape) != expected).sum())
            results.append((label, name, "index mismatches", mismatches))
            ok &= mismatches == 0
            continue
        difference = (got.double().reshape(expected.shape) - expected.double()).abs().max().item()
        scale = max(expected.double().abs().max().item(), 1.0)
        results.append((label, name, f"max |swift - torch| (output scale {scale:.3g})", difference))
        ok &= difference <= 1e-4 * scale
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vqcodec", default=".build/release/vqcodec", help="the vqcodec executable")
    args = parser.parse_args()
    vqcodec = os.path.abspath(args.vqcodec)
    torch.set_num_threads(1)
    results, ok = [], True
    with tempfile.TemporaryDirectory() as work:
        for kind in ["mlp-vae", "conv-vqvae", "token-prior"]:
            # Swift -> PyTorch
            swift_h5 = os.path.join(work, f"{kind}.swift.h5")
            swift_st = os.path.join(work, f"{kind}.swift.safetensors")
            run(vqcodec, "checkpoint", "new", kind, swift_h5, "--seed", "7")
            run(vqcodec, "checkpoint", "convert", swift_h5, swift_st)
            with safe_open(swift_st, "pt") as f:
                config = json.loads(f.metadata()["vqcodec.model_config"])
            model = build_model(kind, config)
            model.load_state_dict(load_file(swift_st), strict=True)
            inputs = make_inputs(kind, config)
            inputs_path = os.path.join(work, f"{kind}.inputs.safetensors")
            save_file(inputs, inputs_path)
            swift_out_path = os.path.join(work, f"{kind}.swift.out.safetensors")
            run(vqcodec, "checkpoint", "probe", swift_h5, inputs_path, swift_out_path)
            ok &= compare(load_file(swift_out_path), torch_outputs(kind, model, inputs), f"{kind} Swift->PyTorch", results)

            # PyTorch -> Swift
            torch.manual_seed(99)
            model = build_model(kind, config)
            plain = os.path.join(work, f"{kind}.torch.safetensors")
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, plain)  # no metadata: a plain state_dict
            torch_h5 = os.path.join(work, f"{kind}.torch.h5")
            run(vqcodec, "checkpoint", "convert", plain, torch_h5, "--model-kind", kind, "--model-config", json.dumps(config))
            verify = subprocess.run([vqcodec, "checkpoint", "verify", torch_h5], capture_output=True, text=True)
            if verify.returncode != 0:
                print(f"  verify of the converted {kind} checkpoint failed: {verify.stdout}")
                ok = False
            out_path = os.path.join(work, f"{kind}.torch.out.safetensors")
            run(vqcodec, "checkpoint", "probe", torch_h5, inputs_path, out_path)
            ok &= compare(load_file(out_path), torch_outputs(kind, model, inputs), f"{kind} PyTorch->Swift", results)

    print(f"torch {torch.__version__}, batch {BATCH}, float32, 1 thread")
    width = max(len(f"{a} {b}") for a, b, _, _ in results)
    for label, name, what, value in results:
        shown = f"{value}" if isinstance(value, int) else f"{value:.3e}"
        print(f"  {f'{label} {name}':<{width}}  {what}: {shown}")
    worst = max(v for _, _, w, v in results if w.startswith("max"))
    worst_relative = max(v / float(w.split("scale ")[1].rstrip(")")) for _, _, w, v in results if w.startswith("max"))
    print(f"largest absolute difference {worst:.3e}; largest relative to the output's scale {worst_relative:.3e}; "
          f"{'OK' if ok else 'FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
