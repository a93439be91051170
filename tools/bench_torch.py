#!/usr/bin/python3
"""The workloads of `fmcl bench` in PyTorch on the CPU (float32), timed, so
`fmcl bench --torch` can print fmcl / PyTorch for each in the same invocation.

  --gemm TA,TB,M,N,K:...   row-major C = op(A) op(B) as the MLP issues it
                           (TA/TB 1: transposed operand); best of 3 after a warm-up
  --train W,D,B,WARM,N:... training steps of an MLP 3 -> W x D -> 2 with SiLU,
                           input [x_t, t], batch B: checkerboard data as in the
                           flow_matching library's 2D example, OT path with
                           sigma_min = 0 (x_t = (1 - t) x0 + t x1, target x1 - x0),
                           loss mean((v - u)^2), Adam lr 1e-3; WARM untimed steps,
                           then N timed (each includes drawing its batch)
  --sample W,D,N,STEPS     RK4 with STEPS steps (NFE 4 STEPS) from N(0, I) over N
                           points through an untrained model, under no_grad

Machine-readable lines, in the order given:
  torch gemm I gflops=..
  torch train I steps_per_s=.. samples_per_s=.. ms_per_step=..
  torch sample points_nfe_per_s=.. seconds=.. nfe=..
"""
import argparse
import os
import time

import torch_peer

torch = None  # imported in main(), after the thread count reaches the environment


def ints(spec, count, what):
    out = []
    for item in spec.split(":") if spec else []:
        v = [int(x) for x in item.split(",")]
        if len(v) != count or min(v) < 0:
            raise SystemExit("bench_torch.py: --%s item '%s' needs %d non-negative integers"
                             % (what, item, count))
        out.append(v)
    return out


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


def bench_gemm(i, ta, tb, m, n, k):
    a = torch.full((k, m) if ta else (m, k), 0.01)
    b = torch.full((n, k) if tb else (k, n), 0.01)
    best = float("inf")
    for rep in range(4):  # the first is the warm-up
        t0 = time.perf_counter()
        c = (a.t() if ta else a) @ (b.t() if tb else b)
        float(c[0, 0])
        dt = time.perf_counter() - t0
        if rep:
            best = min(best, dt)
    print("torch gemm %d gflops=%.2f" % (i, 2.0 * m * n * k / best / 1e9), flush=True)


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


def bench_train(i, width, depth, batch, warmup, steps):
    model = make_model(2, width, depth)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(warmup):
        train_step(model, opt, batch)
    t0 = time.perf_counter()
    for _ in range(max(steps, 1)):
        loss = train_step(model, opt, batch)
    float(loss)
    sps = max(steps, 1) / (time.perf_counter() - t0)
    print("torch train %d steps_per_s=%.4f samples_per_s=%.1f ms_per_step=%.3f"
          % (i, sps, sps * batch, 1e3 / sps), flush=True)


def rk4(model, x, steps):
    h = 1.0 / steps
    n = x.shape[0]

    def v(x, t):
        return model(torch.cat([x, torch.full((n, 1), t)], dim=1))

    for s in range(steps):
        t = s * h
        k1 = v(x, t)
        k2 = v(x + (h / 2) * k1, t + h / 2)
        k3 = v(x + (h / 2) * k2, t + h / 2)
        k4 = v(x + h * k3, t + h)
        x = x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


def bench_sample(width, depth, n, steps):
    model = make_model(2, width, depth)
    with torch.no_grad():
        rk4(model, torch.randn(min(n, 4096), 2), 1)  # warm-up
        x0 = torch.randn(n, 2)
        t0 = time.perf_counter()
        x = rk4(model, x0, steps)
        float(x.sum())
        dt = time.perf_counter() - t0
    print("torch sample points_nfe_per_s=%.1f seconds=%.4f nfe=%d"
          % (n * 4 * steps / dt, dt, 4 * steps), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--mode", choices=["suite"], default="suite")
    p.add_argument("--gemm", default="", help="TA,TB,M,N,K:...")
    p.add_argument("--train", default="", help="W,D,B,WARM,N:...")
    p.add_argument("--sample", default="", help="W,D,N,STEPS")
    p.add_argument("--threads", type=int, default=0,
                   help="threads for torch and the BLAS; 0: every CPU this process may use")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    gemms = ints(args.gemm, 5, "gemm")
    trains = ints(args.train, 5, "train")
    samples = ints(args.sample, 4, "sample")
    if args.threads < 0:
        raise SystemExit("bench_torch.py: --threads must be >= 0")
    global torch
    if args.threads == 0:
        args.threads = len(os.sched_getaffinity(0))
    torch_peer.set_threads(args.threads)
    import torch as torch_module
    torch = torch_module
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    print("# " + torch_peer.describe(torch), flush=True)
    for i, g in enumerate(gemms):
        bench_gemm(i, *g)
    for i, t in enumerate(trains):
        bench_train(i, *t)
    for s in samples:
        bench_sample(*s)


if __name__ == "__main__":
    main()
