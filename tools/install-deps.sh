#!/bin/sh
# Installs every Debian 12 package needed to build, test and run fmcl:
# compiler and build tools, the OpenCL ICD loader and headers, CLBlast, stb
# (writing PNG), libpng and libjpeg-turbo (reading the images of image folders),
# zlib (gzip-compressed IDX files), Debian's Fashion-MNIST (the default real
# image data set), and three OpenCL implementations that need no GPU, so the
# tests run on each (docs/PORTABILITY.md): PoCL and Mesa's rusticl (llvmpipe) on the CPU,
# and the Oclgrind simulator, which checks every kernel for memory errors,
# data races and uninitialised values; Open MPI, for data-parallel training
# over several processes (and its tests); clang and its runtimes for the
# readers' fuzzers (docs/FUZZING.md); clang-format 14 and cppcheck, for the
# 'lint' suite's style check and static analysis (docs/HACKING.md). Safe to
# run again: packages already installed are left alone. Run as root or as a
# user who may use sudo.
set -eu

packages="build-essential pkg-config meson ninja-build python3 \
ocl-icd-opencl-dev opencl-headers ocl-icd-libopencl1 libclblast-dev libstb-dev zlib1g-dev \
libpng-dev libjpeg62-turbo-dev \
pocl-opencl-icd mesa-opencl-icd oclgrind clinfo dataset-fashion-mnist \
openmpi-bin libopenmpi-dev clang libclang-rt-14-dev clang-format cppcheck"

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "install-deps: all packages are installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "install-deps: need root to install:$missing (run as root, or install sudo)" >&2
    exit 1
fi
echo "install-deps: installing$missing"
$as_root apt-get update
# shellcheck disable=SC2086 # the package list is meant to split into words
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
