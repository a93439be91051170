#!/bin/sh
# Makes the benchmarks' PyTorch peer: a virtual environment with the newest
# PyTorch and NumPy from PyPI, which is what a user who picks PyTorch today
# installs (its CPU build brings MKL and oneDNN; Debian's python3-torch is
# older and uses OpenBLAS). `fmcl bench --torch` and `tools/bench_unet
# --torch` use it when it exists ($FMCL_PYTHON first, then this venv, then
# /usr/bin/python3) and print which torch, BLAS and thread count they ran.
#
#   tools/peer-venv.sh [DIR]      default: ${XDG_CACHE_HOME:-~/.cache}/fmcl/peer-venv
#
# PyPI's Linux wheel of torch depends on NVIDIA's CUDA wheels (a few GB):
# torch does not import without them, even on a CPU-only machine, so they
# are installed too. $PYTHON picks the interpreter the venv is made from.
set -eu

dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/fmcl/peer-venv}
py=${PYTHON:-/usr/bin/python3}

if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
    echo "peer-venv.sh: $py cannot make a virtual environment; on Debian:" >&2
    echo "  sudo apt install python3-venv" >&2
    exit 1
fi
echo "peer-venv.sh: making $dir from $py"
# --clear: a half-made environment from an interrupted run is started afresh.
"$py" -m venv --clear "$dir"
"$dir/bin/python" -m pip install torch numpy
"$dir/bin/python" - <<'EOF'
import torch
print("peer-venv.sh: torch %s, %d threads, oneDNN %s, MKL %s"
      % (torch.__version__, torch.get_num_threads(), torch.backends.mkldnn.is_available(),
         torch.backends.mkl.is_available()))
EOF
echo "peer-venv.sh: done; the benchmarks use $dir/bin/python from now on"
