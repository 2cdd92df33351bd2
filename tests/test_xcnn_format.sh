#!/bin/sh
# xcnn convert and the .xcnn format through the command line: the shipped
# model converted, then predict / explain / info on the .xcnn give the
# ONNX's bytes; --fold-bn predicts as the ONNX does inference_only and is
# refused by explain; and convert's errors (usage: exit 2, others: exit 1,
# one line each, nothing left behind).
B=${XCNN_BUILD:-build}
X=$B/xcnn
T=$B/test_xcnn_format.tmp
rm -rf "$T"
mkdir -p "$T"
M=data/fashion_resnet.onnx
IMG=data/fashion/0_Ankle_boot.png
passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
expect() {
    code=$1; what=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    if [ "$rc" -eq "$code" ]; then ok "$what (exit $rc)"; else fail "$what: exit $rc, wanted $code: $(head -c 300 "$T/err")"; fi
}
one_line_error() { # one_line_error WHAT [TEXT]: one "xcnn: " line on stderr, containing TEXT
    n=$(wc -l <"$T/err")
    if [ "$n" -eq 1 ] && grep -q '^xcnn: ' "$T/err" && { [ -z "$2" ] || grep -q -- "$2" "$T/err"; }; then
        ok "$1: $(cat "$T/err")"
    else
        fail "$1: stderr was: $(cat "$T/err")"
    fi
}
same() { # same WHAT A B
    if cmp -s "$2" "$3"; then ok "$1"; else fail "$1 ($2 and $3 differ)"; fi
}

expect 0 "convert the shipped model" $X convert $M "$T/f.xcnn"
grep -q "64-byte aligned" "$T/out" && ok "convert says: $(cat "$T/out")" || fail "convert output: $(cat "$T/out")"
onnx_bytes=$(wc -c <$M); xcnn_bytes=$(wc -c <"$T/f.xcnn")
echo "     sizes: ONNX $onnx_bytes bytes, .xcnn $xcnn_bytes bytes"
expect 0 "convert --fold-bn" $X convert $M "$T/fb.xcnn" --fold-bn
grep -q "folded" "$T/out" && ok "convert --fold-bn says: $(tail -n 1 "$T/out")" || fail "convert --fold-bn output: $(cat "$T/out")"
echo "     --fold-bn: $(wc -c <"$T/fb.xcnn") bytes"

# Predictions: the .xcnn's bytes are the ONNX's (predict loads inference_only).
$X predict $M $IMG --top 10 --out "$T/p0.npy" >"$T/p0.txt" 2>&1
$X predict "$T/f.xcnn" $IMG --top 10 --out "$T/p1.npy" >"$T/p1.txt" 2>&1
$X predict "$T/fb.xcnn" $IMG --top 10 --out "$T/p2.npy" >"$T/p2.txt" 2>&1
[ -s "$T/p0.npy" ] && same "predict from .xcnn: output bit-identical to the ONNX's" "$T/p0.npy" "$T/p1.npy" || fail "predict on the ONNX"
same "predict from .xcnn: the same printed classes, scores and labels" "$T/p0.txt" "$T/p1.txt"
same "predict from the --fold-bn .xcnn: bit-identical to the ONNX (inference_only)" "$T/p0.npy" "$T/p2.npy"

# Explanations from the .xcnn: the ONNX's bytes.
for method in saliency gradcam integrated-gradients guided-gradcam; do
    $X explain $M $IMG --method $method --steps 8 --out "$T/e0.npy" >/dev/null 2>&1
    $X explain "$T/f.xcnn" $IMG --method $method --steps 8 --out "$T/e1.npy" >/dev/null 2>&1
    [ -s "$T/e0.npy" ] && same "explain --method $method from .xcnn: bit-identical" "$T/e0.npy" "$T/e1.npy" || fail "explain $method on the ONNX"
    rm -f "$T/e0.npy" "$T/e1.npy"
done
expect 1 "explain on the --fold-bn .xcnn (inference only)" $X explain "$T/fb.xcnn" $IMG --method saliency --out "$T/e2.npy"
one_line_error "explain on the --fold-bn .xcnn" "inference only"
[ ! -e "$T/e2.npy" ] && ok "nothing written by the refused explain" || fail "explain wrote $T/e2.npy"

# info prints as on the ONNX (the path, and the static-buffer line that
# differs for an .xcnn, aside).
$X info $M | sed 1d | grep -v '^static buffer' >"$T/i0"
$X info "$T/f.xcnn" | sed 1d | grep -v '^static buffer' >"$T/i1"
[ -s "$T/i0" ] && same "info on the .xcnn: the ONNX's table" "$T/i0" "$T/i1" || fail "info on the ONNX"

# .xcnn in, .xcnn out: the same file.
expect 0 "convert an .xcnn" $X convert "$T/f.xcnn" "$T/g.xcnn"
same "converting the .xcnn again gives the same bytes" "$T/f.xcnn" "$T/g.xcnn"
expect 0 "convert the --fold-bn .xcnn" $X convert "$T/fb.xcnn" "$T/gb.xcnn"
same "... and the inference-only one stays the same" "$T/fb.xcnn" "$T/gb.xcnn"

# Usage errors: exit 2.
expect 2 "convert with no arguments" $X convert
one_line_error "convert with no arguments" "usage: xcnn convert"
expect 2 "convert with no output" $X convert $M
expect 2 "convert with an unknown option" $X convert $M "$T/x.xcnn" --fold
one_line_error "unknown option" "unknown option '--fold'"
expect 2 "convert with a third file" $X convert $M "$T/x.xcnn" "$T/y.xcnn"
one_line_error "a third file" "unexpected argument"
expect 2 "--input-shape without a value" $X convert $M "$T/x.xcnn" --input-shape
expect 2 "--input-shape 0x0" $X convert $M "$T/x.xcnn" --input-shape 0x0
[ ! -e "$T/x.xcnn" ] && ok "usage errors write nothing" || fail "a usage error wrote $T/x.xcnn"
$X help | grep -q "xcnn convert MODEL OUT.xcnn" && ok "help lists convert" || fail "help does not list convert"

# Errors: exit 1, one line, nothing written, an old file left as it was.
expect 1 "a model that does not exist" $X convert "$T/none.onnx" "$T/x.xcnn"
one_line_error "a model that does not exist" "cannot open"
expect 1 "a model that is a directory" $X convert "$T" "$T/x.xcnn"
one_line_error "a model that is a directory" "not a regular file"
expect 1 "a model that is no model" $X convert tests/fixtures/plaincnn/input.npy "$T/x.xcnn"
one_line_error "a model that is no model"
[ ! -e "$T/x.xcnn" ] && ok "nothing written for a bad model" || fail "wrote $T/x.xcnn"
mkdir -p "$T/dir.xcnn"
expect 1 "an output that is a directory" $X convert $M "$T/dir.xcnn"
one_line_error "an output that is a directory" "is a directory"
expect 1 "an output in a missing directory" $X convert $M "$T/missing/x.xcnn"
one_line_error "an output in a missing directory" "cannot write"
printf 'old' >"$T/old.xcnn"
expect 1 "an ONNX the library refuses (truncated)" $X convert tests/data/hostile/truncated_model.onnx "$T/old.xcnn"
[ "$(cat "$T/old.xcnn")" = old ] && ok "a failed convert leaves the old output as it was" || fail "old output changed"
expect 1 "an ONNX that parses but does not plan (stride 0)" $X convert tests/data/hostile/conv_stride0.onnx "$T/old.xcnn"
one_line_error "stride 0" "does not load"
[ "$(cat "$T/old.xcnn")" = old ] && ok "... old output unchanged" || fail "old output changed"
ls "$T" | grep -q '\.tmp\.' && fail "temporary files left: $(ls "$T" | grep '\.tmp\.')" || ok "no temporary files left behind"

# A damaged .xcnn: refused by every command, naming the problem.
cp "$T/f.xcnn" "$T/bad.xcnn"
printf '\377' | dd of="$T/bad.xcnn" bs=1 seek=50000 conv=notrunc 2>/dev/null
expect 1 "predict on a damaged .xcnn" $X predict "$T/bad.xcnn" $IMG
one_line_error "predict on a damaged .xcnn" "checksum mismatch"
expect 1 "convert a damaged .xcnn" $X convert "$T/bad.xcnn" "$T/x.xcnn"
one_line_error "convert a damaged .xcnn" "checksum mismatch"
head -c 1000 "$T/f.xcnn" >"$T/cut.xcnn"
expect 1 "info on a truncated .xcnn" $X info "$T/cut.xcnn"
one_line_error "info on a truncated .xcnn" "truncated"

rm -rf "$T"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
