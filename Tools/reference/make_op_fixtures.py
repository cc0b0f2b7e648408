#!/usr/bin/env python3
"""Golden fixtures for the VQEngine ops, computed with PyTorch on the CPU in float32.

For every case this script draws random float32 inputs (fixed seed), runs the op, and back-propagates
`(output * upstream).sum()` with a fixed random `upstream` of the output's shape. Everything goes into one
safetensors file (default: Tests/VQEngineTests/Fixtures/ops.safetensors):

    <case>.in0, <case>.in1, ...   float inputs (all of them require a gradient)
    <case>.idx                    integer input (int64) where the op takes one: embedding indices,
                                  cross-entropy targets, gather indices
    <case>.upstream               the upstream gradient (`<case>.upstream0`, ... when the op has several outputs)
    <case>.out                    the output (`<case>.out0`, ... for several; int64 for argmin/argmax)
    <case>.grad0, <case>.grad1    d(sum(out * upstream)) / d(in_i); zeros where no gradient flows (detach)

`__metadata__` maps each case name to a JSON object:
    {"op": <op name>, "family": <op family>, "params": {...}, "inputs": <float input count>, "outputs": <count>,
     "differentiable": <bool>}
plus "__generator__" describing how the file was made. The Swift test (Tests/VQEngineTests/OpFixtureTests.swift)
rebuilds each case with the engine and compares. Op names and parameter keys are shared with
Tests/VQEngineTests/OpCatalog.swift.

Run from the package root:  python Tools/reference/make_op_fixtures.py [--out PATH]
"""

import argparse
import json
import os

import struct

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

SEED = 20240611


def save_sorted(tensors, path, metadata):
    """Writes a safetensors file with keys and data in sorted order, so reruns give identical bytes (the
    `safetensors` package orders the header by a hash map). Read back with `safetensors` below as a check."""
    dtypes = {torch.float32: "F32", torch.int64: "I64"}
    header, chunks, offset = {"__metadata__": dict(sorted(metadata.items()))}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the spec allows trailing spaces; keeps the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for chunk in chunks:
            f.write(chunk)


class Builder:
    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)
        self.tensors = {}
        self.metadata = {}

    # Random draws, all float32 from the one generator so the file is reproducible.
    def normal(self, *shape, std=1.0, mean=0.0):
        return torch.randn(tuple(shape), generator=self.gen, dtype=torch.float32) * std + mean

    def uniform(self, *shape, low=0.0, high=1.0):
        return torch.rand(tuple(shape), generator=self.gen, dtype=torch.float32) * (high - low) + low

    def away_from_zero(self, *shape, low=0.1, high=2.0):
        """Values with |v| in [low, high] and a random sign: no kinks (relu, abs) and no division by ~0."""
        magnitude = self.uniform(*shape, low=low, high=high)
        sign = torch.where(self.uniform(*shape) < 0.5, -1.0, 1.0)
        return magnitude * sign

    def integers(self, low, high, *shape):
        return torch.randint(low, high, shape, generator=self.gen, dtype=torch.int64)

    def add(self, name, family, op, inputs, fn, params=None, idx=None, differentiable=True):
        """Records one case. `fn(*leaves)` returns a tensor or a tuple of tensors."""
        assert name not in self.metadata, name
        leaves = [x.detach().clone().contiguous().requires_grad_(differentiable) for x in inputs]
        result = fn(*leaves)
        outputs = list(result) if isinstance(result, (tuple, list)) else [result]
        single = len(outputs) == 1
        for i, x in enumerate(leaves):
            self.tensors[f"{name}.in{i}"] = x.detach().clone()
        if idx is not None:
            self.tensors[f"{name}.idx"] = idx.clone().to(torch.int64)
        if differentiable:
            loss = 0
            for i, out in enumerate(outputs):
                upstream = self.normal(*out.shape)
                self.tensors[f"{name}.upstream" + ("" if single else str(i))] = upstream
                loss = loss + (out * upstream).sum()
            loss.backward()
            for i, x in enumerate(leaves):
                grad = x.grad if x.grad is not None else torch.zeros_like(x)
                self.tensors[f"{name}.grad{i}"] = grad.detach().clone()
        for i, out in enumerate(outputs):
            self.tensors[f"{name}.out" + ("" if single else str(i))] = out.detach().clone()
        self.metadata[name] = json.dumps({
            "op": op, "family": family, "params": params or {}, "inputs": len(leaves),
            "outputs": len(outputs), "differentiable": differentiable,
        }, sort_keys=True)


def build(b: Builder):
    # --- Elementwise arithmetic with broadcasting ---------------------------------------------------------
    shapes = [
        ("same", (2, 3, 4), (2, 3, 4)),
        ("b31", (2, 3, 4), (3, 1)),
        ("b4", (2, 3, 4), (4,)),
        ("lhs_b", (3, 1), (2, 3, 4)),
        ("both_b", (2, 1, 4), (3, 1)),
        ("rank0", (2, 3), ()),
    ]
    ops = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}
    for op, fn in ops.items():
        for tag, sa, sb in shapes:
            a = b.normal(*sa)
            other = b.away_from_zero(*sb, low=0.5, high=2.0) if op == "div" else b.normal(*sb)
            b.add(f"{op}_{tag}", "arithmetic", op, [a, other], fn)
    b.add("neg", "arithmetic", "neg", [b.normal(3, 5)], lambda x: -x)
    b.add("square", "arithmetic", "square", [b.normal(3, 5)], lambda x: x * x)
    for op, s, fn in [
        ("add_scalar", 2.5, lambda x, s: x + s),
        ("sub_scalar", 0.75, lambda x, s: x - s),
        ("rsub_scalar", 1.25, lambda x, s: s - x),
        ("mul_scalar", -1.5, lambda x, s: x * s),
        ("div_scalar", 4.0, lambda x, s: x / s),
    ]:
        b.add(op, "arithmetic", op, [b.normal(2, 3, 4)], lambda x, s=s, fn=fn: fn(x, s), params={"scalar": s})

    # --- Matrix products ------------------------------------------------------------------------------------
    def mm(ts, to):
        return lambda x, y: (x.mT if ts else x) @ (y.mT if to else y)

    for name, sa, sb, ts, to in [
        ("matmul_batched", (2, 3, 4), (2, 4, 5), False, False),
        ("matmul_2d", (3, 4), (4, 5), False, False),
        ("matmul_shared", (2, 3, 4), (4, 5), False, False),
        ("matmul_ts", (2, 4, 3), (2, 4, 5), True, False),
        ("matmul_to", (2, 3, 4), (2, 5, 4), False, True),
        ("matmul_ts_to", (2, 4, 3), (2, 5, 4), True, True),
        ("matmul_shared_to", (2, 3, 4), (5, 4), False, True),
        ("matmul_shared_ts", (2, 4, 3), (4, 5), True, False),
        ("matmul_shared_ts_to", (2, 4, 3), (5, 4), True, True),
        ("matmul_rank4", (2, 2, 3, 4), (2, 2, 4, 3), False, False),
        ("matmul_rank4_to", (2, 2, 3, 4), (2, 2, 3, 4), False, True),
    ]:
        b.add(name, "matmul", "matmul", [b.normal(*sa), b.normal(*sb)], mm(ts, to),
              params={"transposeSelf": ts, "transposeOther": to})

    # --- Linear ---------------------------------------------------------------------------------------------
    b.add("linear_bias", "linear", "linear", [b.normal(2, 3, 4), b.normal(5, 4), b.normal(5)], F.linear)
    b.add("linear_nobias", "linear", "linear", [b.normal(2, 3, 4), b.normal(5, 4)], F.linear)
    b.add("linear_2d", "linear", "linear", [b.normal(6, 7), b.normal(3, 7), b.normal(3)], F.linear)
    b.add("linear_1d", "linear", "linear", [b.normal(4), b.normal(3, 4), b.normal(3)], F.linear)

    # --- Convolutions -----------------------------------------------------------------------------------------
    for name, x, w, bias, s, p in [
        ("conv2d_k4s2p1", (2, 3, 8, 8), (4, 3, 4, 4), True, 2, 1),
        ("conv2d_k3s1p1", (2, 3, 6, 6), (4, 3, 3, 3), True, 1, 1),
        ("conv2d_k3s2p1_odd", (1, 2, 7, 7), (3, 2, 3, 3), True, 2, 1),
        ("conv2d_nonsquare_k3s1p0", (2, 2, 5, 7), (3, 2, 3, 3), True, 1, 0),
        ("conv2d_nonsquare_k3s2p2", (1, 3, 6, 9), (2, 3, 3, 3), True, 2, 2),
        ("conv2d_k1s1p0", (2, 4, 3, 3), (5, 4, 1, 1), True, 1, 0),
        ("conv2d_k2x3_nobias", (2, 2, 6, 5), (3, 2, 2, 3), False, 1, 1),
        ("conv2d_k4s4p0_nobias", (1, 2, 8, 8), (3, 2, 4, 4), False, 4, 0),
        ("conv2d_k3s2p0_unused_row", (1, 2, 6, 6), (2, 2, 3, 3), True, 2, 0),  # last row/column never read
        ("conv2d_k1s1p1", (1, 2, 3, 4), (2, 2, 1, 1), True, 1, 1),  # border outputs see only padding
        ("conv2d_k1s2p1", (1, 2, 5, 4), (2, 2, 1, 1), True, 2, 1),
        ("conv2d_k3s1p2", (1, 2, 4, 3), (2, 2, 3, 3), True, 1, 2),
        # Big enough that im2col, col2im and the layout changes split their work across threads.
        ("conv2d_large_parallel", (2, 8, 32, 32), (8, 8, 3, 3), True, 1, 1),
    ]:
        inputs = [b.normal(*x), b.normal(*w, std=0.3)] + ([b.normal(w[0])] if bias else [])
        b.add(name, "conv2d", "conv2d", inputs,
              lambda *t, s=s, p=p: F.conv2d(*t, stride=s, padding=p), params={"stride": s, "padding": p})

    for name, x, w, bias, s, p, op_ in [
        ("convt_k4s2p1", (2, 3, 4, 4), (3, 4, 4, 4), True, 2, 1, 0),
        ("convt_k3s1p1", (2, 3, 5, 5), (3, 2, 3, 3), True, 1, 1, 0),
        ("convt_k3s2p1_op1", (1, 2, 4, 4), (2, 3, 3, 3), True, 2, 1, 1),
        ("convt_nonsquare_k4s2p1", (2, 2, 3, 5), (2, 3, 4, 4), True, 2, 1, 0),
        ("convt_k3s2p0_op1_nonsquare", (1, 3, 3, 4), (3, 2, 3, 3), True, 2, 0, 1),
        ("convt_k1s1p0_nobias", (2, 4, 3, 3), (4, 3, 1, 1), False, 1, 0, 0),
        ("convt_k2x3s2p0_nobias", (1, 2, 3, 3), (2, 2, 2, 3), False, 2, 0, 0),
        ("convt_k3s1p2", (1, 2, 5, 4), (2, 3, 3, 3), True, 1, 2, 0),
        ("convt_large_parallel", (2, 8, 16, 16), (8, 8, 4, 4), True, 2, 1, 0),
    ]:
        inputs = [b.normal(*x), b.normal(*w, std=0.3)] + ([b.normal(w[1])] if bias else [])
        b.add(name, "conv_transpose2d", "conv_transpose2d", inputs,
              lambda *t, s=s, p=p, op_=op_: F.conv_transpose2d(*t, stride=s, padding=p, output_padding=op_),
              params={"stride": s, "padding": p, "outputPadding": op_})

    # --- Activations and elementwise functions ------------------------------------------------------------
    b.add("relu", "activation", "relu", [b.away_from_zero(4, 8, low=0.01, high=3.0)], F.relu)
    b.add("leaky_relu", "activation", "leaky_relu", [b.away_from_zero(4, 8, low=0.01, high=3.0)], F.leaky_relu,
          params={"slope": 0.01})
    b.add("leaky_relu_0.2", "activation", "leaky_relu", [b.away_from_zero(4, 8, low=0.01, high=3.0)],
          lambda x: F.leaky_relu(x, 0.2), params={"slope": 0.2})
    b.add("sigmoid", "activation", "sigmoid", [b.normal(4, 8, std=3.0)], torch.sigmoid)
    b.add("tanh", "activation", "tanh", [b.normal(4, 8, std=2.0)], torch.tanh)
    b.add("gelu", "activation", "gelu", [b.normal(4, 8, std=2.0)], F.gelu)
    b.add("silu", "activation", "silu", [b.normal(4, 8, std=3.0)], F.silu)
    softplus_in = torch.cat([b.normal(24, std=4.0), b.uniform(8, low=20.5, high=40.0),
                             b.uniform(4, low=-40.0, high=-20.5), b.uniform(4, low=17.0, high=19.9)]).reshape(5, 8)
    b.add("softplus", "activation", "softplus", [softplus_in], F.softplus)
    b.add("exp", "activation", "exp", [b.uniform(4, 8, low=-4.0, high=4.0)], torch.exp)
    b.add("log", "activation", "log", [b.uniform(4, 8, low=0.05, high=6.0)], torch.log)
    b.add("sqrt", "activation", "sqrt", [b.uniform(4, 8, low=0.05, high=6.0)], torch.sqrt)
    b.add("abs", "activation", "abs", [b.away_from_zero(4, 8, low=0.01, high=3.0)], torch.abs)

    # --- Reductions ---------------------------------------------------------------------------------------
    x = lambda: b.normal(2, 3, 4)
    for name, axis, keep in [("sum_axis1", 1, False), ("sum_axis-1_keep", -1, True), ("sum_axis0_keep", 0, True),
                             ("sum_axis2", 2, False)]:
        b.add(name, "reduction", "sum_axis", [x()], lambda t, a=axis, k=keep: t.sum(dim=a, keepdim=k),
              params={"axis": axis, "keepDims": keep})
    for name, axes, keep in [("sum_axes02", [0, 2], False), ("sum_axes12_keep", [1, 2], True),
                             ("sum_axes-1", [-1], False)]:
        b.add(name, "reduction", "sum_axes", [x()], lambda t, a=axes, k=keep: t.sum(dim=a, keepdim=k),
              params={"axes": axes, "keepDims": keep})
    for name, axes, keep in [("mean_axes1", [1], False), ("mean_axes02_keep", [0, 2], True),
                             ("mean_axes-1", [-1], False)]:
        b.add(name, "reduction", "mean_axes", [x()], lambda t, a=axes, k=keep: t.mean(dim=a, keepdim=k),
              params={"axes": axes, "keepDims": keep})
    for name, axis, keep in [("max_axis1", 1, False), ("max_axis-1_keep", -1, True), ("max_axis0", 0, False)]:
        b.add(name, "reduction", "max_axis", [x()], lambda t, a=axis, k=keep: t.max(dim=a, keepdim=k).values,
              params={"axis": axis, "keepDims": keep})
    b.add("sum_all", "reduction", "sum_all", [x()], torch.sum)
    b.add("mean_all", "reduction", "mean_all", [x()], torch.mean)

    # --- Shape ops ----------------------------------------------------------------------------------------
    b.add("reshape", "shape", "reshape", [b.normal(2, 3, 4)], lambda t: t.reshape(4, 6), params={"shape": [4, 6]})
    b.add("reshape_infer", "shape", "reshape", [b.normal(2, 3, 4)], lambda t: t.reshape(-1, 2, 3),
          params={"shape": [-1, 2, 3]})
    b.add("permute_0231", "shape", "permute", [b.normal(2, 3, 4, 5)], lambda t: t.permute(0, 2, 3, 1),
          params={"order": [0, 2, 3, 1]})
    b.add("permute_210", "shape", "permute", [b.normal(2, 3, 4)], lambda t: t.permute(2, 1, 0),
          params={"order": [2, 1, 0]})
    b.add("transpose", "shape", "transpose", [b.normal(2, 3, 4)], lambda t: t.transpose(-2, -1),
          params={"a": -2, "b": -1})
    b.add("slice_axis1", "shape", "slice", [b.normal(2, 5, 3)], lambda t: t.narrow(1, 1, 3),
          params={"axis": 1, "start": 1, "length": 3})
    b.add("slice_axis-1", "shape", "slice", [b.normal(2, 3, 6)], lambda t: t.narrow(-1, 2, 2),
          params={"axis": -1, "start": 2, "length": 2})
    b.add("slice_axis0", "shape", "slice", [b.normal(4, 3)], lambda t: t.narrow(0, 0, 2),
          params={"axis": 0, "start": 0, "length": 2})
    b.add("concat_axis1", "shape", "concat", [b.normal(2, 2, 3), b.normal(2, 1, 3), b.normal(2, 4, 3)],
          lambda *t: torch.cat(t, dim=1), params={"axis": 1})
    b.add("concat_axis0", "shape", "concat", [b.normal(1, 4), b.normal(3, 4)], lambda *t: torch.cat(t, dim=0),
          params={"axis": 0})
    b.add("concat_axis-1", "shape", "concat", [b.normal(2, 3, 2), b.normal(2, 3, 5)], lambda *t: torch.cat(t, dim=-1),
          params={"axis": -1})
    b.add("split_axis1", "shape", "split", [b.normal(2, 7, 3)], lambda t: torch.split(t, [2, 4, 1], dim=1),
          params={"sizes": [2, 4, 1], "axis": 1})
    b.add("split_axis-1", "shape", "split", [b.normal(3, 6)], lambda t: torch.split(t, [3, 3], dim=-1),
          params={"sizes": [3, 3], "axis": -1})
    b.add("upsample_nearest_x2", "upsample", "upsample_nearest", [b.normal(2, 3, 3, 4)],
          lambda t: F.interpolate(t, scale_factor=2, mode="nearest"), params={"scale": 2})
    b.add("upsample_nearest_x3", "upsample", "upsample_nearest", [b.normal(1, 2, 2, 3)],
          lambda t: F.interpolate(t, scale_factor=3, mode="nearest"), params={"scale": 3})

    # --- Embedding and index ops ----------------------------------------------------------------------------
    idx = torch.tensor([[0, 3, 3, 5, 1], [3, 0, 0, 2, 3]], dtype=torch.int64)  # repeated rows
    b.add("embedding", "embedding", "embedding", [b.normal(6, 4)], lambda w: F.embedding(idx, w), idx=idx)
    idx1 = torch.tensor([2, 2, 2, 0], dtype=torch.int64)
    b.add("embedding_1d", "embedding", "embedding", [b.normal(3, 5)], lambda w: F.embedding(idx1, w), idx=idx1)
    gidx = torch.tensor([1, 0, 4, 4], dtype=torch.int64)
    b.add("gather", "embedding", "gather", [b.normal(4, 5)],
          lambda t: t.gather(1, gidx[:, None]).squeeze(1), idx=gidx)
    for axis in [1, -1, 0]:
        b.add(f"argmin_axis{axis}", "argminmax", "argmin", [b.normal(3, 5, 4)], lambda t, a=axis: t.argmin(dim=a),
              params={"axis": axis}, differentiable=False)
        b.add(f"argmax_axis{axis}", "argminmax", "argmax", [b.normal(3, 5, 4)], lambda t, a=axis: t.argmax(dim=a),
              params={"axis": axis}, differentiable=False)

    # --- Softmax --------------------------------------------------------------------------------------------
    b.add("softmax", "softmax", "softmax", [b.normal(3, 4, 6, std=2.0)], lambda t: F.softmax(t, dim=-1))
    b.add("softmax_large", "softmax", "softmax", [b.normal(2, 5, std=3.0, mean=60.0)], lambda t: F.softmax(t, dim=-1))
    b.add("log_softmax", "softmax", "log_softmax", [b.normal(3, 4, 6, std=2.0)], lambda t: F.log_softmax(t, dim=-1))
    b.add("log_softmax_large", "softmax", "log_softmax", [b.normal(2, 5, std=3.0, mean=-60.0)],
          lambda t: F.log_softmax(t, dim=-1))

    def causal_softmax(t):
        size = t.shape[-1]
        mask = torch.triu(torch.ones(size, size, dtype=torch.bool), diagonal=1)
        return F.softmax(t.masked_fill(mask, float("-inf")), dim=-1)

    b.add("causal_softmax", "causal", "causal_softmax", [b.normal(2, 2, 5, 5, std=2.0)], causal_softmax)
    b.add("causal_softmax_t1", "causal", "causal_softmax", [b.normal(3, 1, 1)], causal_softmax)

    # --- Normalisation ------------------------------------------------------------------------------------
    b.add("layer_norm_affine", "layer_norm", "layer_norm",
          [b.normal(2, 3, 8, std=2.0, mean=1.0), b.normal(8, mean=1.0, std=0.5), b.normal(8)],
          lambda t, w, c: F.layer_norm(t, (8,), w, c, eps=1e-5), params={"eps": 1e-5})
    b.add("layer_norm_plain", "layer_norm", "layer_norm", [b.normal(4, 6, std=3.0)],
          lambda t: F.layer_norm(t, (6,), eps=1e-5), params={"eps": 1e-5})
    b.add("layer_norm_eps1e-3", "layer_norm", "layer_norm",
          [b.normal(3, 5, std=0.05), b.normal(5, mean=1.0, std=0.5), b.normal(5)],
          lambda t, w, c: F.layer_norm(t, (5,), w, c, eps=1e-3), params={"eps": 1e-3})
    for name, shape, groups, eps in [("group_norm_g3", (2, 6, 3, 3), 3, 1e-5), ("group_norm_g1", (2, 4, 2, 3), 1, 1e-5),
                                     ("group_norm_g4_instance", (2, 4, 3, 2), 4, 1e-5),
                                     ("group_norm_g2_eps1e-3", (1, 4, 3, 3), 2, 1e-3)]:
        c = shape[1]
        b.add(name, "group_norm", "group_norm",
              [b.normal(*shape, std=2.0, mean=0.5), b.normal(c, mean=1.0, std=0.5), b.normal(c)],
              lambda t, w, bb, g=groups, e=eps: F.group_norm(t, g, w, bb, eps=e), params={"groups": groups, "eps": eps})
    b.add("group_norm_3d_plain", "group_norm", "group_norm", [b.normal(2, 4, 5)],
          lambda t: F.group_norm(t, 2, eps=1e-5), params={"groups": 2, "eps": 1e-5})

    # --- Losses ---------------------------------------------------------------------------------------------
    for red in ["mean", "sum"]:
        b.add(f"mse_{red}", "loss", "mse_loss", [b.normal(3, 5), b.normal(3, 5)],
              lambda p, t, r=red: F.mse_loss(p, t, reduction=r), params={"reduction": red})
        b.add(f"bce_{red}", "loss", "binary_cross_entropy",
              [b.uniform(3, 5, low=0.05, high=0.95), b.uniform(3, 5)],
              lambda p, t, r=red: F.binary_cross_entropy(p, t, reduction=r), params={"reduction": red})
        b.add(f"bce_logits_{red}", "loss", "binary_cross_entropy_with_logits",
              [b.normal(3, 5, std=3.0), b.uniform(3, 5)],
              lambda x, t, r=red: F.binary_cross_entropy_with_logits(x, t, reduction=r), params={"reduction": red})
        targets = b.integers(0, 6, 5)
        b.add(f"cross_entropy_{red}", "loss", "cross_entropy", [b.normal(5, 6, std=2.0)],
              lambda x, r=red, t=targets: F.cross_entropy(x, t, reduction=r), params={"reduction": red}, idx=targets)

    # --- Stop-gradient ------------------------------------------------------------------------------------
    b.add("stop_gradient_mul", "stop_gradient", "stop_gradient_mul", [b.normal(3, 4), b.normal(3, 4)],
          lambda x, y: x.detach() * y)
    b.add("stop_gradient_self", "stop_gradient", "stop_gradient_self", [b.normal(3, 4)], lambda x: x * x.detach())

    # --- Composites: one tensor used by several consumers, so gradients must add up on the tape -----------------
    b.add("self_matmul", "composite", "self_matmul", [b.normal(2, 3, 4)], lambda x: x @ x.mT)

    def diamond(x, w):
        a = torch.tanh(x)
        return a * a + a @ w

    b.add("diamond", "composite", "diamond", [b.normal(3, 4), b.normal(4, 4)], diamond)


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(root, "Tests", "VQEngineTests", "Fixtures", "ops.safetensors"))
    args = parser.parse_args()

    torch.manual_seed(SEED)
    torch.set_num_threads(1)  # deterministic reduction order
    b = Builder(SEED)
    build(b)
    for name, t in b.tensors.items():
        assert t.dtype in (torch.float32, torch.int64), (name, t.dtype)
        assert torch.isfinite(t.float()).all(), name
    metadata = dict(b.metadata)
    metadata["__generator__"] = json.dumps({
        "script": "Tools/reference/make_op_fixtures.py", "torch": torch.__version__, "seed": SEED,
    })
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    save_sorted(b.tensors, args.out, metadata)
    reread = load_file(args.out)
    assert reread.keys() == b.tensors.keys() and all(torch.equal(reread[k], v) for k, v in b.tensors.items())
    print(f"wrote {len(b.metadata)} cases, {len(b.tensors)} tensors, {os.path.getsize(args.out)} bytes to {args.out}")


if __name__ == "__main__":
    main()
