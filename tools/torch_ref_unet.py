#!/usr/bin/python3
"""Writes tests/data/torch_unet_ref.safetensors: a PyTorch reference for
fmcl's U-Net (src/nn/unet.h; tests/test_torch_unet.c checks the CPU reference
and every device against it).

The network is written here as ADM's UNetModel (guided_diffusion/unet.py)
with the same module names, so its state_dict names are the ones fmcl's
checkpoints use: ResBlocks with scale-shift time conditioning, AttentionBlocks
with QKVAttention (q, k, v split before the heads), stride-2 conv
downsampling, nearest 2x + conv upsampling, skip concatenation. As in fmcl,
there is no dropout and the sinusoidal embedding puts sin before cos with
t scaled by 1000.

First one ResBlock (with its time conditioning) and one AttentionBlock alone
(tensors "res.*" and "attn.*": params, x, emb, dy, y, grads, dx), then the
whole U-Net (the unprefixed tensors).

The parameters are random (not ADM's zeroed convs, so that every path
carries gradient), drawn as float32; inputs x, t and the output gradient dy
are float32 too. Outputs v and the gradients of sum(v * dy) for every
parameter ("grads", flat in state_dict order) and for x ("dx") are computed
in float64. The metadata holds the configuration and the state_dict names
and shapes ("names": "name:d0xd1...,..."), which fmcl's table must equal.

Usage: /usr/bin/python3 tools/torch_ref_unet.py [OUT.safetensors]
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_ref import write_safetensors

SEED = 2468
CFG = dict(channels=2, height=8, width=12, base=4, mult=(1, 2, 2), blocks=2,
           attn_levels=(1, 2), heads=2, groups=2)
B = 2


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=t.dtype) / half)
    args = 1000.0 * t[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, emb, groups):
        super().__init__()
        self.in_layers = nn.Sequential(nn.GroupNorm(groups, cin), nn.SiLU(),
                                       nn.Conv2d(cin, cout, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb, 2 * cout))
        self.out_layers = nn.Sequential(nn.GroupNorm(groups, cout), nn.SiLU(), nn.Dropout(0.0),
                                        nn.Conv2d(cout, cout, 3, padding=1))
        self.skip_connection = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x, emb):
        h = self.in_layers(x)
        scale, shift = self.emb_layers(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.out_layers[0](h) * (1 + scale) + shift
        h = self.out_layers[3](self.out_layers[2](self.out_layers[1](h)))
        return self.skip_connection(x) + h


class AttentionBlock(nn.Module):
    def __init__(self, ch, heads, groups):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv1d(ch, 3 * ch, 1)
        self.proj_out = nn.Conv1d(ch, ch, 1)

    def forward(self, x, emb):
        b, c, *sp = x.shape
        x = x.reshape(b, c, -1)
        q, k, v = self.qkv(self.norm(x)).chunk(3, dim=1)
        d, p = c // self.heads, x.shape[-1]
        scale = 1 / math.sqrt(math.sqrt(d))
        w = torch.einsum("bct,bcs->bts", (q * scale).reshape(b * self.heads, d, p),
                         (k * scale).reshape(b * self.heads, d, p))
        w = torch.softmax(w, dim=-1)
        a = torch.einsum("bts,bcs->bct", w, v.reshape(b * self.heads, d, p)).reshape(b, c, p)
        return (x + self.proj_out(a)).reshape(b, c, *sp)


class Downsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.op = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x, emb):
        return self.op(x)


class Upsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x, emb):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class Block(nn.Sequential):
    """ADM's TimestepEmbedSequential."""

    def forward(self, x, emb):
        for layer in self:
            x = layer(x, emb) if not isinstance(layer, nn.Conv2d) else layer(x)
        return x


class UNet(nn.Module):
    def __init__(self, channels, height, width, base, mult, blocks, attn_levels, heads, groups,
                 classes=0):
        super().__init__()
        E = 4 * base
        self.base = base
        self.time_embed = nn.Sequential(nn.Linear(base, E), nn.SiLU(), nn.Linear(E, E))
        if classes:  # ADM's label_emb, looked up as fmcl does: one-hot rows times the table
            self.label_emb = nn.Embedding(classes, E)
        self.input_blocks = nn.ModuleList([Block(nn.Conv2d(channels, base, 3, padding=1))])
        chans, ch = [base], base
        for level, m in enumerate(mult):
            for _ in range(blocks):
                layers = [ResBlock(ch, m * base, E, groups)]
                ch = m * base
                if level in attn_levels:
                    layers.append(AttentionBlock(ch, heads, groups))
                self.input_blocks.append(Block(*layers))
                chans.append(ch)
            if level != len(mult) - 1:
                self.input_blocks.append(Block(Downsample(ch)))
                chans.append(ch)
        self.middle_block = Block(ResBlock(ch, ch, E, groups), AttentionBlock(ch, heads, groups),
                                  ResBlock(ch, ch, E, groups))
        self.output_blocks = nn.ModuleList()
        for level, m in reversed(list(enumerate(mult))):
            for i in range(blocks + 1):
                layers = [ResBlock(ch + chans.pop(), m * base, E, groups)]
                ch = m * base
                if level in attn_levels:
                    layers.append(AttentionBlock(ch, heads, groups))
                if level and i == blocks:
                    layers.append(Upsample(ch))
                self.output_blocks.append(Block(*layers))
        self.out = nn.Sequential(nn.GroupNorm(groups, ch), nn.SiLU(),
                                 nn.Conv2d(ch, channels, 3, padding=1))

    def forward(self, x, t, onehot=None):
        emb = self.time_embed(timestep_embedding(t, self.base))
        if onehot is not None:  # zeros: the null class
            emb = emb + onehot @ self.label_emb.weight
        hs, h = [], x
        for m in self.input_blocks:
            h = m(h, emb)
            hs.append(h)
        h = self.middle_block(h, emb)
        for m in self.output_blocks:
            h = m(torch.cat([h, hs.pop()], dim=1), emb)
        return self.out(h)


def set_random_params(model, rng):
    """Random float32 parameters into model (float64), GroupNorm scales near 1;
    returns them flat in state_dict order."""
    flat = []
    for name, t in model.state_dict().items():
        vals = rng.uniform(-0.4, 0.4, t.shape)
        if name.endswith("weight") and t.dim() == 1:
            vals += 1.0
        flat.append(vals.astype(np.float32).ravel())
    params = np.concatenate(flat)
    with torch.no_grad():
        off = 0
        for t in model.state_dict().values():
            t.copy_(torch.from_numpy(params[off:off + t.numel()].astype(np.float64)).view(t.shape))
            off += t.numel()
    assert [n for n, _ in model.named_parameters()] == list(model.state_dict().keys())
    return params


def names_of(model):
    return ",".join("%s:%s" % (n, "x".join(str(s) for s in t.shape))
                    for n, t in model.state_dict().items())


def block_case(rng, prefix, model, x_shape, emb_dim):
    """One block alone: y = block(x, emb) and the gradients of sum(y * dy)."""
    model = model.double()
    params = set_random_params(model, rng)
    x = rng.uniform(-1, 1, x_shape).astype(np.float32)
    emb = rng.uniform(-2, 2, (x_shape[0], emb_dim)).astype(np.float32)
    xt = torch.from_numpy(x).double().requires_grad_(True)
    y = model(xt, torch.from_numpy(emb).double())
    dy = rng.uniform(-1, 1, tuple(y.shape)).astype(np.float32)
    y.backward(torch.from_numpy(dy).double())
    grads = np.concatenate([q.grad.numpy().ravel() for q in model.parameters()])
    tensors = [("params", params), ("x", x), ("emb", emb), ("dy", dy),
               ("y", y.detach().numpy()), ("grads", grads), ("dx", xt.grad.numpy())]
    return [(prefix + "." + n, a) for n, a in tensors], names_of(model)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "data",
                                                              "torch_unet_ref.safetensors")
    rng = np.random.default_rng(SEED)
    # One ResBlock (6 -> 4 channels: a 1x1 skip conv) and one AttentionBlock
    # alone, on odd sizes; then the whole U-Net.
    res, res_names = block_case(rng, "res", ResBlock(6, 4, 12, 2), (3, 6, 5, 7), 12)
    att, att_names = block_case(rng, "attn", AttentionBlock(6, 2, 3), (2, 6, 3, 5), 12)
    model = UNet(**CFG).double()
    names = list(model.state_dict().keys())
    params = set_random_params(model, rng)
    C, H, W = CFG["channels"], CFG["height"], CFG["width"]
    x = rng.uniform(-1, 1, (B, C, H, W)).astype(np.float32)
    t = rng.uniform(0, 1, (B,)).astype(np.float32)
    dy = rng.uniform(-1, 1, (B, C, H, W)).astype(np.float32)

    xt = torch.from_numpy(x).double().requires_grad_(True)
    v = model(xt, torch.from_numpy(t).double())
    v.backward(torch.from_numpy(dy).double())
    grads = np.concatenate([p.grad.numpy().ravel() for p in model.parameters()])
    meta = {k: ",".join(map(str, v)) if isinstance(v, tuple) else str(v) for k, v in CFG.items()}
    meta.update({"batch": str(B), "names": names_of(model), "seed": str(SEED),
                 "res_config": "Cin 6, Cout 4, H 5, W 7, emb 12, groups 2",
                 "res_names": res_names, "attn_names": att_names,
                 "attn_config": "C 6, H 3, W 5, emb 12, heads 2, groups 3",
                 "inputs_dtype": "F32", "reference_dtype": "F64 (computed in float64)",
                 "gradients": "of sum(v * dy)", "torch_version": torch.__version__,
                 "generator": "tools/torch_ref_unet.py"})
    tensors = [("params", params), ("x", x), ("t", t), ("dy", dy), ("v", v.detach().numpy()),
               ("grads", grads), ("dx", xt.grad.numpy())] + res + att
    write_safetensors(out, tensors, meta)
    print("wrote %s (%d parameters in %d tensors)" % (out, params.size, len(names)))


if __name__ == "__main__":
    main()
