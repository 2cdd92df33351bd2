#!/bin/sh
# ConvNeXt (issue #19) end to end against float64 PyTorch, exported by
# tools/references/convnext.py into the build dir (never committed):
# torchvision's ConvNeXt at opset 17 (LayerNormalization) and opset 13
# (its ReduceMean/Sub/Pow/Sqrt/Div decomposition), with Transpose to and
# from channels-last, 4-D MatMul, GELU as Div/Erf/Add/Mul/Mul and the
# per-channel layer scale.
#   - logits within 1e-4 of the float64 model's (max|ours - ref| / max|ref|),
#     PyTorch float32's error printed beside ours;
#   - the input gradient of the top class (saliency --no-abs) as close to
#     float64 as PyTorch float32's is (at most twice its error, or 1e-5);
#   - Grad-CAM at the default layer (the last stage's N C H W output) within
#     1e-4 of float64's;
#   - DeepLIFT within 1e-4 of a float64 implementation of our rules;
#   - integrated gradients and SmoothGrad run (finite, not all zero); LRP is
#     refused with one line naming the op it has no rule for.
# The small model ("tiny": 2 stages, 32 x 32) always runs; convnext_tiny at
# 224 x 224 runs with XCNN_CONVNEXT_FULL=1 (a 110 MB export per opset, about
# a minute). Skipped when /usr/bin/python3 has no torch.
B=${XCNN_BUILD:-build}
X=$B/xcnn
T=$B/test_convnext.tmp
PY=${XCNN_TORCH_PYTHON:-/usr/bin/python3}
passed=0; failed=0; skipped=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $1"; }
finish() {
    echo "$passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ]
    exit
}
mkdir -p "$T"

if ! "$PY" -c "import torch, torchvision, onnx, numpy" >/dev/null 2>&1; then
    skip "ConvNeXt against PyTorch: $PY has no torch/torchvision/onnx (the references are made with them)"
    finish
fi

# relerr A B: max|A - B| / max|B| of two .npy files, flattened
relerr() {
    "$PY" -c "import numpy as n,sys; a=n.load(sys.argv[1]).ravel().astype(n.float64); b=n.load(sys.argv[2]).ravel().astype(n.float64); print('%.3g' % (abs(a-b).max()/abs(b).max()) if a.size==b.size else 'size')" "$1" "$2" 2>/dev/null || echo "unreadable"
}
# le A B: is A a number (not relerr's "size", not empty: a missing file)
# and A <= B?
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^[0-9][0-9.e+-]*$/ && a + 0 <= b + 0) }'; }

models="tiny"
if [ "${XCNN_CONVNEXT_FULL:-0}" = 1 ]; then
    models="tiny full"
    R="$B/convnext_ref" # kept: the full export is slow
    # made again when tools/references/convnext.py is newer than its files
    [ -s "$R/full_target.txt" ] && [ "$R/full_target.txt" -nt tools/references/convnext.py ] ||
        "$PY" tools/references/convnext.py "$R" --full >"$T/gen.log" 2>&1 ||
        { fail "tools/references/convnext.py --full: $(tail -n 3 "$T/gen.log")"; finish; }
else
    R="$T/ref"
    "$PY" tools/references/convnext.py "$R" >"$T/gen.log" 2>&1 ||
        { fail "tools/references/convnext.py: $(tail -n 3 "$T/gen.log")"; finish; }
    skip "convnext_tiny at 224x224: set XCNN_CONVNEXT_FULL=1 (exports 220 MB into $B/convnext_ref)"
fi

for name in $models; do
    t=$(cat "$R/${name}_target.txt")
    IN="$R/${name}_input.npy"
    for op in 17 13; do
        M="$R/${name}_op$op.onnx"
        what="$name opset $op"
        if ! $X predict "$M" "$IN" --out "$T/logits.npy" >"$T/out" 2>"$T/err"; then
            fail "$what: predict: $(head -c 300 "$T/err")"
            continue
        fi
        e=$(relerr "$T/logits.npy" "$R/${name}_logits64.npy")
        e32=$(relerr "$R/${name}_logits32.npy" "$R/${name}_logits64.npy")
        le "$e" 1e-4 && ok "$what: logits vs float64 $e (PyTorch float32: $e32; bar 1e-4)" ||
            fail "$what: logits vs float64 $e > 1e-4 (PyTorch float32: $e32)"
        if $X explain "$M" "$IN" --method saliency --no-abs --target "$t" --out "$T/grad.npy" >"$T/out" 2>"$T/err"; then
            e=$(relerr "$T/grad.npy" "$R/${name}_grad64.npy")
            e32=$(relerr "$R/${name}_grad32.npy" "$R/${name}_grad64.npy")
            bar=$(awk -v a="$e32" 'BEGIN { b = 2 * a; if (b < 1e-5) b = 1e-5; printf "%.3g", b }')
            le "$e" "$bar" && ok "$what: input gradient vs float64 $e (PyTorch float32: $e32; bar $bar)" ||
                fail "$what: input gradient vs float64 $e > $bar (PyTorch float32: $e32)"
        else
            fail "$what: saliency: $(head -c 300 "$T/err")"
        fi
        # Grad-CAM at the default layer: the last stage's output, laid out
        # N C H W (not the classifier's channels-last LayerNorm after it)
        if $X explain "$M" "$IN" --method gradcam --target "$t" --out "$T/cam.npy" >"$T/out" 2>"$T/err"; then
            e=$(relerr "$T/cam.npy" "$R/${name}_gradcam64.npy")
            le "$e" 1e-4 && ok "$what: Grad-CAM at the default layer ($(grep '^layer' "$T/out" | cut -d' ' -f2)) vs float64 $e (bar 1e-4)" ||
                fail "$what: Grad-CAM vs float64 $e > 1e-4 (layer: $(grep '^layer' "$T/out"))"
        else
            fail "$what: gradcam: $(head -c 300 "$T/err")"
        fi
        # DeepLIFT by our rules against tools/references/convnext.py's float64
        # implementation of them (Rescale at Erf, Pow, Sqrt; gradient at x
        # through GELU's Mul, LayerNorm and Div)
        if $X explain "$M" "$IN" --method deeplift --target "$t" --out "$T/dl.npy" >"$T/out" 2>"$T/err"; then
            e=$(relerr "$T/dl.npy" "$R/${name}_deeplift$op.npy")
            le "$e" 1e-4 && ok "$what: DeepLIFT vs float64 $e (bar 1e-4; $(grep delta "$T/out" | cut -d' ' -f1-3))" ||
                fail "$what: DeepLIFT vs float64 $e > 1e-4"
        else
            fail "$what: deeplift: $(head -c 300 "$T/err")"
        fi
        for m in integrated-gradients smoothgrad; do
            if $X explain "$M" "$IN" --method $m --target "$t" --steps 8 --samples 4 --batch 2 --out "$T/a.npy" >"$T/out" 2>"$T/err" &&
                "$PY" -c "import numpy as n,sys; a=n.load(sys.argv[1]); sys.exit(0 if a.size and n.isfinite(a).all() and abs(a).max() > 0 else 1)" "$T/a.npy"; then
                ok "$what: $m runs (finite, not all zero)"
            else
                fail "$what: $m: $(head -c 300 "$T/err")"
            fi
        done
        if $X explain "$M" "$IN" --method lrp --target "$t" --out "$T/a.npy" >"$T/out" 2>"$T/err"; then
            fail "$what: lrp ran: it has no rule for LayerNormalization, Erf or Mul of two activations"
        elif [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "has no rule for op" "$T/err"; then
            ok "$what: lrp refused in one line: $(cat "$T/err")"
        else
            fail "$what: lrp: $(head -c 300 "$T/err")"
        fi
    done
done
rm -rf "$T"
finish
