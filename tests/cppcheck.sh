#!/bin/bash
# cppcheck (Debian 12's 2.10) on the C code of src/ and tools/: its warning,
# style, performance, portability and information findings all fail the test.
# Findings that are not defects are suppressed with their reason, in
# tests/cppcheck.supp or by an inline "/* cppcheck-suppress ID ; reason */"
# comment on the line before; a suppression that no longer matches anything
# is a finding too, so the list stays true. Only .c files (and the headers
# they include) are given to it: kernels/*.cl are OpenCL C, which cppcheck
# would misread. Skips (77) when cppcheck is not installed.
#   cppcheck.sh ROOT [BUILD]
# BUILD (default ROOT/build) holds the generated include/fmcl/version.h.
set -u
if ! command -v cppcheck >/dev/null; then
    echo "cppcheck: SKIP: cppcheck not installed (tools/install-deps.sh installs Debian's)"
    exit 77
fi
cd "$1" || exit 1
build=${2:-build}
if [ ! -f "$build/include/fmcl/version.h" ]; then
    echo "cppcheck: FAIL: no $build/include/fmcl/version.h: build first (ninja -C $build)"
    exit 1
fi
mapfile -t files < <(find src tools -type f -name '*.c' | sort)
if [ "${#files[@]}" -eq 0 ]; then
    echo "cppcheck: FAIL: no .c files under src/ and tools/"
    exit 1
fi
echo "cppcheck: $(cppcheck --version), ${#files[@]} files"
# -D_DEFAULT_SOURCE as meson.build sets it; fmcl's headers by their include
# paths (the generated one's in BUILD), the system's not at all (fmcl's code needs none of them to be
# checked, and parsing them would cost minutes). One process, about 10 s of
# CPU: with -j, cppcheck reports no unmatched suppressions, and with
# --cppcheck-build-dir none in the files it skips.
out=$(cppcheck -q --std=c11 -D_DEFAULT_SOURCE -I include -I "$build/include" -I src -I tools \
    --enable=warning,style,performance,portability,information \
    --suppress=missingIncludeSystem --inline-suppr --suppressions-list=tests/cppcheck.supp \
    --error-exitcode=1 --template='{file}:{line}: {severity} ({id}): {message}' "${files[@]}" 2>&1)
rc=$?
# Information findings leave the exit status at 0: any output is a finding.
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
    printf '%s\n' "$out"
    echo "cppcheck: FAIL (exit status $rc): fix each finding above, or suppress it with" \
        "its reason (tests/cppcheck.supp says how)"
    exit 1
fi
echo "cppcheck: no findings"
