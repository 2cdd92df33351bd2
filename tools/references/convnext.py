"""ConvNeXt references for tests/test_convnext.sh (issue #19).

    /usr/bin/python3 tools/references/convnext.py OUTDIR [--full]

Writes, for each model, NAME_op17.onnx and NAME_op13.onnx (torch.onnx at
opset 17 writes LayerNormalization; at 13 its decomposition ReduceMean,
Sub, Pow, Sqrt, Div), and float32 .npy files:
    NAME_input.npy      the input, (1, 3, H, W)
    NAME_logits64.npy   logits of a float64 copy of the model
    NAME_grad64.npy     d logit[t] / d input of the float64 copy
    NAME_logits32.npy   the same from torch's float32 model (PyTorch's own
    NAME_grad32.npy     float32 error, the bar for ours)
    NAME_gradcam64.npy  Grad-CAM of the float64 model at t on the last
                        stage's output (features[-1], N C H W):
                        relu(sum_k mean_hw(dy/dA_k) A_k)
    NAME_deeplift17.npy DeepLIFT (zero baseline) at t of the float64 model
    NAME_deeplift13.npy by our rules (README, DeepLIFT on ConvNeXt): Rescale
                        at Erf (and at opset 13's Pow and Sqrt), the gradient
                        at x through GELU's Mul, LayerNorm (opset 17) and
                        Div; x and the baseline run as one batch of 2 and the
                        output is seeded on x's row only, so every op without
                        a rule passes its gradient at x
    NAME_target.txt     t, the float64 model's top class
Models (torchvision's ConvNeXt, random weights from a fixed seed, nothing
downloaded):
    tiny       two stages (16 and 32 channels, 2 + 1 blocks) at 32 x 32:
               every op of convnext_tiny in a model that runs in milliseconds
    full       convnext_tiny at 224 x 224 (with --full; 110 MB per export)
The weights are torchvision's init (truncated normal, std 0.02) except the
layer scales, the LayerNorms' affine parameters and the biases, which are
drawn around their trained magnitudes (layer scale 1e-6 at init would make
every block a no-op, and the check would not see them).
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.convnext import CNBlockConfig, ConvNeXt


def perturb(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layer_scale"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.5 + 0.1)
            elif ".bias" in name or name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
            elif p.dim() == 1:  # LayerNorm weight
                p.copy_(1 + torch.randn(p.shape, generator=gen) * 0.2)


def build(name):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    if name == "tiny":
        model = ConvNeXt([CNBlockConfig(16, 32, 2), CNBlockConfig(32, None, 1)],
                         stochastic_depth_prob=0.0, num_classes=10)
        hw = 32
    else:
        model = torchvision.models.convnext_tiny(weights=None)
        hw = 224
    perturb(model, gen)
    model.eval()
    x = torch.randn(1, 3, hw, hw, generator=gen)
    return model, x


def save(path, a):
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    np.save(path, np.ascontiguousarray(a, dtype=np.float32))


def grad_of(model, x, t=None):
    x = x.clone().requires_grad_(True)
    y = model(x)
    if t is None:
        t = int(y[0].argmax())
    y[0, t].backward()
    return y.detach(), x.grad.detach(), t


def gradcam(model, x, t):
    acts = []
    h = model.features.register_forward_hook(lambda m, i, o: acts.append(o))
    y = model(x)
    h.remove()
    a = acts[0]
    g, = torch.autograd.grad(y[0, t], a)
    w = g.mean(dim=(2, 3), keepdim=True)
    return torch.relu((w * a).sum(dim=1, keepdim=True)).detach()


EPS = 1e-10


def rescaled(fn, dfn):
    """y = fn(z) on a batch [x; r] whose backward is DeepLIFT's Rescale for
    x's row: (fn(z) - fn(z')) / (z - z'), fn'(z) where |z - z'| < 1e-10."""
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
    return Rescale.apply


ERF = rescaled(torch.erf, lambda z: 2 / math.sqrt(math.pi) * torch.exp(-z * z))
SQUARE = rescaled(lambda z: z * z, lambda z: 2 * z)
SQRT = rescaled(torch.sqrt, lambda z: 0.5 / torch.sqrt(z))


def gelu_rules(x, approximate="none"):
    return x * (1 + ERF(x / math.sqrt(2))) * 0.5


def layer_norm_13(x, shape, weight=None, bias=None, eps=1e-5):
    """opset 13's decomposition, with Rescale at Pow and Sqrt."""
    dims = tuple(range(-len(shape), 0))
    d = x - x.mean(dim=dims, keepdim=True)
    y = d / SQRT(SQUARE(d).mean(dim=dims, keepdim=True) + eps)
    return y * weight + bias


def deeplift(model, x, t, opset):
    saved = (F.gelu, F.layer_norm)
    F.gelu = gelu_rules
    if opset == 13:
        F.layer_norm = layer_norm_13
    try:
        xr = torch.cat([x, torch.zeros_like(x)]).requires_grad_(True)
        y = model(xr)
        y[0, t].backward()
    finally:
        F.gelu, F.layer_norm = saved
    return (x * xr.grad[:1]).detach()


def main():
    out = sys.argv[1]
    names = ["tiny"] + (["full"] if "--full" in sys.argv[2:] else [])
    os.makedirs(out, exist_ok=True)
    for name in names:
        model, x = build(name)
        for opset in (17, 13):
            torch.onnx.export(model, x, os.path.join(out, f"{name}_op{opset}.onnx"),
                              opset_version=opset, input_names=["input"],
                              output_names=["logits"])
        m64 = build(name)[0].double()
        y64, g64, t = grad_of(m64, x.double())
        y32, g32, _ = grad_of(model, x, t)
        save(os.path.join(out, f"{name}_gradcam64.npy"), gradcam(m64, x.double(), t))
        for opset in (17, 13):
            save(os.path.join(out, f"{name}_deeplift{opset}.npy"),
                 deeplift(m64, x.double(), t, opset))
        save(os.path.join(out, f"{name}_input.npy"), x)
        save(os.path.join(out, f"{name}_logits64.npy"), y64)
        save(os.path.join(out, f"{name}_grad64.npy"), g64)
        save(os.path.join(out, f"{name}_logits32.npy"), y32)
        save(os.path.join(out, f"{name}_grad32.npy"), g32)
        with open(os.path.join(out, f"{name}_target.txt"), "w") as f:
            f.write(f"{t}\n")


if __name__ == "__main__":
    main()
