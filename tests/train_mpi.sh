#!/bin/bash
# fmcl train under mpirun (docs/DISTRIBUTED.md), as CI runs it: as root,
# more ranks than cores, on the default device (PoCL here).
#   train_mpi.sh MPIRUN FMCL ST_DIFF HAS_MPI
# - 2 ranks against one process with the same global batch, 100 steps: the
#   MLP (clipping, EMA, warm-up, cosine) and a small U-Net with dropout,
#   checkpoints within 1e-5 relative (every tensor: weights, EMA, Adam's
#   moments, losses); 2 ranks twice: the same bytes; 3 ranks with a batch
#   not divisible by 3: within 1e-5 of one process (the uneven split covers
#   the same examples);
# - rank 0 on PoCL, rank 1 on rusticl (when both are there): trains, within
#   the cross-device tolerance of PoCL alone;
# - resume: 2 ranks for 50 steps then one process to 100, and one process
#   then 2 ranks: within 1e-5 of the uninterrupted run;
# - a rank killed mid-run: the job ends within 30 s, non-zero, naming the
#   rank, and the last checkpoint still reads; a rank without its data or
#   with other flags stops every rank before training, naming it.
# Exit 77 (skip, with the reason) when fmcl was built without MPI or there is
# no mpirun; fails on any failed case and when no case ran.
set -u
mpirun_bin=$1
FMCL=$2
ST_DIFF=$3
has_mpi=$4
if [ "$has_mpi" != 1 ] || [ ! -x "$mpirun_bin" ]; then
    echo "SKIP: fmcl was built without MPI (or mpirun is missing): no data-parallel test ran"
    exit 77
fi
mpirun=("$mpirun_bin" --allow-run-as-root --oversubscribe)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
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
# ranks NP LOG ARGS...: fmcl train ARGS on NP ranks (1: no mpirun), output in LOG.
ranks() {
    local np=$1 log=$2
    shift 2
    if [ "$np" -eq 1 ]; then
        timeout 300 "$FMCL" train "$@" >"$log" 2>&1
    else
        timeout 300 "${mpirun[@]}" -np "$np" "$FMCL" train "$@" >"$log" 2>&1
    fi
    local rc=$?
    [ "$rc" -eq 0 ] || { echo "fmcl train $* on $np rank(s): exit $rc"; tail -5 "$log"; }
    return $rc
}
# run NP OUT ARGS...: a run into folder OUT; resume NP DIR ARGS...: DIR resumed.
run() { ranks "$1" "$2.log" "${@:3}" --out "$2"; }
resume() { ranks "$1" "$2.resume.log" --resume "$2" "${@:3}"; }
# within A B TOL: checkpoints A and B differ by at most TOL relative (each
# group of tensors as a vector: tests/st_diff.c).
within() {
    local d
    d=$("$ST_DIFF" "$1" "$2") || return 1
    echo "    $1 vs $2: $d (tolerance $3)"
    awk -v t="$3" '{ exit !($2 <= t) }' <<<"$d"
}

mlp=(--width 32 --depth 2 --batch 64 --clip 1 --ema 0.99 --warmup 5 --lr-schedule cosine
    --seed 5 --log-every 50)
run 1 one "${mlp[@]}" --steps 100 && run 2 two "${mlp[@]}" --steps 100
within one/model.safetensors two/model.safetensors 1e-5
check $? "MLP, 2 ranks vs one process, 100 steps: within 1e-5"
check "$(grep -c 'data-parallel over 2 ranks' two.log | awk '{print ($1 != 1)}')" \
    "2 ranks: rank 0 alone prints the header (once)"
grep -qE 'examples/s over 2 ranks' two.log
check $? "2 ranks: the global throughput is reported"
run 2 two-again "${mlp[@]}" --steps 100 && cmp -s two/model.safetensors two-again/model.safetensors
check $? "MLP, 2 ranks twice: the same checkpoint, byte for byte"
run 3 three "${mlp[@]}" --steps 100 && within one/model.safetensors three/model.safetensors 1e-5
check $? "MLP, 3 ranks, batch 64 (22 + 21 + 21): within 1e-5 of one process"

# 16 8x8 grey images as an IDX file.
python3 -c '
import struct, sys
n = 16
px = bytes((i * 37 + j * 11) % 256 for i in range(n) for j in range(64))
open("tiny-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, n, 8, 8) + px)'
unet=(--data idx:tiny-images-idx3-ubyte --model unet --base 4 --mult 1,2 --groups 2 --heads 2
    --dropout 0.1 --batch 6 --seed 3 --log-every 50 --steps 100)
run 1 u-one "${unet[@]}" && run 2 u-two "${unet[@]}" &&
    within u-one/model.safetensors u-two/model.safetensors 1e-5
check $? "U-Net with dropout, 2 ranks vs one process, 100 steps: within 1e-5"

if RUSTICL_ENABLE=llvmpipe "$FMCL" devices 2>/dev/null | grep -q '^ *1:0 '; then
    export RUSTICL_ENABLE=llvmpipe
    run 2 mixed "${mlp[@]}" --steps 30 --device 0:0,1:0 && run 1 pocl "${mlp[@]}" --steps 30 \
        --device 0:0 && within pocl/model.safetensors mixed/model.safetensors 1e-3
    check $? "rank 0 on PoCL, rank 1 on rusticl, 30 steps: within 1e-3 of PoCL alone"
else
    echo "SKIP: no second OpenCL platform at 1:0 (rusticl), so no mixed-device run"
fi

flat=(--width 32 --depth 2 --batch 64 --ema 0.99 --seed 6 --log-every 50)
run 1 full "${flat[@]}" --steps 100 &&
    run 2 half2 "${flat[@]}" --steps 50 && resume 1 half2 --steps 100 &&
    within full/model.safetensors half2/model.safetensors 1e-5
check $? "resume: 2 ranks for 50 steps, one process to 100: within 1e-5 of one run"
run 1 half1 "${flat[@]}" --steps 50 && resume 2 half1 --steps 100 &&
    within full/model.safetensors half1/model.safetensors 1e-5
check $? "resume: one process for 50 steps, 2 ranks to 100: within 1e-5 of one run"

# Rank 1 cannot open its data, or was given another batch: every rank stops
# before training, naming it, and no run folder is left.
timeout 60 "${mpirun[@]}" -np 2 sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then d=missing.npy;
    else d=checkerboard; fi; exec "$0" train --data $d --steps 10 --out nodata' "$FMCL" \
    >nodata.log 2>&1
rc=$?
grep -q 'rank 1 of 2: could not open the data' nodata.log
check $((rc == 0 || rc == 124 || $? != 0)) "rank 1 without its data: every rank stopped (exit $rc), naming it"
check $(test ! -e nodata; echo $?) "rank 1 without its data: no run folder left"
timeout 60 "${mpirun[@]}" -np 2 sh -c 'b=$((64 + OMPI_COMM_WORLD_RANK)); exec "$0" train \
    --batch $b --steps 10 --out otherbatch' "$FMCL" >otherbatch.log 2>&1
rc=$?
grep -qE 'training settings and the initial weights differs between ranks: .*rank 1 ' otherbatch.log
check $((rc == 0 || rc == 124 || $? != 0)) "rank 1 with another --batch: refused (exit $rc), naming it"

# A long run with a checkpoint every 20 steps; rank 1 is killed once one exists.
"${mpirun[@]}" -np 2 "$FMCL" train "${flat[@]}" --steps 1000000 --ckpt-every 20 --out kill \
    >kill.log 2>&1 &
job=$!
for _ in $(seq 600); do
    [ -s kill/model.safetensors ] && break
    sleep 0.1
done
victim=""
for p in $(pgrep -P "$job"); do
    grep -qz '^OMPI_COMM_WORLD_RANK=1$' "/proc/$p/environ" 2>/dev/null && victim=$p
done
start=$(date +%s%N)
[ -n "$victim" ] && kill -9 "$victim"
for _ in $(seq 300); do
    kill -0 "$job" 2>/dev/null || break
    sleep 0.1
done
took=$((($(date +%s%N) - start) / 1000000))
kill -0 "$job" 2>/dev/null && kill -9 "$job"
wait "$job"
rc=$?
tail -8 kill.log
grep -qE 'rank 1' kill.log
named=$?
"$ST_DIFF" kill/model.safetensors kill/model.safetensors >/dev/null
intact=$?
check $((${#victim} == 0 || rc == 0 || took > 30000 || named != 0 || intact != 0)) \
    "rank 1 killed: the job ended in $took ms (exit $rc), named rank 1, the checkpoint reads"

echo "$checks checks, $failed failed"
[ "$checks" -gt 0 ] && [ "$failed" -eq 0 ]
