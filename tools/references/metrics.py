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

And for tests/test_metrics.c (see metric_references below): similarity_a/_b/_q.npy (two real
maps of the fixture, the first also quantised to 8 levels for ties) and similarity_ref.npy
(Spearman and SSIM of pairs of them); infidelity_perturb.npy / sensitivity_perturb.npy (the
perturbations, drawn here, read by the C side) and infidelity_ref.npy (the committed input x
gradient and Grad-CAM maps) / sensitivity_ref.npy (saliency, |gradient| in float64).
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


# ---- Spearman, SSIM, infidelity, sensitivity (tests/test_metrics.c) --------------------
#
# Spearman: average ranks (each distinct value gets the mean of the 1-based positions it
# spans in the sorted order, scipy's rankdata "average", written here with numpy's unique),
# then Pearson's r of the ranks in float64. SSIM: skimage's structural_similarity with
# gaussian_weights=True, sigma 1.5, use_sample_covariance=False, data_range=1, on maps first
# min-max scaled to [0, 1]: a float64 conv2d with the 11 x 11 Gaussian (radius 5) and no
# padding gives exactly the positions skimage keeps after cropping its border of 5.
# Infidelity (Captum's infidelity, normalize off) and sensitivity (Captum's sensitivity_max,
# norm 'fro') with the perturbations given explicitly (saved beside the references, drawn
# here by numpy's seeded generator): the C side reads the same floats.
INFD_SAMPLES, INFD_STDEV = 8, 0.05
SENS_SAMPLES, SENS_RADIUS = 4, 0.02


def rank_average(v):
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    uniq, inv, counts = np.unique(v, return_inverse=True, return_counts=True)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])  # 0-based start of each value
    avg = first + (counts + 1) / 2.0                        # mean of ranks first+1..first+count
    return avg[inv]


def spearman(a, b):
    ra, rb = rank_average(a), rank_average(b)
    da, db = ra - ra.mean(), rb - rb.mean()
    den = math.sqrt((da * da).sum() * (db * db).sum())
    return float((da * db).sum() / den) if den > 0 else 0.0


def ssim(a, b):
    def scale(m):
        m = torch.as_tensor(np.asarray(m, dtype=np.float64))
        lo, hi = m.min(), m.max()
        return (m - lo) / (hi - lo) if hi > lo else torch.zeros_like(m)
    a, b = scale(a)[None, None], scale(b)[None, None]
    g = torch.tensor([math.exp(-((j - 5) ** 2) / 4.5) for j in range(11)], dtype=torch.float64)
    g = g / g.sum()
    win = torch.outer(g, g)[None, None]
    mu_a, mu_b = F.conv2d(a, win), F.conv2d(b, win)
    va = F.conv2d(a * a, win) - mu_a ** 2
    vb = F.conv2d(b * b, win) - mu_b ** 2
    cov = F.conv2d(a * b, win) - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (va + vb + c2))
    return float(s.mean())


def attribution_map(attr32, C, H, W):
    """The attribution as C x H x W float64: 1 channel applies to every channel; a smaller
    map is resized bilinear in float32 (as libxcnn's io/resize.c)."""
    a = np.asarray(attr32, dtype=np.float32).reshape((-1,) + attr32.shape[-2:])
    t = torch.from_numpy(a)
    if a.shape[-2:] != (H, W):
        t = F.interpolate(t[None], size=(H, W), mode="bilinear", align_corners=False)[0]
    t = t.double()
    return t.expand(C, H, W) if t.shape[0] == 1 else t


def infidelity(model64, x64, attr32, target, perturb32):
    _, C, H, W = x64.shape
    a = attribution_map(attr32, C, H, W)
    I = torch.from_numpy(perturb32.astype(np.float64))
    with torch.no_grad():
        fx = model64(x64)[0, target]
        # the model runs float32 x - I: the same rounding as the C side's input
        xs = (torch.from_numpy(x64.numpy().astype(np.float32)) - torch.from_numpy(perturb32))
        fp = model64(xs.double())[:, target]
    dots = (a[None] * I).reshape(I.shape[0], -1).sum(1)
    return float(((dots - (fx - fp)) ** 2).mean())


def saliency64(model64, x64, target):
    x = x64.clone().requires_grad_(True)
    model64(x)[0, target].backward()
    return x.grad.abs()


def sensitivity(model64, x64, target, perturb32):
    e0 = saliency64(model64, x64, target)
    n0 = float(e0.norm()) or 1.0
    x32 = x64.numpy().astype(np.float32)
    top = 0.0
    for d in perturb32:
        xk = torch.from_numpy((x32 + d[None]).astype(np.float32)).double()
        top = max(top, float((saliency64(model64, xk, target) - e0).norm()) / n0)
    return top


def metric_references(model64, x64, x32, target, name):
    d = fixture_dir(name)
    rng = np.random.default_rng(18 + len(name))
    out = {}
    # two real maps: the committed saliency and the upsampled Grad-CAM, summed over channels;
    # the first also quantised to 8 levels (ties)
    sal = np.load(os.path.join(d, "saliency.npy")).astype(np.float64).sum(axis=(0, 1))
    cam = np.load(os.path.join(d, "gradcam_upsample.npy")).astype(np.float64).sum(axis=(0, 1))
    a = sal.astype(np.float32)
    b = cam.astype(np.float32)
    q = (np.floor(a / a.max() * 8) / 8).astype(np.float32)
    out["similarity_a"] = a
    out["similarity_b"] = b
    out["similarity_q"] = q
    out["similarity_ref"] = np.array([spearman(np.abs(a), np.abs(b)), spearman(q, b),
                                      spearman(q, q[::-1]), ssim(a, b), ssim(q, b), ssim(a, a)])
    pi = (rng.standard_normal((INFD_SAMPLES,) + x32.shape[1:]) * INFD_STDEV).astype(np.float32)
    ps = rng.uniform(-SENS_RADIUS, SENS_RADIUS, (SENS_SAMPLES,) + x32.shape[1:]).astype(np.float32)
    out["infidelity_perturb"] = pi
    out["sensitivity_perturb"] = ps
    ixg = np.load(os.path.join(d, "input_x_gradient.npy"))
    gc = np.load(os.path.join(d, "gradcam.npy"))
    out["infidelity_ref"] = np.array([infidelity(model64, x64, ixg, target, pi),
                                      infidelity(model64, x64, gc, target, pi)])
    out["sensitivity_ref"] = np.array([sensitivity(model64, x64, target, ps)])
    return out


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
    out.update(metric_references(model64, x64, x32, target, name))
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
