"""Occlusion and RISE references (METHODS.md), float64, for tools/make_method_fixtures.py.

Occlusion follows Captum's Occlusion step by step: window i's start along each dimension is
(i mod n_d) * s_d (the first dimension fastest), its mask a block of ones padded (negative
padding crops it) to the input's shape, x_w = x * (1 - mask) + fill * mask, and the
attribution sum((y - f(x_w)[t]) * mask) / sum(mask).

RISE replays libxcnn/explain/perturbation/rise.c's mask generator bit for bit: splitmix64 (base/rng.h) in
uint64 arithmetic, per mask s*s uniforms for the cells (1 when u < p1), then the shift y and
x with rng_below; the bilinear resize with half-pixel centres and a mirrored border is
written out here in float64 and the mask rounded to float32, as the C code stores it. Given
masks are uniform noise from numpy's seeded RandomState, written as rise_masks.npy.
"""
import copy
import math

import numpy as np
import torch
import torch.nn.functional as F

# Settings per fixture model; tests/test_perturbation.c holds the same table.
#   occlusion: stem -> (window (c, h, w), c 0 = all channels; stride (sh, sw); fill)
#   rise: given masks (count, numpy seed, p1), drawn masks (samples, seed, cells, p1)
SETTINGS = {
    "plaincnn": {
        "occlusion_edge": ((0, 5, 5), (3, 3), 0.0),   # starts 0..24: the last cropped
        "occlusion_chan": ((1, 7, 4), (7, 4), 0.5),   # tiles 28x28 exactly; fill 0.5
        "rise_given": (16, 71, 0.5),
        "rise_seeded": (32, 5, 7, 0.5),
    },
    "rescnn_bn": {
        "occlusion_edge": ((0, 10, 10), (8, 8), 0.0), # starts 0..24: the last cropped
        "occlusion_chan": ((2, 12, 9), (10, 8), -0.25), # 2 of 3 channels; overlap, cropped
        "rise_given": (16, 72, 0.5),
        "rise_seeded": (32, 5, 5, 0.3),               # 32 = 5 cells of 7: 42 up-sampled
    },
}


def occlusion(model64, x64, target, window, stride, fill):
    shape = x64.shape[1:]
    win = (window[0] or shape[0], window[1], window[2])
    strides = (1, stride[0], stride[1])
    counts = [math.ceil((shape[d] - win[d]) / strides[d]) + 1 for d in range(3)]
    with torch.no_grad():
        y = model64(x64)[0, target]
        total = torch.zeros_like(x64)
        weights = torch.zeros_like(x64)
        ones = torch.ones(win, dtype=torch.float64)
        for k in range(counts[0] * counts[1] * counts[2]):
            rem, index = k, []
            for d in range(3):  # Captum's _occlusion_mask
                index.append((rem % counts[d]) * strides[d])
                rem //= counts[d]
            after = [shape[d] - index[d] - win[d] for d in range(3)]
            pads = [v for pair in zip(after, index) for v in pair]
            pads.reverse()
            mask = F.pad(ones, tuple(pads)).reshape((1,) + tuple(shape))
            xw = x64 * (1 - mask) + fill * mask
            diff = y - model64(xw)[0, target]
            total += diff * mask
            weights += mask
    assert weights.min() > 0
    return (total / weights).numpy()


M64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.s = seed & M64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def below(self, n):
        return int(self.uniform() * float(n)) % n


def mirror(i, n):
    if n == 1:
        return 0
    if i < 0:
        return -i
    return 2 * (n - 1) - i if i >= n else i


def source(u, s, up):
    src = (u + 0.5) * s / up - 0.5
    fl = math.floor(src)
    return mirror(fl, s), mirror(fl + 1, s), src - fl


def rise_masks(samples, seed, s, p1, H, W):
    rng = SplitMix64(seed)
    p1 = float(np.float32(p1))
    ch, cw = -(-H // s), -(-W // s)
    uh, uw = (s + 1) * ch, (s + 1) * cw
    out = np.zeros((samples, 1, H, W), np.float32)
    for i in range(samples):
        grid = np.array([1.0 if rng.uniform() < p1 else 0.0 for _ in range(s * s)]).reshape(s, s)
        sy, sx = rng.below(ch), rng.below(cw)
        for r in range(H):
            y0, y1, fy = source(r + sy, s, uh)
            for c in range(W):
                x0, x1, fx = source(c + sx, s, uw)
                top = (1 - fx) * grid[y0, x0] + fx * grid[y0, x1]
                bot = (1 - fx) * grid[y1, x0] + fx * grid[y1, x1]
                out[i, 0, r, c] = (1 - fy) * top + fy * bot
    return out


def rise(model64, x64, target, masks, p1):
    m = torch.from_numpy(masks.astype(np.float64))
    with torch.no_grad():
        scores = torch.softmax(model64(x64 * m), dim=1)[:, target]
    s = (scores.reshape(-1, 1, 1, 1) * m).sum(0, keepdim=True)
    return (s / (masks.shape[0] * float(np.float32(p1)))).numpy()


def references(model, x32, target, name, layers):
    if name not in SETTINGS:
        return {}
    cfg = SETTINGS[name]
    model64 = copy.deepcopy(model).double().eval()
    x64 = torch.from_numpy(x32.astype(np.float64))
    H, W = x32.shape[2], x32.shape[3]
    out = {}
    for stem in ("occlusion_edge", "occlusion_chan"):
        window, stride, fill = cfg[stem]
        out[stem] = occlusion(model64, x64, target, window, stride, fill)
    count, seed, p1 = cfg["rise_given"]
    given = np.random.RandomState(seed).rand(count, 1, H, W).astype(np.float32)
    out["rise_masks"] = given
    out["rise_given"] = rise(model64, x64, target, given, p1)
    samples, seed, cells, p1 = cfg["rise_seeded"]
    out["rise_seeded"] = rise(model64, x64, target, rise_masks(samples, seed, cells, p1, H, W), p1)
    return out
