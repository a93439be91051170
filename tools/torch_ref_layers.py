#!/usr/bin/python3
"""Writes tests/data/torch_layers_ref.safetensors: a PyTorch reference for
fmcl's image layers (tests/test_torch_layers.c checks every device and the
CPU references against it).

Cases, each a prefix of its tensors' names:
  conv_s1  torch.nn.functional.conv2d, 3x3, stride 1, padding 1
  conv_s2  the same with stride 2 (odd H and W: the last row and column of
           the padded input are never read)
  conv_1x1 1x1, stride 1, padding 0
  gn       torch.nn.functional.group_norm, eps 1e-5
  up       torch.nn.functional.interpolate(scale_factor=2, mode="nearest")
  attn     multi-head self-attention as ADM's QKVAttention: q, k, v are the
           channel thirds of qkv [B, 3C, P], split into heads of C / heads
           channels, softmax(q^T k / sqrt(d)) over keys, times v
Inputs, parameters and the output gradient "dy" are float32 (stored F32,
exactly what fmcl is given); outputs and the gradients of sum(y * dy) are
computed in float64 and stored F64. Shapes are in the tensors, the layer
settings in the metadata.

Usage: /usr/bin/python3 tools/torch_ref_layers.py [OUT.safetensors]
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from torch_ref import write_safetensors

SEED = 4321
B, C, H, W = 3, 5, 7, 9
GROUPS = 3  # GroupNorm over C_GN = 6 channels
C_GN = 6
EPS = 1e-5
ATT_C, ATT_HEADS = 6, 2


def f32(rng, shape, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(np.float32)


def grads(fn, named_inputs, dy):
    """Runs fn on float64 copies of the float32 inputs; returns y and the
    gradient of sum(y * dy) with respect to every input."""
    leaves = {k: torch.from_numpy(v).double().requires_grad_(True) for k, v in named_inputs}
    y = fn(**leaves)
    y.backward(torch.from_numpy(dy).double())
    return y.detach().numpy(), {k: t.grad.numpy() for k, t in leaves.items()}


def conv_case(rng, name, K, ks, stride, pad):
    x, w, b = f32(rng, (B, C, H, W)), f32(rng, (K, C, ks, ks), 0.5), f32(rng, (K,))
    Ho, Wo = (H + 2 * pad - ks) // stride + 1, (W + 2 * pad - ks) // stride + 1
    dy = f32(rng, (B, K, Ho, Wo))
    y, g = grads(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=pad),
                 [("x", x), ("w", w), ("b", b)], dy)
    return [(name + ".x", x), (name + ".w", w), (name + ".b", b), (name + ".dy", dy),
            (name + ".y", y), (name + ".dx", g["x"]), (name + ".dw", g["w"]),
            (name + ".db", g["b"])]


def attention(qkv, heads):
    b, c3, p = qkv.shape
    d = c3 // 3 // heads
    q, k, v = (t.reshape(b * heads, d, p) for t in qkv.chunk(3, dim=1))
    att = torch.softmax(q.transpose(1, 2) @ k / d ** 0.5, dim=-1)  # [b*heads, t, s]
    return (v @ att.transpose(1, 2)).reshape(b, c3 // 3, p)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "data",
                                                              "torch_layers_ref.safetensors")
    rng = np.random.default_rng(SEED)
    tensors = conv_case(rng, "conv_s1", 4, 3, 1, 1)
    tensors += conv_case(rng, "conv_s2", 6, 3, 2, 1)
    tensors += conv_case(rng, "conv_1x1", 7, 1, 1, 0)

    # GroupNorm on inputs with a nonzero mean, as activations have.
    x = (f32(rng, (B, C_GN, H, W), 2.0) + 1.5).astype(np.float32)
    gamma = (1.0 + f32(rng, (C_GN,), 0.3)).astype(np.float32)
    beta, dy = f32(rng, (C_GN,)), f32(rng, (B, C_GN, H, W))
    y, g = grads(lambda x, gamma, beta: F.group_norm(x, GROUPS, gamma, beta, eps=EPS),
                 [("x", x), ("gamma", gamma), ("beta", beta)], dy)
    tensors += [("gn.x", x), ("gn.gamma", gamma), ("gn.beta", beta), ("gn.dy", dy),
                ("gn.y", y), ("gn.dx", g["x"]), ("gn.dgamma", g["gamma"]),
                ("gn.dbeta", g["beta"])]

    x, dy = f32(rng, (2, 3, 5, H)), f32(rng, (2, 3, 10, 2 * H))
    y, g = grads(lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), [("x", x)], dy)
    tensors += [("up.x", x), ("up.dy", dy), ("up.y", y), ("up.dx", g["x"])]

    qkv, dy = f32(rng, (2, 3 * ATT_C, 35)), f32(rng, (2, ATT_C, 35))
    y, g = grads(lambda qkv: attention(qkv, ATT_HEADS), [("qkv", qkv)], dy)
    tensors += [("attn.qkv", qkv), ("attn.dy", dy), ("attn.y", y), ("attn.dqkv", g["qkv"])]

    meta = {"conv_s1": "kernel 3 stride 1 padding 1", "conv_s2": "kernel 3 stride 2 padding 1",
            "attn_heads": str(ATT_HEADS), "conv_1x1": "kernel 1 stride 1 padding 0", "gn_groups": str(GROUPS),
            "gn_eps": repr(EPS), "up": "nearest, scale 2", "seed": str(SEED),
            "inputs_dtype": "F32", "reference_dtype": "F64 (computed in float64)",
            "gradients": "of sum(y * dy)", "torch_version": torch.__version__,
            "generator": "tools/torch_ref_layers.py"}
    write_safetensors(out, tensors, meta)
    print("wrote %s (%d tensors)" % (out, len(tensors)))


if __name__ == "__main__":
    main()
