#!/bin/sh
# The command line against the model's limits (issue #14, items 9 and the
# argument audit): a thread count libgomp cannot start (--threads 100000
# was a segfault), a batch whose arena passes the 4 GiB cap (refused with
# one line naming --max-arena-mb instead of reserving tens of GB), and the
# --max-arena-mb flag itself.
B=${XCNN_BUILD:-build}
X=$B/xcnn
T=$B/test_reliability_model_cli.tmp
F=tests/fixtures/plaincnn
M=data/fashion_resnet.onnx
rm -rf "$T"
mkdir -p "$T"
passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# error WHAT NEEDLE CMD...: exit 1, one line "xcnn: ..." on stderr containing NEEDLE
error() {
    what=$1; needle=$2; shift 2
    run "$@"
    n=$(wc -l <"$T/err")
    if [ "$rc" -ge 128 ]; then fail "$what: killed by signal $((rc - 128))"
    elif [ "$rc" -eq 1 ] && [ "$n" -eq 1 ] && grep -q '^xcnn: ' "$T/err" && grep -q -- "$needle" "$T/err"
    then ok "$what: $(cat "$T/err")"
    else fail "$what: exit $rc (want 1, one line with '$needle'), stderr: $(head -c 300 "$T/err")"; fi
}
usage() {
    what=$1; shift
    run "$@"
    if [ "$rc" -ge 128 ]; then fail "$what: killed by signal $((rc - 128))"
    elif [ "$rc" -eq 2 ] && [ -s "$T/err" ]; then ok "usage error, exit 2: $what"
    else fail "$what: exit $rc (want 2), stderr: $(head -c 300 "$T/err")"; fi
}
works() {
    what=$1; shift
    run "$@"
    if [ "$rc" -eq 0 ]; then ok "$what"
    else fail "$what: exit $rc, stderr: $(head -c 300 "$T/err")"; fi
}

E="$X explain $F/model.onnx $F/input.npy --out $T/a.npy"
usage "explain --threads 100000" $E --method saliency --threads 100000
usage "explain --threads 1025" $E --method saliency --threads 1025
usage "bench --threads 100000" $X bench $F/model.onnx --threads 100000 --iters 1
works "explain --threads 3" $E --method saliency --threads 3

# plaincnn needs about 0.2 MB per batch item for explanations: 100000
# items are ~20 GB, over the default cap whatever the machine has.
error "integrated gradients --batch 100000" "max-arena-mb" \
    $E --method integrated-gradients --steps 100000 --batch 100000
error "bench --method forward-backward --batch 100000" "max-arena-mb" \
    $X bench $F/model.onnx --method forward-backward --batch 100000 --iters 1
works "integrated gradients --batch 1000 (0.2 GB) under the default cap" \
    $E --method integrated-gradients --steps 1000 --batch 1000

# --max-arena-mb: the cap, in MiB
error "explain --max-arena-mb 1 with a 1.5 MB model" "max-arena-mb" \
    $X explain $M data/fashion/0_Ankle_boot.png --method saliency --out $T/a.npy --max-arena-mb 1
run $X predict $M data/fashion/0_Ankle_boot.png --max-arena-mb 1
if [ "$rc" -eq 0 ]; then ok "predict --max-arena-mb 1: the inference_only arena fits"
else fail "predict --max-arena-mb 1: exit $rc: $(head -c 300 "$T/err")"; fi
error "info --max-arena-mb 1 with a 1.5 MB model" "max_arena_bytes" $X info $M --max-arena-mb 1
works "info --max-arena-mb 2" $X info $M --max-arena-mb 2
error "explain --batch 20 --max-arena-mb 3" "batch 20" \
    $E --method smoothgrad --samples 20 --batch 20 --max-arena-mb 3
works "explain --batch 20 --max-arena-mb 8" $E --method smoothgrad --samples 20 --batch 20 --max-arena-mb 8
for v in 0 -5 abc 1.5 1048577 99999999999999999999; do
    usage "explain --max-arena-mb $v" $E --method saliency --max-arena-mb "$v"
done
usage "explain --max-arena-mb without a value" $E --method saliency --max-arena-mb
usage "bench --max-arena-mb 0" $X bench $F/model.onnx --max-arena-mb 0

rm -rf "$T"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
