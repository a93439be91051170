#!/bin/bash
# Tests of the fmcl command-line tool, with shell tools only (no NumPy).
#   test_cli.sh FMCL usage  usage errors exit 2 naming the flag, bad files exit 1,
#                           --help lists every flag; no device needed
#   test_cli.sh FMCL run    tiny train and sample runs on the default device:
#                           files appear, are well-formed, and runs repeat
#                           bit for bit; exit 77 (skip) without an OpenCL device
#   test_cli.sh FMCL check  fmcl check on the default device (exit 77 without one)
#   test_cli.sh FMCL safety interrupted, concurrent and refused runs (cli_safety.sh) on
#                           the default device; exit 77 without one
# No invocation may crash (exit status >= 128).
set -u
FMCL=$1
MODE=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1 # stray outputs (runs/, samples.npy) would land here
passed=0
failed=0

pass() { passed=$((passed + 1)); }
fail() {
    failed=$((failed + 1))
    echo "FAIL: $*"
}
show() { sed 's/^/    | /' "$tmp/out" "$tmp/err" | head -20; }

# expect CODE REGEX ARGS...: fmcl ARGS exits CODE and prints a line matching
# REGEX (extended grep) on stdout or stderr.
expect() {
    local want=$1 pat=$2
    shift 2
    "$FMCL" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" -ge 128 ]; then
        fail "fmcl $* crashed (exit $rc)"
        show
    elif [ "$rc" -ne "$want" ]; then
        fail "fmcl $*: exit $rc, expected $want"
        show
    elif ! cat "$tmp/out" "$tmp/err" | grep -qE -- "$pat"; then
        fail "fmcl $*: no output line matches /$pat/"
        show
    else
        pass
    fi
}

check() { # check DESCRIPTION COMMAND...: the command succeeds
    local what=$1
    shift
    if "$@"; then pass; else fail "$what"; fi
}

# Conditions that must not hold by accident when an earlier step left nothing:
# two files that exist, hold something and differ; a file that exists, holds
# something and has no line matching PATTERN; two strings, equal and not empty.
differ() { [ -s "$1" ] && [ -s "$2" ] && ! cmp -s "$1" "$2"; }
lacks() { [ -s "$1" ] && ! grep -aqE -- "$2" "$1"; }
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }

# Little-endian unsigned integer of N bytes at OFFSET of FILE.
le_uint() {
    local v=0 i=0 b
    for b in $(od -An -t u1 -j "$2" -N "$3" "$1"); do
        v=$((v + (b << (8 * i))))
        i=$((i + 1))
    done
    echo "$v"
}

size() { wc -c <"$1" | tr -d ' '; }

# start_run LOG FLAGS...: fmcl train FLAGS in the background, as $pid, output
# in LOG; returns once it has printed its first progress line (or ended).
start_run() {
    local log=$1
    shift
    "$FMCL" train "$@" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 600); do
        grep -q '^step ' "$log" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
}

# A .npy file (format 1.0, float32 zeros) of shape ROWS x COLS.
make_npy() {
    local dict="{'descr': '<f4', 'fortran_order': False, 'shape': ($2, $3), }"
    {
        printf '\x93NUMPY\x01\x00\x76\x00'
        printf '%-117s\n' "$dict" # 10 + 118 bytes: data starts 64-aligned
        head -c $(($2 * $3 * 4)) /dev/zero
    } >"$1"
}

# A well-formed safetensors file holding one tensor but no fmcl metadata.
make_foreign_safetensors() {
    local h='{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    {
        printf "\\x$(printf %02x ${#h})\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
        printf '%s' "$h"
        head -c 4 /dev/zero
    } >"$1"
}

usage_tests() {
    # Commands.
    expect 2 'usage: fmcl COMMAND' # no command at all
    expect 2 "unknown command 'frobnicate'" frobnicate
    expect 0 'usage: fmcl COMMAND' --help
    expect 0 '^fmcl [0-9]+\.[0-9]+\.[0-9]+ \((with|without) MPI\)$' --version

    # Flags of train: unknown, missing, out of range, not a number.
    expect 2 'unknown flag --bogus' train --bogus
    expect 2 'unknown flag --bogus' train --bogus=3
    expect 2 '--batch 0 is out of range \(expected 1 to 1048576\)' train --batch 0
    expect 2 '--batch -5 is out of range' train --batch=-5
    expect 2 '--steps -1 is out of range \(expected 1 to 10000000\)' train --steps -1
    expect 2 "--lr: 'abc' is not a number" train --lr abc
    expect 2 '--lr 0 is out of range \(expected greater than 0' train --lr 0
    expect 2 "--lr: 'nan' is not a number" train --lr nan
    expect 2 "--width: '1.5' is not an integer" train --width 1.5
    expect 2 '--width 0 is out of range' train --width 0
    expect 2 '--depth 65 is out of range \(expected 1 to 64\)' train --depth 65
    expect 2 '--steps needs a value' train --steps
    expect 2 '--steps needs a value' train --steps --lr 1
    expect 2 "--seed: '-3' is not a non-negative integer" train --seed -3
    expect 2 '--seed 99999999999999999999 is out of range' train --seed 99999999999999999999
    expect 2 '--sigma-min 1 is out of range \(expected 0 to 0.999\)' train --sigma-min 1
    expect 2 "--path: unknown value 'diffusion' \(expected one of ot, vp, ve, cosine, poly, linear-vp\)" \
        train --path diffusion
    expect 2 '--beta-min belongs to --path vp, but this run uses --path ot' train --beta-min 1
    expect 2 '--sigma-min belongs to --path ot, but this run uses --path ve' train --path ve --sigma-min 0.1
    expect 2 '--beta-max 1 is below --beta-min 2' train --path vp --beta-min 2 --beta-max 1
    expect 2 '--sigma-hi 0.5 must be larger than --sigma-lo 1' train --path ve --sigma-lo 1 --sigma-hi 0.5
    expect 2 '--poly-n 0.5 is out of range \(expected 1 to 100\)' train --path poly --poly-n 0.5
    expect 2 "--coupling: unknown value 'sinkhorn' \(expected one of independent, ot\)" train --coupling sinkhorn
    expect 2 '--coupling ot solves an exact .*--batch 4096 is too large \(at most 2048\)' \
        train --coupling ot --batch 4096
    expect 2 "--data: unknown data set 'swissroll' \(expected one of checkerboard, 8gaussians, moons, rings, spirals, or a FILE.npy" train --data swissroll
    expect 2 '--data needs a non-empty value' train --data=
    # Image sets: malformed --data values and flags that do not fit them.
    expect 2 "'mnist:' names no file or folder after the ':'" train --data mnist:
    expect 2 "'cifar10:' names no file or folder" train --data cifar10:
    expect 2 "unknown data set 'mnst:x'" train --data mnst:x
    expect 2 '--data images:pics needs --image-size N' train --data images:pics
    expect 2 '--channels 2 is not an image format' train --data images:pics --image-size 8 --channels 2
    expect 2 '--channels 4 is out of range \(expected 1 to 3\)' train --data images:pics --image-size 8 --channels 4
    expect 2 '--image-size is for --data images:DIR; fashion-mnist has a fixed image shape' \
        train --data fashion-mnist --image-size 28
    expect 2 '--hflip is for image data sets .*not --data checkerboard' train --hflip
    expect 2 '--limit is for image data sets' train --data moons --limit 10
    expect 2 '--limit 0 is out of range' train --data fashion-mnist --limit 0
    expect 2 '--label-drop is the label dropout of --cond training' train --data fashion-mnist --label-drop 0.2
    expect 2 '--cond trains on the class labels of an image set .*not --data moons' train --data moons --cond
    # --model unet: its flags only with it, image data only.
    expect 2 '--model unet is for image data sets .*not --data checkerboard' train --model unet
    expect 2 '--base configures the U-Net: add --model unet' train --data fashion-mnist --base 8
    expect 2 '--dropout configures the U-Net: add --model unet' train --data fashion-mnist --dropout 0.1
    expect 2 '--width configures the MLP' train --data fashion-mnist --model unet --width 8
    expect 2 '--mult 1,x: expected 1 to 6 comma-separated multipliers' \
        train --data fashion-mnist --model unet --mult 1,x
    expect 2 '--attn-res 7,: expected comma-separated resolutions' \
        train --data fashion-mnist --model unet --attn-res 7,
    expect 2 '--label-drop 1.5 is out of range \(expected 0 to 1\)' train --data fashion-mnist --cond --label-drop 1.5
    expect 2 '--cfg -1 is out of range' sample --ckpt m --cfg -1
    expect 2 '--class 256 is out of range' sample --ckpt m --class 256
    printf 'not an IDX file' >"$tmp/junk.idx"
    expect 1 'fmcl: error: --data idx:.*junk\.idx: .*is not an IDX file' train --data "idx:$tmp/junk.idx" --out "$tmp/r1"
    expect 1 'fmcl: error: --data cifar10:.*nope\.bin: cannot' train --data "cifar10:$tmp/nope.bin" --out "$tmp/r1"
    mkdir -p "$tmp/empty"
    expect 1 'holds no \.png, \.jpg or \.jpeg files' train --data "images:$tmp/empty" --image-size 8 --out "$tmp/r1"
    expect 2 "unexpected argument 'extra'" train extra
    expect 2 '--log-every -1 is out of range \(expected at least 0\)' train --log-every -1

    # Flags of sample and devices.
    expect 2 '--ckpt PATH is required' sample
    expect 2 "--solver: unknown value 'rk45' \(expected one of euler, midpoint, heun, rk4, dopri5, rk4-38\)" \
        sample --ckpt m.safetensors --solver rk45
    expect 2 '--steps 0 is out of range \(expected 1 to 100000\)' sample --ckpt m --steps 0
    expect 2 '--n 0 is out of range' sample --ckpt m --n 0
    expect 2 '--n and --x0 both set the number of points' sample --ckpt m --n 5 --x0 a.npy
    expect 2 'dopri5 chooses its own steps: drop --steps' sample --ckpt m --solver dopri5 --steps 5
    expect 2 '--atol, --rtol and --max-steps are for --solver dopri5' sample --ckpt m --atol 1e-3
    expect 2 '--atol 0 is out of range' sample --ckpt m --solver dopri5 --atol 0
    expect 2 '--steps and --grid both set the steps' sample --ckpt m --steps 4 --grid 0,1
    expect 2 'time grid t\[2\] = 0.4 .*is not greater' sample --ckpt m --grid 0,0.5,0.4,1
    expect 2 'time grid t\[1\] = 0.5 .*must be exactly 1' sample --ckpt m --grid 0,0.5
    expect 2 "--grid: item 2 'x' is not a number" sample --ckpt m --grid 0,x,1
    expect 2 '--times: 0.2 follows 0.5' sample --ckpt m --times 0.5,0.2
    expect 2 '--traj is where the states at --times go' sample --ckpt m --traj t.npy
    expect 2 '--ckpt PATH is required' nll
    expect 2 '--exact and --hutchinson K choose the divergence both ways' nll --ckpt m --exact --hutchinson 2
    expect 2 '--hutchinson 0 is out of range \(expected 1 to 100000\)' nll --ckpt m --hutchinson 0
    expect 2 "--solver: unknown value 'rk45' \(expected one of euler, midpoint, heun, rk4, dopri5, rk4-38\)" \
        nll --ckpt m --solver rk45
    expect 2 'dopri5 chooses its own steps: drop --steps' nll --ckpt m --steps 5
    expect 2 '--atol, --rtol and --max-steps are for --solver dopri5' nll --ckpt m --solver rk4 --rtol 1e-3
    expect 2 '--grid sets the picture' nll --ckpt m --grid 10
    expect 2 '--grid 1 is out of range' nll --ckpt m --png d.png --grid 1
    expect 1 'fmcl: error: .*nope\.safetensors' nll --ckpt "$tmp/nope.safetensors"
    expect 0 'usage: fmcl nll' nll --help
    for f in ckpt data limit n exact hutchinson solver steps atol rtol max-steps seed png grid device help; do
        check "nll --help lists --$f" grep -q -- "--$f" "$tmp/out"
    done
    check 'nll --help shows dopri5' grep -qE 'dopri5 +\(default: dopri5\)|^ +\(default: dopri5\)|dopri5 \(default: dopri5\)' "$tmp/out"
    expect 2 '--json does not take a value' devices --json=yes
    expect 2 'unknown flag --all' devices --all
    expect 2 'unknown flag --bogus' check --bogus
    expect 2 '--all and --device both choose devices' check --all --device 0:0
    expect 2 "unexpected argument 'extra'" check extra
    expect 0 'usage: fmcl check' check --help
    for f in device all json help; do
        check "check --help lists --$f" grep -q -- "--$f" "$tmp/out"
    done

    # Flags of bench and tune (their runs take minutes: no timed run here).
    expect 2 'unknown flag --bogus' bench --bogus
    expect 2 '--all and --device both choose devices' bench --all --device 0:0
    expect 2 '--json needs a value' bench --json
    expect 2 '--json needs a non-empty value' bench --json=
    expect 2 '--quick does not take a value' bench --quick=yes
    expect 2 '--first-step runs alone' bench --first-step --quick
    expect 2 "unexpected argument 'extra'" bench extra
    expect 0 'usage: fmcl bench' bench --help
    for f in device all json torch quick first-step compare png help; do
        check "bench --help lists --$f" grep -q -- "--$f" "$tmp/out"
    done
    expect 2 '--compare needs the files to compare' bench --compare
    expect 2 '--compare needs the files to compare' bench --compare --png "$tmp/c.png"
    expect 2 '--compare reads files and runs nothing' bench --compare a.json --quick
    expect 2 '--png draws a comparison: give it with --compare' bench --png "$tmp/c.png"
    expect 1 "$tmp/none.json" bench --compare "$tmp/none.json"
    echo '{"devices": []}' >"$tmp/other.json"
    expect 1 'no fmcl bench file of a known format' bench --compare "$tmp/other.json"
    # The example files of docs/BENCHMARKS.md: PoCL (the packed GEMM kernels), rusticl and
    # PoCL through CLBlast computed the same losses and samples; [2] and [3] each agree with [1].
    local docs ok='(agree|bit-identical)' num='[0-9.e+]+ +[0-9.]+x'
    local both="$num $ok +$num $ok\$"
    docs=$(cd "$(dirname "$0")/../docs" && pwd)
    expect 0 "^  training, reference +steps/s +[0-9.e+]+ +$both" \
        bench --compare "$docs/bench_pocl.json" "$docs/bench_rusticl.json" \
        "$docs/bench_pocl_clblast.json"
    check 'the example files agree on sampling' grep -qE "^  sampling .* $both" "$tmp/out"
    check 'and on the small model' grep -qE "^  training, small .* $both" "$tmp/out"
    check 'and on the U-Net' grep -qE "^  training, U-Net .* $both" "$tmp/out"
    expect 2 'unknown flag --all' tune --all
    expect 2 '--report does not take a value' tune --report=1
    expect 2 "unexpected argument 'now'" tune now
    expect 0 'usage: fmcl tune' tune --help
    for f in device report help; do
        check "tune --help lists --$f" grep -q -- "--$f" "$tmp/out"
    done

    # --help lists every flag with its default; the values shown are the real defaults.
    local f
    expect 0 'usage: fmcl train' train --help
    for f in data width depth batch steps lr seed path sigma-min poly-n beta-min beta-max sigma-lo \
        sigma-hi coupling time-freqs weight-decay clip device out log-every image-size channels \
        hflip limit cond label-drop help; do
        check "train --help lists --$f" grep -q -- "--$f" "$tmp/out"
    done
    check 'train --help shows width 512' grep -qE -- '--width N +hidden units.*\(default: 512\)' "$tmp/out"
    check 'train --help shows lr 0.001' grep -qF '(default: 0.001)' "$tmp/out"
    expect 0 'usage: fmcl sample' sample --help
    for f in ckpt solver steps grid atol rtol max-steps times traj n seed x0 out png device class cfg \
        trajectory help; do
        check "sample --help lists --$f" grep -q -- "--$f" "$tmp/out"
    done
    check 'sample --help shows midpoint' grep -qE 'rk4.*\(default: midpoint\)|^ +\(default: midpoint\)' "$tmp/out"
    expect 0 'usage: fmcl devices' devices --help
    check 'devices --help lists --json' grep -q -- '--json' "$tmp/out"

    # Missing and corrupt files: exit 1 with a message naming the file; nothing written.
    expect 1 'fmcl: error: .*nope\.safetensors' sample --ckpt "$tmp/nope.safetensors" --out "$tmp/s.npy"
    printf 'junk!' >"$tmp/junk.safetensors"
    expect 1 'fmcl: error: .*junk\.safetensors' sample --ckpt "$tmp/junk.safetensors" --out "$tmp/s.npy"
    printf '\xff\xff\xff\xff\xff\xff\xff\x7f{"a":1}' >"$tmp/huge.safetensors"
    expect 1 'fmcl: error: .*huge\.safetensors' sample --ckpt "$tmp/huge.safetensors" --out "$tmp/s.npy"
    check 'no samples written after a bad checkpoint' test ! -e "$tmp/s.npy"
    expect 1 'fmcl: error: .*missing\.npy' train --data "$tmp/missing.npy" --out "$tmp/r1"
    printf 'not an array' >"$tmp/junk.npy"
    expect 1 'fmcl: error: .*junk\.npy' train --data "$tmp/junk.npy" --out "$tmp/r1"
    make_npy "$tmp/p3.npy" 4 3
    expect 1 'expected an N x 2 array of points with N >= 1, found shape \(4, 3\)' \
        train --data "$tmp/p3.npy" --out "$tmp/r1"
    make_npy "$tmp/p0.npy" 0 2
    expect 1 'found shape \(0, 2\)' train --data "$tmp/p0.npy" --out "$tmp/r1"
    check 'no output folder after a bad --data' test ! -e "$tmp/r1"

    # EMA, schedule and resume flags; checkpoints that cannot be resumed.
    expect 2 '--ema' train --ema 1
    expect 2 '--lr-schedule' train --lr-schedule linear
    expect 2 '--warmup' train --warmup -1
    expect 1 'nowhere/model\.safetensors .*give the folder of a run of fmcl train' \
        train --resume "$tmp/nowhere"
    mkdir -p "$tmp/foreign-run" "$tmp/trunc-run"
    make_foreign_safetensors "$tmp/foreign-run/model.safetensors"
    expect 1 "fmcl: error: --resume .*metadata 'step' is missing; this is not a training checkpoint" \
        train --resume "$tmp/foreign-run" --steps 5
    make_foreign_safetensors "$tmp/whole.safetensors"
    head -c 20 "$tmp/whole.safetensors" >"$tmp/trunc-run/model.safetensors"
    expect 1 'fmcl: error: --resume .*trunc-run/model\.safetensors' train --resume "$tmp/trunc-run"
    check 'usage errors wrote nothing' test ! -e "$tmp/runs" -a ! -e "$tmp/samples.npy"
}

# model.safetensors of a run of S steps without EMA: header length + JSON +
# exactly the parameters of a width W, depth L MLP on 2D points with [x, t]
# input, Adam's two moments of the same shapes, and S losses, as float32.
check_checkpoint() {
    local f=$1 w=$2 l=$3 steps=$4
    local hlen params
    hlen=$(le_uint "$f" 0 8)
    params=$((3 * w + w + (l - 1) * (w * w + w) + w * 2 + 2))
    check "$f: size is 8 + header + 4 x (3 x $params parameters + $steps losses)" \
        test "$(size "$f")" -eq $((8 + hlen + 4 * (3 * params + steps)))
    check "$f: Adam's moments and the losses under their names" grep -aq \
        '"optim.exp_avg.0.weight".*"optim.exp_avg_sq.0.weight".*"train.loss"' <(head -c $((8 + hlen)) "$f")
    head -c $((8 + hlen)) "$f" | tail -c "$hlen" >"$tmp/header.json"
    check "$f: header is a JSON object" grep -q '^{.*}[ ]*$' "$tmp/header.json"
    check "$f: state_dict names 0.weight .. $((2 * l)).bias" \
        grep -q "\"0.weight\".*\"$((2 * l)).bias\"\\|\"$((2 * l)).bias\".*\"0.weight\"" "$tmp/header.json"
    check "$f: no layer beyond $((2 * l))" lacks "$tmp/header.json" "\"$((2 * l + 2))\\.weight\""
    check "$f: metadata holds the run's settings" \
        grep -qE '"steps" *: *"[0-9]+".*"seed"|"seed".*"steps" *: *"[0-9]+"' "$tmp/header.json"
}

# An IDX image file of N images of R x C bytes (pattern (37 i) mod 256), and
# the labels file beside it under the standard name.
make_idx() {
    local n=$2 r=$3 c=$4
    {
        printf '\x00\x00\x08\x03'
        LC_ALL=C awk -v n="$n" -v r="$r" -v c="$c" 'BEGIN {
            printf "%c%c%c%c", 0, 0, int(n / 256), n % 256
            printf "%c%c%c%c%c%c%c%c", 0, 0, 0, r, 0, 0, 0, c
            for (i = 0; i < n * r * c; i++) printf "%c", (37 * i) % 256 }'
    } >"$1-images-idx3-ubyte"
    {
        printf '\x00\x00\x08\x01'
        LC_ALL=C awk -v n="$n" 'BEGIN { printf "%c%c%c%c", 0, 0, int(n / 256), n % 256
            for (i = 0; i < n; i++) printf "%c", i % 10 }'
    } >"$1-labels-idx1-ubyte"
}

# png_size FILE: "WIDTHxHEIGHT" from the IHDR chunk.
png_size() {
    local w h
    w=$(( $(le_uint "$1" 16 1) << 24 | $(le_uint "$1" 17 1) << 16 | $(le_uint "$1" 18 1) << 8 | $(le_uint "$1" 19 1) ))
    h=$(( $(le_uint "$1" 20 1) << 24 | $(le_uint "$1" 21 1) << 16 | $(le_uint "$1" 22 1) << 8 | $(le_uint "$1" 23 1) ))
    echo "${w}x$h"
}

check_png() {
    check "$1 is a PNG" test "$(od -An -t x1 -N8 "$1" | tr -d ' \n')" = 89504e470d0a1a0a
    local w=$(( $(le_uint "$1" 16 1) << 24 | $(le_uint "$1" 17 1) << 16 | $(le_uint "$1" 18 1) << 8 | $(le_uint "$1" 19 1) ))
    check "$1 has a plausible width ($w)" test "$w" -ge 64 -a "$w" -le 8192
}

# check_npy FILE ROWS COLS: a float32 .npy of that shape, nothing more or less.
check_npy() { # check_npy FILE N D, or FILE N for a 1-D array
    check "$1 has the .npy magic" test "$(od -An -t x1 -N6 "$1" | tr -d ' \n')" = 934e554d5059
    local major hlen off shape="$2," n=$(($2 * ${3:-1}))
    [ -z "${3:-}" ] || shape="$2, $3"
    major=$(le_uint "$1" 6 1)
    if [ "$major" = 1 ]; then hlen=$(le_uint "$1" 8 2); off=10; else hlen=$(le_uint "$1" 8 4); off=12; fi
    head -c $((off + hlen)) "$1" | tail -c "$hlen" >"$tmp/npyhdr"
    check "$1 is float32" grep -q "'descr': '<f4'" "$tmp/npyhdr"
    check "$1 has shape ($shape)" grep -qF "'shape': ($shape)" "$tmp/npyhdr"
    check "$1 size is header + $n floats" test "$(size "$1")" -eq $((off + hlen + 4 * n))
}

# The values of a float32 .npy file (version 1.0 header), one a line.
npy_values() {
    od -An -v -t f4 -j $((10 + $(le_uint "$1" 8 2))) "$1" | tr -s ' ' '\n' | sed '/^$/d'
}

# npy_mean FILE VALUE DIGITS: the mean of FILE's values is VALUE to DIGITS
# significant digits, and VALUE has at least DIGITS of them.
npy_mean() {
    npy_values "$1" | awk -v want="$2" -v k="$3" '{ s += $1; n++ }
        END { d = want; gsub(/[-.]/, "", d); sub(/^0+/, "", d); m = s / n;
              exit !(n > 0 && length(d) >= k && (m - want) ^ 2 <= (want * 10 ^ (1 - k)) ^ 2) }'
}

# The device modes run on one device: FMCL_TEST_DEVICES's first spec (as
# FMCL_DEVICE, like the C device tests honour the variable), else fmcl's
# default. It is named in the output, and so are the devices left out; exit
# 77 (skip) with the reason when there is none.
pick_device() {
    if [ -n "${FMCL_TEST_DEVICES:-}" ]; then
        export FMCL_DEVICE="${FMCL_TEST_DEVICES%%;*}"
        local rest="${FMCL_TEST_DEVICES#*;}"
        if [ "$rest" != "$FMCL_TEST_DEVICES" ] && [ -n "$rest" ]; then
            echo "SKIP (part): the CLI tests run on the first device of FMCL_TEST_DEVICES, not on '$rest'"
        fi
    fi
    "$FMCL" devices >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" -ge 126 ]; then # not executable, not found, or killed by a signal
        cat "$tmp/err"
        echo "FAIL: fmcl devices could not run or crashed (exit $rc)"
        exit 1
    elif [ "$rc" -ne 0 ] || grep -q 'note: ' "$tmp/err"; then
        cat "$tmp/err"
        echo "SKIP: no OpenCL device${FMCL_DEVICE:+ matching FMCL_DEVICE '$FMCL_DEVICE'}"
        exit 77
    fi
    echo "device: $(grep '^\* [0-9]' "$tmp/out")"
    cp "$tmp/out" "$tmp/devices"
}

run_tests() {
    pick_device
    expect 0 '"index": "[0-9]+:[0-9]+"' devices --json
    check 'devices --json is an array' grep -q '^\[' "$tmp/out"
    expect 1 "fmcl: error: .*no-such-device" train --device no-such-device --steps 1 --out "$tmp/nd"

    # A tiny training run: progress lines, files, and their contents.
    local tiny=(--width 16 --depth 2 --batch 64 --steps 20 --seed 3 --log-every 5)
    expect 0 'pictures: .*/a/densities\.png' train "${tiny[@]}" --out "$tmp/a"
    check 'progress reached step 20/20' grep -q 'step 20/20  loss [0-9.]*  [0-9.]* steps/s  ETA' "$tmp/err"
    check 'progress printed every 5 steps' test "$(grep -c '^step [0-9]*/20 ' "$tmp/err")" -eq 4
    check_checkpoint "$tmp/a/model.safetensors" 16 2 20
    check 'loss.csv has a header and 20 rows' test "$(sed -n 1p "$tmp/a/loss.csv")" = step,loss -a \
        "$(wc -l <"$tmp/a/loss.csv")" -eq 21
    check 'loss.csv rows are steps 1..20 with finite positive losses' awk -F, \
        'NR > 1 { if ($1 != NR - 1 || !($2 > 0 && $2 < 1e6)) bad = 1 } END { exit bad }' "$tmp/a/loss.csv"
    local p
    for p in densities trajectories loss; do check_png "$tmp/a/$p.png"; done

    # The same seed on the same device gives the same bits.
    expect 0 'pictures:' train "${tiny[@]}" --out "$tmp/b"
    check 'a repeated run writes the same checkpoint' cmp -s "$tmp/a/model.safetensors" "$tmp/b/model.safetensors"
    check 'a repeated run writes the same losses' cmp -s "$tmp/a/loss.csv" "$tmp/b/loss.csv"

    # Diffusion paths: finite losses; a VE checkpoint names its path and noise
    # scale, from which sampling starts (the OT coupling on the way).
    expect 0 'checkerboard, vp path, MLP' train "${tiny[@]}" --path vp --out "$tmp/vp"
    check 'vp: loss.csv rows are finite positive losses' awk -F, \
        'NR > 1 { if (!($2 > 0 && $2 < 1e6)) bad = 1 } END { exit bad || NR != 21 }' "$tmp/vp/loss.csv"
    expect 0 've path with OT coupling' train "${tiny[@]}" --path ve --sigma-hi 20 --coupling ot \
        --out "$tmp/ve"
    check 've: loss.csv rows are finite positive losses' awk -F, \
        'NR > 1 { if (!($2 > 0 && $2 < 1e6)) bad = 1 } END { exit bad || NR != 21 }' "$tmp/ve/loss.csv"
    head -c 4096 "$tmp/ve/model.safetensors" >"$tmp/ve.head"
    local kv
    for kv in '"path" *: *"ve"' '"sigma_hi" *: *"20"' '"coupling" *: *"ot"'; do
        check "ve: metadata holds $kv" grep -aqE "$kv" "$tmp/ve.head"
    done

    # Sampling: NFE per solver, .npy shape, PNG, determinism.
    local ck="$tmp/a/model.safetensors"
    expect 0 'NFE 20' sample --ckpt "$ck" --solver rk4 --steps 5 --n 101 --seed 7 --out "$tmp/s.npy" --png "$tmp/s.png"
    check_npy "$tmp/s.npy" 101 2
    check_png "$tmp/s.png"
    expect 0 'NFE 10' sample --ckpt "$ck" --steps 5 --n 101 --seed 7 --out "$tmp/m.npy" --png "$tmp/m.png"
    expect 0 'NFE 5' sample --ckpt "$ck" --solver euler --steps 5 --n 101 --seed 7 --out "$tmp/e.npy" --png "$tmp/e.png"
    expect 0 'NFE 20' sample --ckpt "$ck" --solver rk4 --steps 5 --n 101 --seed 7 --out "$tmp/s2.npy" --png "$tmp/s2.png"
    check 'the same seed gives the same samples' cmp -s "$tmp/s.npy" "$tmp/s2.npy"
    check 'solvers differ' differ "$tmp/s.npy" "$tmp/e.npy"
    # Progress lines: none in a quick run, one past FMCL_PROGRESS_AFTER seconds (default 2).
    check 'sample: no progress line in a quick run' lacks "$tmp/err" '^sampling:'
    FMCL_PROGRESS_AFTER=0 expect 0 'NFE 5' sample --ckpt "$ck" --solver euler --steps 5 --n 101 --seed 7 \
        --out "$tmp/e.npy" --png "$tmp/e.png"
    check 'sample: a progress line past FMCL_PROGRESS_AFTER' \
        grep -q '^sampling: 20% (1 of 5 model evaluations)  ETA' "$tmp/err"
    expect 0 'NFE 20' sample --ckpt "$ck" --solver rk4-38 --steps 5 --n 101 --seed 7 --out "$tmp/r38.npy" --png "$tmp/r38.png"
    check 'rk4-38 is not rk4' differ "$tmp/s.npy" "$tmp/r38.npy"
    expect 0 'sampled 101 points with heun on a 6-point grid: NFE 10' sample --ckpt "$ck" \
        --solver heun --grid 0,0.2,0.4,0.6,0.8,1 --n 101 --seed 7 --out "$tmp/h.npy" --png "$tmp/h.png"
    expect 0 'NFE 10' sample --ckpt "$ck" --solver heun --steps 5 --n 101 --seed 7 --out "$tmp/h2.npy" --png "$tmp/h2.png"
    check 'a grid of uniform points equals --steps' cmp -s "$tmp/h.npy" "$tmp/h2.npy"
    expect 1 'time 0.33 lies between the points 0.2 and 0.4' sample --ckpt "$ck" --steps 5 --n 101 \
        --times 0.33 --out "$tmp/y.npy"
    # dopri5 and states at --times: T x N x D, the last state the sample itself.
    expect 0 'dopri5 \(atol 1e-05, rtol 1e-05\): NFE [0-9]+, [0-9]+ accepted and [0-9]+ rejected' \
        sample --ckpt "$ck" --solver dopri5 --n 101 --seed 7 --times 0,0.5,1 --traj "$tmp/tr.npy" \
        --out "$tmp/d.npy" --png "$tmp/d.png"
    check_npy "$tmp/d.npy" 101 2
    check 'the --traj file holds 3 x 101 x 2 states' grep -qa "'shape': (3, 101, 2)" "$tmp/tr.npy"
    check 'the state at t = 1 in --traj is the sample' \
        same "$(tail -c 808 "$tmp/tr.npy" | od -An -tx1)" "$(tail -c 808 "$tmp/d.npy" | od -An -tx1)"
    expect 1 'dopri5: 1 attempted steps .*--max-steps' sample --ckpt "$ck" --solver dopri5 --n 101 \
        --max-steps 1 --out "$tmp/y.npy"

    # --x0: start from given points (the samples above); their count wins.
    expect 0 'sampled 101 points with euler, 3 steps: NFE 3' \
        sample --ckpt "$ck" --x0 "$tmp/s.npy" --solver euler --steps 3 --out "$tmp/x.npy" --png "$tmp/x.png"
    check_npy "$tmp/x.npy" 101 2
    make_npy "$tmp/p3.npy" 4 3
    expect 1 'has 3 columns but the model .* is 2-dimensional' sample --ckpt "$ck" --x0 "$tmp/p3.npy" --out "$tmp/y.npy"
    check 'no samples after a bad --x0' test ! -e "$tmp/y.npy"

    # Damaged or foreign checkpoints.
    head -c 100 "$ck" >"$tmp/trunc.safetensors"
    expect 1 'fmcl: error: .*trunc\.safetensors' sample --ckpt "$tmp/trunc.safetensors" --out "$tmp/y.npy"
    make_foreign_safetensors "$tmp/foreign.safetensors"
    expect 1 'fmcl: error: .*foreign\.safetensors' sample --ckpt "$tmp/foreign.safetensors" --out "$tmp/y.npy"

    # Likelihood: nats and bits/dim (= nats / (2 ln 2)) with standard errors, on fresh
    # points of the set the checkpoint names, on a file's rows; NFE; PNG; repeatable.
    local nll_re='NLL (-?[0-9.]+) \+- ([0-9.]+) nats, (-?[0-9.]+) \+- ([0-9.]+) bits/dim \(mean \+- standard error over 40 points, D = 2\)'
    expect 0 "$nll_re" nll --ckpt "$ck" --n 40 --solver rk4 --steps 4
    check 'nll: 40 fresh checkerboard points' grep -q '^data: 40 fresh checkerboard points' "$tmp/out"
    check 'nll: rk4 4 steps takes NFE 16' grep -q 'NFE 16 in all, at most 16 per solve' "$tmp/out"
    check 'nll: bits/dim = nats / (2 ln 2), errors too' awk '/^NLL/ { n = $2; ns = $4; b = $6; bs = $8;
        d = n / (2 * log(2)) - b; e = ns / (2 * log(2)) - bs; exit !(d * d < 1e-8 && e * e < 1e-8 && ns > 0) }' "$tmp/out"
    grep '^NLL' "$tmp/out" >"$tmp/nll1"
    expect 0 "$nll_re" nll --ckpt "$ck" --n 40 --solver rk4 --steps 4 --out "$tmp/nll.npy"
    check 'nll repeats bit for bit' same "$(grep '^NLL' "$tmp/out")" "$(cat "$tmp/nll1")"
    check 'nll --out: written' grep -q "wrote .*/nll\.npy (40 NLLs, in nats, in the order of the points)" "$tmp/out"
    check_npy "$tmp/nll.npy" 40
    check 'nll --out: the mean of the 40 NLLs is the printed one, to 6 digits' \
        npy_mean "$tmp/nll.npy" "$(awk '/^NLL/ { print $2 }' "$tmp/out")" 6
    expect 2 '--out .*nll\.txt: per-point NLLs are written as \.npy' nll --ckpt "$ck" --out "$tmp/nll.txt"
    expect 0 'Hutchinson, 3 probe\(s\) per point: 3 solve\(s\), NFE 6 in all' \
        nll --ckpt "$ck" --n 40 --solver midpoint --steps 1 --hutchinson 3
    expect 0 'wrote .*/nll\.png \(density on a 16 x 16 grid' nll --ckpt "$ck" --n 40 --png "$tmp/nll.png" --grid 16
    check 'nll: dopri5 by default' grep -q '^solver: dopri5 (atol 1e-05, rtol 1e-05), exact divergence' "$tmp/out"
    check_png "$tmp/nll.png"
    expect 0 'NLL .* over 101 points' nll --ckpt "$ck" --data "$tmp/s.npy" --solver euler --steps 2 \
        --out "$tmp/fwd.npy"
    # The points in reverse order give their NLLs in reverse order.
    local off=$((10 + $(le_uint "$tmp/s.npy" 8 2)))
    { head -c $off "$tmp/s.npy"; for i in $(seq 100 -1 0); do
        tail -c +$((off + 8 * i + 1)) "$tmp/s.npy" | head -c 8; done; } >"$tmp/rev.npy"
    expect 0 'NLL .* over 101 points' nll --ckpt "$ck" --data "$tmp/rev.npy" --solver euler --steps 2 \
        --out "$tmp/bwd.npy"
    check 'nll --out: one NLL per point, in the order of the points' \
        same "$(npy_values "$tmp/fwd.npy" | tac | awk '{ printf "%.4f\n", $1 }')" \
        "$(npy_values "$tmp/bwd.npy" | awk '{ printf "%.4f\n", $1 }')"
    expect 1 '--n 500: .*s\.npy holds only 101 points' nll --ckpt "$ck" --data "$tmp/s.npy" --n 500
    expect 1 'has 3-dimensional points but the model .* is 2-dimensional' nll --ckpt "$ck" --data "$tmp/p3.npy"
    expect 2 "--data: unknown data set 'swissroll'" nll --ckpt "$ck" --data swissroll

    # Image data: a 16-image 8 x 8 IDX set, 3 steps; grids of data and samples,
    # the image metadata, sampling to a grid, bits/dim with the +7 offset.
    make_idx "$tmp/tiny" 16 8 8
    check 'the IDX file is 16 + 1024 bytes' test "$(size "$tmp/tiny-images-idx3-ubyte")" -eq 1040
    FMCL_PROGRESS_AFTER=0 expect 0 'pictures: .*/img/data\.png .*/img/samples\.png' train \
        --data "idx:$tmp/tiny-images-idx3-ubyte" --width 16 --depth 1 --batch 8 --steps 3 --hflip \
        --log-every 1 --out "$tmp/img"
    check 'image run: sampling the pictures shows progress (FMCL_PROGRESS_AFTER=0)' \
        grep -q "^sampling the picture's images: [0-9]*% (1 of [0-9]* model evaluations)" "$tmp/err"
    check 'image run: 16 images with labels' grep -q 'data: idx:.* (16 images of 1 x 8 x 8, 10 classes)' "$tmp/err"
    check 'image run: MLP 65-16x1-64' grep -q 'MLP 65-16x1-64' "$tmp/err"
    # 16 images: 4 columns of 8 + 2 border pixels, + 2; 64 samples: 8 columns.
    check 'data.png is a 4 x 4 grid (42x42)' test "$(png_size "$tmp/img/data.png")" = 42x42
    check 'samples.png is an 8 x 8 grid (82x82)' test "$(png_size "$tmp/img/samples.png")" = 82x82
    head -c 4096 "$tmp/img/model.safetensors" >"$tmp/img.head"
    for kv in '"image_channels" *: *"1"' '"image_height" *: *"8"' '"image_width" *: *"8"' \
        '"pixel_bits" *: *"8"' '"hflip" *: *"1"' '"data" *: *"idx:'; do
        check "image metadata holds $kv" grep -aqE "$kv" "$tmp/img.head"
    done
    expect 0 'wrote .*/g\.png \(10 samples of 1 x 8 x 8 in a grid of 4 columns\)' \
        sample --ckpt "$tmp/img/model.safetensors" --n 10 --steps 2 --out "$tmp/g.npy" --png "$tmp/g.png"
    check_npy "$tmp/g.npy" 10 64
    check 'the sample grid is 42x32 pixels' test "$(png_size "$tmp/g.png")" = 42x32
    local img_re='NLL ([0-9.]+) \+- [0-9.]+ nats, ([0-9.]+) \+- [0-9.]+ bits/dim \(of the dequantised 8-bit data; mean \+- standard error over 5 images, D = 64\)'
    expect 0 "$img_re" nll --ckpt "$tmp/img/model.safetensors" --solver euler --steps 2 --limit 5 \
        --out "$tmp/img_nll.npy"
    check 'nll --out on images: bits/dim' grep -q '(5 NLLs, in bits/dim,' "$tmp/out"
    check 'nll --out on images: their mean is the printed bits/dim' \
        npy_mean "$tmp/img_nll.npy" "$(awk '/^NLL/ { print $6 }' "$tmp/out")" 6
    check 'nll on images: Hutchinson by default' grep -q 'Hutchinson, 1 probe(s) per point' "$tmp/out"
    check 'nll on images: bits/dim = nats / (64 ln 2), the density of x 7 less' awk '
        /^NLL/ { n = $2; b = $6 }
        /^\(bits\/dim/ && match($0, /gives -?[0-9.]+/) { x = substr($0, RSTART + 6, RLENGTH - 6) + 0 }
        END { d = n / (64 * log(2)) - b; e = b - 7 - x; exit !(d * d < 1e-6 && e * e < 1e-6) }' "$tmp/out"
    expect 2 '--n is for built-in sets and \.npy files; for the image set .* use --limit N' \
        nll --ckpt "$tmp/img/model.safetensors" --n 5
    expect 2 '--limit is for image sets' nll --ckpt "$ck" --limit 5
    expect 1 'is an image set but .* is not an image model' nll --ckpt "$ck" --data "idx:$tmp/tiny-images-idx3-ubyte"

    # Class-conditional: the tiny set's 10 labels (i mod 10), label dropout 0.2.
    # samples.png and sample's grid have one row per class (10 rows of 10 + 2
    # pixels, + 2); a guided NFE counts once; --trajectory shows 5 times.
    local cond="$tmp/cond/model.safetensors"
    FMCL_PROGRESS_AFTER=0 expect 0 'conditioned on 10 classes \(one-hot inputs\), label dropout 0.2' \
        train --cond --label-drop 0.2 --data "idx:$tmp/tiny-images-idx3-ubyte" --width 16 --depth 1 \
        --batch 8 --steps 3 --out "$tmp/cond"
    check 'conditional run: sampling the class grid shows progress' \
        grep -q '^sampling the class grid: [0-9]*% ' "$tmp/err"
    check 'conditional run: MLP 75-16x1-64' grep -q 'MLP 75-16x1-64' "$tmp/err"
    check 'conditional samples.png: 10 rows of 8 (82x102)' test "$(png_size "$tmp/cond/samples.png")" = 82x102
    head -c 4096 "$cond" >"$tmp/cond.head"
    for kv in '"classes" *: *"10"' '"label_drop" *: *"0.2"'; do
        check "conditional metadata holds $kv" grep -aqE "$kv" "$tmp/cond.head"
    done
    check 'unconditional metadata has no classes' lacks "$tmp/img.head" '"classes"'
    expect 0 'one row per class: 10 rows of 3 samples of 1 x 8 x 8' sample --ckpt "$cond" --n 3 \
        --cfg 1.5 --steps 4 --out "$tmp/c.npy" --png "$tmp/c.png"
    check 'guided sampling: NFE 8 (midpoint, 4 steps)' grep -q 'NFE 8,' "$tmp/out"
    check_npy "$tmp/c.npy" 30 64
    check 'the class grid is 32x102 pixels' test "$(png_size "$tmp/c.png")" = 32x102
    expect 0 'wrote .*/t\.png \(5 samples in rows, their states at 5 times in columns\)' \
        sample --ckpt "$cond" --class 4 --n 5 --cfg 2 --steps 4 --out "$tmp/c4.npy" \
        --png "$tmp/c4.png" --trajectory "$tmp/t.png"
    check 'the trajectory picture is 52x52 pixels' test "$(png_size "$tmp/t.png")" = 52x52
    check 'one class: a plain grid (32x22)' test "$(png_size "$tmp/c4.png")" = 32x22
    expect 0 "$img_re" nll --ckpt "$cond" --solver euler --steps 2 --limit 5
    expect 0 'resuming .*cond/model\.safetensors at step 3 of 5' train --resume "$tmp/cond" --steps 5
    expect 2 '--class 10: the model in .* has 10 classes, 0 to 9' sample --ckpt "$cond" --class 10
    expect 2 '--x0 gives the points of one class: add --class K' sample --ckpt "$cond" --x0 "$tmp/g.npy"
    expect 2 '--class is for class-conditional models, and .*img/model\.safetensors was trained without classes' \
        sample --ckpt "$tmp/img/model.safetensors" --class 1
    expect 2 '--cfg is for class-conditional models' sample --ckpt "$tmp/img/model.safetensors" --cfg 2
    expect 2 '--trajectory draws images, and .* is not an image model' sample --ckpt "$ck" --trajectory "$tmp/t2.png"
    rm "$tmp/tiny-labels-idx1-ubyte"
    expect 1 '--cond: idx:.* has no labels' train --cond --data "idx:$tmp/tiny-images-idx3-ubyte" \
        --width 16 --depth 1 --batch 8 --steps 3 --out "$tmp/cond2"

    # fmcl bench --quick (about 10 s on a 2-core CPU): a table and well-formed JSON that
    # names the device, its driver and fmcl's version; figures are not checked. Not on
    # Mesa's rusticl (22.3), where a launch costs ~1 ms and a CLBlast GEMM ~20 ms: the
    # quick workloads take many minutes there (as test_e2e would; tests/meson.build).
    local key dev
    dev=$(grep '^\* [0-9]' "$tmp/devices")
    if [[ "$dev" == *"rusticl:"* ]]; then
        echo "SKIP (part): bench --quick takes many minutes on rusticl ($dev)"
    else
        expect 0 '^training, reference: MLP 3-512x4-2, batch 4096: [0-9.]+ steps/s' \
            bench --quick --json "$tmp/bench.json"
        check 'bench --json is well-formed JSON' python3 -m json.tool "$tmp/bench.json" /dev/null
        for key in fmcl_bench_format fmcl_version clblast_version device driver_version \
            platform peak_fma_gflops loss_fnv1a first_step; do
            check "bench --json holds \"$key\"" grep -q "\"$key\": " "$tmp/bench.json"
        done
        compare_tests "$tmp/bench.json"
    fi

    # The user's own points, and the default output folder runs/<name>-<time>/.
    expect 0 'pictures: runs/s-[0-9]{8}-[0-9]{6}/densities\.png' \
        train --data "$tmp/s.npy" --width 8 --depth 1 --batch 32 --steps 5
    local run
    run=$(ls -d runs/s-* 2>/dev/null | head -1)
    check 'runs/s-<time>/ was created' test -n "$run"
    if [ -n "$run" ]; then
        check_checkpoint "$run/model.safetensors" 8 1 5
        for p in densities trajectories loss; do check_png "$run/$p.png"; done
    fi
    resume_tests
    unet_tests
}

# A tiny U-Net (8 x 8 images, base 4, levels 1 and 2) end to end: training,
# its checkpoint, resuming bit for bit, sampling to a grid and a trajectory,
# bits/dim; configs that do not fit the images or the device are refused.
unet_tests() {
    local u=(--data "idx:$tmp/tiny-images-idx3-ubyte" --model unet --base 4 --mult 1,2 --groups 2
        --heads 2 --batch 4 --seed 3 --log-every 2)
    expect 0 'pictures: .*/u-full/data\.png' train "${u[@]}" --steps 4 --out "$tmp/u-full"
    check 'U-Net run: the header names the U-Net' grep -qE \
        'U-Net base 4, mult 1,2, 1 block, attention at 4, 2 heads, 2 groups \([0-9]+ parameters\)' "$tmp/err"
    check 'U-Net run: its device memory' grep -qE 'device memory of training: [0-9.]+ MiB at batch 4' "$tmp/err"
    check 'U-Net samples.png is a 4 x 4 grid (42x42)' test "$(png_size "$tmp/u-full/samples.png")" = 42x42
    head -c 65536 "$tmp/u-full/model.safetensors" >"$tmp/u.head" # a 54 KB header
    local kv
    for kv in '"format" *: *"fmcl-unet"' '"mult" *: *"1,2"' '"attn_levels" *: *"2"' \
        '"ema\.time_embed\.0\.weight"' '"optim\.exp_avg\.out\.2\.weight"' '"image_height" *: *"8"'; do
        check "U-Net checkpoint holds $kv" grep -aqE "$kv" "$tmp/u.head"
    done
    expect 0 'pictures:' train "${u[@]}" --steps 2 --out "$tmp/u-half"
    expect 0 'resuming .*u-half/model\.safetensors at step 2 of 4' train --resume "$tmp/u-half" --steps 4
    check 'U-Net resumed: the same checkpoint as the uninterrupted run' \
        cmp -s "$tmp/u-full/model.safetensors" "$tmp/u-half/model.safetensors"
    # --dropout: named in the header and the metadata (only then), resumed bit for bit.
    expect 0 'pictures:' train "${u[@]}" --dropout 0.1 --steps 4 --out "$tmp/ud-full"
    check 'U-Net dropout run: the header names it' grep -q '2 groups, dropout 0.1 (' "$tmp/err"
    head -c 65536 "$tmp/ud-full/model.safetensors" >"$tmp/ud.head"
    check 'U-Net dropout checkpoint holds "dropout"' grep -aqE '"dropout" *: *"0\.100000001"' \
        "$tmp/ud.head"
    check 'a U-Net checkpoint without dropout has no "dropout" key' \
        lacks "$tmp/u.head" '"dropout"'
    check 'dropout changes the trained weights' \
        differ "$tmp/u-full/model.safetensors" "$tmp/ud-full/model.safetensors"
    expect 0 'pictures:' train "${u[@]}" --dropout 0.1 --steps 2 --out "$tmp/ud-half"
    expect 0 'resuming .*ud-half/model\.safetensors at step 2 of 4' train --resume "$tmp/ud-half" \
        --steps 4
    check 'U-Net dropout resumed: the same checkpoint as the uninterrupted run' \
        cmp -s "$tmp/ud-full/model.safetensors" "$tmp/ud-half/model.safetensors"
    expect 0 'wrote .*/ug\.png \(6 samples of 1 x 8 x 8 in a grid of 3 columns\)' \
        sample --ckpt "$tmp/u-full/model.safetensors" --n 6 --steps 4 --out "$tmp/ug.npy" \
        --png "$tmp/ug.png" --trajectory "$tmp/ut.png"
    check_npy "$tmp/ug.npy" 6 64
    check 'the U-Net trajectory picture is 52x62 pixels' test "$(png_size "$tmp/ut.png")" = 52x62
    expect 0 'NLL .* bits/dim \(of the dequantised 8-bit data; .* over 3 images, D = 64\)' \
        nll --ckpt "$tmp/u-full/model.safetensors" --solver euler --steps 2 --limit 3
    check 'U-Net nll: Hutchinson by default' grep -q 'Hutchinson, 1 probe(s) per point' "$tmp/out"
    unet_cond_tests
    expect 2 '--attn-res 3: no level of the U-Net has that resolution' train "${u[@]}" --attn-res 3 \
        --out "$tmp/u-bad"
    expect 2 '--model unet on 1x8x8 images: ' train "${u[@]}" --mult 1,2,2,2,2 --out "$tmp/u-bad"
    expect 2 '--model unet on 1x8x8 images: .*dropout must be in \[0, 1\)' train "${u[@]}" \
        --dropout 1 --out "$tmp/u-bad"
    expect 1 'training with batch 1000000 needs .*a batch of [0-9]+ fits: use --batch [0-9]+ or smaller' \
        train "${u[@]}" --batch 1000000 --steps 1 --out "$tmp/u-big"
    check 'a refused run leaves no folder' test ! -e "$tmp/u-big"
}

# A tiny class-conditional U-Net (label_emb added to the time embedding) on
# 16 labelled 8 x 8 images (labels i mod 10): one row per class in
# samples.png and in sample's grid, guidance, resuming bit for bit.
unet_cond_tests() {
    make_idx "$tmp/uc" 16 8 8
    local uc=(--data "idx:$tmp/uc-images-idx3-ubyte" --model unet --base 4 --mult 1,2 --groups 2
        --heads 2 --batch 4 --seed 3 --log-every 2 --cond --label-drop 0.25)
    expect 0 'conditioned on 10 classes \(label embedding added to the time embedding\), label dropout 0.25' \
        train "${uc[@]}" --steps 4 --out "$tmp/uc-full"
    check 'conditional U-Net samples.png: 10 rows of 8 (82x102)' \
        test "$(png_size "$tmp/uc-full/samples.png")" = 82x102
    head -c 65536 "$tmp/uc-full/model.safetensors" >"$tmp/uc.head"
    local kv
    for kv in '"classes" *: *"10"' '"label_drop" *: *"0.25"' '"label_emb\.weight"' \
        '"ema\.label_emb\.weight"' '"format" *: *"fmcl-unet"'; do
        check "conditional U-Net checkpoint holds $kv" grep -aqE "$kv" "$tmp/uc.head"
    done
    check 'unconditional U-Net checkpoint: no classes, no label_emb' \
        lacks "$tmp/u.head" '"classes"|label_emb'
    expect 0 'pictures:' train "${uc[@]}" --steps 2 --out "$tmp/uc-half"
    expect 0 'resuming .*uc-half/model\.safetensors at step 2 of 4' train --resume "$tmp/uc-half" --steps 4
    check 'conditional U-Net resumed: the same checkpoint as the uninterrupted run' \
        cmp -s "$tmp/uc-full/model.safetensors" "$tmp/uc-half/model.safetensors"
    expect 0 'one row per class: 10 rows of 3 samples of 1 x 8 x 8' \
        sample --ckpt "$tmp/uc-full/model.safetensors" --n 3 --cfg 1.5 --steps 4 \
        --out "$tmp/ucg.npy" --png "$tmp/ucg.png"
    check 'conditional U-Net guided sampling: NFE 8 (midpoint, 4 steps)' grep -q 'NFE 8,' "$tmp/out"
    check_npy "$tmp/ucg.npy" 30 64
    check 'the conditional U-Net class grid is 32x102 pixels' test "$(png_size "$tmp/ucg.png")" = 32x102
    expect 0 'wrote .*/uc4\.png' sample --ckpt "$tmp/uc-full/model.safetensors" --class 4 --n 5 \
        --cfg 2 --steps 4 --out "$tmp/uc4.npy" --png "$tmp/uc4.png"
    check 'conditional U-Net, one class: a plain grid (32x22)' test "$(png_size "$tmp/uc4.png")" = 32x22
    expect 2 '--class 10: the model in .* has 10 classes, 0 to 9' \
        sample --ckpt "$tmp/uc-full/model.safetensors" --class 10
}

# Resuming: N steps equal N/2 steps and a resume to N, file for file; a run
# writing a checkpoint every step is killed (SIGKILL) at random times and
# resumed each time from what it left: the checkpoint left behind always
# loads, and the finished run is the uninterrupted one, bit for bit.
resume_tests() {
    local r=(--width 16 --depth 2 --batch 64 --seed 4 --ema 0.99 --warmup 5 --clip 1 --log-every 10)
    expect 0 'pictures:' train "${r[@]}" --steps 40 --out "$tmp/r-full"
    expect 0 'pictures:' train "${r[@]}" --steps 20 --out "$tmp/r-half"
    expect 0 'resuming .*r-half/model\.safetensors at step 20 of 40' train --resume "$tmp/r-half" --steps 40
    check 'resumed: the same checkpoint as the uninterrupted run' \
        cmp -s "$tmp/r-full/model.safetensors" "$tmp/r-half/model.safetensors"
    check 'resumed: the same loss.csv (41 lines)' cmp -s "$tmp/r-full/loss.csv" "$tmp/r-half/loss.csv"
    expect 1 'the run has done 40 steps already, more than --steps 30: give --steps 40 or more' \
        train --resume "$tmp/r-half" --steps 30
    head -c 4096 "$tmp/r-full/model.safetensors" >"$tmp/r.head"
    local kv
    for kv in '"ema\.0\.weight"' '"optim\.exp_avg\.0\.weight"' '"optim\.exp_avg_sq\.4\.bias"' \
        '"step" *: *"40"' '"ema" *: *"0\.99"' '"warmup" *: *"5"' '"lr_schedule" *: *"constant"'; do
        check "checkpoint holds $kv" grep -aqE "$kv" "$tmp/r.head"
    done
    # Sampling takes the EMA unless told otherwise.
    expect 0 'weights: their EMA' sample --ckpt "$tmp/r-full/model.safetensors" --n 50 --out "$tmp/ema.npy"
    expect 0 'weights: as trained' sample --ckpt "$tmp/r-full/model.safetensors" --n 50 --raw-weights \
        --out "$tmp/raw.npy"
    check 'EMA and trained weights sample differently' differ "$tmp/ema.npy" "$tmp/raw.npy"
    expect 0 'weights: their EMA' nll --ckpt "$tmp/r-full/model.safetensors" --n 20 --solver euler --steps 2

    local k=(--width 64 --depth 2 --batch 256 --steps 300 --ckpt-every 1 --ema 0.99 --warmup 20
        --lr-schedule cosine --clip 1 --seed 9 --log-every 10)
    expect 0 'pictures:' train "${k[@]}" --out "$tmp/k-ref"
    expect 1 'cosine learning rate decays to 0 at step 300' train --resume "$tmp/k-ref" --steps 400
    local i pid kills=0 torn=0
    for i in 1 2 3 4 5 6; do
        # Once training has started, at a random point of the next 0.5 s
        # (here about one kill in six lands inside a write).
        if [ -e "$tmp/k/model.safetensors" ]; then
            start_run "$tmp/k.log" --resume "$tmp/k"
        else
            start_run "$tmp/k.log" "${k[@]}" --out "$tmp/k"
        fi
        sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.5 * r / 32768 }')"
        kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1))
        wait "$pid" 2>/dev/null
        ls "$tmp/k"/model.safetensors.tmp.* >/dev/null 2>&1 && torn=$((torn + 1))
        if [ -e "$tmp/k/model.safetensors" ]; then
            expect 0 'sampled 4 points' sample --ckpt "$tmp/k/model.safetensors" --n 4 --steps 2 \
                --out "$tmp/k.npy"
        fi
    done
    echo "resume: $kills of 6 runs killed, $torn of them while writing a checkpoint"
    check "a run was killed ($kills of 6)" test "$kills" -ge 1
    if [ -e "$tmp/k/model.safetensors" ]; then
        expect 0 'pictures:' train --resume "$tmp/k"
    else
        expect 0 'pictures:' train "${k[@]}" --out "$tmp/k"
    fi
    check 'killed and resumed: the checkpoint of the uninterrupted run' \
        cmp -s "$tmp/k/model.safetensors" "$tmp/k-ref/model.safetensors"
    check 'killed and resumed: the losses of the uninterrupted run' \
        cmp -s "$tmp/k/loss.csv" "$tmp/k-ref/loss.csv"
    check 'no unfinished checkpoint writes are left' \
        sh -c "[ -d '$tmp/k' ] && ! ls '$tmp/k' | grep -q '\\.tmp\\.'"
}

# fmcl bench --compare on FILE (a bench --json file) and variants of it: the
# same run is bit-identical; other losses DIFFER, another version and another
# workload are marked, a newer format is refused; the bar chart is a PNG.
compare_tests() {
    local f=$1 row='^  training, reference +steps/s'
    expect 0 "$row +[0-9.e+]+ +[0-9.e+]+ +1\.00x bit-identical" \
        bench --compare "$f" "$f" --png "$tmp/cmp.png"
    check_png "$tmp/cmp.png"
    sed 's/"loss_mean_4g": [0-9.e+-]*/"loss_mean_4g": 1234/' "$f" >"$tmp/b-loss.json"
    expect 0 "$row .* DIFFER" bench --compare "$f" "$tmp/b-loss.json"
    check 'the checksums are listed' grep -qE '^    \[2\] 1234$' "$tmp/out"
    sed 's/"fmcl_version": "[^"]*"/"fmcl_version": "9.9.9"/' "$f" >"$tmp/b-version.json"
    expect 0 "not \\[1\\]'s fmcl" bench --compare "$f" "$tmp/b-version.json"
    sed 's/"points": [0-9]*/"points": 7/' "$f" >"$tmp/b-points.json"
    expect 0 '^  sampling .* other workload$' bench --compare "$f" "$tmp/b-points.json"
    sed 's/"fmcl_bench_format": 1/"fmcl_bench_format": 2/' "$f" >"$tmp/b-format.json"
    expect 1 'b-format.json: written in format 2 .* by a newer fmcl' \
        bench --compare "$f" "$tmp/b-format.json"
}

# fmcl check on the default device: a table of OK lines, the training lines,
# a passing summary, the same as JSON; an unknown device lists those found.
check_tests() {
    pick_device
    expect 0 '^  gemm NT +M=37 N=129 K=3 +OK +[0-9.e+-]+ +[0-9.e+-]+$' check
    local lines
    lines=$(grep -cE '^  [a-z_A-Z0-9 ]+ +[^ ].* (OK|FAIL|NOT SUPPORTED) +[0-9.e+-]+ +[0-9.e+-]+$' "$tmp/out")
    check "check printed 40 or more result lines ($lines)" test "$lines" -ge 40
    check 'every result line is OK' test "$(grep -cE ' OK +[0-9.e+-]+ +[0-9.e+-]+$' "$tmp/out")" -eq "$lines"
    check 'training loss line' grep -qE '^  training loss +MLP .* OK ' "$tmp/out"
    check 'training params line' grep -qE '^  training params +MLP .* OK ' "$tmp/out"
    check 'summary: passed' grep -qE "^  [0-9]+:[0-9]+ +.*: $lines OK, 0 FAIL, 0 NOT SUPPORTED in [0-9.]+ s: passed$" "$tmp/out"
    expect 0 '"passed": true' check --json
    check 'check --json has one OK status per result' \
        test "$(grep -c '"status": "OK"' "$tmp/out")" -eq "$lines"
    check 'check --json has no failures' grep -q '"fail": 0, "not_supported": 0' "$tmp/out"
    expect 1 'matches no OpenCL device.*Devices found' check --device no-such-device
    check 'the unknown device spec lists the devices' grep -qE '^  [0-9]+:[0-9]+ ' "$tmp/err"
}

. "$here/cli_safety.sh"

case "$MODE" in
usage)
    usage_tests
    safety_usage_tests
    ;;
run) run_tests ;;
check) check_tests ;;
safety) safety_run_tests ;;
*)
    echo "usage: test_cli.sh FMCL usage|run|check|safety"
    exit 2
    ;;
esac
echo "$passed passed, $failed failed"
if [ "$passed" -eq 0 ]; then echo "FAIL: no check ran"; exit 1; fi
[ "$failed" -eq 0 ]
