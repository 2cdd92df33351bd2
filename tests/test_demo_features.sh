#!/bin/sh
# make demo's feature visualisations (tools/demo.c, features_figure): one
# image per class of the shipped model, xcnn_visualize on the output
# 'logits' and the class's channel, in OUTDIR/features.png: written and
# said, the grid's size (5 x 2 tiles of 168 px for 10 classes), decoded by
# the library's PNG reader, the same bytes on a second run, and a class
# whose visualisation scores high. The figure is drawn in 16 steps (the
# pictures' quality is not what is checked, and the demo's 256 steps take
# minutes under qemu or REFERENCE=1); the 256-step objective is checked
# once, through the CLI.
B=${XCNN_BUILD:-build}
T=$B/test_demo_features.tmp
rm -rf "$T"
mkdir -p "$T/a" "$T/b"
M=data/fashion_resnet.onnx
IMG=data/fashion/0_Ankle_boot.png
passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }

if [ ! -x "$B/xcnn_demo" ]; then
    fail "$B/xcnn_demo not built"
else
    OMP_NUM_THREADS=1 "$B/xcnn_demo" --only features --feature-steps 16 $M "$T/a" $IMG >"$T/out" 2>"$T/err" && ok "xcnn_demo runs (exit 0)" \
        || fail "xcnn_demo: $(head -c 300 "$T/err")"
    grep -q "^one feature visualisation per class: wrote $T/a/features.png$" "$T/out" \
        && ok "says it wrote features.png" || fail "output: $(tail -3 "$T/out")"
    size=$(od -An -tu1 -j16 -N8 "$T/a/features.png" 2>/dev/null | awk '{ printf "%dx%d", $3 * 256 + $4, $7 * 256 + $8 }')
    [ "$size" = 888x456 ] && ok "features.png is 888 x 456 (10 classes in 5 x 2 tiles)" || fail "features.png size '$size'"
    "$B/xcnn" predict $M "$T/a/features.png" >/dev/null 2>"$T/err" && ok "features.png decodes (the library's PNG reader)" \
        || fail "features.png does not decode: $(cat "$T/err")"
    OMP_NUM_THREADS=1 "$B/xcnn_demo" --only features --feature-steps 16 $M "$T/b" $IMG >/dev/null 2>&1
    ls "$T/a" | grep -qv '^features.png$' && fail "--only features drew more: $(ls "$T/a" | tr '\n' ' ')" \
        || ok "--only features draws features.png alone"
    "$B/xcnn_demo" --feature-steps 0 $M "$T/c" $IMG >/dev/null 2>"$T/err"
    [ $? = 2 ] && grep -q "feature-steps takes 1 to 100000" "$T/err" && ok "--feature-steps 0 refused (exit 2)" \
        || fail "--feature-steps 0: $(cat "$T/err")"
    cmp -s "$T/a/features.png" "$T/b/features.png" && ok "the same bytes on a second run" \
        || fail "features.png differs between runs"
    # What the demo draws for class 5, from the CLI: a logit far above what
    # the model's own test images reach (about 10).
    obj=$("$B/xcnn" visualize $M --layer logits --channel 5 --steps 256 --threads 1 --out "$T/v.png" 2>/dev/null | sed -n 's/^objective=//p')
    awk -v o="$obj" 'BEGIN { exit !(o > 5) }' && ok "class 5 (Sandal) reaches logit $obj > 5 in 256 steps" \
        || fail "class 5 objective '$obj'"
fi
rm -rf "$T"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
