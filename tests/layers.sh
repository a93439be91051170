#!/bin/bash
# The library's layers point one way (docs/DESIGN.md, "Layers"):
#   io < runtime < nn, data, dist < flow < check < api, bench
# A file of src/LAYER includes only its own layer and layers below it (nn,
# data and dist are siblings: none includes another), plus the public
# headers ("fmcl.h", "fmcl/*.h"); a header declares no function that a
# file of a layer not below it defines; and OpenCL's buffer handle type
# appears only in src/runtime (whose fmcl_t wraps it for everyone else;
# spelt in two pieces here, so that a grep of tests/ for it finds nothing).
# Prints every violation and fails on any, and when it finds nothing to
# check.
#   layers.sh ROOT
set -u
cd "$1" || exit 1
declare -A rank=([io]=0 [runtime]=1 [nn]=2 [data]=2 [dist]=2 [flow]=3 [check]=4 [api]=5 [bench]=5)
checks=0
failed=0
violation() {
    echo "VIOLATION: $*"
    failed=$((failed + 1))
}
known() { [ -n "${rank[$1]+x}" ]; }
# May a file of layer $1 use layer $2?
below_or_same() { [ "$1" = "$2" ] || [ "${rank[$2]}" -lt "${rank[$1]}" ]; }
layer_of() { # src/LAYER/... -> LAYER
    local l=${1#src/}
    echo "${l%%/*}"
}

for dir in src/*/; do
    layer=$(basename "$dir")
    checks=$((checks + 1))
    known "$layer" || violation "src/$layer is no known layer (rank it in tests/layers.sh)"
done

# Includes. A bare name other than fmcl.h says nothing of its layer.
includes=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' src --include='*.c' \
    --include='*.h' --include='*.def' |
    sed -E 's/^([^:]*):([0-9]+):[^"]*"([^"]*)".*/\1:\2:\3/')
[ -n "$includes" ] || violation "no #include found under src/"
while IFS=: read -r file line inc; do
    layer=$(layer_of "$file")
    known "$layer" || continue
    checks=$((checks + 1))
    target=${inc%%/*}
    if [ "$target" = "$inc" ]; then
        [ "$inc" = fmcl.h ] || violation "$file:$line includes \"$inc\", which names no layer"
    elif [ "$target" = fmcl ]; then
        [ -f "include/$inc" ] || violation "$file:$line includes \"$inc\", no public header"
    elif ! known "$target"; then
        violation "$file:$line includes \"$inc\" of no known layer"
    elif ! below_or_same "$layer" "$target"; then
        violation "$file:$line: $layer includes \"$inc\" ($target is not below $layer)"
    fi
done <<<"$includes"

# Declarations: the functions each .c file defines (return type and name on
# one line at column 0, the house style), then every header's prototypes,
# comments dropped.
declare -A defined_in
while IFS=: read -r file name; do
    [ -n "$name" ] && defined_in[$name]=$file
done < <(grep -rnE '^[A-Za-z_][A-Za-z0-9_ ]*[ *]fmcl_[A-Za-z0-9_]+\(' src --include='*.c' |
    grep -vE '^[^:]*:[0-9]+:(static|typedef|extern)\b' | grep -vE ';[[:space:]]*$' |
    sed -E 's/^([^:]*):[0-9]+:[^(]*[ *](fmcl_[A-Za-z0-9_]+)\(.*/\1:\2/')
[ "${#defined_in[@]}" -gt 0 ] || violation "no function definition found under src/"
for header in src/*/*.h; do
    layer=$(layer_of "$header")
    known "$layer" || continue
    for name in $(perl -0pe 's:/\*.*?\*/::gs; s://[^\n]*::g' "$header" |
        grep -E '^[A-Za-z_][A-Za-z0-9_ ]*[ *]fmcl_[A-Za-z0-9_]+\(' |
        grep -vE '^(static|typedef|#)' |
        sed -E 's/^[^(]*[ *](fmcl_[A-Za-z0-9_]+)\(.*/\1/' | sort -u); do
        def=${defined_in[$name]:-}
        [ -n "$def" ] || continue
        at=$(layer_of "$def")
        known "$at" || continue
        checks=$((checks + 1))
        below_or_same "$layer" "$at" ||
            violation "$header declares $name, which $def defines ($at is not below $layer)"
    done
done

# The buffer handle: the runtime's own, everywhere else an fmcl_t.
handle=cl_''mem
sources=$(find src include tools bench tests -name '*.[ch]' ! -path 'src/runtime/*' | wc -l)
[ "$sources" -gt 0 ] || violation "no C file found outside src/runtime"
checks=$((checks + sources))
while IFS= read -r hit; do
    [ -n "$hit" ] && violation "$handle outside src/runtime: $hit"
done < <(grep -rnw "$handle" src include tools bench tests --include='*.c' --include='*.h' |
    grep -v '^src/runtime/')

[ "$failed" -eq 0 ] && echo "layers: every include points down, no header declares an upper" \
    "layer's function, $handle only in src/runtime"
echo "$checks checks, $failed failed"
[ "$failed" -eq 0 ]
