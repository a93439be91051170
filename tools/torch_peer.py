"""What the PyTorch side of the benchmarks runs on, in one line for their output
(tools/bench_torch.py, tools/bench_unet_torch.py): torch's version, the
interpreter, the thread count, MKL / oneDNN and the BLAS library loaded. The
peer is the newest PyTorch from PyPI (tools/peer-venv.sh makes it); Debian's
python3-torch is older and uses the system BLAS."""
import os
import sys


def blas_library():
    """The BLAS the process loaded (Debian's torch uses the libblas.so.3 alternative;
    PyPI's links MKL in statically, so none shows); the netlib reference BLAS is
    ~10x slower than OpenBLAS and not a fair reference."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            libs = sorted({line.split()[-1] for line in f if "blas" in line.split()[-1]})
    except OSError:
        return "unknown"
    if not libs:
        return "none loaded"
    name = os.path.realpath(libs[0])
    if "/blas/" in name:
        name += " (netlib reference BLAS: slow; apt install libopenblas0-pthread)"
    return name


def set_threads(threads):
    """The BLAS and OpenMP spawn their own threads: they must hear the count
    before torch loads."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)


def describe(torch):
    """torch.__config__.show() names the BLAS torch was built with (BLAS_INFO=mkl for
    PyPI's wheel, which links it in); a torch that uses the system BLAS shows it as
    a loaded library."""
    yes = {True: "yes", False: "no"}
    info = [w.split("=", 1)[1].rstrip(",") for w in torch.__config__.show().split()
            if w.startswith("BLAS_INFO=")]
    blas = info[0] if info else "?"
    if blas != "mkl":
        blas += ", library " + blas_library()
    return ("torch %s (%s), %d threads, BLAS %s, MKL %s, oneDNN %s"
            % (torch.__version__, sys.executable, torch.get_num_threads(), blas,
               yes[torch.backends.mkl.is_available()], yes[torch.backends.mkldnn.is_available()]))
