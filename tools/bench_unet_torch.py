#!/usr/bin/python3
"""The PyTorch side of tools/bench_unet.c: the default Fashion-MNIST U-Net
(28x28x1, base 32, mult (1, 2, 2), 1 block per level, attention at 7x7 with 4
heads, GroupNorm with 8 groups; the module of tools/torch_ref_unet.py, float32
on the CPU) trained for a few steps: forward, MSE, backward, Adam. Prints
"torch ms_per_step=..." after one warm-up step.

With --sample S it samples instead, as bench_unet --sample: the same U-Net
conditioned on 10 classes (ADM's label_emb added to the time embedding), S
midpoint steps from noise over a batch of points with classes i % 10, under
no_grad; --guidance W != 0 adds classifier-free guidance, v = (1 + W)
v(x, t, y) - W v(x, t, null) from one forward of 2 rows per point, as fmcl.
Prints "torch sample ms=..." (the median of --steps runs after a warm-up).

Usage: tools/bench_unet_torch.py [--batch N] [--steps N] [--threads N]
                                 [--sample S [--guidance W]]
"""
import argparse
import os
import time

import torch_peer


def sample(args):
    import statistics

    import torch
    from torch_ref_unet import UNet

    model = UNet(channels=1, height=28, width=28, base=32, mult=(1, 2, 2), blocks=1,
                 attn_levels=(2,), heads=4, groups=8, classes=10)
    n, w, steps = args.batch, args.guidance, args.sample
    onehot = torch.nn.functional.one_hot(torch.arange(n) % 10, 10).float()
    if w != 0.0:
        onehot = torch.cat([onehot, torch.zeros_like(onehot)])

    def v(x, t):
        rows = torch.cat([x, x]) if w != 0.0 else x
        out = model(rows, torch.full((rows.shape[0],), t), onehot)
        return (1 + w) * out[:n] - w * out[n:] if w != 0.0 else out

    def run():
        x, h = torch.randn(n, 1, 28, 28), 1.0 / steps
        for k in range(steps):
            t = k * h
            x = x + h * v(x + (h / 2) * v(x, t), t + h / 2)
        return float(x.mean())

    times = []
    with torch.no_grad():
        run()
        for _ in range(args.steps):
            t0 = time.perf_counter()
            run()
            times.append((time.perf_counter() - t0) * 1e3)
    print("# %s" % torch_peer.describe(torch))
    print("torch sample ms=%.1f batch=%d midpoint steps=%d guidance=%g: %.1f images/s"
          % (statistics.median(times), n, steps, w, n * 1e3 / statistics.median(times)),
          flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=0,
                   help="threads for torch and the BLAS; 0: every CPU this process may use")
    p.add_argument("--sample", type=int, default=0, help="midpoint steps; 0: train")
    p.add_argument("--guidance", type=float, default=0.0)
    args = p.parse_args()
    if args.batch < 1 or args.steps < 1 or args.threads < 0:
        raise SystemExit("bench_unet_torch.py: --batch and --steps >= 1, --threads >= 0")
    threads = args.threads or len(os.sched_getaffinity(0))
    torch_peer.set_threads(threads)
    import torch
    from torch_ref_unet import UNet

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if args.sample:
        sample(args)
        return
    model = UNet(channels=1, height=28, width=28, base=32, mult=(1, 2, 2), blocks=1,
                 attn_levels=(2,), heads=4, groups=8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.randn(args.batch, 1, 28, 28)
    u = torch.randn(args.batch, 1, 28, 28)
    t = torch.full((args.batch,), 0.5)

    def step():
        opt.zero_grad()
        loss = ((model(x, t) - u) ** 2).mean()
        loss.backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    ms = (time.perf_counter() - t0) * 1e3 / args.steps
    n = sum(q.numel() for q in model.parameters())
    print("# %s; %d parameters" % (torch_peer.describe(torch), n))
    print("torch ms_per_step=%.1f batch=%d steps=%d: %.1f images/s"
          % (ms, args.batch, args.steps, args.batch * 1e3 / ms), flush=True)


if __name__ == "__main__":
    main()
