#!/usr/bin/env python3
"""Inputs for the PaddleOCR text-direction classifier (tests/test_real_models.sh).

Renders one line of text, black on white, and writes it upright and turned
by 180 degrees, each as the crop (PNG) and as the classifier's input (.npy,
float32, 3x48x192), preprocessed as PaddleOCR's tools/infer/predict_cls.py
(resize_norm_img) does:

    resize to height 48 keeping the aspect ratio (width at most 192),
    x = (pixel / 255 - 0.5) / 0.5, channels first,
    pad on the right with zeros up to width 192.

PaddleOCR reads images with cv2.imread, so its channels are in BGR order;
we write BGR too (it makes no difference for grey text, but keeps the
recipe right for coloured crops). cv2.resize's default is bilinear; we use
PIL's bilinear, close enough for a test input.

Needs numpy and PIL (Pillow). Usage:
    /usr/bin/python3 tools/make_ocr_inputs.py [--out tests/data/ocr]
"""
import argparse
import math
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

TEXT = "Text 12"
H, W = 48, 192
FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
]


def render(text):
    """The text line as an RGB crop with a small white margin."""
    path = next((p for p in FONTS if os.path.exists(p)), None)
    font = ImageFont.truetype(path, 40) if path else ImageFont.load_default()
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox(
        (0, 0), text, font=font)
    pad = 6
    img = Image.new("RGB", (right - left + 2 * pad, bottom - top + 2 * pad), "white")
    ImageDraw.Draw(img).text((pad - left, pad - top), text, font=font, fill="black")
    return img


def preprocess(img):
    """PaddleOCR's resize_norm_img for cls_image_shape 3,48,192 (BGR input)."""
    w, h = img.size
    rw = min(W, int(math.ceil(H * w / float(h))))
    x = np.asarray(img.resize((rw, H), Image.BILINEAR), dtype=np.float32)
    x = x[:, :, ::-1]  # RGB -> BGR, as cv2.imread gives
    x = x.transpose(2, 0, 1) / 255.0
    x = (x - 0.5) / 0.5
    out = np.zeros((3, H, W), dtype=np.float32)
    out[:, :, :rw] = x
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/data/ocr")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    crop = render(TEXT)
    for name, img in (("upright", crop), ("rotated", crop.rotate(180))):
        img.save(os.path.join(args.out, name + ".png"), optimize=True)
        np.save(os.path.join(args.out, name + ".npy"), preprocess(img))
        print("wrote", os.path.join(args.out, name + ".{png,npy}"))


if __name__ == "__main__":
    main()
