#!/bin/bash
# Every kernel under Oclgrind's checkers: runs each piece of the tiny
# workload (tests/tiny_workload.c) in its own process under
# `oclgrind --data-races --uninitialized --check-api` and fails on any report
# in Oclgrind's log (Oclgrind itself exits 0 after reporting errors), on a
# failed check of the workload, or when a kernel listed in a layer's
# kernels.def (src/runtime, src/nn, src/data, src/flow) never ran.
#   oclgrind.sh WORKLOAD KERNELS_DEF...
# Exit 77 (skip) when oclgrind is not installed.
set -u
WORKLOAD=$1
shift
DEFS=("$@")
if ! command -v oclgrind >/dev/null 2>&1; then
    echo "SKIP: oclgrind is not installed (Debian: apt-get install oclgrind, which"
    echo "tools/install-deps.sh does)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Under the oclgrind wrapper the only device is Oclgrind's, so device
# choices meant for the other tests are dropped; one cache folder for the
# pieces keeps the run independent of earlier ones.
pieces=$("$WORKLOAD" count) || { echo "FAIL: $WORKLOAD count did not run"; exit 1; }
failed=0
for ((k = 0; k < pieces; k++)); do
    env -u FMCL_TEST_DEVICES -u FMCL_DEVICE XDG_CACHE_HOME="$tmp/cache" \
        oclgrind --data-races --uninitialized --check-api --inst-counts --log "$tmp/log$k" \
        "$WORKLOAD" "$k" >"$tmp/out$k" 2>&1
    rc=$?
    # The workload's own lines, without the instruction histograms.
    grep -vE "^ +[0-9]+ - |^Instructions executed for kernel|^$|^== device" "$tmp/out$k"
    if [ "$rc" -ne 0 ]; then
        echo "FAIL: piece $k exited with status $rc under Oclgrind"
        failed=1
    fi
    # Kernel errors go to the log; --check-api's reports to stderr.
    if [ -s "$tmp/log$k" ] || grep -q "^Oclgrind - OpenCL runtime error" "$tmp/out$k"; then
        n=$(($(grep -c '^[^[:space:]]' "$tmp/log$k") + $(grep -c '^Oclgrind - ' "$tmp/out$k")))
        echo "FAIL: Oclgrind reported $n problem(s) in piece $k:"
        head -n 60 "$tmp/log$k"
        failed=1
    fi
done

cat "$tmp"/out* | sed -n "s/^Instructions executed for kernel '\(.*\)':$/\1/p" | sort -u >"$tmp/ran"
mapfile -t kernels < <(cat "${DEFS[@]}" | sed -n 's/^FMCL_KERNEL(\([A-Za-z0-9_]*\)).*/\1/p')
missing=()
for k in "${kernels[@]}"; do
    grep -qx "$k" "$tmp/ran" || missing+=("$k")
done
if [ "${#kernels[@]}" -eq 0 ]; then
    echo "FAIL: no FMCL_KERNEL lines in ${DEFS[*]}"
    failed=1
elif [ "${#missing[@]}" -gt 0 ]; then
    echo "FAIL: kernels that never ran under Oclgrind: ${missing[*]}"
    failed=1
fi
checks=$(cat "$tmp"/out* | sed -n 's/^== summary: \([0-9]*\) checks.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
echo "Oclgrind: $pieces pieces, $checks checks; $((${#kernels[@]} - ${#missing[@]})) of fmcl's" \
    "${#kernels[@]} kernels ran ($(wc -l <"$tmp/ran") kernels with CLBlast's)"
exit "$failed"
