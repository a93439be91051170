#!/usr/bin/python3
"""The PyTorch side of tools/bench_unet.c: the default Fashion-MNIST U-Net
(28x28x1, base 32, mult (1, 2, 2), 1 block per level, attention at 7x7 with 4
heads, GroupNorm with 8 groups; the module of tools/torch_ref_unet.py, float32
on the CPU) trained for a few steps: forward, MSE, backward, Adam. Prints
"torch ms_per_step=..." after one warm-up step.

Usage: /usr/bin/python3 tools/bench_unet_torch.py [--batch N] [--steps N] [--threads N]
"""
import argparse
import os
import time


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=0,
                   help="threads for torch and the BLAS; 0: every CPU this process may use")
    args = p.parse_args()
    if args.batch < 1 or args.steps < 1 or args.threads < 0:
        raise SystemExit("bench_unet_torch.py: --batch and --steps >= 1, --threads >= 0")
    threads = args.threads or len(os.sched_getaffinity(0))
    # The BLAS spawns its own threads: it must hear the count before torch loads.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch
    from torch_ref_unet import UNet

    torch.set_num_threads(threads)
    torch.manual_seed(0)
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
    print("# torch %s, %d threads, %d parameters" % (torch.__version__, torch.get_num_threads(), n))
    print("torch ms_per_step=%.1f batch=%d steps=%d: %.1f images/s"
          % (ms, args.batch, args.steps, args.batch * 1e3 / ms), flush=True)


if __name__ == "__main__":
    main()
