#!/usr/bin/python3
"""The reference 2D flow-matching workload in PyTorch on the CPU (float32),
timed, so fmcl's benchmark (tools/bench.c, `fmcl-bench --torch`) can print a
ratio against it.

Training mode (default): checkerboard data drawn as in the flow_matching
library's 2D example, MLP 3 -> width x depth -> 2 with SiLU, input [x_t, t],
OT path with sigma_min = 0 (x_t = (1 - t) x0 + t x1, target x1 - x0), loss
mean((v - u)^2), Adam. Each timed step includes drawing the batch, as a
training loop does.

Sampling mode (--mode sample): midpoint solver from N(0, I) over --n points
with --nfe model evaluations (2 per step), under torch.no_grad().

FLOPs: only GEMMs are counted, 2*M*N*K per Linear layer forward; a training
step counts 3x the forward GEMMs (forward, input gradient, weight gradient),
a sampling run 1x per evaluation.

The last line is machine-readable:
  torch mode=train steps_per_s=.. samples_per_s=.. gflops=.. ms_per_step=.. threads=..
  torch mode=sample points_per_s=.. evals_per_s=.. gflops=.. seconds=.. nfe=.. threads=..
"""
import argparse
import os
import time

torch = None  # imported in main(), after the thread count reaches the environment


def blas_library():
    """The BLAS the process loaded (Debian's torch uses the libblas.so.3 alternative);
    the netlib reference BLAS is ~10x slower than OpenBLAS and not a fair reference."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            libs = sorted({line.split()[-1] for line in f if "blas" in line.split()[-1]})
    except OSError:
        return "unknown"
    if not libs:
        return "none found"
    name = os.path.realpath(libs[0])
    if "/blas/" in name:
        name += " (netlib reference BLAS: slow; apt install libopenblas0-pthread)"
    return name


def checkerboard(batch):
    """a = U[-2, 2]; b = U[0, 1) - 2 B + (floor(a) mod 2), B a fair coin; (a, b) / 0.45."""
    a = torch.rand(batch) * 4 - 2
    b = torch.rand(batch) - torch.randint(high=2, size=(batch,)) * 2
    b = b + (torch.floor(a) % 2)
    return torch.stack([a, b], dim=1) / 0.45


def make_model(dim, width, depth):
    layers = [torch.nn.Linear(dim + 1, width), torch.nn.SiLU()]
    for _ in range(depth - 1):
        layers += [torch.nn.Linear(width, width), torch.nn.SiLU()]
    layers.append(torch.nn.Linear(width, dim))
    return torch.nn.Sequential(*layers)


def forward_flops(batch, dim, width, depth):
    dims = [dim + 1] + [width] * depth + [dim]
    return sum(2.0 * batch * dims[i] * dims[i + 1] for i in range(len(dims) - 1))


def train_step(model, opt, batch):
    x1 = checkerboard(batch)
    x0 = torch.randn_like(x1)
    t = torch.rand(batch, 1)
    xt = (1 - t) * x0 + t * x1
    u = x1 - x0
    opt.zero_grad()
    loss = torch.pow(model(torch.cat([xt, t], dim=1)) - u, 2).mean()
    loss.backward()
    opt.step()
    return loss


def bench_train(args, model):
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    for _ in range(args.warmup):
        train_step(model, opt, args.batch)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = train_step(model, opt, args.batch)
    last = loss.item()
    dt = time.perf_counter() - t0
    sps = args.steps / dt
    gflops = 3 * forward_flops(args.batch, 2, args.width, args.depth) * sps / 1e9
    print("# %d timed steps in %.3f s, last loss %.4f" % (args.steps, dt, last))
    print("torch mode=train steps_per_s=%.4f samples_per_s=%.1f gflops=%.2f ms_per_step=%.3f"
          " threads=%d" % (sps, sps * args.batch, gflops, 1e3 / sps, torch.get_num_threads()))


def midpoint(model, x, nfe):
    steps = nfe // 2
    h = 1.0 / steps
    n = x.shape[0]
    for k in range(steps):
        t = torch.full((n, 1), k * h)
        xm = x + (h / 2) * model(torch.cat([x, t], dim=1))
        x = x + h * model(torch.cat([xm, t + h / 2], dim=1))
    return x


def bench_sample(args, model):
    if args.nfe < 2 or args.nfe % 2:
        raise SystemExit("bench_torch.py: --nfe must be even and >= 2 (midpoint uses 2 per step)")
    with torch.no_grad():
        midpoint(model, torch.randn(args.n, 2), 2)  # warm-up
        x0 = torch.randn(args.n, 2)
        t0 = time.perf_counter()
        x = midpoint(model, x0, args.nfe)
        float(x.sum())
        dt = time.perf_counter() - t0
    gflops = forward_flops(args.n, 2, args.width, args.depth) * args.nfe / dt / 1e9
    print("torch mode=sample points_per_s=%.1f evals_per_s=%.2f gflops=%.2f seconds=%.4f nfe=%d"
          " threads=%d" % (args.n / dt, args.nfe / dt, gflops, dt, args.nfe,
                           torch.get_num_threads()))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--mode", choices=["train", "sample"], default="train")
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--depth", type=int, default=4, help="hidden layers")
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--steps", type=int, default=20, help="timed training steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--n", type=int, default=50000, help="points (sample mode)")
    p.add_argument("--nfe", type=int, default=40, help="model evaluations (sample mode)")
    p.add_argument("--threads", type=int, default=0,
                   help="threads for torch and the BLAS; 0: every CPU this process may use")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    for name in ("width", "depth", "batch", "steps", "n"):
        if getattr(args, name) < 1:
            raise SystemExit("bench_torch.py: --%s must be >= 1" % name)
    if args.warmup < 0 or args.threads < 0:
        raise SystemExit("bench_torch.py: --warmup and --threads must be >= 0")
    global torch
    if args.threads == 0:
        args.threads = len(os.sched_getaffinity(0))
    # Debian's torch hands GEMMs to the system BLAS (OpenBLAS spawns its own
    # threads), so both must hear the thread count before torch loads.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import torch as torch_module
    torch = torch_module
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = make_model(2, args.width, args.depth)
    print("# torch %s, %d threads, BLAS %s, width %d depth %d batch %d" %
          (torch.__version__, torch.get_num_threads(), blas_library(), args.width, args.depth,
           args.batch))
    if args.mode == "train":
        bench_train(args, model)
    else:
        bench_sample(args, model)


if __name__ == "__main__":
    main()
