#!/bin/sh
# Real pretrained models against ONNX Runtime (tools/fetch_models.sh fetches
# both into build/; they are never committed). Skipped, with the reason,
# when the model, node or onnxruntime is absent.
#
# PaddleOCR's text-direction classifier (MobileNetV3: squeeze-excite,
# hard-swish, Constant-node weights, a Shape->Reshape subgraph; input
# 1x3xHxW with H and W symbolic, fixed here with --input-shape 3x48x192) on
# text rendered upright and turned 180 degrees (tests/data/ocr, made by
# tools/make_ocr_inputs.py):
#   - xcnn predict's softmax output matches onnxruntime's with a max
#     element-wise relative error <= 5e-4 (the tiny probability of the
#     other class makes this a check of the logits' difference);
#   - the classes are 0 (0 degrees) upright and 1 (180 degrees) rotated;
#   - info, and explain with saliency and gradcam, run.
# ResNet-18 (random weights, build/models/resnet18.onnx): logits against
# onnxruntime, max |diff| / max |logit| <= 1e-4.
B=${XCNN_BUILD:-build}
X=$B/xcnn
MODELS=${XCNN_MODELS:-build/models}
OCR=$MODELS/ch_ppocr_mobile_v2.0_cls_infer.onnx
D=tests/data/ocr
T=$B/test_real_models.tmp
REF="node tools/ort_reference.js"
TOL=5e-4
passed=0; failed=0; skipped=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $1"; }
finish() {
    rm -rf "$T"
    echo "$passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ]
    exit
}
mkdir -p "$T"

if ! command -v node >/dev/null 2>&1; then
    skip "node is not installed (apt-get install nodejs npm; then sh tools/fetch_models.sh)"
    finish
fi
$REF --compare "$D/upright.npy" "$D/upright.npy" 0 >/dev/null 2>&1 ||
    { fail "tools/ort_reference.js --compare does not run under $(node --version)"; finish; }

# run_ref MODEL INPUT OUT: onnxruntime's output; 3 = no onnxruntime.
run_ref() {
    $REF "$1" "$2" "$3" >"$T/ref.out" 2>"$T/ref.err"; rc=$?
    [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || fail "onnxruntime on $(basename "$2"): $(head -c 300 "$T/ref.err")"
    return $rc
}

# ---- PaddleOCR direction classifier ---------------------------------------
if [ ! -s "$OCR" ]; then
    skip "PaddleOCR classifier: $OCR is absent (run sh tools/fetch_models.sh)"
elif ! $X help 2>&1 | grep -q -- "--input-shape"; then
    fail "PaddleOCR classifier: $X has no --input-shape for its symbolic H, W"
else
    S="--input-shape 3x48x192"
    if $X info "$OCR" $S >"$T/out" 2>"$T/err" && grep -q "total:" "$T/out"; then
        ok "info on the PaddleOCR classifier ($(grep -c '^ *[0-9]' "$T/out") nodes)"
    else
        fail "info $S: $(head -c 300 "$T/err")"
    fi
    $X info "$OCR" >/dev/null 2>"$T/err"
    grep -q "symbolic" "$T/err" && ok "without --input-shape the symbolic H, W are named: $(cat "$T/err")" ||
        fail "info without --input-shape: $(cat "$T/err")"
    for n in upright rotated; do
        if ! $X predict "$OCR" "$D/$n.npy" $S --out "$T/$n.xcnn.npy" >"$T/$n.pred" 2>"$T/err"; then
            fail "predict $n: $(head -c 300 "$T/err")"
            continue
        fi
        ok "predict $n: class $(head -n 1 "$T/$n.pred" | cut -f1) (p=$(head -n 1 "$T/$n.pred" | cut -f2))"
        run_ref "$OCR" "$D/$n.npy" "$T/$n.ort.npy"; rc=$?
        if [ "$rc" -eq 3 ]; then
            skip "$n vs onnxruntime: onnxruntime-node is not installed (run sh tools/fetch_models.sh)"
        elif [ "$rc" -eq 0 ]; then
            if r=$($REF --compare "$T/$n.xcnn.npy" "$T/$n.ort.npy" $TOL 2>&1); then
                ok "$n vs onnxruntime: $r"
            else
                fail "$n vs onnxruntime: $r"
            fi
        fi
    done
    up=$(head -n 1 "$T/upright.pred" 2>/dev/null | cut -f1)
    rot=$(head -n 1 "$T/rotated.pred" 2>/dev/null | cut -f1)
    [ "$up" = 0 ] && ok "upright text is class 0 (0 degrees)" || fail "upright text: class '$up', wanted 0"
    [ "$rot" = 1 ] && ok "rotated text is class 1 (180 degrees)" || fail "rotated text: class '$rot', wanted 1"
    [ -n "$up" ] && [ "$up" != "$rot" ] && ok "the class differs between upright and rotated" ||
        fail "upright and rotated give the same class '$up'"
    for m in saliency gradcam; do
        if $X explain "$OCR" "$D/upright.npy" $S --method $m --out "$T/$m.npy" --png "$T/$m.png" \
               >"$T/out" 2>"$T/err" && [ -s "$T/$m.npy" ] && [ -s "$T/$m.png" ]; then
            ok "explain --method $m on the PaddleOCR classifier: $(grep -m 1 -E 'layer|target' "$T/out")"
        else
            fail "explain --method $m: $(head -c 300 "$T/err")"
        fi
    done
fi

# ---- Our own trained model, written by our ONNX encoder ------------------
# onnxruntime must load data/fashion_resnet.onnx and agree with us.
FM=data/fashion_resnet.onnx
FIN=tests/data/fashion_sneaker.npy   # data/fashion/9_Sneaker.png, preprocessed
if ! $X predict "$FM" "$FIN" --top 1 --out "$T/f.xcnn.npy" >/dev/null 2>"$T/err"; then
    fail "predict fashion_resnet: $(head -c 300 "$T/err")"
else
    run_ref "$FM" "$FIN" "$T/f.ort.npy"; rc=$?
    if [ "$rc" -eq 3 ]; then
        skip "our ONNX writer vs onnxruntime: onnxruntime-node is not installed"
    elif [ "$rc" -eq 0 ]; then
        if r=$($REF --compare "$T/f.xcnn.npy" "$T/f.ort.npy" 5e-4 scaled 2>&1); then
            ok "onnxruntime loads the model our encoder wrote and agrees: $r"
        else
            fail "our trained model in onnxruntime: $r"
        fi
    fi
fi

# ---- ResNet-18 (random weights) -------------------------------------------
R=$MODELS/resnet18.onnx
RIN=${XCNN_BIG_FIXTURES:-build/fixtures}/resnet18/input.npy
if [ ! -s "$R" ] || [ ! -s "$RIN" ]; then
    skip "ResNet-18: $R or $RIN is absent (sh tools/fetch_models.sh with python3-torch)"
elif ! $X predict "$R" "$RIN" --top 1 --out "$T/r.xcnn.npy" >/dev/null 2>"$T/err"; then
    fail "predict resnet18: $(head -c 300 "$T/err")"
else
    run_ref "$R" "$RIN" "$T/r.ort.npy"; rc=$?
    if [ "$rc" -eq 3 ]; then
        skip "resnet18 vs onnxruntime: onnxruntime-node is not installed"
    elif [ "$rc" -eq 0 ]; then
        if r=$($REF --compare "$T/r.xcnn.npy" "$T/r.ort.npy" 1e-4 scaled 2>&1); then
            ok "resnet18 logits vs onnxruntime: $r"
        else
            fail "resnet18 logits vs onnxruntime: $r"
        fi
    fi
fi
finish
