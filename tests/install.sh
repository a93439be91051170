#!/bin/bash
# The installed headers and fmcl.pc are complete: install into a scratch
# folder, then compile and link an example with nothing but what pkg-config
# says about the installed copy, and run it (its usage line) on the
# installed library.
#   install.sh BUILD_DIR EXAMPLE.c
set -eu
build=$1
src=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$dir/root" >/dev/null
pc=$(find "$dir/root" -name fmcl.pc)
[ -n "$pc" ] || { echo "FAIL: meson install wrote no fmcl.pc"; exit 1; }
# The .pc names the real prefix; the sysroot puts the scratch folder before it.
export PKG_CONFIG_LIBDIR=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$dir/root
flags=$(pkg-config --cflags --libs fmcl)
case $flags in *"$dir/root"*) ;; *) echo "FAIL: pkg-config flags outside the install: $flags"; exit 1 ;; esac
cc -std=c11 -Wall -Wextra -Werror "$src" $flags -lm -o "$dir/example"
libdir=$(pkg-config --variable=libdir fmcl) # the sysroot included
set +e
LD_LIBRARY_PATH=$libdir "$dir/example" >"$dir/out" 2>&1
rc=$?
set -e
grep -q usage "$dir/out" && [ $rc -eq 2 ] ||
    { echo "FAIL: the installed example did not run (exit $rc):"; cat "$dir/out"; exit 1; }
LD_LIBRARY_PATH=$libdir ldd "$dir/example" | grep -q "$libdir/libfmcl" ||
    { echo "FAIL: the example did not load the installed libfmcl"; ldd "$dir/example"; exit 1; }
echo "compiled and ran $(basename "$src") against $(dirname "$pc")/fmcl.pc: $flags"
