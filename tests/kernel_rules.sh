#!/bin/bash
# The portability rules of kernels/*.cl that no device test would notice
# (docs/PORTABILITY.md): no atomics at all (so no floating-point atomics,
# which OpenCL C 1.2 lacks and whose emulations make sums depend on timing),
# no OpenCL extensions, nothing of OpenCL C 2.x, common.cl first in the
# program with FP_CONTRACT OFF, and every file in one layer's group. That the
# program builds as OpenCL C 1.2 is checked on every device (test_determinism
# reads the build options back, and Oclgrind is a 1.2 implementation).
#   kernel_rules.sh KERNELS_DIR
set -u
dir=$1
failed=0
fail() {
    echo "FAIL: $*"
    failed=$((failed + 1))
}

files=("$dir"/*.cl)
[ -e "${files[0]}" ] || { echo "FAIL: no .cl files in $dir"; exit 1; }
# Comments are dropped first: prose may name what the code must not use.
strip() { sed -e 's://.*$::' "$1" | perl -0pe 's:/\*.*?\*/::gs'; }
for f in "${files[@]}"; do
    code=$(strip "$f")
    # Nothing left (an empty file, or strip failing) would pass every grep below.
    [ -n "$code" ] || fail "$f: no code left after dropping comments"
    grep -nE '\b(atomic|atom)_[a-z_]+[[:space:]]*\(' <<<"$code" |
        sed "s|^|$f: atomic: |" | grep . && fail "$f uses atomics"
    grep -nE '#[[:space:]]*pragma[[:space:]]+OPENCL[[:space:]]+EXTENSION' <<<"$code" |
        sed "s|^|$f: |" | grep . && fail "$f enables an OpenCL extension"
    grep -nE '\b(__generic|generic|work_group_(reduce|scan|broadcast|all|any)[a-z_]*|sub_group_[a-z_]+|get_sub_group_[a-z_]+|enqueue_kernel|to_global|to_local|to_private|memory_scope_[a-z_]+|atomic_(int|uint|float|flag))\b' <<<"$code" |
        sed "s|^|$f: OpenCL C 2.x: |" | grep . && fail "$f uses OpenCL C 2.x"
done

# The program starts with the runtime's group of files, common.cl first.
first=$(sed -n "s/^ *'runtime' : files('\([a-z0-9_]*\.cl\)'.*/\1/p" "$dir/meson.build")
[ "$first" = common.cl ] ||
    fail "kernels/meson.build must list common.cl first in the runtime's files (found '$first')"
for f in "${files[@]}"; do
    n=$(grep -o "'$(basename "$f")'" "$dir/meson.build" | wc -l)
    [ "$n" -eq 1 ] ||
        fail "kernels/meson.build lists $(basename "$f") $n times, not once in one layer's files"
done
strip "$dir/common.cl" | grep -qE '^#pragma OPENCL FP_CONTRACT OFF' ||
    fail "common.cl does not set #pragma OPENCL FP_CONTRACT OFF"

[ "$failed" -eq 0 ] && echo "${#files[@]} kernel files: no atomics, no extensions, no OpenCL C 2.x; common.cl first with FP_CONTRACT OFF"
echo "$((5 * ${#files[@]} + 2)) checks, $failed failed"
[ "$failed" -eq 0 ]
