#!/usr/bin/python3
"""Writes tests/data/dtypes.safetensors for test_safetensors: tensors stored as
F16, BF16 and F64, each beside NumPy's conversion of it to float32 (the
reference: "NAME" and "NAME.f32"). Run from the top of the tree with Debian's
python3-numpy; the file is committed, so the tests need no NumPy. The file is
written the way safetensors' writer does: an 8-byte little-endian header
length, the JSON header padded with spaces to a multiple of 8, the data."""
import json
import struct

import numpy as np

rng = np.random.default_rng(14)

f16 = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, 2.0**-14, 2.0**-24, -3 * 2.0**-24, 2.0**-15,
                1 / 3, 0.1, np.inf, -np.inf], dtype=np.float16)
f16 = np.concatenate([f16, rng.standard_normal(19).astype(np.float16)])

# bfloat16: the top 16 bits of a float32, rounded to nearest even.
src = np.concatenate([np.array([0.0, -0.0, 1.0, 1 / 3, -0.1, 3.0e38, 1.0e-38, 1.0e-40, np.inf],
                               dtype=np.float32),
                      (rng.standard_normal(23) * 100).astype(np.float32)])
bits = src.view(np.uint32).astype(np.uint64)
bf16 = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
bf16_f32 = (bf16.astype(np.uint32) << 16).view(np.float32)

f64 = np.array([0.1, 1 / 3, -1e-40, 1e-50, 3.4028235e38, -3.4028235e38,
                1 + 2.0**-24, 1 + 3 * 2.0**-24, 2.0**-149, 2.0**-150, 1.5 * 2.0**-149, np.inf],
               dtype=np.float64)
f64 = np.concatenate([f64, rng.standard_normal(20) * 1e3])

tensors = [  # name, dtype, shape, raw bytes
    ("f16", "F16", [4, 8], f16.astype("<f2").tobytes()),
    ("f16.f32", "F32", [4, 8], f16.astype(np.float32).astype("<f4").tobytes()),
    ("bf16", "BF16", [32], bf16.astype("<u2").tobytes()),
    ("bf16.f32", "F32", [32], bf16_f32.astype("<f4").tobytes()),
    ("f64", "F64", [2, 16], f64.astype("<f8").tobytes()),
    ("f64.f32", "F32", [2, 16], f64.astype(np.float32).astype("<f4").tobytes()),
]
header, off = {"__metadata__": {"made_by": "tests/data/make_dtypes.py"}}, 0
for name, dtype, shape, raw in tensors:
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
    off += len(raw)
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
with open("tests/data/dtypes.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(t[3] for t in tensors))
