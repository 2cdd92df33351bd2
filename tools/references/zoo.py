#!/usr/bin/python3
"""The torchvision zoo for `make test-zoo` (tools/make_fixtures.py --zoo [DIR]).

For each of torchvision's CNNs (random weights, seeded; BatchNorm running
statistics and affine parameters moved away from 0 and 1 as the committed
fixtures do) this writes DIR/<model>/:

    model.onnx      the export at 224x224 (Inception v3: 299x299), opset 13
                    (17 for ConvNeXt, whose LayerNorm exports whole there)
    input.npy       a seeded input, 1x3xHxW
    out32.npy       PyTorch's float32 output
    out64.npy       the same model in float64: the reference
    grad32.npy      d out[target] / d input in float32 (saliency, signed)
    grad64.npy      the same in float64
    meta.txt        target, PyTorch's float32 times (forward; forward and
                    backward) in milliseconds with the thread count they
                    were measured with, the ONNX op types with counts, and
                    near_kinks: how many activation inputs lie (in float64)
                    so close to a ReLU-like kink that float32 rounding may
                    put them on the other side (see near_kinks below)

The float64 gradient is the reference; PyTorch's own float32 gradient
tells how far from it a float32 implementation of this network may
honestly land (tests/zoo/test_zoo.sh holds ours to that). Everything is
seeded; nothing here is committed (the larger models are hundreds of MB).
"""
import collections
import copy
import io
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn

# name, input side, opset, seed, heavy. Order: smallest first, so a partial
# run has the most models. The heavy ones (what the others already cover,
# only bigger: ResNeXt and Wide ResNet are ResNet-50's ops, VGG is AlexNet's
# at 7 times the work; and ViT, which libxcnn does not run yet) are exported
# only with XCNN_ZOO_ALL=1: with them make test-zoo takes far longer than
# its budget of about 6 minutes on 2 cores.
MODELS = [
    ("squeezenet1_1", 224, 13, 1, False),
    ("mnasnet0_5", 224, 13, 2, False),
    ("shufflenet_v2_x0_5", 224, 13, 3, False),
    ("mobilenet_v3_small", 224, 13, 4, False),
    ("mobilenet_v2", 224, 13, 5, False),
    ("regnet_y_400mf", 224, 13, 6, False),
    ("efficientnet_b0", 224, 13, 7, False),
    ("resnet18", 224, 13, 8, False),
    ("alexnet", 224, 13, 9, False),
    ("googlenet", 224, 13, 10, False),
    ("densenet121", 224, 13, 11, False),
    ("resnet50", 224, 13, 12, False),
    ("inception_v3", 299, 13, 14, False),
    ("convnext_tiny", 224, 17, 15, False),
    ("resnext50_32x4d", 224, 13, 13, True),
    ("vgg11", 224, 13, 16, True),
    ("wide_resnet50_2", 224, 13, 17, True),
    ("vit_b_16", 224, 13, 18, True),
]


def randomize_norms(model, gen):
    """Non-trivial BatchNorm statistics and affine parameters (as
    make_fixtures.randomize_bn), so that BatchNorm matters."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
            m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
            m.weight.data.copy_(0.6 + 0.8 * torch.rand(c, generator=gen))
            m.bias.data.copy_(0.2 * torch.randn(c, generator=gen))


def build(name, seed):
    import torchvision
    torch.manual_seed(seed)
    kw = {}
    if name in ("googlenet", "inception_v3"):
        kw = dict(aux_logits=False, init_weights=True)
    m = getattr(torchvision.models, name)(weights=None, **kw)
    randomize_norms(m, torch.Generator().manual_seed(100 + seed))
    return m.eval()


# Activations with a kink, and where: float32 may put an input that float64
# finds this close to a kink on the other side, and the gradient of
# everything downstream of that unit then changes (ResNet-18 here: one
# ReLU input of 3e-8 flips, 1e-3 of the saliency's maximum moves).
KINK_REL = 1e-6


def near_kinks(model, x):
    """The model's output, and how many units' inputs (in float64) lie
    within KINK_REL of the layer's largest |input| from a kink of ReLU,
    ReLU6, Hardswish or Hardsigmoid, or MaxPool windows whose two largest
    values are that close; module or functional alike (F.* is wrapped for
    this one forward pass)."""
    import torch.nn.functional as F
    found = [0]
    kinks = {"relu": (0.0,), "hardswish": (-3.0, 3.0), "hardsigmoid": (-3.0, 3.0)}
    saved = {name: getattr(F, name) for name in list(kinks) + ["hardtanh", "max_pool2d"]}

    def pool_ties(z, kernel_size, stride=None, padding=0, dilation=1, *args, **kw):
        """Windows whose two largest values are this close but not equal:
        the argmax may move. Equal ones (copies of one value, as a pool
        after a pool has; ReLU's zeros) tie the same way in any precision.
        Partial windows of ceil_mode are not looked at."""
        pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
        (kh, kw_), (sh, sw) = pair(kernel_size), pair(stride or kernel_size)
        (ph, pw), (dh, dw) = pair(padding), pair(dilation)
        if (dh, dw) != (1, 1):
            return 0
        zp = F.pad(z.detach(), (pw, pw, ph, ph), value=float("-inf"))
        win = zp.unfold(2, kh, sh).unfold(3, kw_, sw).reshape(*zp.shape[:2], -1, kh * kw_)
        if win.shape[-1] < 2:
            return 0
        top = win.topk(2, dim=-1).values
        tol = KINK_REL * float(z.detach().abs().max())
        gap = top[..., 0] - top[..., 1]
        return int(((gap > 0) & (gap < tol) & (top[..., 0] > tol)).sum())

    def wrap(name):
        def f(z, *args, **kw):
            if name == "max_pool2d":
                found[0] += pool_ties(z, *args, **kw)
                return saved[name](z, *args, **kw)
            tol = KINK_REL * float(z.detach().abs().max())
            if name == "hardtanh":  # ReLU6 and friends: kinks at its bounds
                lo = args[0] if args else kw.get("min_val", -1.0)
                hi = args[1] if len(args) > 1 else kw.get("max_val", 1.0)
                at = (lo, hi)
            else:
                at = kinks[name]
            for k in at:
                found[0] += int(((z.detach() - k).abs() < tol).sum())
            return saved[name](z, *args, **kw)
        return f
    try:
        for name in saved:
            setattr(F, name, wrap(name))
        with torch.no_grad():
            out = model(x)
    finally:
        for name, f in saved.items():
            setattr(F, name, f)
    return out, found[0]


def saliency(model, x, target):
    x = x.clone().requires_grad_(True)
    y = model(x)
    y[0, target].backward()
    return x.grad.detach()


def timed(fn, reps=2):
    fn()  # warm up
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return 1000 * best


def export_one(outdir, name, side, opset, seed):
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    if os.path.exists(os.path.join(d, "meta.txt")):
        os.remove(os.path.join(d, "meta.txt"))  # incomplete until written again
    model = build(name, seed)
    g = torch.Generator().manual_seed(1000 + seed)
    x = torch.randn(1, 3, side, side, generator=g)
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, x, buf, input_names=["input"], output_names=["output"],
                          opset_version=opset, do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    ops = collections.Counter(n.op_type for n in proto.graph.node)
    with torch.no_grad():
        out32 = model(x)
    model64 = copy.deepcopy(model).double()
    out64, kinks = near_kinks(model64, x.double())
    target = int(out64[0].argmax())
    grad32 = saliency(model, x, target)
    grad64 = saliency(model64, x.double(), target)
    with torch.no_grad():
        fwd_ms = timed(lambda: model(x))
    sal_ms = timed(lambda: saliency(model, x, target))
    tmp = os.path.join(d, "model.onnx.tmp")
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
    os.replace(tmp, os.path.join(d, "model.onnx"))
    for fname, a in (("input", x), ("out32", out32), ("out64", out64), ("grad32", grad32),
                     ("grad64", grad64)):
        np.save(os.path.join(d, fname + ".npy"), a.detach().numpy().astype(np.float32))
    # written last: its presence says the directory is complete
    with open(os.path.join(d, "meta.txt.tmp"), "w") as f:
        f.write("target %d\n" % target)
        f.write("threads %d\n" % torch.get_num_threads())
        f.write("near_kinks %d\n" % kinks)
        f.write("torch_forward_ms %.3f\n" % fwd_ms)
        f.write("torch_saliency_ms %.3f\n" % sal_ms)
        f.write("ops %s\n" % ",".join("%s:%d" % kv for kv in
                                      sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))))
    os.replace(os.path.join(d, "meta.txt.tmp"), os.path.join(d, "meta.txt"))


def up_to_date(outdir, name):
    """A complete export (meta.txt, written last) newer than this script."""
    meta = os.path.join(outdir, name, "meta.txt")
    return os.path.exists(meta) and os.path.getmtime(meta) >= os.path.getmtime(__file__)


def export_zoo(outdir, only=None):
    """Export every model but the heavy ones (XCNN_ZOO_ALL=1: those too),
    or those named in only, not already up to date in outdir;
    XCNN_ZOO_FRESH=1 exports them again."""
    torch.set_num_threads(int(os.environ.get("XCNN_ZOO_THREADS", os.cpu_count() or 1)))
    fresh = os.environ.get("XCNN_ZOO_FRESH") == "1"
    heavy_too = os.environ.get("XCNN_ZOO_ALL") == "1"
    import warnings
    warnings.filterwarnings("ignore")  # torch.onnx's tracer warnings, once per model
    for name, side, opset, seed, heavy in MODELS:
        if only and name not in only:
            continue
        if heavy and not heavy_too and not only:
            continue
        if not fresh and up_to_date(outdir, name):
            continue
        t = time.time()
        try:
            export_one(outdir, name, side, opset, seed)
        except Exception as e:  # one model's export failing must not stop the rest
            print("zoo: %s: export failed: %s" % (name, str(e).splitlines()[0] if str(e) else e),
                  file=sys.stderr)
            continue
        print("zoo: %-20s exported in %.1f s" % (name, time.time() - t), file=sys.stderr)


if __name__ == "__main__":
    export_zoo(sys.argv[1] if len(sys.argv) > 1 else "build/zoo", sys.argv[2:] or None)
