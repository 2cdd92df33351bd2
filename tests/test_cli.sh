#!/bin/sh
# The command-line tool and the API example, run as a user would: outputs,
# exit codes (0 ok, 1 error, 2 usage) and one-line error messages.
B=${XCNN_BUILD:-build}
X=$B/xcnn
T=$B/test_cli.tmp
mkdir -p "$T"
F=tests/fixtures/plaincnn
passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
# expect CODE DESCRIPTION CMD...: exit code must be CODE
expect() {
    code=$1; what=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    if [ "$rc" -eq "$code" ]; then ok "$what (exit $rc)"; else fail "$what: exit $rc, wanted $code: $(head -c 300 "$T/err")"; fi
}
# The error must be exactly one readable line.
one_line_error() {
    n=$(wc -l <"$T/err")
    if [ "$n" -eq 1 ] && grep -q '^xcnn: ' "$T/err"; then ok "$1: one line: $(cat "$T/err")"; else fail "$1: stderr was: $(cat "$T/err")"; fi
}

expect 0 "info" $X info $F/model.onnx
grep -q "total:" "$T/out" && grep -q "arena" "$T/out" && ok "info prints totals and the arena" || fail "info output"
grep -q "Conv" "$T/out" && grep -q "Gemm" "$T/out" && ok "info lists Conv and Gemm nodes" || fail "info node list"

expect 0 "predict" $X predict $F/model.onnx $F/input.npy --top 3 --out "$T/y.npy"
[ "$(wc -l <"$T/out")" -eq 3 ] && ok "predict --top 3 prints 3 lines" || fail "predict --top 3: $(cat "$T/out")"
argmax=$(sed -n 's/^argmax=//p' $F/meta.txt)
[ "$(head -n1 "$T/out" | cut -f1)" = "$argmax" ] && ok "predict's top class is PyTorch's arg-max ($argmax)" || fail "top class $(head -n1 "$T/out") vs $argmax"
[ -s "$T/y.npy" ] && ok "predict --out wrote the output vector" || fail "predict --out"

for m in saliency input-x-gradient deconvnet guided-backprop integrated-gradients smoothgrad gradcam guided-gradcam; do
    expect 0 "explain --method $m" $X explain $F/model.onnx $F/input.npy --method $m --out "$T/a.npy" --png "$T/a.png" --steps 8 --samples 4
    head -c 8 "$T/a.png" | od -An -c | grep -q 'P   N   G' && ok "$m: heatmap PNG written" || fail "$m: no PNG"
done
expect 0 "explain integrated gradients" $X explain $F/model.onnx $F/input.npy --method integrated-gradients --out "$T/a.npy"
grep -q "convergence delta" "$T/out" && ok "integrated gradients prints the convergence delta" || fail "no delta printed"

# Images in place of .npy, class names from a labels file.
IMG=tests/data/png/c2_d8.png
printf 'zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n' >"$T/labels.txt"
expect 0 "predict on a PNG with --labels" $X predict $F/model.onnx $IMG --labels "$T/labels.txt" --top 2
[ "$(head -n1 "$T/out" | cut -f3)" != "" ] && ok "predict prints class names" || fail "no class names: $(cat "$T/out")"
name=$(head -n1 "$T/out" | cut -f3)
expect 0 "explain --target by class name ($name)" $X explain $F/model.onnx $IMG --labels "$T/labels.txt" --target "$name" --method gradcam --out "$T/a.npy" --png "$T/a.png"
grep -q "($name)" "$T/out" && ok "explain names its target" || fail "explain target line: $(cat "$T/out")"
expect 1 "unknown class name" $X explain $F/model.onnx $IMG --labels "$T/labels.txt" --target cat --method saliency --out "$T/a.npy"; one_line_error "unknown class name"
printf 'a\nb\n' >"$T/short.txt"
expect 1 "labels file with the wrong count" $X predict $F/model.onnx $IMG --labels "$T/short.txt"; one_line_error "wrong label count"
expect 0 "--preprocess spec" $X predict $F/model.onnx $IMG --preprocess "gray;mean=0.5;std=0.25"
expect 2 "bad --preprocess item" $X predict $F/model.onnx $IMG --preprocess "frob=1"
printf 'not an image' >"$T/bad.png"
expect 1 "corrupt image" $X predict $F/model.onnx "$T/bad.png"; one_line_error "corrupt image"

# A real photo (RGB PNG, 451x300) through resize + centre crop + ImageNet
# normalisation into a 3-channel model.
IMAGENET="rgb;resize=64;crop=64x64;mean=0.485,0.456,0.406;std=0.229,0.224,0.225"
expect 0 "predict on a real photo (data/photos/chelsea.png)" $X predict tests/fixtures/resnet_narrow/model.onnx data/photos/chelsea.png --preprocess "$IMAGENET"
expect 0 "gradcam heatmap over a real photo" $X explain tests/fixtures/resnet_narrow/model.onnx data/photos/coffee.png --preprocess "$IMAGENET" --method gradcam --upsample --out "$T/a.npy" --png "$T/a.png"

expect 1 "missing model file" $X predict $B/no-such.onnx $F/input.npy;        one_line_error "missing model"
expect 1 "input of the wrong shape" $X predict $F/model.onnx tests/fixtures/rescnn_bn/input.npy; one_line_error "wrong shape"
expect 1 "target out of range" $X explain $F/model.onnx $F/input.npy --method saliency --target 10 --out "$T/a.npy"; one_line_error "target out of range"
expect 1 "unknown layer" $X explain $F/model.onnx $F/input.npy --method gradcam --layer nope --out "$T/a.npy"; one_line_error "unknown layer"
printf 'garbage' >"$T/bad.onnx"
expect 1 "garbage model" $X info "$T/bad.onnx"; one_line_error "garbage model"
expect 2 "unknown command" $X frobnicate
expect 2 "unknown flag" $X predict $F/model.onnx $F/input.npy --frob
expect 2 "bad --top" $X predict $F/model.onnx $F/input.npy --top -3
expect 2 "unknown method" $X explain $F/model.onnx $F/input.npy --method magic --out "$T/a.npy"
expect 2 "explain without --out" $X explain $F/model.onnx $F/input.npy --method saliency
expect 2 "bad --steps" $X explain $F/model.onnx $F/input.npy --method integrated-gradients --steps 0 --out "$T/a.npy"

# The API example is built by make and must run.
expect 0 "tools/example.c runs on a fixture" $B/example $F/model.onnx $F/input.npy
grep -q "integrated gradients" "$T/out" && ok "example explains" || fail "example output: $(cat "$T/out")"

rm -rf "$T"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
