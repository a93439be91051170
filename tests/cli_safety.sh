# Sourced by test_cli.sh (its helpers: expect, check, differ, lacks, same,
# le_uint, make_npy, check_npy, check_png, pick_device, start_run): work is
# never lost and a run is never overwritten. Interrupted runs save and say
# how to go on; a second writer is refused; outputs are checked before any
# work; non-finite weights and samples are refused; a resumed run accepts
# its own flags.

# A folder that no fmcl process can write: read-only by its mode, or /proc's
# (root writes through any mode).
unwritable_dir() {
    if [ "$(id -u)" = 0 ]; then
        echo /proc/1
    else
        mkdir -p "$tmp/ro" && chmod 555 "$tmp/ro" && echo "$tmp/ro"
    fi
}

# No device needed: names and folders refused before any work.
safety_usage_tests() {
    # A folder that holds a run is not trained into again without --overwrite.
    mkdir -p "$tmp/held"
    printf 'x' >"$tmp/held/model.safetensors"
    expect 1 "--out .*held already holds a run .*: continue it with \`fmcl train --resume .*held\`, or choose a fresh --out; --overwrite replaces it" \
        train --steps 1 --out "$tmp/held"
    check 'the refused run left the checkpoint alone' same "$(cat "$tmp/held/model.safetensors")" x

    # An --out that cannot be written is found before the device is opened.
    local ro
    ro=$(unwritable_dir)
    expect 1 "cannot write into $ro" train --steps 1 --out "$ro"
    check 'no training step before the unwritable --out was found' lacks "$tmp/err" '^step |fmcl train: checkerboard'

    # Pictures are PNG files, named so.
    expect 2 '--png .*s\.jpg: fmcl draws PNG pictures only; give a name ending in \.png, or none' \
        sample --ckpt "$tmp/nope.safetensors" --png "$tmp/s.jpg"
    expect 2 '--png picture: fmcl draws PNG pictures only' sample --ckpt m --png picture
    expect 2 '--trajectory t\.jpeg: fmcl draws PNG pictures only' sample --ckpt m --trajectory t.jpeg
    expect 2 '--png d\.jpg: fmcl draws PNG pictures only' nll --ckpt m --png d.jpg
    check 'no picture named after the refused names' test ! -e "$tmp/s.jpg" -a ! -e picture
}

safety_run_tests() {
    pick_device
    local k=(--width 64 --depth 2 --batch 256 --steps 3000 --seed 9 --log-every 10)
    local pid rc
    expect 0 'pictures:' train "${k[@]}" --out "$tmp/ref"

    # Ctrl-C: the step in flight finishes, the checkpoint is saved, the command
    # that continues is printed; continuing gives the uninterrupted run's bits.
    start_run "$tmp/int.log" "${k[@]}" --out "$tmp/int"
    sleep 0.3
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    check "SIGINT: exit 130 (got $rc)" test "$rc" -eq 130
    check 'SIGINT: says where it stopped and how to continue' \
        grep -qE '^fmcl train: interrupted \(SIGINT\) at step [0-9]+ of 3000; .*int/model\.safetensors holds the run so far' "$tmp/int.log"
    check 'SIGINT: prints the exact resume command' \
        grep -qxF "    fmcl train --resume $tmp/int" "$tmp/int.log"
    check 'SIGINT: the checkpoint is written' test -s "$tmp/int/model.safetensors"
    expect 0 'pictures:' train --resume "$tmp/int"
    check 'interrupted and resumed: the checkpoint of the uninterrupted run' \
        cmp -s "$tmp/int/model.safetensors" "$tmp/ref/model.safetensors"
    check 'interrupted and resumed: the losses of the uninterrupted run' \
        cmp -s "$tmp/int/loss.csv" "$tmp/ref/loss.csv"

    # SIGTERM: the same, exit 143.
    start_run "$tmp/term.log" "${k[@]}" --out "$tmp/term"
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    check "SIGTERM: exit 143 (got $rc)" test "$rc" -eq 143
    check 'SIGTERM: the checkpoint is written' test -s "$tmp/term/model.safetensors"
    check 'SIGTERM: prints the resume command' grep -qxF "    fmcl train --resume $tmp/term" "$tmp/term.log"

    # A second Ctrl-C stops at once; the checkpoint written before stays whole.
    start_run "$tmp/twice.log" "${k[@]}" --ckpt-every 100 --out "$tmp/twice"
    sleep 0.5
    kill -INT "$pid"
    sleep 0.02
    kill -INT "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    check "second SIGINT: exit 130 (got $rc)" test "$rc" -eq 130
    check 'second SIGINT: stopped at once, or saved first' \
        grep -qE 'stopped at once, without saving|interrupted \(SIGINT\) at step' "$tmp/twice.log"
    expect 0 'sampled 4 points' sample --ckpt "$tmp/twice/model.safetensors" --n 4 --out "$tmp/twice.npy"

    # Ctrl-C while sampling or computing an NLL: it says that nothing was written.
    local what ck="$tmp/ref/model.safetensors"
    for what in sample nll; do
        if [ "$what" = sample ]; then
            "$FMCL" sample --ckpt "$ck" --n 1000000 --steps 1000 --out "$tmp/long.npy" >"$tmp/long.log" 2>&1 &
        else
            "$FMCL" nll --ckpt "$ck" --n 100000 --solver rk4 --steps 1000 >"$tmp/long.log" 2>&1 &
        fi
        pid=$!
        for _ in $(seq 600); do
            grep -q '^weights: ' "$tmp/long.log" && break
            sleep 0.05
        done
        sleep 0.2
        kill -INT "$pid"
        wait "$pid"
        rc=$?
        check "$what: SIGINT: exit 130 (got $rc)" test "$rc" -eq 130
        check "$what: SIGINT: says that nothing was written" grep -qx 'fmcl: interrupted: nothing was written' "$tmp/long.log"
    done
    check 'sample: SIGINT: no samples' test ! -e "$tmp/long.npy" -a ! -e "$tmp/long.png"

    # One writer per run folder: a second run, or a resume, of a live run is
    # refused, naming the live one's pid; the live run is unharmed.
    start_run "$tmp/live.log" "${k[@]}" --ckpt-every 1 --out "$tmp/live"
    expect 1 "live is in use: fmcl process $pid is writing this run" train "${k[@]}" --out "$tmp/live"
    expect 1 "live is in use: fmcl process $pid is writing this run" train --resume "$tmp/live"
    expect 1 "live is in use: fmcl process $pid" train "${k[@]}" --out "$tmp/live" --overwrite
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    check "the live run was stopped by its own SIGINT only (exit $rc)" test "$rc" -eq 130
    expect 0 'sampled 4 points' sample --ckpt "$tmp/live/model.safetensors" --n 4 --out "$tmp/live.npy"

    # --out onto a finished run: refused, then replaced with --overwrite.
    local tiny=(--width 16 --depth 2 --batch 64 --steps 20 --seed 3 --log-every 5)
    expect 1 "ref already holds a run .*continue it with \`fmcl train --resume .*ref\`, or choose a fresh --out" \
        train "${tiny[@]}" --out "$tmp/ref"
    check 'the refused run left the checkpoint alone' \
        cmp -s "$tmp/ref/model.safetensors" "$tmp/int/model.safetensors"
    expect 0 'pictures:' train "${tiny[@]}" --out "$tmp/ref" --overwrite
    check '--overwrite replaced the checkpoint' differ "$tmp/ref/model.safetensors" "$tmp/int/model.safetensors"

    # A fresh run into a folder where a killed run left only its unfinished
    # first checkpoint write: the stale temporary file goes.
    mkdir -p "$tmp/torn" && printf 'partial' > "$tmp/torn/model.safetensors.tmp.AbC123"
    expect 0 'removed 1 unfinished checkpoint write' train "${tiny[@]}" --out "$tmp/torn"
    check 'the killed run'"'"'s temporary file was removed' test ! -e "$tmp/torn/model.safetensors.tmp.AbC123"

    # sample: outputs made or checked before sampling; the picture beside --out.
    expect 0 'wrote .*new/dir/s\.png' sample --ckpt "$ck" --n 50 --out "$tmp/new/dir/s.npy"
    check_npy "$tmp/new/dir/s.npy" 50 2
    check_png "$tmp/new/dir/s.png"
    check 'no samples.png in the current folder' test ! -e samples.png
    expect 0 'wrote .*n\.npy' sample --ckpt "$ck" --n 50 --out "$tmp/n.npy" --png none
    check '--png none: no picture' test ! -e none -a ! -e "$tmp/n.png"
    local ro
    ro=$(unwritable_dir)
    expect 1 "--out $ro/s\.npy: cannot write into the folder $ro" sample --ckpt "$ck" --n 50 --out "$ro/s.npy"
    check 'unwritable --out: refused before sampling' test ! -s "$tmp/out"
    expect 1 "--png $ro/s\.png: cannot write into the folder $ro" sample --ckpt "$ck" --n 50 \
        --out "$tmp/p.npy" --png "$ro/s.png"
    check 'unwritable --png: refused before sampling' test ! -e "$tmp/p.npy"
    expect 1 "--png $ro/d\.png: cannot write into the folder $ro" nll --ckpt "$ck" --n 20 --png "$ro/d.png"
    check 'unwritable nll --png: refused before the NLL' test ! -s "$tmp/out"

    # Non-finite weights: refused at load, naming the tensor; non-finite
    # samples are not written.
    cp "$ck" "$tmp/nan.safetensors"
    poke_f32 "$tmp/nan.safetensors" 0.weight 3 '\x00\x00\xc0\x7f' # NaN
    expect 1 "tensor '0\.weight' holds nan at element 3" sample --ckpt "$tmp/nan.safetensors" --n 50 \
        --out "$tmp/nan.npy"
    check 'a NaN weight: no samples written' test ! -e "$tmp/nan.npy" -a ! -e "$tmp/nan.png"
    cp "$ck" "$tmp/inf.safetensors"
    poke_f32 "$tmp/inf.safetensors" 4.bias 0 '\x00\x00\x80\x7f' # +Inf
    expect 1 "tensor '4\.bias' holds inf at element 0" nll --ckpt "$tmp/inf.safetensors" --n 20
    cp "$ck" "$tmp/huge.safetensors"
    local i
    for i in 0 1 2 3 4 5 6 7; do poke_f32 "$tmp/huge.safetensors" 2.weight "$i" '\x00\x00\x7f\x7f'; done
    expect 1 'of the 100 sampled values are NaN or infinite .*nothing was written' \
        sample --ckpt "$tmp/huge.safetensors" --n 50 --out "$tmp/huge.npy"
    check 'non-finite samples: nothing written' test ! -e "$tmp/huge.npy" -a ! -e "$tmp/huge.png"

    # Resuming with the run's own flags repeated: accepted; conflicting ones
    # refused, each named with the run's value.
    expect 0 'pictures:' train "${tiny[@]}" --steps 10 --out "$tmp/rf"
    expect 0 'resuming .*rf/model\.safetensors at step 10 of 20' train "${tiny[@]}" --out "$tmp/rf" \
        --resume "$tmp/rf"
    check 'resumed with its own flags: the uninterrupted run' cmp -s "$tmp/rf/model.safetensors" "$ck"
    expect 2 'flags that differ from the run.s settings: --width 32 \(the run.s: 16\), --lr 0\.01 \(the run.s: 0\.001\)' \
        train --width 32 --depth 2 --lr 0.01 --steps 30 --resume "$tmp/rf"
    expect 2 '--hflip does not apply to resuming this run' train --resume "$tmp/rf" --hflip
}

# poke_f32 FILE TENSOR INDEX BYTES: overwrite float INDEX of the tensor with
# the 4 bytes given as printf escapes.
poke_f32() {
    local f=$1 name=$2 idx=$3 bytes=$4 hlen start
    hlen=$(le_uint "$f" 0 8)
    start=$(head -c $((8 + hlen)) "$f" | tail -c "$hlen" |
        grep -o "\"$name\":{[^}]*}" | sed 's/.*"data_offsets":\[\([0-9]*\),.*/\1/')
    printf "$bytes" | dd of="$f" bs=1 seek=$((8 + hlen + start + 4 * idx)) conv=notrunc 2>/dev/null
}
