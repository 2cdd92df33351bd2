#!/bin/sh
# Issue #14, items 3, 5 and 7 (the explainers' messages), through the
# command-line tool:
#  - a model whose output overflows (y = x * x at 1e20), a baseline at
#    -3e38, a --stdev of 1e38: exit 1, one line naming where the numbers
#    went non-finite (the node, the baseline, the stdev), and no output
#    file (an earlier one at that path is left as it was);
#  - gradcam and guided-gradcam --layer input: the same refusal;
#  - integrated gradients with --steps 100000 (the largest accepted) on a
#    tiny model finishes (the Gauss-Legendre nodes used to take hours).
# The built models and inputs come from `test_reliability_numeric
# --write-models DIR`.
B=${XCNN_BUILD:-build}
X=$B/xcnn
FM=data/fashion_resnet.onnx
IMG=data/fashion/9_Sneaker.png
TOY=tests/fixtures/captum_toy
T=$(mktemp -d /tmp/xcnn_numeric_sh.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
# run CMD...: sets rc; stdout and stderr in $T/out, $T/err
run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# error WHAT NEEDLE CMD...: exit 1, one line "xcnn: ..." on stderr containing NEEDLE
error() {
    what=$1; needle=$2; shift 2
    run "$@"
    n=$(wc -l <"$T/err")
    if [ "$rc" -eq 1 ] && [ "$n" -eq 1 ] && grep -q '^xcnn: ' "$T/err" &&
        grep -qF -- "$needle" "$T/err"; then
        ok "$what: $(cat "$T/err")"
    else
        fail "$what: exit $rc (want 1), stderr: $(head -c 300 "$T/err") (want '$needle')"
    fi
}
# untouched WHAT FILE: FILE still holds "old" (or was never made)
untouched() {
    if [ "$(cat "$2" 2>/dev/null)" = old ]; then ok "$1: $2 left as it was"
    else fail "$1: $2 was written"; fi
}
absent() {
    if [ ! -e "$2" ]; then ok "$1: no $2"; else fail "$1: $2 was written"; fi
}

if ! "$B/tests/test_reliability_numeric" --write-models "$T"; then
    fail "test_reliability_numeric --write-models $T"
    echo "$passed passed, $failed failed"
    exit 1
fi

# ---- item 5: NaN and Inf are errors ----
echo old >"$T/a.npy"
error "explain: y = x * x at 1e20" "node 'mul' (Mul) is the first to give an infinite value" \
    $X explain "$T/square.onnx" "$T/square_1e20.npy" --method saliency --out "$T/a.npy"
untouched "explain: y = x * x at 1e20" "$T/a.npy"
error "predict: y = x * x at 1e20" "node 'mul' (Mul)" \
    $X predict "$T/square.onnx" "$T/square_1e20.npy" --out "$T/p.npy"
absent "predict: y = x * x at 1e20" "$T/p.npy"
# The fast Conv's float sums overflow at the baseline itself; the reference
# build's sums in double overflow first at the path points: either names it.
error "integrated gradients from a baseline at -3e38" "integrated gradients, at " \
    $X explain $FM $IMG --method integrated-gradients --baseline "$T/baseline_m3e38_28.npy" \
    --out "$T/a.npy" --png "$T/a.png"
untouched "integrated gradients from a baseline at -3e38" "$T/a.npy"
absent "integrated gradients from a baseline at -3e38" "$T/a.png"
if ! grep -q nan "$T/out"; then ok "no 'delta -nan' printed"; else fail "printed: $(cat "$T/out")"; fi

# ---- item 7: messages that name the user's mistake ----
error "smoothgrad --stdev 1e38" "stdev 1e+38 is too large" \
    $X explain $FM $IMG --method smoothgrad --stdev 1e38 --out "$T/a.npy"
if ! grep -q "input element" "$T/err"; then ok "  not blamed on the input"; else fail "  blamed on the input"; fi
untouched "smoothgrad --stdev 1e38" "$T/a.npy"
error "smoothgrad --stdev 1e37 (the noisy samples overflow in the network)" "(stdev 1e+37)" \
    $X explain $FM $IMG --method smoothgrad --stdev 1e37 --samples 2 --out "$T/a.npy"
error "gradcam --layer input" "'input' is the model's input, not a layer" \
    $X explain $FM $IMG --method gradcam --layer input --out "$T/a.npy"
cp "$T/err" "$T/err_gradcam"
error "guided-gradcam --layer input" "'input' is the model's input, not a layer" \
    $X explain $FM $IMG --method guided-gradcam --layer input --out "$T/a.npy"
if cmp -s "$T/err" "$T/err_gradcam"; then ok "gradcam and guided-gradcam: the same message"
else fail "gradcam and guided-gradcam differ: $(cat "$T/err_gradcam") / $(cat "$T/err")"; fi
untouched "Grad-CAM on the input" "$T/a.npy"

# ---- item 3: the largest accepted --steps finishes ----
# One thread: the OpenMP barriers of a loaded machine would only add waiting.
# It took hours before; about a second now (the passes, 100000 of them).
run timeout 300 $X explain $TOY/model.onnx $TOY/input.npy --method integrated-gradients \
    --steps 100000 --threads 1 --out "$T/ig.npy"
if [ "$rc" -eq 0 ] && [ -s "$T/ig.npy" ]; then ok "integrated gradients --steps 100000: $(grep delta "$T/out")"
else fail "integrated gradients --steps 100000: exit $rc $(head -c 300 "$T/err")"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
