#!/usr/bin/python3
"""Writes tests/data/torch_mlp_ref.safetensors: a PyTorch reference for fmcl's
MLP (tests/test_torch_ref.c checks every device against it).

The model is the nn.Sequential fmcl mirrors: Linear(in, W), SiLU, ...,
Linear(W, D) with `depth` hidden layers. Parameters and inputs are float32
values (stored F32, exactly what fmcl is given); everything computed from them
runs in float64 and is stored F64, so the test compares float32 device results
against a reference whose own rounding error is negligible.

Stored tensors: the parameters (state_dict names), "x" [B, in] (the network
input [x_t, t]), "target" [B, D], "pred" [B, D], "loss" [1] (mean over all B*D
squared errors, as the flow_matching library's 2D example), "grad.<name>",
"dinput" [B, in]; then, on the same batch, 5 steps of torch.optim.Adam
("adam_losses" [5], loss before each step; "adam_final.<name>") and 5 steps of
AdamW with clip_grad_norm_ ("adamw_clip_losses", "adamw_clip_final.<name>").
The metadata holds the configuration and makes the file a valid fmcl MLP
checkpoint as well.

Usage: /usr/bin/python3 tools/torch_ref.py [OUT.safetensors]
"""
import json
import os
import struct
import sys

import numpy as np
import torch

DIM, WIDTH, DEPTH, BATCH, SEED = 2, 16, 3, 13, 1234
IN = DIM + 1  # [x, t]: t appended after the coordinates
STEPS = 5
ADAM = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
ADAMW_DECAY, CLIP = 0.1, 0.5


def make_model():
    layers = [torch.nn.Linear(IN, WIDTH), torch.nn.SiLU()]
    for _ in range(DEPTH - 1):
        layers += [torch.nn.Linear(WIDTH, WIDTH), torch.nn.SiLU()]
    layers.append(torch.nn.Linear(WIDTH, DIM))
    return torch.nn.Sequential(*layers)


def mse(pred, target):
    return torch.pow(pred - target, 2).mean()


def run_optimizer(params, x, target, make_opt, clip):
    """STEPS optimiser steps on one batch from float32 params, in float64.
    Returns the loss before each step and the final state_dict."""
    model = make_model().double()
    model.load_state_dict({k: torch.from_numpy(v).double() for k, v in params.items()})
    opt = make_opt(model.parameters())
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = mse(model(x), target)
        losses.append(loss.item())
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)
        opt.step()
    return np.array(losses), {k: v.detach().numpy() for k, v in model.state_dict().items()}


def write_safetensors(path, tensors, meta):
    """tensors: list of (name, ndarray of float32 or float64)."""
    header, blobs, offset = {"__metadata__": meta}, [], 0
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr)
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64"}[arr.dtype]
        data = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "data",
                                                              "torch_mlp_ref.safetensors")
    torch.manual_seed(SEED)
    # nn.Linear's default initialisation, kept in float32.
    params = {k: v.detach().numpy().astype(np.float32)
              for k, v in make_model().state_dict().items()}

    # Inputs exactly representable in float32: x_t ~ N(0, 1), t ~ U[0, 1), target ~ N(0, 2^2).
    rng = np.random.default_rng(SEED)
    x_np = np.concatenate([rng.standard_normal((BATCH, DIM)), rng.random((BATCH, 1))],
                          axis=1).astype(np.float32)
    target_np = (2.0 * rng.standard_normal((BATCH, DIM))).astype(np.float32)
    x = torch.from_numpy(x_np).double().requires_grad_(True)
    target = torch.from_numpy(target_np).double()

    model = make_model().double()
    model.load_state_dict({k: torch.from_numpy(v).double() for k, v in params.items()})
    pred = model(x)
    loss = mse(pred, target)
    loss.backward()

    adam_losses, adam_final = run_optimizer(
        params, x.detach(), target, lambda p: torch.optim.Adam(p, **ADAM), 0.0)
    adamw_losses, adamw_final = run_optimizer(
        params, x.detach(), target,
        lambda p: torch.optim.AdamW(p, weight_decay=ADAMW_DECAY, **ADAM), CLIP)

    names = list(params)
    tensors = [(k, params[k]) for k in names]
    tensors += [("x", x_np), ("target", target_np),
                ("pred", pred.detach().numpy()), ("loss", np.array([loss.item()])),
                ("dinput", x.grad.numpy())]
    grads = dict(model.named_parameters())
    tensors += [("grad." + k, grads[k].grad.numpy()) for k in names]
    tensors += [("adam_losses", adam_losses)]
    tensors += [("adam_final." + k, adam_final[k]) for k in names]
    tensors += [("adamw_clip_losses", adamw_losses)]
    tensors += [("adamw_clip_final." + k, adamw_final[k]) for k in names]

    # "format" and the config keys make the file loadable by fmcl_mlp_load as
    # a checkpoint (it ignores the extra tensors): the test loads it that way.
    meta = {"format": "fmcl-mlp", "dim": str(DIM), "width": str(WIDTH), "depth": str(DEPTH),
            "batch": str(BATCH), "in": str(IN), "time_freqs": "0", "activation": "silu",
            "seed": str(SEED),
            "loss": "mean((pred - target)^2) over batch*dim", "steps": str(STEPS),
            "lr": repr(ADAM["lr"]), "beta1": repr(ADAM["betas"][0]),
            "beta2": repr(ADAM["betas"][1]), "eps": repr(ADAM["eps"]),
            "adamw_weight_decay": repr(ADAMW_DECAY), "adamw_clip_max_norm": repr(CLIP),
            "params_dtype": "F32", "reference_dtype": "F64 (computed in float64)",
            "torch_version": torch.__version__, "generator": "tools/torch_ref.py"}
    write_safetensors(out, tensors, meta)
    print("wrote %s (%d tensors, loss %.6f)" % (out, len(tensors), loss.item()))


if __name__ == "__main__":
    main()
