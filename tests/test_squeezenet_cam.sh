#!/bin/sh
# Grad-CAM's default layer on torchvision's SqueezeNet 1.0 and 1.1 (random
# weights, 96 x 96), exported by tools/references/squeezenet_cam.py into
# the build dir (kept there; remade when the script is newer). Their last
# 4-D map is the classifier's score map (1000 channels, one per class,
# pooled into the logits): the default must skip it to the last Fire
# module's Concat, features[-1] (the tensor is found in the export by its
# node name, not by our rule), and Grad-CAM there must match the float64
# model's within 5e-4 (max|ours - ref| / max|ref|; PyTorch float32's
# error printed beside ours). Skipped when
# /usr/bin/python3 has no torch.
B=${XCNN_BUILD:-build}
X=$B/xcnn
T=$B/test_squeezenet_cam.tmp
R=$B/squeezenet_ref
PY=${XCNN_TORCH_PYTHON:-/usr/bin/python3}
GEN=tools/references/squeezenet_cam.py
passed=0; failed=0; skipped=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $1"; }
finish() {
    if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"
    else echo "$passed passed, $failed failed"; fi
    [ "$failed" -eq 0 ]
    exit
}
mkdir -p "$T"

if ! "$PY" -c "import torch, torchvision, onnx, numpy" >/dev/null 2>&1; then
    skip "SqueezeNet's Grad-CAM layer: $PY has no torch/torchvision/onnx (the models are exported with them)"
    finish
fi
if [ ! -s "$R/squeezenet_1_1_gradcam32.npy" ] || [ "$GEN" -nt "$R/squeezenet_1_1_gradcam32.npy" ]; then
    "$PY" "$GEN" "$R" >"$T/gen.log" 2>&1 || { fail "$GEN: $(tail -n 3 "$T/gen.log")"; finish; }
fi

relerr() {
    "$PY" -c "import numpy as n,sys; a=n.load(sys.argv[1]).ravel().astype(n.float64); b=n.load(sys.argv[2]).ravel().astype(n.float64); print('%.3g' % (abs(a-b).max()/abs(b).max()) if a.size==b.size and abs(b).max()>0 else 'size-or-zero')" "$1" "$2"
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }

for v in 1_0 1_1; do
    N=$R/squeezenet_$v
    want=$(cat "$N"_layer.txt)
    t=$(cat "$N"_target.txt)
    if $X explain "$N.onnx" "$N"_input.npy --method gradcam --target "$t" --out "$T/cam.npy" >"$T/out" 2>"$T/err"; then
        got=$(sed -n 's/^layer //p' "$T/out")
        [ "$got" = "$want" ] && ok "squeezenet$v: the default Grad-CAM layer is features[-1], $got (the score map skipped)" ||
            fail "squeezenet$v: default layer '$got', wanted features[-1] = '$want'"
        e=$(relerr "$T/cam.npy" "$N"_gradcam64.npy)
        e32=$(relerr "$N"_gradcam32.npy "$N"_gradcam64.npy)
        le "$e" 5e-4 && ok "squeezenet$v: Grad-CAM at it vs float64 PyTorch: ours $e, PyTorch float32 $e32 (bar 5e-4)" ||
            fail "squeezenet$v: Grad-CAM vs float64: $e > 5e-4"
    else
        fail "squeezenet$v: xcnn explain --method gradcam: $(head -c 300 "$T/err")"
    fi
done
rm -rf "$T"
finish
