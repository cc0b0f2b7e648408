#!/usr/bin/env python3
"""Golden fixtures for the three reference architectures, computed with PyTorch on the CPU in float32.

For each model (mirrors in models.py) this script initialises it with a fixed seed, takes a fixed batch, and
records, in one safetensors file per model under Tests/VQModelsTests/Fixtures/:

    param.<name>        the initial parameters (state_dict names; the Swift model loads them)
    input               images [B, 1, 28, 28] in [0, 1]: the first MNIST test digits (MLPVAE, ConvVQVAE)
    noise               eps [B, latent] of the reparameterisation (MLPVAE)
    tokens              int64 token ids [B, 49] (TokenPrior; the model input is BOS + tokens[:, :-1])
    out.<name>          forward outputs: MLPVAE reconstruction, mu, logvar; ConvVQVAE z_e, reconstruction,
                        indices (int64 [B, 7, 7]); TokenPrior logits [B, 49, vocabulary]
    loss.total, loss.<term>   the loss and each of its terms (names as the Swift LossTerms)
    grad.<name>         d loss.total / d parameter
    adam3.<name>        the parameters after 3 torch.optim.Adam steps (forward + backward on the same batch each step)
    adam.loss           the loss before each of those steps [3]
    adamw3.<name>, adamw.loss   the same with torch.optim.AdamW (weight_decay 0.01), where recorded

`__metadata__` holds the model kind, its configuration with Swift field names (JSON), the seed, learning rate,
steps, the torch version and, for the VQ-VAE, the smallest gap between the nearest and second-nearest code seen
in any forward pass (a tie-breaking risk check: it must be far above float32 rounding).

Run from the package root:  python Tools/reference/make_model_fixtures.py [--out-dir DIR]
"""

import argparse
import gzip
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_op_fixtures import save_sorted  # noqa: E402  (deterministic safetensors writer)
from models import ConvVQVAE, MLPVAE, TokenPrior  # noqa: E402

SEED = 1234
# The VQ-VAE's own seed: the first from 1234 on whose nearest codes never come within MIN_CODE_MARGIN float32 steps of a
# tie, in any of the forward passes recorded (the reference codebook init U(-1/512, 1/512) makes near-ties common).
VQVAE_SEED = 1240
MIN_CODE_MARGIN = 64.0
ADAM_STEPS = 3
ADAMW_DECAY = 0.01
MNIST_TEST = "/work/shared/data/mnist/t10k-images-idx3-ubyte.gz"


def mnist_digits(path, count):
    """The first `count` images of an MNIST idx3 file as float32 [count, 1, 28, 28] in [0, 1]."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in range(0, 16, 4))
    assert magic == 2051 and count <= n, f"{path}: not an idx3 image file (magic {magic})"
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16, count=count * rows * cols)
    return torch.from_numpy(pixels.astype(np.float32) / 255.0).reshape(count, 1, rows, cols)


class Recorder:
    def __init__(self, kind, model, seed):
        self.tensors = {}
        self.metadata = {"model": kind, "config": json.dumps(model.config(), sort_keys=True), "seed": str(seed),
                         "torch": torch.__version__, "adam_steps": str(ADAM_STEPS)}

    def put(self, name, tensor):
        assert name not in self.tensors, name
        self.tensors[name] = tensor.detach().clone().contiguous()

    def put_all(self, prefix, named):
        for name, tensor in named:
            self.put(f"{prefix}.{name}", tensor)


def record_model(rec, model, loss_fn, learning_rate, adamw):
    """Loss terms and gradients at the initial parameters, then the parameters after ADAM_STEPS of Adam (and AdamW)."""
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    rec.put_all("param", initial.items())
    model.zero_grad()
    total, terms = loss_fn(model)
    total.backward()
    rec.put("loss.total", total)
    for name, value in terms.items():
        rec.put(f"loss.{name}", value)
    for name, p in model.named_parameters():
        rec.put(f"grad.{name}", p.grad if p.grad is not None else torch.zeros_like(p))
    rec.metadata["learning_rate"] = repr(learning_rate)

    runs = [("adam", lambda ps: torch.optim.Adam(ps, lr=learning_rate))]
    if adamw:
        runs.append(("adamw", lambda ps: torch.optim.AdamW(ps, lr=learning_rate, weight_decay=ADAMW_DECAY)))
        rec.metadata["adamw_weight_decay"] = repr(ADAMW_DECAY)
    for prefix, make in runs:
        model.load_state_dict(initial, strict=True)
        optimizer = make(model.parameters())
        losses = []
        for _ in range(ADAM_STEPS):
            optimizer.zero_grad()
            total, _ = loss_fn(model)
            total.backward()
            optimizer.step()
            losses.append(total.detach())
        rec.put(f"{prefix}.loss", torch.stack(losses))
        rec.put_all(f"{prefix}{ADAM_STEPS}", model.state_dict().items())
    model.load_state_dict(initial, strict=True)


def mlp_vae(images):
    torch.manual_seed(SEED)
    model = MLPVAE(784, 64, 20)  # hidden 64 (not 400) keeps the file small; the Swift test uses the same config
    rec = Recorder(MLPVAE.kind, model, SEED)
    eps = torch.randn(images.shape[0], model.latent_size)
    rec.put("input", images)
    rec.put("noise", eps)
    with torch.no_grad():
        recon, mu, logvar = model(images, eps)
    rec.put("out.reconstruction", recon)
    rec.put("out.mu", mu)
    rec.put("out.logvar", logvar)
    record_model(rec, model, lambda m: m.loss_terms(images, eps), 1e-3, adamw=True)
    return rec


def code_margin(model, images):
    """The smallest gap between the nearest and second-nearest code over all positions, in units of the float32
    rounding step of the distances (ulp of ||z||^2, which dominates them). Below a few dozen, another
    implementation's rounding (BLAS summation order) could pick the other code."""
    with torch.no_grad():
        z_e = model.encode(images)
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, model.latent_channels)
        two = torch.topk(model.vq.distances(flat), 2, dim=1, largest=False).values
        ulp = flat.pow(2).sum(1) * 2.0 ** -23
        return float(((two[:, 1] - two[:, 0]) / ulp).min())


def conv_vqvae(images, seed=None):
    seed = VQVAE_SEED if seed is None else seed
    torch.manual_seed(seed)
    model = ConvVQVAE()  # the full reference configuration
    rec = Recorder(ConvVQVAE.kind, model, seed)
    rec.put("input", images)
    with torch.no_grad():
        recon, indices, _, _, z_e = model(images)
    rec.put("out.z_e", z_e)
    rec.put("out.reconstruction", recon)
    rec.put("out.indices", indices.to(torch.int64))

    margins = []

    def loss_fn(m):
        margins.append(code_margin(m, images))
        return m.loss_terms(images)

    record_model(rec, model, loss_fn, 2e-4, adamw=True)
    rec.metadata["min_code_margin_ulps"] = f"{min(margins):.1f}"
    if min(margins) < MIN_CODE_MARGIN:
        raise SystemExit(f"conv-vqvae: nearest codes nearly tie ({min(margins):.1f} ulps apart); a float32 rounding "
                         f"difference could pick another code. Change VQVAE_SEED.")
    return rec


def token_prior():
    torch.manual_seed(SEED)
    # dimension 64, MLP 256 (not 128 / 512) keeps the file small; vocabulary, length, heads and layers are the reference's
    model = TokenPrior(vocabulary=512, sequence_length=49, dimension=64, heads=4, layers=2, hidden_size=256)
    rec = Recorder(TokenPrior.kind, model, SEED)
    tokens = torch.randint(0, model.vocabulary, (3, model.sequence_length), dtype=torch.int64)
    rec.put("tokens", tokens)
    with torch.no_grad():
        logits = model(model.shifted_inputs(tokens))
    rec.put("out.logits", logits)
    record_model(rec, model, lambda m: m.loss_terms(tokens), 3e-4, adamw=False)
    return rec


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument("--out-dir", default=os.path.join(root, "Tests", "VQModelsTests", "Fixtures"))
    parser.add_argument("--mnist", default=MNIST_TEST, help="MNIST test images (idx3, gzip)")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_num_threads(1)  # one thread: reproducible reductions
    images = mnist_digits(args.mnist, 4)
    generator = ("Tools/reference/make_model_fixtures.py (PyTorch CPU float32); models in Tools/reference/models.py")
    for filename, rec in [("mlp_vae.safetensors", mlp_vae(images)), ("conv_vqvae.safetensors", conv_vqvae(images)),
                          ("token_prior.safetensors", token_prior())]:
        rec.metadata["__generator__"] = generator
        path = os.path.join(args.out_dir, filename)
        save_sorted(rec.tensors, path, rec.metadata)
        print(f"{path}: {len(rec.tensors)} tensors, {os.path.getsize(path) / 1e6:.2f} MB, "
              f"loss {float(rec.tensors['loss.total']):.6f}"
              + (f", nearest codes >= {rec.metadata['min_code_margin_ulps']} ulps from a tie"
                 if "min_code_margin_ulps" in rec.metadata else ""))


if __name__ == "__main__":
    main()
