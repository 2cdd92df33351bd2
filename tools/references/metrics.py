"""Deletion and insertion references (METHODS.md, "Metrics"), float64, for the fixtures.

    /usr/bin/python3 tools/make_method_fixtures.py --only metrics
    /usr/bin/python3 tools/references/metrics.py        (the same, standalone)

Straight from the definition, independently of libxcnn/evaluate/curves.c: the map is the
attribution summed over channels in float64 (signed), resized with torch's bilinear
interpolate (align_corners=False) to H x W when smaller; the pixels are ordered by a stable
argsort of -map (ties: lower flat index first); step P, n = ceil(H*W/P); s_k is
softmax(f(x_k))[t] (float64, torch's softmax) or f(x_k)[t] for score "logit", where x_k is x
with the first k*P pixels set to 0 (deletion) or blur(x) with them put back from x
(insertion). blur is a float64 conv2d with the 11 x 11 kernel k1 k1^T, zero padding 5, one
channel at a time; k1 is scipy's gaussian_filter1d of a centred unit impulse (sigma 5, mode
reflect, truncate 4) written out: the 41-tap Gaussian folded back into 11 taps by half-sample
reflection (asserted against METHODS.md's ten digits). Every x_k is built from scratch.

A map smaller than the input is resized in float32 (the attribution's dtype, as
libxcnn does with io/resize.c, which equals torch's float32 interpolate): the order is a
discrete decision, and a float64 resize could swap two pixels whose values differ only in
the last float32 bit.

Writes curve_<kind>_<map>.npy (float32, shape (n+1,)) per fixture model, for the settings
below (tests/test_curves.c holds the same table).
"""
import copy
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

# stem -> (attribution file, kind, step (0: default), score)
SETTINGS = {
    "curve_deletion_saliency": ("saliency.npy", "deletion", 0, "probability"),
    "curve_insertion_saliency": ("saliency.npy", "insertion", 0, "probability"),
    "curve_deletion_gradcam": ("gradcam.npy", "deletion", 10, "logit"),
    "curve_insertion_gradcam": ("gradcam.npy", "insertion", 10, "logit"),
}
MODELS = ("plaincnn", "rescnn_bn")
K1_METHODS = [0.0879581458, 0.0888961198, 0.0904741965, 0.0921911178, 0.0934893884,
              0.0939820633]


def blur_k1():
    g = [math.exp(-0.5 * j * j / 25.0) for j in range(-20, 21)]
    z = sum(g)
    k1 = [0.0] * 11
    for i in range(11):
        for j in range(-20, 21):
            r = (i + j) % 22
            if (r if r < 11 else 21 - r) == 5:
                k1[i] += g[j + 20] / z
    want = K1_METHODS + K1_METHODS[-2::-1]
    assert max(abs(a - b) for a, b in zip(k1, want)) < 6e-11, k1
    return torch.tensor(k1, dtype=torch.float64)


def blur(x64):
    k1 = blur_k1()
    k = torch.outer(k1, k1).reshape(1, 1, 11, 11)
    c = x64.shape[1]
    out = F.conv2d(x64.double(), k.expand(c, 1, 11, 11).contiguous(), padding=5, groups=c)
    return out.to(x64.dtype)


def saliency_map(attr32, H, W):
    a = np.asarray(attr32, dtype=np.float32).reshape((-1,) + attr32.shape[-2:])
    if a.shape[-2:] != (H, W):
        a32 = torch.from_numpy(a.astype(np.float64).sum(0).astype(np.float32))
        a32 = F.interpolate(a32[None, None], size=(H, W), mode="bilinear", align_corners=False)
        return a32[0, 0].double().reshape(-1)
    return torch.from_numpy(a.astype(np.float64).sum(0)).reshape(-1)


def order(map64):
    return torch.from_numpy(np.argsort(-map64.numpy(), kind="stable"))


def curve_inputs(x64, pix, kind, step):
    """The n + 1 inputs of the curve, each built from scratch."""
    _, C, H, W = x64.shape
    hw = H * W
    n = math.ceil(hw / step)
    start = blur(x64) if kind == "insertion" else x64
    xs = []
    for k in range(n + 1):
        xk = start.clone().reshape(C, hw)
        chosen = pix[: min(k * step, hw)]
        xk[:, chosen] = x64.reshape(C, hw)[:, chosen] if kind == "insertion" else 0.0
        xs.append(xk.reshape(1, C, H, W))
    return torch.cat(xs)


def curve(model64, x64, attr32, kind, step, target, score, batch=64):
    """(curve float64 (n+1,), auc, target); target -1: the arg-max of f(x)."""
    _, _, H, W = x64.shape
    step = step or math.ceil(H * W / 224)
    pix = order(saliency_map(attr32, H, W))
    with torch.no_grad():
        if target < 0:
            target = int(model64(x64)[0].argmax())
        xs = curve_inputs(x64, pix, kind, step)
        s = []
        for i in range(0, xs.shape[0], batch):
            y = model64(xs[i:i + batch])
            s.append(y[:, target] if score == "logit" else torch.softmax(y, 1)[:, target])
        s = torch.cat(s)
    n = s.shape[0] - 1
    auc = float((s.sum() - (s[0] + s[-1]) / 2) / n)
    return s.numpy(), auc, target


def fixture_dir(name):
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(os.path.dirname(os.path.dirname(here)), "tests", "fixtures", name)


def references(model, x32, target, name, layers):
    """tools/make_method_fixtures.py's entry: the curves of the committed maps."""
    del layers
    if name not in MODELS:
        return {}
    model64 = copy.deepcopy(model).double().eval()
    x64 = torch.from_numpy(x32.astype(np.float64))
    out = {}
    for stem, (afile, kind, step, score) in SETTINGS.items():
        attr = np.load(os.path.join(fixture_dir(name), afile))
        s, _, _ = curve(model64, x64, attr, kind, step, target, score)
        out[stem] = s.astype(np.float32)
    return out


def main():
    tools = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, tools)
    import make_fixtures  # noqa: E402
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for name in MODELS:
        d = fixture_dir(name)
        model, x32, layers, _ = make_fixtures.BUILDERS[name]()
        model.eval()
        assert np.array_equal(np.load(os.path.join(d, "input.npy")), x32), name
        with open(os.path.join(d, "meta.txt")) as f:
            target = int(dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
                         ["target"])
        for stem, v in sorted(references(model, x32, target, name, layers).items()):
            make_fixtures.save_npy(os.path.join(d, stem + ".npy"), v)
            print("== %s: %s.npy %s" % (name, stem, v.shape))
    return 0


if __name__ == "__main__":
    sys.exit(main())
