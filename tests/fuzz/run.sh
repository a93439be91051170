#!/bin/bash
# Fuzzes each reader for SECONDS from its seed corpus under ASan, UBSan and
# LeakSanitizer, and fails on any crash, leak, timeout (10 s for one input)
# or allocation over 2 GB (docs/FUZZING.md).
#   tests/fuzz/run.sh [BUILD_DIR [SECONDS [NAME...]]]    (build-fuzz, 30, all)
# Sets up BUILD_DIR (clang, -Dfuzz=enabled) when it does not exist. New
# inputs go to a scratch folder, so the committed seeds stay as they are;
# the input behind a failure is kept in BUILD_DIR/fuzz-artifacts.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-fuzz}
secs=${2:-30}
names=("${@:3}")
[ "${#names[@]}" -gt 0 ] || names=(json safetensors checkpoint npy idx cifar image tune cache)
[ -d "$build/meson-private" ] ||
    CC=clang meson setup "$build" -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false
ninja -C "$build" fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/fuzz-artifacts"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
failed=0
for n in "${names[@]}"; do
    mkdir -p "$work/$n"
    log=$work/$n.log
    if "$build/tests/fuzz/fuzz_$n" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$n-" \
        "$work/$n" "tests/fuzz/corpus/$n" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
        cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' <<<"$done_line")
        corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$done_line")
        printf 'fuzz_%-12s %9s runs in %s s, %5s edges covered, corpus %4s: no crash, leak or timeout\n' \
            "$n" "$runs" "$secs" "$cov" "$corp"
    else
        echo "FAIL fuzz_$n (input kept in $build/fuzz-artifacts):"
        tail -n 60 "$log"
        failed=1
    fi
done
exit "$failed"
