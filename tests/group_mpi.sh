#!/bin/bash
# The MPI group (src/dist/mpi.c) under mpirun, as CI runs it (as root, more
# ranks than cores):
#   group_mpi.sh MPIRUN TEST_GROUP_MPI
# - 2 and 3 ranks: every operation (test_group_mpi checks each rank), and a
#   second run of 3 ranks whose sums have the same bits as the first;
# - timeout: a rank 3 s late at a sum with a 1 s timeout is reported by the
#   others, which end the job (non-zero) well before the late rank's 3 s;
# - die: a rank killed mid-run ends the job within 10 s, non-zero, and the
#   output names the rank.
# Fails on any failed case, and when no case ran.
set -u
mpirun=("$1" --allow-run-as-root --oversubscribe)
prog=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
checks=0
failed=0
check() { # check OK WHAT
    checks=$((checks + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok: $2"
    else
        echo "FAIL: $2"
        failed=$((failed + 1))
    fi
}

for n in 2 3; do
    timeout 100 "${mpirun[@]}" -np "$n" "$prog" "$n" >"$tmp/run$n.txt" 2>&1
    rc=$?
    cat "$tmp/run$n.txt"
    summaries=$(grep -c "== summary: [1-9][0-9]* checks, 0 failures" "$tmp/run$n.txt")
    check $((rc != 0 || summaries != n)) "$n ranks: every rank passed (exit $rc, $summaries of $n summaries)"
done
timeout 100 "${mpirun[@]}" -np 3 "$prog" 3 >"$tmp/again.txt" 2>&1
grep '^sum ' "$tmp/run3.txt" >"$tmp/sums1.txt"
grep '^sum ' "$tmp/again.txt" >"$tmp/sums2.txt"
cmp -s "$tmp/sums1.txt" "$tmp/sums2.txt"
same=$?
check $((same != 0 || $(wc -l <"$tmp/sums1.txt") < 7)) "3 ranks twice: the sums have the same bits"

# run_timed NAME NP MODE: runs the MODE case, setting rc and took (ms).
run_timed() {
    local start=$(($(date +%s%N) / 1000000))
    timeout 60 "${mpirun[@]}" -np "$2" "$prog" "$3" >"$tmp/$1.txt" 2>&1
    rc=$?
    took=$(($(date +%s%N) / 1000000 - start))
    cat "$tmp/$1.txt"
}

run_timed late 2 timeout
grep -q "^timeout reported" "$tmp/late.txt"
reported=$?
check $((rc == 0 || rc == 124 || reported != 0)) \
    "a late rank: reported by rank 0, the job ended in $took ms (exit $rc)"

run_timed die 3 die
grep -q "rank 2 .*signal 9" "$tmp/die.txt"
named=$?
check $((rc == 0 || rc == 124 || named != 0 || took > 10000)) \
    "a rank killed: the job ended in $took ms (exit $rc), naming rank 2"

echo "$checks checks, $failed failed"
[ "$checks" -gt 0 ] && [ "$failed" -eq 0 ]
