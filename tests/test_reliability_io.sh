#!/bin/sh
# Images through the command line (issue #14, items 1, 2 and 7): sizes that
# a spec computes from an image are checked against the image caps before
# anything is allocated, whether the spec comes from --preprocess or from
# the model's xcnn.preprocess metadata; spec values that would make the
# input non-finite are refused when the flag is read (usage, exit 2) or,
# when only the metadata and the flag together are wrong, with a message
# saying so (exit 1). Never a signal. The C API side is in
# test_reliability_io.c.
B=${XCNN_BUILD:-build}
X=$B/xcnn
T=$B/test_reliability_io.tmp
M=data/fashion_resnet.onnx
IMG=data/fashion/9_Sneaker.png
rm -rf "$T"
mkdir -p "$T"
passed=0; failed=0; skipped=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $1"; }
run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# error WHAT WORD CMD...: exit 1, one line "xcnn: ..." on stderr holding WORD
error() {
    what=$1; word=$2; shift 2
    run "$@"
    n=$(wc -l <"$T/err")
    if [ "$rc" -ge 128 ]; then fail "$what: killed by signal $((rc - 128))"
    elif [ "$rc" -eq 1 ] && [ "$n" -eq 1 ] && grep -q '^xcnn: ' "$T/err" &&
         grep -qF -- "$word" "$T/err"; then ok "$what: $(cat "$T/err")"
    else fail "$what: exit $rc (want 1 and '$word'), stderr: $(head -c 300 "$T/err")"; fi
}
# usage WHAT WORD CMD...: exit 2, a message holding WORD, nothing on stdout
usage() {
    what=$1; word=$2; shift 2
    run "$@"
    if [ "$rc" -ge 128 ]; then fail "$what: killed by signal $((rc - 128))"
    elif [ "$rc" -eq 2 ] && grep -qF -- "$word" "$T/err" && [ ! -s "$T/out" ]; then
        ok "usage error, exit 2: $what: $(head -n 1 "$T/err")"
    else fail "$what: exit $rc (want 2 and '$word'), stderr: $(head -c 300 "$T/err")"; fi
}

# The images of the report, made here: a 16384x1 and a 1x16384 gray PNG,
# all zero (96 and 109 bytes; zlib level 9).
printf '\211\120\116\107\015\012\032\012\000\000\000\015\111\110\104\122\000\000\100\000\000\000\000\001\010\000\000\000\000\003\364\351\204\000\000\000\047\111\104\101\124\170\332\355\301\061\001\000\000\000\302\240\365\117\155\014\037\240\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\200\273\001\100\001\000\001\300\172\175\347\000\000\000\000\111\105\116\104\256\102\140\202' >"$T/wide.png"
printf '\211\120\116\107\015\012\032\012\000\000\000\015\111\110\104\122\000\000\000\001\000\000\100\000\010\000\000\000\000\265\051\075\211\000\000\000\064\111\104\101\124\170\332\355\301\001\001\000\000\000\200\220\376\257\356\010\012\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\030\200\000\000\001\200\353\037\110\000\000\000\000\111\105\116\104\256\102\140\202' >"$T/tall.png"
n=$(wc -c <"$T/wide.png")
run $X predict $M "$T/wide.png" --preprocess gray
if [ "$rc" -eq 0 ] && [ "$n" -eq 96 ]; then ok "the 96-byte 16384x1 PNG is a valid image"
else fail "the 16384x1 PNG ($n bytes): exit $rc: $(head -c 300 "$T/err")"; fi

# ---- 1, 2: sizes computed from the image and the spec ----
error "16384x1 PNG with --preprocess 'gray;resize=384' (crashed)" "resize=384" \
    $X predict $M "$T/wide.png" --preprocess "gray;resize=384"
error "the same with explain" "6291456x384" \
    $X explain $M "$T/wide.png" --preprocess "gray;resize=384" --method saliency --out "$T/a.npy"
error "1x16384 PNG with resize=65 (0.3 GB)" "resize=65" \
    $X predict $M "$T/tall.png" --preprocess "resize=65"
usage "--preprocess size=16384x16384 (1 GB)" "size=16384x16384" \
    $X predict $M $IMG --preprocess "size=16384x16384"
usage "--preprocess crop=16384x16384" "crop=16384x16384" \
    $X predict $M $IMG --preprocess "crop=16384x16384"
usage "--preprocess resize=-3" "resize=-3" $X predict $M $IMG --preprocess "resize=-3"

# The same setting from the model's metadata: the shipped model's recipe
# (64 bytes) replaced in place by one of the same length, padded with
# empty items, so that every length in the file stays right.
RECIPE='gray;scale=0.00392156862745098;mean=0.2860;std=0.3530;size=28x28'
patch_model() { # patch_model OUT SPEC: the model with SPEC as its recipe
    spec=$(printf '%-64s' "$2" | tr ' ' ';')
    LC_ALL=C sed "s/$RECIPE/$spec/" $M >"$1"
    LC_ALL=C grep -q "$spec" "$1" 2>/dev/null
}
if patch_model "$T/resize384.onnx" "gray;resize=384;"; then
    error "xcnn.preprocess 'gray;resize=384' in the model (crashed)" "resize=384" \
        $X predict "$T/resize384.onnx" "$T/wide.png"
    error "the same with explain --png" "resize=384" \
        $X explain "$T/resize384.onnx" "$T/wide.png" --method saliency --out "$T/a.npy" \
        --png "$T/a.png"
    run $X predict "$T/resize384.onnx" $IMG
    if [ "$rc" -eq 0 ]; then ok "that model on a 28x28 image: resize=384 then crop, exit 0"
    else fail "that model on a 28x28 image: exit $rc: $(head -c 300 "$T/err")"; fi
else
    skip "could not patch the model's xcnn.preprocess with sed (binary files)"
fi

# ---- 7: values that make the input non-finite ----
usage "--preprocess scale=1e39 (a float32 overflow)" "scale=1e39" \
    $X predict $M $IMG --preprocess "scale=1e39"
usage "--preprocess std=1e-45 (subnormal: 1/255 / std = inf)" "std=1e-45" \
    $X predict $M $IMG --preprocess "std=1e-45"
usage "--preprocess mean=1e39" "mean=1e39" $X predict $M $IMG --preprocess "mean=1e39"
usage "--preprocess 'scale=1;std=1e-37' (fine alone, inf together)" "std=1e-37" \
    $X predict $M $IMG --preprocess "scale=1;std=1e-37"
usage "the same with explain" "std=1e-37" \
    $X explain $M $IMG --preprocess "scale=1;std=1e-37" --method saliency --out "$T/a.npy"
# scale=1e36 is fine with std 1; with the model's std=0.3530 a pixel of
# 255 overflows: refused when the image is read, naming both sources.
error "--preprocess scale=1e36 over the model's std=0.3530" "on top of the model" \
    $X predict $M $IMG --preprocess "scale=1e36"
if patch_model "$T/std0.onnx" "gray;std=0;"; then
    error "xcnn.preprocess 'std=0' in the model" "model's xcnn.preprocess metadata" \
        $X predict "$T/std0.onnx" $IMG
else
    skip "could not patch the model's xcnn.preprocess with sed (binary files)"
fi

rm -rf "$T"
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"
else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
