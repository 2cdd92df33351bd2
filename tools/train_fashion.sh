#!/bin/sh
# Retrain the shipped Fashion-MNIST model with libxcnn, reproducibly: the
# same seed gives the same data/fashion_resnet.onnx, byte for byte (check
# with md5sum), whatever the thread count.
#
#   tools/train_fashion.sh [DATA_DIR]     (default /usr/share/datasets/fashion-mnist)
#
# Writes data/fashion_resnet.onnx (inference-form BatchNormalization nodes
# carrying the running statistics; metadata xcnn.labels and
# xcnn.preprocess), data/fashion_labels.txt and one test image per class
# in data/fashion/<index>_<class>.png. Inputs are bytes / 255, normalised
# with Fashion-MNIST's mean 0.2860 and std 0.3530.
set -eu
cd "$(dirname "$0")/.."
DATA=${1:-/usr/share/datasets/fashion-mnist}
make build/xcnn >/dev/null
mkdir -p data/fashion
build/xcnn train --data "$DATA" --seed 1 --epochs 4 --batch 64 --optimizer sgd --lr 0.05 \
    --widths 12,24,48 --threads 1 \
    --out data/fashion_resnet.onnx --samples data/fashion --labels data/fashion_labels.txt
md5sum data/fashion_resnet.onnx
if /usr/bin/python3 -c "import onnx" 2>/dev/null; then
    /usr/bin/python3 -c "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print('onnx.checker: ok')" data/fashion_resnet.onnx
fi
