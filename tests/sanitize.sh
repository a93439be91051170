#!/bin/bash
# The test suite built with AddressSanitizer, LeakSanitizer and UBSan, run on
# PoCL (and Oclgrind, whose test brings its own device); see docs/FUZZING.md.
#   tests/sanitize.sh [BUILD_DIR [TEST...]]        (default build-asan; all tests)
# Sets up BUILD_DIR with -Db_sanitize=address,undefined when it does not
# exist, builds it, and fails on any sanitizer report: fmcl's own code must
# be clean, and tests/lsan.supp lists the drivers' leaks, each with its
# reason. FMCL_SANITIZE_VENDORS names another .icd file or folder of them.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-asan}
shift || true
[ -d "$build/meson-private" ] || meson setup "$build" -Db_sanitize=address,undefined
ninja -C "$build"

# PoCL alone: Mesa's Clover (mesa.icd) unloads pipe_swrast.so before
# LeakSanitizer's check at exit, which then reports its allocations with
# frames it cannot name, so no suppression can match them.
pocl=/etc/OpenCL/vendors/pocl.icd
vendors=${FMCL_SANITIZE_VENDORS:-$pocl}
if [ ! -e "$vendors" ]; then
    echo "sanitize.sh: $vendors not found (Debian: pocl-opencl-icd, see tools/install-deps.sh)" >&2
    exit 1
fi
export OCL_ICD_VENDORS=$vendors
# verify_asan_link_order=0: the oclgrind wrapper preloads Oclgrind's runtime
# ahead of libasan. Not fast_unwind_on_malloc=0 (exact leak stacks): it
# deadlocks inside rusticl's LLVM.
export ASAN_OPTIONS=detect_leaks=1:verify_asan_link_order=0
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
# UBSan only prints and goes on unless told to stop.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
if [ "$#" -gt 0 ]; then
    meson test -C "$build" --print-errorlogs "$@"
    exit
fi
# Open MPI (4.1) leaks in MPI_Init and MPI_Finalize, partly from components
# it loads and unloads again, whose frames LeakSanitizer cannot name and no
# suppression can match: the tests under mpirun run with leak detection off
# (ASan and UBSan stay on), every other test with it on.
# `meson test --list` prints "project[:suite] / name" and takes plain names;
# the lint suite reads sources, not binaries, so it is not run again here.
names() { meson test -C "$build" --list 2>/dev/null | grep -v ':lint / ' | sed 's|^.* / ||'; }
mpi='^(group_mpi|train_mpi)$'
mapfile -t tests < <(names | grep -vE "$mpi")
if [ "${#tests[@]}" -eq 0 ]; then
    echo "sanitize.sh: no tests found in $build" >&2
    exit 1
fi
echo "sanitize.sh: ${#tests[@]} tests under ASan and UBSan"
rc=0
meson test -C "$build" --print-errorlogs "${tests[@]}" || rc=1
mapfile -t mpi_tests < <(names | grep -E "$mpi")
if [ "${#mpi_tests[@]}" -gt 0 ]; then
    ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 \
        meson test -C "$build" --print-errorlogs --logbase mpi "${mpi_tests[@]}" || rc=1
fi
exit "$rc"
