#!/bin/sh
# `xcnn evaluate` with deletion and insertion (METHODS.md, "Metrics"): the
# auc= line, the curve file's size (n + 1 floats), the flags, and the
# refusals (exit 2 for usage, 1 for errors, one line on stderr). The
# curves' values against float64 references are tested in C (test_curves).
B=${XCNN_BUILD:-build}
X=$B/xcnn
T=$B/test_evaluate_cli.tmp
mkdir -p "$T"
F=tests/fixtures/plaincnn   # 1 x 28 x 28: default step 4, 197 points
R=tests/fixtures/rescnn_bn  # 3 x 32 x 32
passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
expect() {
    code=$1; what=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    if [ "$rc" -eq "$code" ]; then ok "$what (exit $rc)"; else fail "$what: exit $rc, wanted $code: $(head -c 300 "$T/err")"; fi
}
one_line_error() {
    n=$(wc -l <"$T/err")
    if [ "$n" -eq 1 ] && grep -q '^xcnn: ' "$T/err"; then ok "$1: one line: $(cat "$T/err")"; else fail "$1: stderr was: $(cat "$T/err")"; fi
}
says() { # WHAT TEXT: stdout (or stderr) has TEXT
    if grep -q -- "$2" "$T/out" "$T/err"; then ok "$1 says '$2'"; else fail "$1 does not say '$2': $(cat "$T/out" "$T/err" | head -c 300)"; fi
}
# npy_floats FILE: the element count of a float32 .npy (its size less the
# header, whose length is at bytes 8-9, little-endian)
npy_floats() {
    size=$(wc -c <"$1")
    hl=$(od -An -tu1 -j8 -N2 "$1" | awk '{print $1 + 256 * $2}')
    echo $(( (size - 10 - hl) / 4 ))
}
ev() { $X evaluate $F/model.onnx $F/input.npy "$@"; }

# The curves: auc= line, n + 1 floats, shape (n+1,)
rm -f "$T/c.npy"
expect 0 "deletion of the saliency map" ev --attribution $F/saliency.npy --metric deletion --out "$T/c.npy"
if grep -Eq '^auc=[-0-9.e+]+$' "$T/out"; then ok "prints $(grep '^auc=' "$T/out")"; else fail "no auc= line: $(cat "$T/out")"; fi
says "deletion" "^target 7 (probability "
says "deletion" "197 points, step 4 pixels"
[ "$(npy_floats "$T/c.npy")" = 197 ] && ok "curve has 197 floats" || fail "curve has $(npy_floats "$T/c.npy") floats"
grep -q "'shape': (197,)" "$T/c.npy" && ok "curve shape (197,)" || fail "curve header: $(head -c 80 "$T/c.npy")"
expect 0 "insertion, Grad-CAM map (resized), logit, step 10, target 3" \
    ev --attribution $F/gradcam.npy --metric insertion --score logit --step 10 --target 3 --out "$T/i.npy"
says "insertion" "^target 3 (logit "
[ "$(npy_floats "$T/i.npy")" = 80 ] && ok "insertion curve has 80 floats (ceil(784/10) + 1)" || fail "insertion curve: $(npy_floats "$T/i.npy")"
expect 0 "3-channel model, 3-channel map, --batch 5 --threads 2" \
    $X evaluate $R/model.onnx $R/input.npy --attribution $R/saliency.npy --metric deletion --step 32 --batch 5 --threads 2 --out "$T/r.npy"
grep "^auc=" "$T/out" >"$T/auc_b5"
[ "$(npy_floats "$T/r.npy")" = 33 ] && ok "33 floats (1024 pixels, step 32)" || fail "rescnn curve: $(npy_floats "$T/r.npy")"
expect 0 "the same with --batch 1 --threads 1" \
    $X evaluate $R/model.onnx $R/input.npy --attribution $R/saliency.npy --metric deletion --step 32 --batch 1 --threads 1 --out "$T/r1.npy"
grep "^auc=" "$T/out" >"$T/auc_b1"
cmp -s "$T/r.npy" "$T/r1.npy" && cmp -s "$T/auc_b1" "$T/auc_b5" && ok "batch and threads change no bit of the curve" || fail "batch 5 / threads 2 differ from batch 1 / thread 1"
expect 0 "no --out: only the numbers" ev --attribution $F/saliency.npy --metric deletion
grep -q "^wrote" "$T/out" && fail "wrote a file without --out" || ok "no file without --out"

# Usage: exit 2, one line
for m in sanity input-invariance infidelity sensitivity; do
    expect 2 "--metric $m" ev --attribution $F/saliency.npy --metric $m
    one_line_error "--metric $m"
    says "--metric $m" "metric '$m' is not available yet"
done
expect 2 "--metric bogus" ev --attribution $F/saliency.npy --metric bogus
one_line_error "--metric bogus"
expect 2 "--methods (every metric)" ev --methods saliency,gradcam --out-dir "$T/d"
one_line_error "--methods"
expect 2 "no --attribution" ev --metric deletion
expect 2 "no --metric" ev --attribution $F/saliency.npy
expect 2 "--step 0" ev --attribution $F/saliency.npy --metric deletion --step 0
one_line_error "--step 0"
expect 2 "--step 785 (over H*W)" ev --attribution $F/saliency.npy --metric deletion --step 785
one_line_error "--step 785"
expect 2 "--score bogus" ev --attribution $F/saliency.npy --metric deletion --score bogus
one_line_error "--score bogus"
expect 2 "--target -1" ev --attribution $F/saliency.npy --metric deletion --target -1
expect 2 "--batch 0" ev --attribution $F/saliency.npy --metric deletion --batch 0
expect 2 "unknown option" ev --attribution $F/saliency.npy --metric deletion --bogus
one_line_error "unknown option"

# Errors: exit 1, one line
expect 1 "a 3-channel map for a 1-channel input" ev --attribution $R/saliency.npy --metric deletion
one_line_error "3-channel map"
says "3-channel map" "it must be 1 channel of"
expect 1 "a map larger than the input" ev --attribution $R/gradcam_upsample.npy --metric deletion
one_line_error "larger map"
expect 1 "--target 10 of 10 classes" ev --attribution $F/saliency.npy --metric deletion --target 10
one_line_error "--target 10"
expect 1 "a missing attribution file" ev --attribution "$T/none.npy" --metric deletion
one_line_error "missing attribution"
expect 1 "a 1-D attribution" ev --attribution "$T/c.npy" --metric deletion
one_line_error "1-D attribution"
expect 1 "--target NAME without labels" ev --attribution $F/saliency.npy --metric deletion --target cat
one_line_error "--target NAME"
echo old >"$T/keep.npy"
expect 1 "--out into a missing directory" ev --attribution $F/saliency.npy --metric deletion --out "$T/no/such/c.npy"
one_line_error "--out missing directory"

rm -rf "$T"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
