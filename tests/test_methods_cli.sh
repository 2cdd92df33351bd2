#!/bin/sh
# `xcnn explain` with the second round of methods (METHODS.md): every
# method runs from the command line on a ResNet-shaped model and writes
# an array of the right size; the flags of METHODS.md are parsed, and
# wrong ones refused with exit 2 and one line. Exactness against the
# float64 references is tested in C (test_deeplift, test_lrp,
# test_perturbation, test_cam_family).
B=${XCNN_BUILD:-build}
X=$B/xcnn
T=$B/test_methods_cli.tmp
mkdir -p "$T"
F=tests/fixtures/resnet_narrow
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
# npy_floats FILE: the element count of a float32 .npy (its size less the
# header, whose length is at bytes 8-9, little-endian)
npy_floats() {
    size=$(wc -c <"$1")
    hl=$(od -An -tu1 -j8 -N2 "$1" | awk '{print $1 + 256 * $2}')
    echo $(( (size - 10 - hl) / 4 ))
}

# Baselines (3 of them) and RISE masks (4), as a user would make them.
IN=$F/input.npy
N_IN=$(npy_floats $IN)          # 3*64*64
HW=$((64 * 64))
cp $F/baseline.npy "$T/b1.npy"
# a 3-baseline file: header of shape (3, 3, 64, 64), then the baseline three times
python_free_npy() { # FILE N SHAPE SRC FLOATS: N times the last FLOATS floats of SRC
    out=$1; n=$2; shape=$3; src=$4; per=${5:-$N_IN}
    hdr="{'descr': '<f4', 'fortran_order': False, 'shape': ($shape), }"
    pad=$(( 64 - (10 + ${#hdr} + 1) % 64 ))
    [ $pad -eq 64 ] && pad=0
    hl=$(( ${#hdr} + pad + 1 ))
    { printf '\223NUMPY\001\000'; printf "\\$(printf %03o $((hl % 256)))\\$(printf %03o $((hl / 256)))";
      printf '%s' "$hdr"; printf "%${pad}s" ''; printf '\n'; } >"$out"
    i=0; while [ $i -lt $n ]; do tail -c $((per * 4)) $src >>"$out"; i=$((i + 1)); done
}
python_free_npy "$T/baselines.npy" 3 "3, 3, 64, 64" $F/baseline.npy
[ "$(npy_floats "$T/baselines.npy")" -eq $((3 * N_IN)) ] && ok "made a 3-baseline .npy" || fail "baselines file"
# 2 RISE masks: the first input channel's values (any numbers do: used as given)
python_free_npy "$T/masks.npy" 2 "2, 1, 64, 64" $F/input.npy $HW
[ "$(npy_floats "$T/masks.npy")" -eq $((2 * HW)) ] && ok "made a 2-mask .npy" || fail "masks file"

run() { # METHOD EXPECTED-FLOATS ARGS...
    m=$1; want=$2; shift 2
    expect 0 "explain --method $m $*" $X explain $F/model.onnx $IN --method $m --out "$T/a.npy" --png "$T/a.png" "$@"
    got=$(npy_floats "$T/a.npy" 2>/dev/null)
    [ "$got" = "$want" ] && ok "$m wrote $want floats" || fail "$m wrote ${got:-nothing}, wanted $want"
}
CAM_HW=$(sed -n 's/^gradcam_layer_default_shape=1,[0-9]*,\([0-9]*\),\([0-9]*\)$/\1 \2/p' $F/meta.txt | awk '{print $1 * $2}')
run deeplift $N_IN
grep -q "convergence delta" "$T/out" && ok "deeplift prints its convergence delta" || fail "deeplift: no delta: $(cat "$T/out")"
run deeplift $N_IN --baseline "$T/b1.npy"
run deeplift-shap $N_IN --baselines "$T/baselines.npy"
run gradient-shap $N_IN --baselines "$T/baselines.npy" --samples 4 --stdev 0.1 --seed 3
run lrp $N_IN
grep -q "relevance sum" "$T/out" && ok "lrp prints the relevance sum" || fail "lrp: no relevance sum: $(cat "$T/out")"
run lrp $N_IN --rule epsilon-gamma-box --low -3 --high 3 --gamma 0.5
run lrp $N_IN --rule epsilon-plus-flat --zero-bias --epsilon 1e-5
run occlusion $N_IN --window 8,8 --stride 4
run occlusion $N_IN --window 1,16,16 --stride 8,16 --baseline 0.5
run rise $HW --samples 16 --cells 4 --p1 0.3 --seed 2
run rise $HW --masks "$T/masks.npy" --p1 0.5
run cam $CAM_HW
for m in gradcam-plus-plus xgradcam layercam hirescam scorecam eigencam ablationcam; do
    run $m $CAM_HW
done
run gradcam-plus-plus $HW --upsample --normalize

# Flags refused before anything runs: exit 2, one line.
expect 2 "unknown --rule" $X explain $F/model.onnx $IN --method lrp --rule zplus --out "$T/x.npy"; one_line_error "unknown --rule"
expect 2 "--window with one number" $X explain $F/model.onnx $IN --method occlusion --window 8 --out "$T/x.npy"; one_line_error "--window 8"
expect 2 "--window with four numbers" $X explain $F/model.onnx $IN --method occlusion --window 1,2,3,4 --out "$T/x.npy"; one_line_error "--window 1,2,3,4"
expect 2 "--window 0,4" $X explain $F/model.onnx $IN --method occlusion --window 0,4 --out "$T/x.npy"; one_line_error "--window 0,4"
expect 2 "occlusion without --window" $X explain $F/model.onnx $IN --method occlusion --out "$T/x.npy"; one_line_error "no --window"
expect 2 "--stride 2,x" $X explain $F/model.onnx $IN --method occlusion --window 4,4 --stride 2,x --out "$T/x.npy"; one_line_error "--stride 2,x"
expect 2 "deeplift-shap without --baselines" $X explain $F/model.onnx $IN --method deeplift-shap --out "$T/x.npy"; one_line_error "no --baselines"
expect 2 "--low without --high" $X explain $F/model.onnx $IN --method lrp --rule epsilon-gamma-box --low 0 --out "$T/x.npy"; one_line_error "--low alone"
expect 2 "--p1 not a number" $X explain $F/model.onnx $IN --method rise --p1 half --out "$T/x.npy"; one_line_error "--p1 half"
expect 2 "--cells 0" $X explain $F/model.onnx $IN --method rise --cells 0 --out "$T/x.npy"; one_line_error "--cells 0"
expect 2 "occlusion --baseline not a number" $X explain $F/model.onnx $IN --method occlusion --window 4,4 --baseline zero --out "$T/x.npy"; one_line_error "occlusion --baseline zero"
# Refused by the library: exit 1, one line, nothing written.
rm -f "$T/x.npy"
expect 1 "--baselines of the wrong shape" $X explain $F/model.onnx $IN --method deeplift-shap --baselines "$T/masks.npy" --out "$T/x.npy"; one_line_error "baselines shape"
expect 1 "--masks of the wrong shape" $X explain $F/model.onnx $IN --method rise --masks "$T/baselines.npy" --out "$T/x.npy"; one_line_error "masks shape"
expect 1 "--window larger than the input" $X explain $F/model.onnx $IN --method occlusion --window 65,65 --out "$T/x.npy"; one_line_error "window too large"
expect 1 "deeplift-shap with one baseline" $X explain $F/model.onnx $IN --method deeplift-shap --baselines "$T/b1.npy" --out "$T/x.npy"; one_line_error "one baseline"
expect 1 "cam on a model without GAP + Gemm" $X explain tests/fixtures/captum_toy/model.onnx tests/fixtures/captum_toy/input.npy --method cam --out "$T/x.npy"; one_line_error "cam refused"
[ ! -e "$T/x.npy" ] && ok "refused calls wrote no file" || fail "a refused call left $T/x.npy"

rm -rf "$T"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
