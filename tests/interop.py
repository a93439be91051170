#!/usr/bin/python3
"""docs/INTEROP.md's recipe, checked without PyTorch: an MLP checkpoint
written as safetensors.torch.save_file writes the state_dict of the doc's
nn.Sequential, with only the metadata the doc requires, is accepted by
`fmcl sample` and `fmcl nll`:

- one Euler step from given points equals x0 + v(x0, 0) computed here in
  double from the same weights (which checks the names, the [out, in]
  layout, the input [x, t] and SiLU that the doc describes);
- the same weights saved as F16, BF16 and F64 (model.half(), .bfloat16(),
  .double()) give the same samples and NLLs bit for bit (the weights are
  multiples of 1/64, exact in every dtype), and fmcl notes the conversion;
- fmcl nll takes --data without a `data` key, and without --data names it.

Standard library only (no NumPy, no torch). Usage: interop.py FMCL."""
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile

FMCL = sys.argv[1]
DIM, WIDTH, DEPTH, N = 2, 16, 2, 50
failures = 0


def check(ok, what):
    global failures
    print(("ok   " if ok else "FAIL ") + what)
    failures += 0 if ok else 1
    return ok


def save_file(tensors, path, metadata):
    """safetensors' layout: 8-byte little-endian header length, the JSON
    header (tensors and __metadata__, values all strings) padded with spaces
    to a multiple of 8, then the little-endian data of each tensor."""
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def encode(values, dtype):
    if dtype == "F32":
        return struct.pack("<%df" % len(values), *values)
    if dtype == "F64":
        return struct.pack("<%dd" % len(values), *values)
    if dtype == "F16":
        return struct.pack("<%de" % len(values), *values)
    # BF16: the top half of each float32 (exact here: 6 significant bits)
    bits = struct.unpack("<%dI" % len(values), struct.pack("<%df" % len(values), *values))
    return struct.pack("<%dH" % len(values), *(b >> 16 for b in bits))


def write_npy(path, rows):
    head = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (len(rows),
                                                                            len(rows[0]))
    head += " " * (-(10 + len(head) + 1) % 64) + "\n"
    flat = [v for r in rows for v in r]
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode())
        f.write(struct.pack("<%df" % len(flat), *flat))


def read_npy(path):
    data = open(path, "rb").read()
    hlen = struct.unpack("<H", data[8:10])[0]
    body = data[10 + hlen:]
    return list(struct.unpack("<%df" % (len(body) // 4), body))


def run(*args):
    p = subprocess.run([FMCL] + list(args), capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


# The doc's model: nn.Sequential(Linear(DIM + 1, WIDTH), SiLU(), ..., Linear(WIDTH, DIM)),
# its state_dict "0.weight" [out, in], "0.bias", "2.weight", ...
rng = random.Random(14)
layers = []
fan = [DIM + 1] + [WIDTH] * DEPTH + [DIM]
for l in range(DEPTH + 1):
    w = [[rng.randint(-32, 32) / 64 for _ in range(fan[l])] for _ in range(fan[l + 1])]
    b = [rng.randint(-32, 32) / 64 for _ in range(fan[l + 1])]
    layers.append((w, b))


def velocity(x, t):
    h = list(x) + [t]
    for l, (w, b) in enumerate(layers):
        h = [sum(wi * hi for wi, hi in zip(row, h)) + bi for row, bi in zip(w, b)]
        if l < DEPTH:
            h = [v / (1 + math.exp(-v)) for v in h]
    return h


def checkpoint(path, dtype):
    tensors = {}
    for l, (w, b) in enumerate(layers):
        tensors["%d.weight" % (2 * l)] = (dtype, [len(w), len(w[0])],
                                          encode([v for r in w for v in r], dtype))
        tensors["%d.bias" % (2 * l)] = (dtype, [len(b)], encode(b, dtype))
    meta = {"format": "fmcl-mlp", "dim": str(DIM), "width": str(WIDTH), "depth": str(DEPTH)}
    save_file(tensors, path, meta)


def main():
    if os.environ.get("FMCL_TEST_DEVICES"):
        os.environ["FMCL_DEVICE"] = os.environ["FMCL_TEST_DEVICES"].split(";")[0]
    rc, out, err = run("devices")
    if rc != 0 or "note: " in err:
        print("SKIP: no OpenCL device: " + err.strip())
        return 77
    with tempfile.TemporaryDirectory(prefix="fmcl-interop-") as tmp:
        x0 = [[rng.uniform(-2, 2) for _ in range(DIM)] for _ in range(N)]
        write_npy(os.path.join(tmp, "x0.npy"), x0)
        samples, nlls = {}, {}
        for dtype in ("F32", "F16", "BF16", "F64"):
            ck = os.path.join(tmp, "mlp_%s.safetensors" % dtype)
            s_npy, n_npy = os.path.join(tmp, "s_%s.npy" % dtype), os.path.join(tmp, "n.npy")
            checkpoint(ck, dtype)
            rc, out, err = run("sample", "--ckpt", ck, "--x0", os.path.join(tmp, "x0.npy"),
                               "--solver", "euler", "--steps", "1", "--out", s_npy, "--png",
                               os.path.join(tmp, "s.png"))
            if not check(rc == 0, "fmcl sample accepts the %s checkpoint%s" % (dtype,
                                                                             rc and ": " + err)):
                continue
            samples[dtype] = read_npy(s_npy)
            how = "exactly" if dtype != "F64" else "rounded to nearest"
            check(dtype == "F32" or "stored as %s converted to F32 (%s)" % (dtype, how) in err,
                  "fmcl sample notes the %s weights' conversion" % dtype)
            rc, out, err = run("nll", "--ckpt", ck, "--data", os.path.join(tmp, "x0.npy"),
                               "--solver", "rk4", "--steps", "4", "--out", n_npy)
            nll_line = [line for line in out.splitlines() if line.startswith("NLL")]
            if check(rc == 0 and nll_line, "fmcl nll --data accepts the %s checkpoint, which "
                     "has no 'data' key%s" % (dtype, rc and ": " + err)):
                nlls[dtype] = (nll_line[0], read_npy(n_npy))
        if "F32" in samples:
            got = samples["F32"]
            worst = 0.0
            for i in range(N):
                v = velocity(x0[i], 0.0)
                for j in range(DIM):
                    worst = max(worst, abs(got[i * DIM + j] - (x0[i][j] + v[j])))
            check(worst < 1e-4, "one Euler step is x0 + v(x0, 0) of the doc's nn.Sequential, "
                  "in double: max error %.2e" % worst)
            for dtype in ("F16", "BF16", "F64"):
                check(samples.get(dtype) == got, "the %s checkpoint samples as the F32 one, bit "
                      "for bit" % dtype)
                check(nlls.get(dtype) == nlls.get("F32"), "the %s checkpoint's NLLs are the F32 "
                      "one's" % dtype)
        if "F32" in nlls:
            per = nlls["F32"][1]
            check(len(per) == N and all(math.isfinite(v) for v in per),
                  "nll --out: %d finite per-point NLLs" % len(per))
        rc, out, err = run("nll", "--ckpt", os.path.join(tmp, "mlp_F32.safetensors"))
        check(rc == 2 and "--data is required" in err,
              "without --data, nll asks for it: %s" % err.strip())
    print("%d failure(s)" % failures)
    return 1 if failures else 0


sys.exit(main())
