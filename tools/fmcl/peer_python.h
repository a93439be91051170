/* The PyTorch side of the benchmarks (fmcl bench --torch, bench_unet
 * --torch): which Python runs it, and the U-Net script's figures. The peer
 * is the newest PyTorch from PyPI, installed by tools/peer-venv.sh into a
 * virtual environment. */
#ifndef FMCL_PEER_PYTHON_H
#define FMCL_PEER_PYTHON_H

#include <stddef.h>

/* $FMCL_PYTHON when set; else tools/peer-venv.sh's default environment
 * (${XDG_CACHE_HOME:-$HOME/.cache}/fmcl/peer-venv/bin/python) when it exists;
 * else /usr/bin/python3 (Debian's PyTorch, when python3-torch is installed).
 * Writes the interpreter into buf and returns a few words on why it was
 * chosen, for the benchmark's output. */
const char *peer_python(char *buf, size_t cap);

/* tools/bench_unet_torch.py with the given arguments through py, its output
 * echoed: the value of its line "key=..." (0 when none came or it failed). */
double peer_unet_torch(const char *py, const char *args, const char *key);

#endif
