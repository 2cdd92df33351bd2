"""Feature visualisation references (METHODS.md, "Feature visualisation"), float64.

    /usr/bin/python3 tools/references/visualize.py

Straight from the definition, written as lucent writes it (torch.fft.irfftn with
norm="ortho", / 4, lucid's decorrelation matrix, torch.sigmoid, torch.roll, the model's
mean/std, torch.optim.Adam on -J), independently of libxcnn/evaluate/visualize.c and
fft.c. The draws are libxcnn's (base/rng.h: splitmix64 and Box-Muller, reproduced
here in Python integers and floats), so the run is the one libxcnn makes for the seed:
S drawn Normal(0, 0.01^2) in the order channel, row, column, real then imaginary; each
step then draws dy, dx uniform in [-8, 8].

Writes, per case, into tests/fixtures/<model>/ (float32 .npy):
  visualize_<case>_s0.npy         S as drawn, (C, H, W//2+1, 2)
  visualize_<case>_grad1.npy      dJ/dS at step 1
  visualize_<case>_s1.npy         S after the first Adam step
  visualize_<case>_objective.npy  J at each step, (steps,)
  visualize_<case>_image.npy      the final image sigmoid(...) of the last S, (C, H, W)
and numpy's irfft2 (norm "ortho") of two spectra that are not Hermitian-consistent
(odd and even widths), visualize_irfft_<h>x<w>_{X,x}.npy, into tests/fixtures/plaincnn/.
tests/test_visualize.c holds the same table of cases.
"""
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MASK = (1 << 64) - 1

# case -> (model, layer attribute, channel (-1: energy), seed, steps, mean, std)
CASES = {
    "plain": ("plaincnn", "relu2", 1, 7, 3, [0.5], [0.25]),
    "color": ("rescnn_bn", "se", -1, 3, 3, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
}


class Rng:
    """base/rng.h, bit for bit."""

    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return float(self.next() >> 11) * (1.0 / 9007199254740992.0)

    def normal(self):
        u1 = 1.0 - self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2)

    def below(self, n):
        return int(self.uniform() * float(n)) % n


def scale_of(h, w):
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fy * fy + fx * fx)
    return 1.0 / np.maximum(f, 1.0 / max(h, w))


def decorrelation():
    m = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
    return m / np.max(np.linalg.norm(m, axis=0))


def image_of(S, h, w, scale, mix):
    spec = torch.view_as_complex(S) * scale
    t = torch.fft.irfftn(spec, s=(h, w), norm="ortho") / 4.0
    if S.shape[0] == 3:
        t = torch.einsum("ck,khw->chw", mix, t)
    return torch.sigmoid(t)


def run_case(model, module, channel, seed, steps, mean, std):
    C, H, W = model.input_shape
    K = W // 2 + 1
    rng = Rng(seed)
    s0 = np.array([0.01 * rng.normal() for _ in range(C * H * K * 2)]).reshape(C, H, K, 2)
    S = torch.tensor(s0, dtype=torch.float64, requires_grad=True)
    scale = torch.tensor(scale_of(H, W), dtype=torch.float64)
    mix = torch.tensor(decorrelation(), dtype=torch.float64)
    mean_t = torch.tensor(mean, dtype=torch.float64)[:, None, None]
    std_t = torch.tensor(std, dtype=torch.float64)[:, None, None]
    opt = torch.optim.Adam([S], lr=0.05, betas=(0.9, 0.999), eps=1e-8)
    seen = {}
    hook = module.register_forward_hook(lambda mod, i, o: seen.__setitem__("a", o))
    out = {"s0": s0, "objective": []}
    for step in range(steps):
        dy = -8 + rng.below(17)
        dx = -8 + rng.below(17)
        opt.zero_grad()
        img = image_of(S, H, W, scale, mix)
        x = (torch.roll(img, shifts=(dy, dx), dims=(1, 2)) - mean_t) / std_t
        model(x[None])
        a = seen["a"][0]
        J = a[channel].mean() if channel >= 0 else (a * a).mean()
        (-J).backward()
        out["objective"].append(J.item())
        if step == 0:
            out["grad1"] = (-S.grad).detach().numpy().copy()
        opt.step()
        if step == 0:
            out["s1"] = S.detach().numpy().copy()
    hook.remove()
    with torch.no_grad():
        out["image"] = image_of(S, H, W, scale, mix).numpy()
    out["objective"] = np.array(out["objective"])
    return out


def save(path, a):
    np.save(path, np.ascontiguousarray(np.asarray(a, dtype=np.float32)))


def irfft_fixtures(d):
    r = np.random.RandomState(404)
    for h, w in ((5, 7), (6, 8)):
        X = r.standard_normal((h, w // 2 + 1, 2))
        x = np.fft.irfft2(X[..., 0] + 1j * X[..., 1], s=(h, w), norm="ortho")
        save(os.path.join(d, "visualize_irfft_%dx%d_X.npy" % (h, w)), X)
        save(os.path.join(d, "visualize_irfft_%dx%d_x.npy" % (h, w)), x)


def main():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import make_fixtures  # noqa: E402

    torch.set_num_threads(1)
    builders = {"plaincnn": make_fixtures.build_plaincnn,
                "rescnn_bn": make_fixtures.build_rescnn_bn}
    for case, (name, attr, channel, seed, steps, mean, std) in CASES.items():
        model, x32, _, _ = builders[name]()
        model = model.double().eval()
        model.input_shape = x32.shape[1:]
        d = os.path.join(ROOT, "tests", "fixtures", name)
        assert np.array_equal(np.load(os.path.join(d, "input.npy")), x32), name
        out = run_case(model, getattr(model, attr), channel, seed, steps, mean, std)
        for k, v in out.items():
            save(os.path.join(d, "visualize_%s_%s.npy" % (case, k)), v)
        print(case, "objective", out["objective"])
    irfft_fixtures(os.path.join(ROOT, "tests", "fixtures", "plaincnn"))


if __name__ == "__main__":
    main()
