#!/bin/sh
# `xcnn evaluate` with one metric of METHODS.md ("Metrics"): deletion and
# insertion (the auc= line, the curve file's size, n + 1 floats), the sanity
# check (one line per layer, output layer first), input invariance, infidelity
# and sensitivity (their lines, batch and thread independence), the flags, and
# the refusals (exit 2 for usage, 1 for errors, one line on stderr). The
# values against float64 references are tested in C (test_curves, test_metrics).
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
expect 2 "--metric bogus" ev --attribution $F/saliency.npy --metric bogus
one_line_error "--metric bogus"
for m in sanity input-invariance sensitivity; do
    expect 2 "--metric $m without --methods" ev --metric $m
    one_line_error "--metric $m without --methods"
    says "--metric $m without --methods" "needs --methods"
    expect 2 "--metric $m with --attribution" ev --metric $m --methods saliency --attribution $F/saliency.npy
    one_line_error "--metric $m with --attribution"
done
expect 2 "--metric infidelity with neither" ev --metric infidelity
one_line_error "infidelity with neither"
expect 2 "--metric infidelity with both" ev --metric infidelity --methods saliency --attribution $F/saliency.npy
one_line_error "infidelity with both"
expect 2 "--methods bogus" ev --metric sanity --methods saliency,bogus
one_line_error "--methods bogus"
says "--methods bogus" "unknown method 'bogus'"
expect 2 "--methods twice the same" ev --metric sanity --methods saliency,saliency
one_line_error "--methods twice"
expect 2 "--shift with sanity" ev --metric sanity --methods saliency --shift 1
one_line_error "--shift with sanity"
expect 2 "--shift not a number" ev --metric input-invariance --methods saliency --shift x
one_line_error "--shift x"
expect 2 "--noise-stdev -1" ev --metric infidelity --methods saliency --noise-stdev -1
one_line_error "--noise-stdev -1"
expect 2 "--radius with infidelity" ev --metric infidelity --methods saliency --radius 0.1
one_line_error "--radius with infidelity"
expect 2 "--samples 0" ev --metric sensitivity --methods saliency --samples 0
one_line_error "--samples 0"
expect 2 "--seed -3" ev --metric sanity --methods saliency --seed -3
one_line_error "--seed -3"
expect 2 "two inputs with --metric" $X evaluate $F/model.onnx $F/input.npy $F/input.npy --metric sanity --methods saliency
one_line_error "two inputs"
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

# The sanity check: one line per layer, output layer first, per method
expect 0 "sanity of saliency and gradcam" ev --metric sanity --methods saliency,gradcam
n=$(grep -cE '^method=saliency layer=[^ ]+ spearman=-?[0-9.]+ ssim=-?[0-9.]+$' "$T/out")
[ "$n" = 5 ] && ok "5 saliency lines of the form method= layer= spearman= ssim=" || fail "$n saliency step lines: $(cat "$T/out")"
n=$(grep -c '^method=gradcam layer=' "$T/out")
[ "$n" = 5 ] && ok "5 gradcam lines" || fail "$n gradcam lines"
[ "$(grep '^method=saliency' "$T/out" | head -1 | cut -d' ' -f2)" = "layer=/fc2/Gemm" ] && ok "the first step is the output layer /fc2/Gemm" || fail "first step: $(grep '^method=saliency' "$T/out" | head -1)"
[ "$(grep '^method=saliency' "$T/out" | tail -1 | cut -d' ' -f2)" = "layer=/conv1/Conv" ] && ok "the last step is the first layer /conv1/Conv" || fail "last step: $(grep '^method=saliency' "$T/out" | tail -1)"
says "sanity" "^saliency: not flagged"
cp "$T/out" "$T/sanity0"
expect 0 "sanity again, --seed 0 --batch 2 --threads 2" ev --metric sanity --methods saliency,gradcam --seed 0 --batch 2 --threads 2
cmp -s "$T/out" "$T/sanity0" && ok "the same seed gives the same lines at another batch and thread count" || fail "sanity output differs"
expect 0 "sanity --seed 5" ev --metric sanity --methods saliency
cmp -s "$T/out" "$T/sanity0" && fail "--seed 5 changed nothing" || ok "another seed, other numbers"
expect 0 "sanity of guided backprop" ev --metric sanity --methods guided-backprop
says "guided backprop" "^guided-backprop: FLAGGED"
expect 1 "sanity on a 4 x 4 input (SSIM needs 11 x 11)" $X evaluate tests/fixtures/captum_toy/model.onnx tests/fixtures/captum_toy/input.npy --metric sanity --methods saliency
one_line_error "sanity on 4 x 4"

# Input invariance: a first Conv without padding (captum_toy), and one with (refused)
C=tests/fixtures/captum_toy
expect 0 "input invariance" $X evaluate $C/model.onnx $C/input.npy --metric input-invariance --methods saliency,input-x-gradient,integrated-gradients,gradcam
says "invariance" "^method=saliency max_rel_diff=0 pass$"
says "invariance" "^method=gradcam max_rel_diff=[-0-9.e]* pass$"
says "invariance" "^method=input-x-gradient max_rel_diff=[-0-9.e]* fail$"
says "invariance" "^method=integrated-gradients max_rel_diff=[-0-9.e]* fail$"
expect 0 "input invariance, baselines shifted, --shift -2" $X evaluate $C/model.onnx $C/input.npy --metric input-invariance --methods integrated-gradients,deeplift --shift-baselines --shift -2
says "invariance shifted baselines" "^method=integrated-gradients max_rel_diff=[-0-9.e]* pass$"
says "invariance shifted baselines" "^method=deeplift max_rel_diff=[-0-9.e]* pass$"
expect 2 "--shift with 2 values for 1 channel" $X evaluate $C/model.onnx $C/input.npy --metric input-invariance --methods saliency --shift 1,2
one_line_error "--shift 1,2"
expect 1 "input invariance with a padding first Conv" ev --metric input-invariance --methods saliency
one_line_error "padding first Conv"
says "padding first Conv" "pads its input"
expect 0 "input invariance with a padding first Conv, --pad-with-shift" ev --metric input-invariance --methods saliency,gradcam,input-x-gradient --pad-with-shift
says "--pad-with-shift" "^method=saliency max_rel_diff=[-0-9.e]* pass$"
says "--pad-with-shift" "^method=gradcam max_rel_diff=[-0-9.e]* pass$"
says "--pad-with-shift" "^method=input-x-gradient max_rel_diff=[-0-9.e]* fail$"
expect 2 "--pad-with-shift with sanity" ev --metric sanity --methods saliency --pad-with-shift
one_line_error "--pad-with-shift with sanity"

# Infidelity and sensitivity
expect 0 "infidelity of a given map" ev --metric infidelity --attribution $F/gradcam.npy --noise-stdev 0.05 --samples 8
if grep -Eq '^infidelity=[-0-9.e+]+$' "$T/out"; then ok "prints $(grep '^infidelity=' "$T/out")"; else fail "no infidelity= line: $(cat "$T/out")"; fi
expect 0 "infidelity of methods" ev --metric infidelity --methods saliency,gradcam,occlusion,deeplift-shap
n=$(grep -cE '^method=[a-z-]+ infidelity=[-0-9.e+]+$' "$T/out")
[ "$n" = 4 ] && ok "4 lines method= infidelity=" || fail "$n infidelity lines: $(cat "$T/out")"
cp "$T/out" "$T/infd0"
expect 0 "infidelity again, --batch 3 --threads 2" ev --metric infidelity --methods saliency,gradcam,occlusion,deeplift-shap --batch 3 --threads 2
cmp -s "$T/out" "$T/infd0" && ok "infidelity: the same lines at another batch and thread count" || fail "infidelity differs with the batch"
expect 0 "sensitivity" ev --metric sensitivity --methods saliency,gradcam --samples 3 --radius 0.05 --seed 2
n=$(grep -cE '^method=[a-z-]+ sensitivity=[-0-9.e+]+$' "$T/out")
[ "$n" = 2 ] && ok "2 lines method= sensitivity=" || fail "$n sensitivity lines: $(cat "$T/out")"
expect 1 "infidelity of a method the model cannot run" ev --metric infidelity --methods lrp
one_line_error "lrp on plaincnn"

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
