#!/bin/bash
# Formats fmcl's C sources in place with clang-format 14 and the style in
# .clang-format: the .c and .h files of src/, tools/, tests/, include/,
# examples/ and bench/ (those that exist; git's files when this is a git
# tree, tracked or not but not ignored). kernels/*.cl are left alone.
# Another clang-format version formats some lines differently, so only 14
# (Debian 12's) is used: the result depends on nothing but the sources.
#   tools/format.sh [--check] [ROOT]
# --check changes nothing: it prints how each file would change and exits 1
# if any would, 77 (skip) if clang-format 14 is missing.
set -euo pipefail
check=0
if [ "${1:-}" = "--check" ]; then
    check=1
    shift
fi
cd "${1:-$(dirname "$0")/..}"

cf=""
for c in clang-format-14 clang-format; do
    if command -v "$c" >/dev/null && "$c" --version | grep -q 'version 14\.'; then
        cf=$c
        break
    fi
done
if [ -z "$cf" ]; then
    echo "format: SKIP: clang-format 14 not found (found: $(clang-format --version 2>/dev/null ||
        echo none)); tools/install-deps.sh installs Debian 12's" >&2
    exit 77
fi

dirs=()
for d in src tools tests include examples bench; do [ -d "$d" ] && dirs+=("$d"); done
if git rev-parse --show-toplevel >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files --cached --others --exclude-standard -- "${dirs[@]}" |
        grep -E '\.[ch]$' | sort -u)
else
    mapfile -t files < <(find "${dirs[@]}" -type f -name '*.[ch]' | sort)
fi
if [ "${#files[@]}" -eq 0 ]; then
    echo "format: FAIL: no .c or .h files found under ${dirs[*]}" >&2
    exit 1
fi

if [ "$check" -eq 0 ]; then
    "$cf" -i --style=file "${files[@]}"
    echo "format: formatted ${#files[@]} files with $("$cf" --version)"
    exit 0
fi

# One process for the whole tree when nothing differs (the usual case), then
# a diff of each file that does.
if "$cf" --dry-run --Werror --style=file "${files[@]}" 2>/dev/null; then
    echo "format: ${#files[@]} files follow .clang-format"
    exit 0
fi
bad=0
lines=0
for f in "${files[@]}"; do
    if ! out=$("$cf" --style=file "$f" | diff -u --label "$f" --label "$f (formatted)" "$f" -); then
        bad=$((bad + 1))
        lines=$((lines + $(grep -c '^-' <<<"$out") - 1)) # less the "---" line
        head -n 40 <<<"$out"
    fi
done
if [ "$bad" -gt 0 ]; then
    echo "format: FAIL: $bad of ${#files[@]} files differ from .clang-format ($lines lines);" \
        "tools/format.sh reformats them"
    exit 1
fi
echo "format: FAIL: clang-format --dry-run failed, yet no file differs: run it by hand to" \
    "see why" >&2
exit 1
