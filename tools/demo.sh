#!/bin/sh
# make demo: the shipped Fashion-MNIST model explains the shipped test
# images with every method; one labelled PNG grid per image in build/demo/,
# and build/demo/layers.png: the first image layer by layer (the input, one
# channel of a few layers' outputs, the Grad-CAM), the figure the lessons
# refer to; build/demo/features.png: one feature visualisation per class.
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
echo "grids written to $OUT/<image>.png (input, then each gradient method's heatmap)"
echo "and $OUT/<image>_more.png (DeepLIFT, SHAP, LRP, occlusion, RISE, the CAM family)"
echo "layer by layer: $OUT/layers.png (input, one channel per layer, Grad-CAM)"
echo "what each class responds to: $OUT/features.png (xcnn visualize on each class's output)"
