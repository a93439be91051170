#!/bin/bash
# README's C example compiles and links as README says: against the build
# folder through build/meson-uninstalled's fmcl-uninstalled.pc, with the
# project's warnings as errors. (Running it trains for a minute on a CPU;
# examples.sh runs the same calls.)
#   readme_c.sh README.md BUILD_DIR
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
awk '/^## The C API/ { api = 1 } api && /^```c$/ { code = 1; next } code && /^```$/ { exit }
    code' "$1" >"$dir/ex.c"
[ -s "$dir/ex.c" ] || { echo "FAIL: no C block under '## The C API' in $1"; exit 1; }
export PKG_CONFIG_PATH=$2/meson-uninstalled
cc -std=c11 -Wall -Wextra -Werror "$dir/ex.c" $(pkg-config --cflags --libs fmcl) -o "$dir/ex"
echo "README's example ($(wc -l <"$dir/ex.c") lines) compiles and links"
