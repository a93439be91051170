#!/bin/bash
# The shared library exports exactly the public API: every symbol that
# `nm -D --defined-only` lists is a function declared with FMCL_API in the
# public headers, and every such declaration is exported (docs/DESIGN.md,
# "Layers"). Prints each difference and fails on any, and when it finds
# nothing to compare.
#   exports.sh LIBFMCL.so INCLUDE_DIR
set -u
lib=$1
inc=$2
fail=0
exported=$(nm -D --defined-only "$lib" | awk 'NF == 3 {print $3}' | sort -u)
# Declarations may span lines: join each header, drop comments, and take the
# name before the first '(' of every FMCL_API declaration.
declared=$(for h in "$inc"/fmcl.h "$inc"/fmcl/*.h; do [ -f "$h" ] && cat "$h"; done |
    grep -v '^[[:space:]]*#' | perl -0pe 's:/\*.*?\*/::gs; s/\s+/ /g; s/;/;\n/g' |
    perl -ne 'print "$1\n" if /FMCL_API [^;(]*?\b(\w+) ?\(/' | sort -u)
[ -n "$exported" ] || { echo "FAIL: $lib exports nothing"; exit 1; }
[ -n "$declared" ] || { echo "FAIL: no FMCL_API declaration under $inc"; exit 1; }
while read -r sym; do
    case $sym in _init | _fini) continue ;; esac
    grep -qx -- "$sym" <<<"$declared" || { echo "FAIL: $sym is exported but not public"; fail=1; }
done <<<"$exported"
while read -r sym; do
    grep -qx -- "$sym" <<<"$exported" || { echo "FAIL: $sym is public but not exported"; fail=1; }
done <<<"$declared"
echo "$(wc -l <<<"$exported") exported symbols, $(wc -l <<<"$declared") public declarations"
exit $fail
