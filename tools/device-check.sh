#!/bin/bash
# Builds fmcl on a GPU machine that has no package registry and checks it there:
# unpacks the Debian packages that tools/device-bundle.sh fetched (default
# .bundle/) into a private prefix with `dpkg-deb -x` (never into /), registers
# the GPU vendor's OpenCL library with the loader when no GPU is listed, builds
# fmcl in a fresh folder, then runs `fmcl devices`, `fmcl check --all --json`,
# the device tests on the GPU, `fmcl bench --json`, `fmcl bench --torch` when a
# Python has PyTorch (on CUDA when it can), and `fmcl tune --report`.
#
#   OUT=/some/folder tools/device-check.sh [BUNDLE]
#
# Everything it keeps goes to $OUT, in a few files: summary.txt (also printed at
# the end), logs.tar.gz (every step's log, the meson logs, the environment),
# check.json, bench.json, bench-torch.json, and clblast-tuned.txt with
# DEVCHECK_TUNE=1. Every step runs under a timeout and the whole run keeps to
# a budget; steps that would not fit are skipped and say so. The exit status
# is 0 only when every step ran and passed on a GPU.
#
# Settings (environment):
#   DEVCHECK_BUDGET      seconds for the whole run (default 420)
#   DEVCHECK_WORK        working folder (default: a new one under $TMPDIR or /tmp)
#   DEVCHECK_DEVICE      device spec to use instead of the first GPU found
#   DEVCHECK_ALLOW_CPU   1: go on when no GPU is found (for trying it on PoCL)
#   DEVCHECK_TESTS       the tests to run (default: the device tests, below)
#   DEVCHECK_TUNE        1: also run `fmcl tune` (a search) in the time left
#   DEVCHECK_ICD_NAMES   vendor OpenCL libraries to look for
#   DEVCHECK_ICD_DIRS    folders to look for them in
#   FMCL_PYTHON          a Python with PyTorch (default: the first found)
#   CC                   the C compiler (default: gcc, cc or clang, the first found)
# docs/PORTABILITY.md, "Running on a GPU machine without a registry", says more.
set -eu

top="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$(cd "${1:-$top/.bundle}" 2>/dev/null && pwd || echo "${1:-$top/.bundle}")"
budget="${DEVCHECK_BUDGET:-420}"
started="$(date +%s)"
deadline=$((started + budget))
min_step=20 # a step with less time than this left is skipped
work="${DEVCHECK_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/fmcl-devcheck.XXXXXX")}"
OUT="${OUT:-$work/out}"
prefix="$work/prefix"
build="$work/build"
logs="$work/logs"
for d in prefix build logs bin icd cache; do rm -rf "${work:?}/$d"; done
mkdir -p "$OUT" "$prefix" "$logs" "$work/bin" "$work/cache"
rm -f "$OUT/summary.txt" "$OUT/logs.tar.gz" "$OUT/check.json" "$OUT/bench.json" \
    "$OUT/bench-torch.json" "$OUT/clblast-tuned.txt"
: >"$work/steps"
# Every fmcl run keeps its caches (tuned parameters, programs) in the work folder.
export XDG_CACHE_HOME="$work/cache"

# The device tests: every test that runs kernels (each op against its CPU
# reference, GEMM through CLBlast, the MLP and U-Net against PyTorch's numbers,
# determinism, solvers, likelihood, training, resume, the self-check, the CLI's
# runs, the launch checks, which need the driver's kernel argument info, and
# the harness's own, which meets the device's allocation limits).
# Left out: those that use no device (file formats, plots, metrics, the CLI's
# usage errors and docs, the kernel source and layer rules) and Oclgrind's,
# which runs on the simulator, not on the GPU.
default_tests="test_testlib test_philox test_flow_ops test_paths test_solvers test_dopri5 \
test_nn_ops test_gemm test_mlp test_e2e test_torch_ref test_nll test_check test_cache \
test_determinism test_datasets test_classes test_tune test_conv test_norm test_resample test_cond \
test_torch_layers test_attention test_resume test_unet_train test_unet test_torch_unet \
test_launch_check cli_run cli_check"
tests="${DEVCHECK_TESTS:-$default_tests}"
# The vendors' OpenCL drivers (NVIDIA, AMD ROCm, Intel), and where drivers
# mounted into containers or installed by packages keep them.
icd_names="${DEVCHECK_ICD_NAMES:-libnvidia-opencl.so.1 libamdocl64.so libigdrcl.so}"
icd_dirs="${DEVCHECK_ICD_DIRS:-/usr/local/nvidia/lib64 /usr/local/nvidia/lib \
/usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /opt/rocm/lib /usr/lib/x86_64-linux-gnu/intel-opencl}"

note() { echo "device-check: $*" >>"$work/notes"; echo "device-check: $*"; }
: >"$work/notes"

# ---- steps: each under a timeout, its output in logs/NAME.log ---------------

record() { # record NAME STATUS SECONDS [DETAIL]
    printf '%s|%s|%s|%s\n' "$1" "$2" "$3" "${4:-}" >>"$work/steps"
    publish
}

restatus() { # restatus NAME STATUS: a step's outcome seen in a better light
    sed -i "s/^$1|[^|]*|/$1|$2|/" "$work/steps"
    publish
}

# step NAME CAP CMD...: runs CMD with stdin closed and a timeout of CAP seconds,
# or what is left of the budget when that is less; stdout goes to $step_stdout
# when set (and stderr then to the log), else both to logs/NAME.log.
step_stdout=""
step() {
    local name="$1" cap="$2" now left limit rc t0 status
    shift 2
    now="$(date +%s)"
    left=$((deadline - now))
    limit=$cap
    if [ "$left" -lt "$limit" ]; then limit=$left; fi
    if [ "$limit" -lt "$min_step" ]; then
        record "$name" SKIPPED 0 "no time left in the $budget s budget"
        step_stdout=""
        return 1
    fi
    echo "device-check: $name (up to $limit s): $*"
    t0=$now
    # In the background and waited for, so a signal to this script is handled
    # at once (on_signal) rather than after the step.
    if [ -n "$step_stdout" ]; then
        timeout -k 10 "$limit" "$@" </dev/null >"$step_stdout" 2>"$logs/$name.log" &
    else
        timeout -k 10 "$limit" "$@" </dev/null >"$logs/$name.log" 2>&1 &
    fi
    current_step="$name" current_child=$! current_t0=$t0
    rc=0
    wait "$current_child" || rc=$?
    current_step="" current_child=""
    step_stdout=""
    case $rc in
        0) status=OK ;;
        124 | 137) status=TIMEOUT ;;
        *) status="FAIL (exit $rc)" ;;
    esac
    record "$name" "$status" $(($(date +%s) - t0)) "$(detail "$name")"
    return $rc
}

# detail NAME: the line of a step's log that sums it up, for the summary.
detail() {
    local log="$logs/$1.log"
    case "$1" in
        build) echo "$(grep -c 'warning:' "$log" || true) compiler warnings" ;;
        check) [ -s "$OUT/check.json" ] && sed -n \
            -e 's/.*"ok": \([0-9]*\), "fail": \([0-9]*\),/\1 OK, \2 FAIL,/' \
            -e 's/ "not_supported": \([0-9]*\),/ \1 NOT SUPPORTED/' \
            -e 's/ "seconds": \([0-9.]*\).*/ in \1 s/p' "$OUT/check.json" | paste -sd ';' ;;
        tests) sed -n 's/^\(Ok\|Fail\|Skipped\|Timeout\): *\([0-9]*\).*/\2 \1/p' "$log" |
            tr '\n' ',' | sed 's/,$//; s/,/, /g' ;;
        torch-probe) tail -n 1 "$log" ;;
    esac
}

# ---- outputs: rewritten after every step, so an interrupted run leaves them --

publish() {
    summary >"$OUT/summary.txt.tmp" && mv "$OUT/summary.txt.tmp" "$OUT/summary.txt"
    cp "$work/steps" "$work/notes" "$logs/" 2>/dev/null || true
    if [ -d "$build/meson-logs" ]; then cp -r "$build/meson-logs" "$logs/" 2>/dev/null || true; fi
    tar -czf "$OUT/logs.tar.gz.tmp" -C "$work" logs 2>/dev/null &&
        mv "$OUT/logs.tar.gz.tmp" "$OUT/logs.tar.gz"
}

verdict() {
    if grep -q '|\(FAIL\|TIMEOUT\|SKIPPED\|INTERRUPTED\)' "$work/steps"; then
        echo "FAILED: a step failed, timed out, was skipped or interrupted (above; logs.tar.gz)"
    elif [ "${stopped:-0}" != 0 ]; then
        echo "FAILED: stopped before the end (see the notes above)"
    elif [ -z "${gpu:-}" ]; then
        echo "NOT ON A GPU: no GPU was found (see the notes above)"
    else
        echo "PASSED on a GPU"
    fi
}

summary() {
    echo "fmcl device check, $(date -u '+%Y-%m-%d %H:%M UTC')," \
        "$(($(date +%s) - started)) s of a $budget s budget"
    cat "$logs/machine.txt" 2>/dev/null || true
    echo "device: ${device_line:-none chosen}"
    echo
    printf '%-14s %-16s %6s  %s\n' step status seconds detail
    while IFS='|' read -r name status secs det; do
        printf '%-14s %-16s %6s  %s\n' "$name" "$status" "$secs" "$det"
    done <"$work/steps"
    echo
    cat "$work/notes"
    if [ -s "$OUT/check.json" ]; then
        echo
        echo "fmcl check: lines not OK (at most 20):"
        grep '"status": "\(FAIL\|NOT SUPPORTED\)"' "$OUT/check.json" |
            head -n 20 >"$work/not-ok" || true
        if [ -s "$work/not-ok" ]; then cat "$work/not-ok"; else echo "  none"; fi
    fi
    if [ -s "$logs/tests.log" ]; then
        echo
        echo "tests not OK:"
        grep -E '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT|ERROR)' "$logs/tests.log" || echo "  none"
    fi
    local b
    for b in bench bench-torch; do
        [ -s "$logs/$b.log" ] || continue
        echo
        echo "figures from fmcl $b (all in $b.json; logs.tar.gz has the whole output):"
        grep -E -e '^(== |FMA rate|GEMM:|training, |sampling: |first training step)' \
            -e '^  (GEMM |reference |small )|PyTorch|fmcl/torch|^# (torch|on device)' \
            "$logs/$b.log" || true
    done
    echo
    verdict
}

finish() {
    local rc=$?
    trap - EXIT INT TERM
    stopped=$rc
    publish
    echo
    cat "$OUT/summary.txt"
    echo "device-check: outputs in $OUT"
    if [ "$rc" -eq 0 ]; then
        case "$(verdict)" in
            PASSED*) ;;
            NOT*) [ "${DEVCHECK_ALLOW_CPU:-0}" = 1 ] || rc=1 ;;
            *) rc=1 ;;
        esac
    fi
    exit "$rc"
}
trap finish EXIT
current_step="" current_child="" current_t0=0
on_signal() {
    trap - INT TERM
    if [ -n "$current_child" ]; then
        kill -TERM "$current_child" 2>/dev/null || true
        wait "$current_child" 2>/dev/null || true
        record "$current_step" INTERRUPTED $(($(date +%s) - current_t0)) "by a signal"
    fi
    note "interrupted by a signal"
    exit 130
}
trap on_signal INT TERM

# ---- the machine ------------------------------------------------------------

# A Python with PyTorch for `fmcl bench --torch`, and one for meson.build's
# python3 (the same one will do).
pythons="${FMCL_PYTHON:-} /opt/torch/.venv/bin/python3 $(command -v python3 || true)"
pythons="$pythons /usr/bin/python3"
python=""
for p in $pythons; do
    if [ -x "$p" ]; then python="$p"; break; fi
done
if ! command -v python3 >/dev/null 2>&1 && [ -n "$python" ]; then
    # A script rather than a link: a venv's python knows its venv by its own path.
    printf '#!/bin/sh\nexec "%s" "$@"\n' "$python" >"$work/bin/python3"
    chmod +x "$work/bin/python3"
fi

cc_name="${CC:-}"
if [ -z "$cc_name" ]; then
    for c in gcc cc clang; do
        if command -v "$c" >/dev/null 2>&1; then cc_name="$c"; break; fi
    done
fi

{
    # shellcheck source=/dev/null
    os="$( (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null || echo "unknown OS")"
    echo "machine: $(uname -srm), $os," \
        "$(getconf GNU_LIBC_VERSION 2>/dev/null || echo "glibc unknown"), $(nproc) CPUs"
    commit="$(git -C "$top" describe --always --dirty 2>/dev/null || echo "tree without git")"
    made="$(sed -n 's/^# made //p' "$bundle/MANIFEST" 2>/dev/null || true)"
    echo "fmcl: $commit; bundle: ${made:-none}"
    cc_version=""
    if [ -n "$cc_name" ]; then cc_version="$("$cc_name" --version 2>/dev/null | head -n 1)"; fi
    echo "C compiler: ${cc_name:-none} $cc_version"
    echo "python: ${python:-none} $([ -n "$python" ] && "$python" --version 2>&1)"
    smi="$(command -v nvidia-smi || ls /usr/local/nvidia/bin/nvidia-smi 2>/dev/null || true)"
    if [ -n "$smi" ]; then
        echo "nvidia-smi: $(timeout 30 "$smi" --format=csv,noheader \
            --query-gpu=name,driver_version,memory.total 2>&1 | head -n 4 | paste -sd ';')"
    fi
} >"$logs/machine.txt"
publish

if [ -z "$cc_name" ] || ! command -v "${cc_name%% *}" >/dev/null 2>&1; then
    note "no C compiler (${cc_name:-gcc, cc or clang}) here, and fmcl builds from source:" \
        "install gcc, or set CC"
    exit 1
fi
export CC="$cc_name"

glibc="$(getconf GNU_LIBC_VERSION 2>/dev/null | sed 's/^glibc //')"
if [ -n "$glibc" ] && [ "$(printf '%s\n2.34\n' "$glibc" | sort -V | head -n 1)" != 2.34 ]; then
    note "glibc $glibc is older than 2.34, which the bundle's Debian 12 libraries need"
    exit 1
fi

# ---- the prefix: Debian packages unpacked beside the system -----------------

have_debs=0
for deb in "$bundle"/*.deb; do [ -e "$deb" ] && have_debs=1; break; done
if [ "$have_debs" = 1 ]; then
    if ! command -v dpkg-deb >/dev/null 2>&1; then
        note "dpkg-deb is missing: cannot unpack $bundle"
        exit 1
    fi
    # shellcheck disable=SC2016 # expanded by that sh
    step unpack 120 sh -c 'for d in "$1"/*.deb; do dpkg-deb -x "$d" "$2" || exit 1; done' \
        sh "$bundle" "$prefix"
    # Links that point at an absolute path (zlib1g-dev's libz.so) point into the prefix.
    find "$prefix" -type l | while read -r link; do
        target="$(readlink "$link")"
        case "$target" in
            /*) if [ -e "$prefix$target" ]; then ln -sfn "$prefix$target" "$link"; fi ;;
        esac
    done
    # pkg-config files say prefix=/usr: make them say where the files are now.
    find "$prefix" -name '*.pc' -path '*/pkgconfig/*' | while read -r pc; do
        sed -i -e "s#=/usr\$#=$prefix/usr#" -e "s#=/usr/#=$prefix/usr/#g" \
            -e "s#-I/usr/#-I$prefix/usr/#g" -e "s#-L/usr/#-L$prefix/usr/#g" "$pc"
    done
    # The linker sees every library folder of the prefix; programs load only
    # what the machine lacks from it: /lib's zlib1g (there only for libz.so's
    # sake) stays out of LD_LIBRARY_PATH, so everything keeps the machine's zlib.
    libdirs=""
    for d in "$prefix"/usr/lib/*-linux-gnu "$prefix/usr/lib"; do
        if [ -d "$d" ]; then libdirs="$libdirs${libdirs:+:}$d"; fi
    done
    linkdirs="$libdirs"
    for d in "$prefix"/lib/*-linux-gnu; do
        if [ -d "$d" ]; then linkdirs="$linkdirs:$d"; fi
    done
    pcdirs=""
    for d in "$prefix"/usr/lib/*-linux-gnu/pkgconfig "$prefix/usr/share/pkgconfig"; do
        if [ -d "$d" ]; then pcdirs="$pcdirs${pcdirs:+:}$d"; fi
    done
    # Multiarch headers too: libjpeg62-turbo-dev's jconfig.h lies in
    # /usr/include/<triplet>, where no pkg-config file points.
    incdirs="$prefix/usr/include"
    for d in "$prefix"/usr/include/*-linux-gnu; do
        if [ -d "$d" ]; then incdirs="$incdirs:$d"; fi
    done
    export CPATH="$incdirs${CPATH:+:$CPATH}"
    export LIBRARY_PATH="$linkdirs${LIBRARY_PATH:+:$LIBRARY_PATH}"
    export LD_LIBRARY_PATH="$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export PKG_CONFIG_PATH="$pcdirs${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    # The machine's own tools first; the bundle's pkg-config, meson and ninja after.
    export PATH="$work/bin:$PATH:$prefix/usr/bin"
    for f in CL/cl.h clblast_c.h stb/stb_image.h zlib.h png.h jpeglib.h; do
        if [ ! -e "$prefix/usr/include/$f" ]; then
            note "the bundle lacks /usr/include/$f: make it again with tools/device-bundle.sh"
            exit 1
        fi
    done
else
    note "no .deb files in $bundle: building with what the machine has" \
        "(tools/device-bundle.sh makes a bundle)"
    export PATH="$work/bin:$PATH"
fi

# meson >= 0.63: the machine's, else the bundle's (pure Python, run by $python).
meson_ok() {
    local v
    v="$("$@" --version 2>/dev/null)" || return 1
    [ "$(printf '%s\n0.63\n' "$v" | sort -V | head -n 1)" = 0.63 ]
}
# (The bundle's script on PATH would run the system Python's meson, if any.)
if ! meson_ok meson || [ "$(command -v meson)" = "$prefix/usr/bin/meson" ]; then
    if meson_ok /opt/torch/.venv/bin/meson; then
        ln -s /opt/torch/.venv/bin/meson "$work/bin/meson"
    elif [ -d "$prefix/usr/lib/python3/dist-packages/mesonbuild" ] && [ -n "$python" ]; then
        # Exported: the build runs meson's internal commands as python -m mesonbuild.mesonmain.
        export PYTHONPATH="$prefix/usr/lib/python3/dist-packages${PYTHONPATH:+:$PYTHONPATH}"
        cat >"$work/bin/meson" <<EOF
#!/bin/sh
exec "$python" -m mesonbuild.mesonmain "\$@"
EOF
        chmod +x "$work/bin/meson"
        note "meson: the bundle's $(meson --version 2>&1), run by $python"
    fi
fi
for tool in meson ninja pkg-config python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        note "no $tool found, neither on the machine nor in the bundle"
        exit 1
    fi
done

{
    for tool in meson ninja pkg-config python3; do
        echo "$tool $("$tool" --version 2>&1) ($(command -v "$tool"))"
    done
    for v in PATH CPATH LIBRARY_PATH LD_LIBRARY_PATH PKG_CONFIG_PATH PYTHONPATH OCL_ICD_VENDORS \
        CC XDG_CACHE_HOME; do
        echo "$v=${!v:-}"
    done
} >"$logs/env.txt"

# ---- build --------------------------------------------------------------------

jobs="$(nproc)"
# -Dwerror=false: a compiler newer than Debian 12's may warn where gcc 12 did not;
# the warnings are counted in the summary instead of stopping the run.
step configure 180 meson setup --buildtype=release -Dwerror=false "$build" "$top" || exit 1
step build 420 ninja -C "$build" -j "$jobs" || exit 1
fmcl="$build/tools/fmcl"

# ---- the device: the first GPU, registering the vendor's driver if needed -----

# Vendor libraries found; their folders join LD_LIBRARY_PATH (NVIDIA's OpenCL
# driver loads libcuda.so.1 from beside it).
vendor_libs=""
for name in $icd_names; do
    found=""
    for d in $icd_dirs; do
        for f in "$d/$name" "$d/$name".*; do
            if [ -e "$f" ]; then found="$f"; break 2; fi
        done
    done
    if [ -z "$found" ]; then
        found="$(ldconfig -p 2>/dev/null | awk -v n="$name" '$1 == n { print $NF; exit }')"
    fi
    if [ -n "$found" ]; then
        vendor_libs="$vendor_libs $found"
        d="$(dirname "$found")"
        case ":${LD_LIBRARY_PATH:-}:" in
            *":$d:"*) ;;
            *) LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}${LD_LIBRARY_PATH:+:}$d" ;;
        esac
    fi
done
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"

first_gpu() { # first_gpu FILE: the index of the first GPU in `fmcl devices --json` output
    sed -n 's/.*"index": "\([0-9]*:[0-9]*\)".*"type": "[^"]*GPU.*/\1/p' "$1" | head -n 1
}

step_stdout="$work/devices.json"
if ! step devices 60 "$fmcl" devices --json; then
    if grep -q 'no OpenCL platform' "$logs/devices.log"; then restatus devices "NONE LISTED"; fi
fi
gpu="$(first_gpu "$work/devices.json")"
if [ -z "$gpu" ]; then
    # No GPU listed: point the loader at a private folder holding the ICD files
    # it read before and one for each vendor library found here.
    mkdir -p "$work/icd"
    vendors="${OCL_ICD_VENDORS:-/etc/OpenCL/vendors}"
    if [ -d "$vendors" ]; then
        for f in "$vendors"/*.icd; do if [ -e "$f" ]; then cp "$f" "$work/icd/"; fi; done
    elif [ -f "$vendors" ]; then
        cp "$vendors" "$work/icd/"
    fi
    registered=""
    for lib in $vendor_libs; do
        base="$(basename "$lib")"
        if ! cat "$work"/icd/*.icd 2>/dev/null | grep -q "$base"; then
            echo "$lib" >"$work/icd/${base%%.so*}.icd"
            registered="$registered $lib"
        fi
    done
    if [ -n "$registered" ]; then
        export OCL_ICD_VENDORS="$work/icd"
        note "no GPU listed; registered$registered through OCL_ICD_VENDORS=$OCL_ICD_VENDORS"
        step_stdout="$work/devices.json"
        step devices-icd 60 "$fmcl" devices --json || true
        gpu="$(first_gpu "$work/devices.json")"
    elif [ -n "$vendor_libs" ]; then
        note "no GPU listed, though the loader's ICD files already name$vendor_libs"
    else
        note "no GPU listed, and none of $icd_names is in $icd_dirs" \
            "(set DEVCHECK_ICD_NAMES, DEVCHECK_ICD_DIRS)"
    fi
    if [ -z "$gpu" ]; then
        # What a driver that lists no device may lack (logs/icd.txt).
        for lib in $vendor_libs; do
            echo "== ldd $lib"
            timeout 20 ldd "$lib" 2>&1 || true
        done >"$logs/icd.txt"
        ls -l /dev/nvidia* /dev/dri /dev/kfd >>"$logs/icd.txt" 2>&1 || true
    fi
fi
cp "$work/devices.json" "$logs/"
spec="${DEVCHECK_DEVICE:-$gpu}"
if [ -z "$spec" ]; then
    if [ "${DEVCHECK_ALLOW_CPU:-0}" = 1 ]; then
        spec="$(sed -n 's/.*"index": "\([0-9]*:[0-9]*\)".*"default": true.*/\1/p' \
            "$work/devices.json")"
    fi
    if [ -z "$spec" ]; then
        note "no GPU to check (DEVCHECK_ALLOW_CPU=1 goes on with another device)"
        exit 1
    fi
fi
device_line="$(grep "\"index\": \"$spec\"" "$work/devices.json" |
    sed -e 's/.*"platform": "\([^"]*\)".*"device": "\([^"]*\)", "type": "\([^"]*\)"/\1 \/ \2 (\3/' \
        -e 's/,.*"driver_version": "\([^"]*\)".*/, driver \1)/')"
device_line="$spec ${device_line:-(not in the list)}"
note "checking $device_line"
timeout -k 5 60 "$fmcl" devices >"$logs/devices.txt" 2>&1 </dev/null || true

# ---- checks, tests, figures ---------------------------------------------------

step_stdout="$OUT/check.json"
step check 300 "$fmcl" check --all --json || true
step bench 300 "$fmcl" bench --device "$spec" --json "$OUT/bench.json" || true
tjobs=$((jobs < 8 ? jobs : 8))
# Only names this tree defines (meson test stops at an unknown one).
timeout 60 meson test -C "$build" --list --no-rebuild 2>/dev/null |
    sed 's#.*[:/] *##' >"$work/test-list" || true
run_tests=""
for t in $tests; do
    if grep -qx "$t" "$work/test-list"; then
        run_tests="$run_tests $t"
    else
        note "no test $t in this tree: left out"
    fi
done
if [ -n "$run_tests" ]; then # (meson test with no name runs every test)
    # shellcheck disable=SC2086 # the test list is meant to split into words
    step tests 420 env FMCL_TEST_DEVICES="$spec" meson test -C "$build" --no-rebuild \
        --print-errorlogs --num-processes "$tjobs" --timeout-multiplier 0.5 $run_tests || true
fi

# PyTorch: on the GPU through tools/torch_on_device.py when torch sees one (or
# on FMCL_TORCH_DEVICE when set), else on the CPU, as `fmcl bench --torch` does
# by itself.
torch_python=""
for p in $pythons; do
    if [ -x "$p" ] && timeout 60 "$p" -c 'import torch' >/dev/null 2>&1; then
        torch_python="$p"
        break
    fi
done
if [ -z "$torch_python" ]; then
    note "no Python with PyTorch found (tried:$pythons): no PyTorch comparison"
else
    probe='import torch; c = torch.cuda
print("torch", torch.__version__, "cuda", c.is_available() and c.get_device_name(0))'
    if ! step torch-probe 90 "$torch_python" -c "$probe"; then
        : # the probe's line in the summary says why
    elif [ -n "${FMCL_TORCH_DEVICE:-}" ] || { grep -q '^torch .* cuda ' "$logs/torch-probe.log" &&
        ! grep -q ' cuda False$' "$logs/torch-probe.log"; }; then
        cat >"$work/bin/torch-on-device" <<EOF
#!/bin/sh
# fmcl bench --torch runs "\$FMCL_PYTHON -c 'import torch'", then "\$FMCL_PYTHON SCRIPT ARGS".
if [ "\${1:-}" = -c ]; then exec "$torch_python" "\$@"; fi
exec "$torch_python" "$top/tools/torch_on_device.py" "\$@"
EOF
        chmod +x "$work/bin/torch-on-device"
        note "PyTorch runs on ${FMCL_TORCH_DEVICE:-cuda} (tools/torch_on_device.py), fmcl on $spec"
        step bench-torch 420 env FMCL_PYTHON="$work/bin/torch-on-device" \
            FMCL_TORCH_DEVICE="${FMCL_TORCH_DEVICE:-cuda}" \
            "$fmcl" bench --device "$spec" --torch --json "$OUT/bench-torch.json" || true
    else
        note "PyTorch runs on the CPU, fmcl on $spec"
        step bench-torch 420 env FMCL_PYTHON="$torch_python" \
            "$fmcl" bench --device "$spec" --torch --json "$OUT/bench-torch.json" || true
    fi
fi

step tune-report 180 "$fmcl" tune --device "$spec" --report || true
if [ "${DEVCHECK_TUNE:-0}" = 1 ]; then
    step tune $((deadline - $(date +%s))) "$fmcl" tune --device "$spec" || true
    for f in "$XDG_CACHE_HOME"/fmcl/clblast/*.txt; do
        if [ -e "$f" ]; then cp "$f" "$OUT/clblast-tuned.txt"; fi
    done
fi
