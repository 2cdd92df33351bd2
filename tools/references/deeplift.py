"""DeepLIFT (Rescale), DeepLIFT-SHAP and GradientSHAP references (METHODS.md).

Called by tools/make_method_fixtures.py: references(model, x32, target, name,
layers) -> {file stem: array}. Everything runs on a float64 copy of the model,
written from METHODS.md's definitions and nothing else (no Captum, no C code):

DeepLIFT runs x and its baseline r as one batch of 2 through a copy of the
model whose nonlinear modules are swapped for autograd Functions that
implement the rules; the output gradient is seeded on x's row only, so the
gradient that reaches the input's row 0 is the multiplier m_x, and
attr = (x - r) * m_x.
  - Rescale (ReLU, ReLU6 = Clip, LeakyReLU, Sigmoid, Hardsigmoid):
    m_in = m_out * (g(z) - g(z')) / (z - z') where |z - z'| >= 1e-10, else
    g'(z) (PyTorch's side at the kinks).
  - Hardswish is x * hardsigmoid(x), as the ONNX export at opset 13 writes
    it (HardSigmoid, then Mul): the HardSigmoid gets the rescale rule, the
    Mul its gradient, as every Mul of two activations.
  - MaxPool: per window o = max over x's window, o' over r's, M = max(o, o');
    g * (M - o') is added at x's first argmax, g * (o - M) at r's, summed
    where windows overlap (scatter_add); then m = C / (z - z') where
    |z - z'| >= 1e-10, else the ordinary max-pool gradient at z.
  - Linear modules (Conv, BatchNorm in eval, Linear, AvgPool, adaptive
    average pool, Flatten, Dropout, padding) and torch's +, *, cat, view:
    their autograd gradient.
GradientSHAP: mean over k of (x~_k - b_j_k) * grad f(a_k x~_k + (1 - a_k) b_j_k)[t]
with the draws (j, e, a) given; the points are formed in float32 exactly as
the C code forms them (b + a * (x~ - b)), the gradients taken in float64.

Files written (all float32 .npy; a delta is an array of one value,
sum(attr) - (f(x)[t] - f(r)[t]) of the float64 computation):
  every model: deeplift (zero baseline), deeplift_delta,
               deeplift_rand_baseline (a seeded standard-normal baseline r),
               deeplift_rand (DeepLIFT against it), deeplift_rand_delta
  rescnn_bn, resnet_narrow: deeplift_shap_baselines (3 x C x H x W, seeded),
               deeplift_shap (the mean over them), deeplift_shap_delta
               (against the baselines' mean score)
  plaincnn, resnet_narrow: gradient_shap_baselines (3 x C x H x W),
               gradient_shap_index (5 draws j, stored as floats),
               gradient_shap_alpha (5 draws a), gradient_shap_noise
               (5 x C x H x W, e already scaled by GSHAP_STDEV),
               gradient_shap
"""
import copy
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import make_fixtures

EPS = 1e-10
SHAP_BASELINES = 3
GSHAP_SAMPLES = 5
GSHAP_STDEV = 0.2
SHAP_MODELS = ("rescnn_bn", "resnet_narrow")
GSHAP_MODELS = ("plaincnn", "resnet_narrow")


# ---------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------
def rescale_function(fn, dfn):
    """An autograd Function for y = fn(z) on a batch [x rows; r rows] whose
    backward is the rescale rule for x's rows (r's rows get 0: nothing is
    seeded there, and nothing reads them)."""

    class Rescale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return fn(z)

        @staticmethod
        def backward(ctx, g):
            (z,) = ctx.saved_tensors
            n = z.shape[0] // 2
            zx, zr = z[:n], z[n:]
            d = zx - zr
            far = d.abs() >= EPS
            safe = torch.where(far, d, torch.ones_like(d))
            slope = torch.where(far, (fn(zx) - fn(zr)) / safe, dfn(zx))
            return torch.cat([g[:n] * slope, torch.zeros_like(g[n:])])

    return Rescale


def _relu(z):
    return z.clamp(min=0)


def _sigmoid_d(z):
    s = torch.sigmoid(z)
    return s * (1 - s)


def _hardsigmoid(z):
    return (z / 6 + 0.5).clamp(0, 1)


def _hardsigmoid_d(z):
    return ((z > -3) & (z < 3)).to(z.dtype) / 6


class Rescaled(nn.Module):
    def __init__(self, fn, dfn):
        super().__init__()
        self.f = rescale_function(fn, dfn)

    def forward(self, z):
        return self.f.apply(z)


def relu_module():
    return Rescaled(_relu, lambda z: (z > 0).to(z.dtype))


def clip_module(lo, hi):
    return Rescaled(lambda z: z.clamp(lo, hi), lambda z: ((z > lo) & (z < hi)).to(z.dtype))


def leaky_module(alpha):
    return Rescaled(lambda z: torch.where(z > 0, z, alpha * z),
                    lambda z: torch.where(z > 0, torch.ones_like(z), torch.full_like(z, alpha)))


class HardswishAsMul(nn.Module):
    """x * hardsigmoid(x): the HardSigmoid node rescaled, the Mul's gradient."""

    def __init__(self):
        super().__init__()
        self.hs = Rescaled(_hardsigmoid, _hardsigmoid_d)

    def forward(self, z):
        return z * self.hs(z)


class _MaxPoolRule(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, k, s, p, d, ceil):
        y, idx = F.max_pool2d(z, k, s, p, d, ceil, return_indices=True)
        ctx.save_for_backward(z, y, idx)
        return y

    @staticmethod
    def backward(ctx, g):
        z, y, idx = ctx.saved_tensors
        n = z.shape[0] // 2
        o, o2 = y[:n].flatten(2), y[n:].flatten(2)
        ix, ir = idx[:n].flatten(2), idx[n:].flatten(2)  # first maxima, flat in the plane
        gx = g[:n].flatten(2)
        big = torch.maximum(o, o2)
        shape = (n, z.shape[1], z.shape[2] * z.shape[3])
        c = torch.zeros(shape, dtype=z.dtype)
        c.scatter_add_(2, ix, gx * (big - o2))
        c.scatter_add_(2, ir, gx * (o - big))
        grad = torch.zeros(shape, dtype=z.dtype).scatter_add_(2, ix, gx)
        d = (z[:n] - z[n:]).flatten(2)
        far = d.abs() >= EPS
        m = torch.where(far, c / torch.where(far, d, torch.ones_like(d)), grad)
        return (torch.cat([m.view(z[:n].shape), torch.zeros_like(z[n:])]),
                None, None, None, None, None)


class MaxPoolRule(nn.Module):
    def __init__(self, mp):
        super().__init__()
        self.args = (mp.kernel_size, mp.stride, mp.padding, mp.dilation, mp.ceil_mode)

    def forward(self, z):
        return _MaxPoolRule.apply(z, *self.args)


LINEAR = (nn.Conv2d, nn.BatchNorm2d, nn.Linear, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
          nn.Flatten, nn.Dropout, nn.ZeroPad2d, nn.Identity)


def _swap(module):
    for name, ch in module.named_children():
        new = None
        if isinstance(ch, (make_fixtures.XReLU, nn.ReLU)):
            new = relu_module()
        elif isinstance(ch, nn.Hardtanh):  # ReLU6: Clip(0, 6)
            new = clip_module(ch.min_val, ch.max_val)
        elif isinstance(ch, nn.LeakyReLU):
            new = leaky_module(ch.negative_slope)
        elif isinstance(ch, nn.Sigmoid):
            new = Rescaled(torch.sigmoid, _sigmoid_d)
        elif isinstance(ch, nn.Hardsigmoid):
            new = Rescaled(_hardsigmoid, _hardsigmoid_d)
        elif isinstance(ch, nn.Hardswish):
            new = HardswishAsMul()
        elif isinstance(ch, nn.MaxPool2d):
            new = MaxPoolRule(ch)
        elif isinstance(ch, LINEAR):
            continue
        elif list(ch.children()):
            _swap(ch)
            continue
        else:
            raise AssertionError("deeplift: no rule for module %s" % type(ch).__name__)
        setattr(module, name, new)


def deeplift_model(model32):
    m = copy.deepcopy(model32).double().eval()
    _swap(m)
    return m


# ---------------------------------------------------------------------------
# The methods
# ---------------------------------------------------------------------------
def deeplift(dl, x, r, t):
    """attr (1,C,H,W) float64 and the float64 scores f(x)[t], f(r)[t]."""
    inp = torch.cat([x, r]).requires_grad_(True)
    out = dl(inp)
    seed = torch.zeros_like(out)
    seed[0, t] = 1
    (g,) = torch.autograd.grad(out, inp, seed)
    attr = (x - r) * g[:1]
    return attr.detach(), float(out[0, t]), float(out[1, t])


def delta_of(attr, fx, fr):
    return np.array([float(attr.sum()) - (fx - fr)])


def gradient_shap(m64, x32, baselines32, index, alpha32, noise32, t):
    xt = (x32 + noise32).astype(np.float32)           # x~ = x + e, as the C code rounds it
    b = baselines32[index]
    a = alpha32.reshape(-1, 1, 1, 1)
    points = (b + a * (xt - b)).astype(np.float32)      # b + a (x~ - b), in float32 as in C
    g, _ = make_fixtures.grad_at(m64, torch.from_numpy(points).double(), t)
    diff = torch.from_numpy(xt).double() - torch.from_numpy(b).double()
    return (diff * g).mean(0, keepdim=True)


def check_captum_golden():
    """METHODS.md: Captum's DeepLift test (identity Linear, MaxPool1d(4),
    Linear(1,1) with weight 1), as a 1x1x1x4 image: [[0,0,0,-8],[0,-7,0,0]],
    delta 0."""
    net = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.MaxPool2d((1, 4)), nn.Flatten(),
                        nn.Linear(1, 1, bias=False))
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[3].weight.fill_(1.0)
    dl = deeplift_model(net)
    x = torch.ones(1, 1, 1, 4, dtype=torch.float64)
    for r, want in (([1, 2, 3, 9], [0, 0, 0, -8]), ([4, 8, 6, 7], [0, -7, 0, 0])):
        attr, fx, fr = deeplift(dl, x, torch.tensor(r, dtype=torch.float64).view(1, 1, 1, 4), 0)
        assert attr.flatten().tolist() == want, (attr.flatten().tolist(), want)
        assert delta_of(attr, fx, fr)[0] == 0


def references(model, x32, target, name, layers):
    del layers
    check_captum_golden()
    rs = np.random.RandomState(zlib.crc32(("deeplift " + name).encode()))
    dl = deeplift_model(model)
    x = torch.from_numpy(x32).double()
    out = {}

    attr, fx, fr = deeplift(dl, x, torch.zeros_like(x), target)
    out["deeplift"], out["deeplift_delta"] = attr, delta_of(attr, fx, fr)

    rb = rs.standard_normal(x32.shape).astype(np.float32)
    attr, fx, fr = deeplift(dl, x, torch.from_numpy(rb).double(), target)
    out["deeplift_rand_baseline"] = rb
    out["deeplift_rand"], out["deeplift_rand_delta"] = attr, delta_of(attr, fx, fr)

    if name in SHAP_MODELS:
        bs = rs.standard_normal((SHAP_BASELINES,) + x32.shape[1:]).astype(np.float32)
        attrs, frs = [], []
        for j in range(SHAP_BASELINES):
            a, fx, fr = deeplift(dl, x, torch.from_numpy(bs[j:j + 1]).double(), target)
            attrs.append(a)
            frs.append(fr)
        attr = torch.stack(attrs).mean(0)
        out["deeplift_shap_baselines"] = bs
        out["deeplift_shap"] = attr
        out["deeplift_shap_delta"] = delta_of(attr, fx, float(np.mean(frs)))

    if name in GSHAP_MODELS:
        m64 = copy.deepcopy(model).double().eval()
        bs = rs.standard_normal((SHAP_BASELINES,) + x32.shape[1:]).astype(np.float32)
        index = rs.randint(0, SHAP_BASELINES, GSHAP_SAMPLES)
        noise = (rs.standard_normal((GSHAP_SAMPLES,) + x32.shape[1:]) *
                 GSHAP_STDEV).astype(np.float32)
        alpha = rs.uniform(0, 1, GSHAP_SAMPLES).astype(np.float32)
        out["gradient_shap_baselines"] = bs
        out["gradient_shap_index"] = index.astype(np.float32)
        out["gradient_shap_alpha"] = alpha
        out["gradient_shap_noise"] = noise
        out["gradient_shap"] = gradient_shap(m64, x32, bs, index, alpha, noise, target)
    return out
