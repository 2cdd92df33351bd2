#!/bin/sh
# make demo: explain a shipped model on shipped inputs with every method and
# write heatmap PNGs to build/demo/. Needs only what `make` built.
set -e
B=${XCNN_BUILD:-build}
OUT=$B/demo
mkdir -p "$OUT"
MODEL=${1:-tests/fixtures/resnet_narrow/model.onnx}
INPUT=${2:-tests/fixtures/resnet_narrow/input.npy}
echo "model: $MODEL"
echo "input: $INPUT"
echo "--- prediction (class, score)"
"$B/xcnn" predict "$MODEL" "$INPUT" --top 3
for m in saliency input-x-gradient deconvnet guided-backprop integrated-gradients smoothgrad gradcam guided-gradcam; do
    extra=""
    [ "$m" = gradcam ] && extra="--upsample"
    echo "--- $m"
    "$B/xcnn" explain "$MODEL" "$INPUT" --method "$m" $extra --out "$OUT/$m.npy" --png "$OUT/$m.png" | grep -v '^wrote'
done
echo "heatmaps written to $OUT/*.png"
