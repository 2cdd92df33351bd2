#!/bin/sh
# make demo: the shipped Fashion-MNIST model explains the shipped test
# images with every method; one labelled PNG grid per image in build/demo/.
# Needs only what `make` built.
set -e
B=${XCNN_BUILD:-build}
OUT=$B/demo
mkdir -p "$OUT"
MODEL=data/fashion_resnet.onnx
echo "model: $MODEL (trained in C by 'xcnn train', see README)"
echo "--- xcnn predict on one image (class, score, name):"
"$B/xcnn" predict "$MODEL" data/fashion/*_Sneaker.png --top 3
echo "--- every method on every image:"
"$B/xcnn_demo" "$MODEL" "$OUT" data/fashion/*.png
echo "grids written to $OUT/*.png (input, then each method's heatmap)"
