#!/usr/bin/python3
"""
libxcnn against PyTorch on the same CPU, in the same run, call by call.

ResNet-18 (torchvision, 224x224, batch 1) with the same thread count for
both (default 2). Rows:
  forward            torch: model(x) under no_grad  | ours: xcnn_forward, model
                     loaded inference_only (as `xcnn predict` and `xcnn bench`)
  forward+backward   d logit / d input (weights frozen, as an explainer needs)
  grad-cam layer4    forward, gradient at layer4's output, weighted sum + ReLU
  IG 50 steps        Gauss-Legendre path, 10 points per forward/backward batch
and the second round's methods (METHODS.md), each written here in PyTorch
from its definition (Captum, Zennit and pytorch-grad-cam are not
installed), target 0, ours through xcnn_paired_open_method:
  deeplift           Rescale rules as custom autograd functions (ReLU, MaxPool);
                     the baseline's activations run beside the input's, so the
                     backward covers the input only; zero baseline
  deeplift-shap      the same on 4 baselines (x repeated: one batch of 4 + 4)
  gradient-shap      5 samples over 2 baselines, one forward/backward batch
  lrp                epsilon-plus-flat, Zennit-style: BN merged into the convs
                     once; z+ as two convs with clamped weights and their input
                     gradients; flat first conv; epsilon fc; norm rule for Add
                     and the global average pool; max-pool by its gradient
  occlusion          window 3x15x15, stride 8: 1 + 28*28 = 785 forwards,
                     --batch at a time (ours: --batch reserved)
  rise               --samples masks (400; METHODS.md's default is 4000), drawn
                     in the call on both sides, --batch at a time
  cam, gradcam-plus-plus, xgradcam, layercam, hirescam: one forward (and a
                     backward to layer4), then the map
  scorecam           512 forwards of masked inputs, --batch at a time
  eigencam           one forward, SVD of the 49x512 centred activations
  ablationcam        512 ablations of layer4's channels; PyTorch reruns only the
                     global average pool + fc, 64 ablated copies at a time
--rows picks rows (keys: forward, forward-backward, gradcam, ig and the
method names; 'old', 'new', 'all'); a method libxcnn has not written yet
prints "not available". --check also holds each new row's result against
PyTorch's (the same masks / draws handed to ours): max|ours-torch|/max|torch|.
The PyTorch ResNet-18 is the ONNX's own network (tools/make_fixtures.py's
seeds), so the results can be compared.
Ours runs in this process: `make paired` (run by this script) builds the
library as build/bench/libxcnn_paired.so (bench/paired/xcnn_paired.c), loaded with
ctypes. Each row times --pairs pairs of calls, PyTorch's and ours back to
back on the same input (the order alternating), after warm-up calls; the
ratio shown is the median of the pairs' ratios, with its quartiles. Both
calls of a pair run within ~0.1 s of each other on the same OpenMP
threads, so they meet the same state of this VM, whose speed changes
within a second (timing each side in a process of its own let the two
sides land in different states). Our peak RSS per row comes from
`xcnn bench` in a process of its own; the script also reports
`xcnn predict`'s peak RSS and its process start-to-prediction wall time.

    /usr/bin/python3 bench/compare_torch.py [--xcnn build/xcnn]
        [--model build/fixtures/resnet18/model.onnx] [--threads 2] [--pairs 40]
        [--rows a,b,...] [--slow-pairs 3] [--slow-warm 1] [--batch 16] [--samples 400] [--check]
The ONNX comes from: /usr/bin/python3 tools/make_fixtures.py --big --out build/fixtures
"""
import argparse
import ctypes
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision


def randomize_bn(model, gen):
    """tools/make_fixtures.py's: non-trivial BatchNorm statistics."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
            m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
            m.weight.data.copy_(0.6 + 0.8 * torch.rand(c, generator=gen))
            m.bias.data.copy_(0.2 * torch.randn(c, generator=gen))


def fixture_resnet18():
    """The very network of build/fixtures/resnet18/model.onnx (the seeds of
    tools/make_fixtures.py), so that --check can hold our results against
    PyTorch's; frozen, eval mode."""
    torch.manual_seed(4)
    model = torchvision.models.resnet18(weights=None)
    randomize_bn(model, torch.Generator().manual_seed(14))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)  # explainers need input gradients only
    return model


def torch_rows(threads, ig_steps, ig_batch):
    torch.set_num_threads(threads)
    model = fixture_resnet18()
    torch.manual_seed(0)
    x = torch.rand(1, 3, 224, 224) * 2 - 1
    target = 0

    def forward():
        with torch.no_grad():
            model(x)

    def forward_backward():
        xi = x.clone().requires_grad_(True)
        y = model(xi)
        torch.autograd.grad(y[0, target], xi)

    acts = {"on": False}

    def keep(module, inputs, output):
        # Grad-CAM only: make layer4's output a leaf that needs a gradient;
        # backward then stops there (weights are frozen), as it needs.
        if not acts["on"]:
            return None
        acts["a"] = output.detach().requires_grad_(True)
        return acts["a"]

    model.layer4.register_forward_hook(keep)

    def gradcam():
        acts["on"] = True
        y = model(x)
        acts["on"] = False
        a = acts["a"]
        (g,) = torch.autograd.grad(y[0, target], a)
        w = g.mean(dim=(2, 3), keepdim=True)
        torch.relu((w * a).sum(dim=1, keepdim=True))

    nodes, weights = np.polynomial.legendre.leggauss(ig_steps)
    alphas = torch.tensor((nodes + 1) / 2, dtype=torch.float32)
    wts = torch.tensor(weights / 2, dtype=torch.float32)
    baseline = torch.zeros_like(x)

    def integrated_gradients():
        total = torch.zeros_like(x)
        for s in range(0, ig_steps, ig_batch):
            a = alphas[s:s + ig_batch].view(-1, 1, 1, 1)
            pts = (baseline + a * (x - baseline)).requires_grad_(True)
            y = model(pts)
            (g,) = torch.autograd.grad(y[:, target].sum(), pts)
            total += (g * wts[s:s + ig_batch].view(-1, 1, 1, 1)).sum(0, keepdim=True)
        return (x - baseline) * total

    return model, x, {
        "forward": forward,
        "forward+backward": forward_backward,
        "grad-cam layer4": gradcam,
        "IG %d steps (batch %d)" % (ig_steps, ig_batch): integrated_gradients,
    }


# ---------------------------------------------------------------------------
# The second round's methods (METHODS.md), each written in PyTorch straight
# from its definition, as a fair and efficient PyTorch user would: float32,
# frozen weights, no_grad wherever no gradient is needed, batched passes.
# Each function returns the attribution (for --check).
# ---------------------------------------------------------------------------
XCNN_METHOD = {"deeplift": 8, "deeplift-shap": 9, "gradient-shap": 10, "lrp": 11,
               "occlusion": 12, "rise": 13, "cam": 14, "gradcam-plus-plus": 15,
               "xgradcam": 16, "layercam": 17, "hirescam": 18, "scorecam": 19,
               "eigencam": 20, "ablationcam": 21}


def resnet_blocks(model):
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        for b in layer:
            yield b


class _DLReLU(torch.autograd.Function):
    """DeepLIFT Rescale on ReLU: zx carries the graph, zr (the baseline's
    pre-activation, values only) rides along; multiplier
    (relu(zx) - relu(zr)) / (zx - zr), the gradient where |zx - zr| < 1e-10."""

    @staticmethod
    def forward(ctx, zx, zr):
        ctx.save_for_backward(zx, zr)
        return zx.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        zx, zr = ctx.saved_tensors
        dz = zx - zr
        far = dz.abs() >= 1e-10
        m = torch.where(far, (zx.clamp(min=0) - zr.clamp(min=0)) / torch.where(far, dz, torch.ones_like(dz)),
                        (zx > 0).to(g.dtype))
        return g * m, None


class _DLMaxPool(torch.autograd.Function):
    """DeepLIFT on MaxPool as METHODS.md: per window M = max(o, o'),
    g*(M - o') at x's argmax, g*(o - M) at r's argmax (summed), then
    C / (zx - zr), the ordinary max-pool gradient where |zx - zr| < 1e-10."""

    @staticmethod
    def forward(ctx, zx, zr, k, s, p):
        ox, ix = F.max_pool2d(zx, k, s, p, return_indices=True)
        orr, ir = F.max_pool2d(zr, k, s, p, return_indices=True)
        ctx.save_for_backward(zx, zr, ox, orr, ix, ir)
        return ox

    @staticmethod
    def backward(ctx, g):
        zx, zr, ox, orr, ix, ir = ctx.saved_tensors
        n, c = zx.shape[:2]
        M = torch.maximum(ox, orr)
        acc = torch.zeros(n, c, zx.shape[2] * zx.shape[3], dtype=g.dtype)
        acc.scatter_add_(2, ix.flatten(2), (g * (M - orr)).flatten(2))
        acc.scatter_add_(2, ir.flatten(2), (g * (ox - M)).flatten(2))
        plain = torch.zeros_like(acc).scatter_add_(2, ix.flatten(2), g.flatten(2))
        dz = (zx - zr).flatten(2)
        far = dz.abs() >= 1e-10
        m = torch.where(far, acc / torch.where(far, dz, torch.ones_like(dz)), plain)
        return m.view_as(zx), None, None, None, None


def deeplift_forward(model, x, r):
    """ResNet-18 on x (graph) and r (values) in lockstep: Captum's DeepLift
    rules with the baseline's activations beside the input's, so that the
    backward runs on the inputs' rows only (Captum's batch of 2 would run
    it on the baselines' rows too, for nothing)."""
    def lin(f, hx, hr):
        with torch.no_grad():
            hr2 = f(hr)
        return f(hx), hr2

    def relu(hx, hr):
        return _DLReLU.apply(hx, hr), hr.clamp(min=0)

    hx, hr = lin(lambda h: model.bn1(model.conv1(h)), x, r)
    hx, hr = relu(hx, hr)
    with torch.no_grad():
        hr2 = F.max_pool2d(hr, 3, 2, 1)
    hx, hr = _DLMaxPool.apply(hx, hr, 3, 2, 1), hr2
    for b in resnet_blocks(model):
        ix, ir = hx, hr
        ox, orr = relu(*lin(lambda h: b.bn1(b.conv1(h)), hx, hr))
        ox, orr = lin(lambda h: b.bn2(b.conv2(h)), ox, orr)
        if b.downsample is not None:
            ix, ir = lin(b.downsample, ix, ir)
        hx, hr = relu(ox + ix, orr + ir)
    return lin(lambda h: model.fc(torch.flatten(model.avgpool(h), 1)), hx, hr)


def fuse_bn(conv, bn):
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    w = conv.weight * scale.view(-1, 1, 1, 1)
    b = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        b = b + conv.bias * scale
    return w.detach().contiguous(), b.detach().contiguous()


def new_rows(model, x, target, layer_module, batch_many, n_baselines_shap, gs_samples,
             rise_samples, occ_window, occ_stride):
    """name -> (torch function, draws function or None)."""
    H, W = x.shape[2], x.shape[3]
    g = torch.Generator().manual_seed(7)
    shap_baselines = torch.rand(n_baselines_shap, *x.shape[1:], generator=g) * 2 - 1
    gs_baselines = torch.rand(2, *x.shape[1:], generator=g) * 2 - 1
    fns = {}

    # -- DeepLIFT, DeepLIFT-SHAP: Rescale rules, one forward pair, one backward
    def deeplift_of(xs, rs):
        xi = xs.clone().requires_grad_(True)
        yx, yr = deeplift_forward(model, xi, rs)
        (m,) = torch.autograd.grad(yx[:, target].sum(), xi)
        return (xs - rs) * m, yx[:, target].detach(), yr[:, target]

    def deeplift():
        r = torch.zeros_like(x)
        a, yx, yr = deeplift_of(x, r)
        a.sum() - (yx - yr).sum()  # delta, as ours reports it
        return a

    def deeplift_shap():
        n = shap_baselines.shape[0]
        a, yx, yr = deeplift_of(x.expand(n, -1, -1, -1), shap_baselines)
        a = a.mean(0, keepdim=True)
        a.sum() - (yx.mean() - yr.mean())
        return a

    fns["deeplift"] = (deeplift, None)
    fns["deeplift-shap"] = (deeplift_shap, None)

    # -- gradient-SHAP: the samples as one batch (Captum's GradientShap)
    def gs_draws():
        gg = torch.Generator().manual_seed(11)
        idx = torch.randint(0, gs_baselines.shape[0], (gs_samples,), generator=gg)
        alpha = torch.rand(gs_samples, generator=gg)
        return {"draw_index": idx.float(), "draw_alpha": alpha}

    def gradient_shap(draws=None):
        d = draws or gs_draws()
        idx, a = d["draw_index"].long(), d["draw_alpha"].view(-1, 1, 1, 1)
        b = gs_baselines[idx]
        xt = x  # stdev 0 (the default): x~ = x
        pts = (a * xt + (1 - a) * b).requires_grad_(True)
        y = model(pts)
        (gr,) = torch.autograd.grad(y[:, target].sum(), pts)
        return ((xt - b) * gr).mean(0, keepdim=True)

    fns["gradient-shap"] = (gradient_shap, gs_draws)

    # -- LRP epsilon-plus-flat (Zennit EpsilonPlusFlat + canonizers): BN
    # merged, explicit relevance pass with the rules' modified gradients
    convs = {}

    def prep(key, conv, bn):
        w, b = fuse_bn(conv, bn)
        convs[key] = (w, b, w.clamp(min=0), w.clamp(max=0), b.clamp(min=0), conv.stride,
                      conv.padding)

    prep("stem", model.conv1, model.bn1)
    for i, b in enumerate(resnet_blocks(model)):
        prep((i, 1), b.conv1, b.bn1)
        prep((i, 2), b.conv2, b.bn2)
        if b.downsample is not None:
            prep((i, "d"), b.downsample[0], b.downsample[1])
    stem = model.conv1
    flat_w = torch.ones(1, *stem.weight.shape[1:])
    with torch.no_grad():  # the flat rule's z: input-independent, made once
        flat_z = F.conv2d(torch.ones_like(x), flat_w, None, stem.stride, stem.padding)

    def stab(z, eps=1e-6):
        return z + eps * torch.where(z >= 0, 1.0, -1.0)

    def conv_of(key, a):
        w, b, _, _, _, s, p = convs[key]
        return F.conv2d(a, w, b, s, p)

    def zplus(key, a, R):
        _, _, wp, wn, bp, s, p = convs[key]
        ap, an = a.clamp(min=0), a.clamp(max=0)
        z = F.conv2d(ap, wp, bp, s, p) + F.conv2d(an, wn, None, s, p)
        sr = R / stab(z)
        return (ap * torch.nn.grad.conv2d_input(a.shape, wp, sr, s, p) +
                an * torch.nn.grad.conv2d_input(a.shape, wn, sr, s, p))

    def lrp():
        with torch.no_grad():
            h0 = torch.relu(conv_of("stem", x))
            h, mp_idx = F.max_pool2d(h0, 3, 2, 1, return_indices=True)
            saved = []
            for i, b in enumerate(resnet_blocks(model)):
                r1 = torch.relu(conv_of((i, 1), h))
                c2 = conv_of((i, 2), r1)
                idn = conv_of((i, "d"), h) if b.downsample is not None else h
                s = c2 + idn
                saved.append((h, r1, c2, idn, s, b.downsample is not None))
                h = torch.relu(s)
            gap = h.mean((2, 3))
            y = model.fc(gap)
            R = torch.zeros_like(y)
            R[:, target] = y[:, target]
            # Gemm: epsilon
            R = gap * ((R / stab(y)) @ model.fc.weight)
            # GlobalAveragePool: norm rule
            R = h * (R / stab(gap)).view(1, -1, 1, 1) / (h.shape[2] * h.shape[3])
            for i in reversed(range(len(saved))):
                hin, r1, c2, idn, s, ds = saved[i]
                q = R / stab(s)  # ReLU: pass; Add: norm rule
                Rc2, Ridn = c2 * q, idn * q
                Rin = zplus((i, 1), hin, zplus((i, 2), r1, Rc2))
                Rin = Rin + (zplus((i, "d"), hin, Ridn) if ds else Ridn)
                R = Rin
            R = torch.ops.aten.max_pool2d_with_indices_backward(R, h0, [3, 3], [2, 2], [1, 1],
                                                                [1, 1], False, mp_idx)
            # first conv: flat (all its output channels share z)
            sr = (R / stab(flat_z)).sum(1, keepdim=True)
            Rx = torch.nn.grad.conv2d_input(x.shape, flat_w, sr, stem.stride, stem.padding)
            Rx.sum()
            return Rx

    fns["lrp"] = (lrp, None)

    # -- occlusion (Captum's Occlusion): windows batched, no_grad
    wc, wh, ww = occ_window
    sh, sw = occ_stride
    C = x.shape[1]
    wc = wc or C
    n_c = C - wc + 1
    n_h = -(-(H - wh) // sh) + 1
    n_w = -(-(W - ww) // sw) + 1
    windows = [(c, i * sh, j * sw) for c in range(n_c) for i in range(n_h) for j in range(n_w)]
    count = torch.zeros_like(x[0])
    for c, h0, w0 in windows:
        count[c:c + wc, h0:h0 + wh, w0:w0 + ww] += 1  # input-independent: made once
    occ_forwards = 1 + len(windows)

    def occlusion():
        with torch.no_grad():
            y = model(x)[0, target]
            acc = torch.zeros_like(x[0])
            for k in range(0, len(windows), batch_many):
                part = windows[k:k + batch_many]
                xs = x.repeat(len(part), 1, 1, 1)
                for n, (c, h0, w0) in enumerate(part):
                    xs[n, c:c + wc, h0:h0 + wh, w0:w0 + ww] = 0
                d = y - model(xs)[:, target]
                for n, (c, h0, w0) in enumerate(part):
                    acc[c:c + wc, h0:h0 + wh, w0:w0 + ww] += d[n]
            return (acc / count.clamp(min=1)).unsqueeze(0)

    fns["occlusion"] = (occlusion, None)

    # -- RISE (Petsiuk et al.): masks drawn per call, batched, no_grad
    cells, p1 = 7, 0.5

    def rise_masks(gen=None):
        ch, cw = -(-H // cells), -(-W // cells)
        grid = (torch.rand(rise_samples, 1, cells, cells, generator=gen) < p1).float()
        up = F.interpolate(grid, size=((cells + 1) * ch, (cells + 1) * cw), mode="bilinear",
                           align_corners=False)
        sx = torch.randint(0, ch, (rise_samples,), generator=gen)
        sy = torch.randint(0, cw, (rise_samples,), generator=gen)
        return torch.stack([up[i, :, sx[i]:sx[i] + H, sy[i]:sy[i] + W]
                            for i in range(rise_samples)])

    def rise_draws():
        return {"masks": rise_masks(torch.Generator().manual_seed(13))}

    def rise(draws=None):
        with torch.no_grad():
            masks = draws["masks"] if draws else rise_masks()
            sal = torch.zeros(1, 1, H, W)
            for k in range(0, masks.shape[0], batch_many):
                m = masks[k:k + batch_many]
                p = torch.softmax(model(x * m), 1)[:, target]
                sal += (p.view(-1, 1, 1, 1) * m).sum(0, keepdim=True)
            return sal / (masks.shape[0] * p1)

    fns["rise"] = (rise, rise_draws)

    # -- the CAM family at layer4 (pytorch-grad-cam's definitions)
    acts = {"grad": False}

    def keep(module, inputs, output):
        if acts["grad"]:
            acts["a"] = output.detach().requires_grad_(True)
            return acts["a"]
        acts["a"] = output
        return None

    layer_module.register_forward_hook(keep)

    def layer_grad():
        acts["grad"] = True
        y = model(x)
        acts["grad"] = False
        a = acts.pop("a")
        (gr,) = torch.autograd.grad(y[0, target], a)
        return a.detach(), gr

    def layer_values():
        with torch.no_grad():
            y = model(x)
        return acts.pop("a"), y

    def cam():
        a, _ = layer_values()
        return (model.fc.weight[target].view(1, -1, 1, 1) * a).sum(1, keepdim=True)

    def gradcam_pp():
        a, gr = layer_grad()
        g2 = gr * gr
        den = 2 * g2 + a.sum((2, 3), keepdim=True) * g2 * gr + 1e-6
        alpha = torch.where(gr != 0, g2 / den, torch.zeros_like(gr))
        w = (torch.relu(gr) * alpha).sum((2, 3), keepdim=True)
        return torch.relu((w * a).sum(1, keepdim=True))

    def xgradcam():
        a, gr = layer_grad()
        w = (gr * a).sum((2, 3), keepdim=True) / (a.sum((2, 3), keepdim=True) + 1e-7)
        return torch.relu((w * a).sum(1, keepdim=True))

    def layercam():
        a, gr = layer_grad()
        return torch.relu((torch.relu(gr) * a).sum(1, keepdim=True))

    def hirescam():
        a, gr = layer_grad()
        return torch.relu((gr * a).sum(1, keepdim=True))

    def scorecam():
        a, _ = layer_values()
        with torch.no_grad():
            u = F.interpolate(a, size=(H, W), mode="bilinear", align_corners=True)[0]
            lo = u.amin((1, 2), keepdim=True)
            hi = u.amax((1, 2), keepdim=True)
            u = (u - lo) / (hi - lo + 1e-8)
            s = torch.empty(u.shape[0])
            for k in range(0, u.shape[0], batch_many):
                s[k:k + batch_many] = model(x * u[k:k + batch_many].unsqueeze(1))[:, target]
            w = torch.softmax(s, 0).view(1, -1, 1, 1)
            return torch.relu((w * a).sum(1, keepdim=True))

    def eigencam():
        a, _ = layer_values()
        k, h, w_ = a.shape[1:]
        m = a[0].reshape(k, h * w_).T
        m = m - m.mean(0, keepdim=True)
        _, _, vh = torch.linalg.svd(m, full_matrices=False)
        p = m @ vh[0]
        if p.max() < -p.min():
            p = -p
        return torch.relu(p).view(1, 1, h, w_)

    def ablationcam():
        # only the part after layer4 (global average pool + fc) is rerun,
        # 64 ablated copies of the activation at a time
        a, y = layer_values()
        with torch.no_grad():
            k = a.shape[1]
            yt = y[0, target]
            yk = torch.empty(k)
            for c in range(0, k, 64):
                n = min(64, k - c)
                ab = a.repeat(n, 1, 1, 1)
                ab[torch.arange(n), torch.arange(c, c + n)] = 0
                yk[c:c + n] = model.fc(torch.flatten(model.avgpool(ab), 1))[:, target]
            w = ((yt - yk) / yt).view(1, -1, 1, 1)
            return torch.relu((w * a).sum(1, keepdim=True))

    fns.update({"cam": (cam, None), "gradcam-plus-plus": (gradcam_pp, None),
                "xgradcam": (xgradcam, None), "layercam": (layercam, None),
                "hirescam": (hirescam, None), "scorecam": (scorecam, None),
                "eigencam": (eigencam, None), "ablationcam": (ablationcam, None)})
    baselines = {"deeplift-shap": shap_baselines, "gradient-shap": gs_baselines}
    return fns, baselines, occ_forwards


# bench/paired/xcnn_paired.c's works
PAIRED_WORK = {"forward": 0, "forward+backward": 1, "grad-cam layer4": 2,
               "IG 50 steps (batch 10)": 3}

# --rows keys: (display name, what `xcnn bench --method` calls it, or None
# where it has no such method)
OLD_ROWS = {"forward": ("forward", "forward"),
            "forward-backward": ("forward+backward", "forward-backward"),
            "gradcam": ("grad-cam layer4", "gradcam"),
            "ig": ("IG 50 steps (batch 10)", "integrated-gradients")}
NEW_ROWS = list(XCNN_METHOD)
# rows whose calls take seconds: --slow-pairs pairs, 1 warm-up
SLOW = {"occlusion", "rise", "scorecam"}
# rows a few times a forward + backward: a quarter of --pairs (at least 5)
MEDIUM = {"deeplift", "deeplift-shap", "gradient-shap", "lrp", "ablationcam"}


def load_paired(path):
    lib = ctypes.CDLL(path)
    fp = ctypes.POINTER(ctypes.c_float)
    lib.xcnn_paired_open.restype = ctypes.c_void_p
    lib.xcnn_paired_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                                     ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                                     fp, ctypes.c_char_p, ctypes.c_size_t]
    lib.xcnn_paired_open_method.restype = ctypes.c_void_p
    lib.xcnn_paired_open_method.argtypes = (
        [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, fp, fp]
        + [ctypes.c_int] * 8 + [ctypes.c_char_p, ctypes.c_size_t])
    lib.xcnn_paired_set_data.argtypes = [ctypes.c_void_p, ctypes.c_char_p, fp, ctypes.c_size_t]
    lib.xcnn_paired_output.restype = ctypes.c_size_t
    lib.xcnn_paired_output.argtypes = [ctypes.c_void_p, fp, ctypes.c_size_t]
    lib.xcnn_paired_result.argtypes = [ctypes.c_void_p, fp]
    lib.xcnn_paired_run.argtypes = [ctypes.c_void_p]
    lib.xcnn_paired_close.argtypes = [ctypes.c_void_p]
    lib.xcnn_paired_error.restype = ctypes.c_char_p
    lib.xcnn_paired_error.argtypes = [ctypes.c_void_p]
    return lib


def fptr(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def as_np(t):
    return np.ascontiguousarray(t.detach().numpy(), dtype=np.float32)


class NotAvailable(Exception):
    pass


def open_old(lib, model, work, threads, layer, x):
    xa = as_np(x)
    err = ctypes.create_string_buffer(512)
    h = lib.xcnn_paired_open(model.encode(), work, threads, layer.encode(), 50, 10, fptr(xa),
                             err, 512)
    if not h:
        sys.exit("xcnn_paired_open failed: %s" % err.value.decode())
    return h


def open_new(lib, model, method, threads, layer, batch, x, baselines=None, window=(0, 0, 0),
             stride=(0, 0), samples=0, lrp_rule=-1):
    xa = as_np(x)
    ba = as_np(baselines) if baselines is not None else None
    err = ctypes.create_string_buffer(512)
    h = lib.xcnn_paired_open_method(
        model.encode(), XCNN_METHOD[method], threads, layer.encode(), batch, fptr(xa),
        fptr(ba) if ba is not None else None, 0 if ba is None else ba.shape[0],
        window[0], window[1], window[2], stride[0], stride[1], samples, lrp_rule, err, 512)
    if not h:
        msg = err.value.decode()
        if "not written" in msg:
            raise NotAvailable(msg)
        sys.exit("xcnn_paired_open_method(%s) failed: %s" % (method, msg))
    return h


def run_ours(lib, h):
    if lib.xcnn_paired_run(h) != 0:
        msg = lib.xcnn_paired_error(h).decode()
        if "not written" in msg:
            raise NotAvailable(msg)
        sys.exit("xcnn_paired_run failed: %s" % msg)


def paired_times(lib, h, torch_fn, pairs, warm, slow_pairs=None):
    """Times of `pairs` (torch, ours) pairs, the order alternating; with
    slow_pairs, that many instead when a warm-up call took over 1.5 s."""
    slowest = 0.0
    for _ in range(warm):
        for fn in (torch_fn, lambda: run_ours(lib, h)):
            t = time.perf_counter()
            fn()
            slowest = max(slowest, time.perf_counter() - t)
    if slow_pairs and slowest > 1.5:
        pairs = slow_pairs
    t_torch, t_ours = [], []
    for i in range(pairs):
        sides = ((torch_fn, t_torch), (lambda: run_ours(lib, h), t_ours))
        for fn, dst in sides[:: 1 if i % 2 == 0 else -1]:
            t = time.perf_counter()
            fn()
            dst.append((time.perf_counter() - t) * 1e3)
    return t_torch, t_ours


def ours(xcnn, model, threads, iters, method, extra=()):
    cmd = [xcnn, "bench", model, "--method", method, "--threads", str(threads),
           "--iters", str(iters)] + list(extra)
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), out.stderr))
    m = re.search(r"median_ms=([0-9.]+) peak_rss_mb=([0-9.]+)", out.stdout)
    return float(m.group(1)), float(m.group(2))


def predict_stats(xcnn, model, threads):
    """Peak RSS (MB) and wall time from process start to the prediction."""
    with tempfile.TemporaryDirectory() as d:
        inp = os.path.join(d, "x.npy")
        np.save(inp, (np.random.default_rng(0).random((1, 3, 224, 224)) * 2 - 1).astype(np.float32))
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        rss_file = os.path.join(d, "rss")
        best = None
        for _ in range(3):
            # /usr/bin/time reports the child's own peak RSS (%M, KiB): a
            # child forked straight from this Python would inherit torch's.
            t = time.perf_counter()
            p = subprocess.run(["/usr/bin/time", "-o", rss_file, "-f", "%M", xcnn, "predict",
                                model, inp], stdout=subprocess.DEVNULL, env=env)
            wall = time.perf_counter() - t
            if p.returncode != 0:
                sys.exit("xcnn predict failed")
            with open(rss_file) as f:
                r = (wall, float(f.read().split()[-1]) / 1024.0)
            best = r if best is None or r[0] < best[0] else best
        return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xcnn", default="build/xcnn")
    ap.add_argument("--model", default="build/fixtures/resnet18/model.onnx")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=40,
                    help="(PyTorch, ours) pairs of calls per row (IG and the rows of "
                         "several passes: a quarter, at least 5)")
    ap.add_argument("--slow-pairs", type=int, default=3,
                    help="pairs for rows whose calls take seconds (occlusion, rise, scorecam, "
                         "and any row whose warm-up call took over 1.5 s)")
    ap.add_argument("--slow-warm", type=int, default=1,
                    help="warm-up calls (each side) of those slow rows")
    ap.add_argument("--layer", default="/layer4/layer4.1/relu_1/Relu_output_0",
                    help="Grad-CAM tensor in the ONNX (torchvision's layer4 output)")
    ap.add_argument("--rows", default="all",
                    help="comma-separated rows: %s, or 'all' (default), 'old', 'new'"
                         % ",".join(list(OLD_ROWS) + NEW_ROWS))
    ap.add_argument("--batch", type=int, default=16,
                    help="inputs per batch of the many-forward rows (occlusion, rise, "
                         "scorecam, ablationcam), both sides (ours: reserved)")
    ap.add_argument("--samples", type=int, default=400, help="rise masks (METHODS.md: 4000)")
    ap.add_argument("--check", action="store_true",
                    help="also hold each new row's result against PyTorch's (same draws)")
    args = ap.parse_args()
    if not os.path.exists(args.model):
        sys.exit("%s missing: run /usr/bin/python3 tools/make_fixtures.py --big --out build/fixtures"
                 % args.model)
    if args.rows == "all":
        rows = list(OLD_ROWS) + NEW_ROWS
    elif args.rows == "old":
        rows = list(OLD_ROWS)
    elif args.rows == "new":
        rows = NEW_ROWS
    else:
        rows = [r.strip() for r in args.rows.split(",") if r.strip()]
        bad = [r for r in rows if r not in OLD_ROWS and r not in XCNN_METHOD]
        if bad:
            sys.exit("unknown rows: %s (known: %s)" % (", ".join(bad),
                                                       ", ".join(list(OLD_ROWS) + NEW_ROWS)))

    print("cpu: %s, threads: %d, torch %s" % (cpu_name(), args.threads, torch.__version__))
    build = os.path.dirname(args.xcnn)
    so = os.path.join(build, "bench", "libxcnn_paired.so")
    # Made (or remade after a change) here: a stale copy would time old code.
    if subprocess.run(["make", "-s", "BUILD=" + build, "all", "paired"]).returncode != 0:
        sys.exit("make paired failed")
    lib = load_paired(so)
    model, x, torch_fns = torch_rows(args.threads, 50, 10)
    occ_window, occ_stride = (0, 15, 15), (8, 8)
    new_fns, baselines, occ_forwards = new_rows(
        model, x, 0, model.layer4, args.batch, 4, 5, args.samples, occ_window, occ_stride)
    # what each new row opens on our side: reserved batch, options
    new_open = {
        "deeplift": dict(batch=2),
        "deeplift-shap": dict(batch=8, baselines=baselines["deeplift-shap"]),
        "gradient-shap": dict(batch=5, baselines=baselines["gradient-shap"], samples=5),
        "lrp": dict(batch=1, lrp_rule=0),
        "occlusion": dict(batch=args.batch, window=occ_window, stride=occ_stride),
        "rise": dict(batch=args.batch, samples=args.samples),
        "scorecam": dict(batch=args.batch),
        "ablationcam": dict(batch=args.batch),
    }
    label = {
        "deeplift": "deeplift (zero baseline)",
        "deeplift-shap": "deeplift-shap 4 baselines",
        "gradient-shap": "gradient-shap 5x2",
        "lrp": "lrp eps-plus-flat",
        "occlusion": "occlusion 15x15/8 (%d fw)" % occ_forwards,
        "rise": "rise %d masks" % args.samples,
        "scorecam": "scorecam (512 fw)",
        "ablationcam": "ablationcam (512)",
    }
    ours_args = {
        "forward": [],
        "forward-backward": [],
        "gradcam": ["--layer", args.layer],
        "ig": ["--steps", "50", "--batch", "10"],
    }
    print("%-26s %9s %9s %7s %13s %7s  %s" % ("ResNet-18 224x224", "ours ms", "torch ms",
                                            "ratio", "quartiles", "target",
                                            "our peak RSS / check"))
    for key in rows:
        extra_col = ""
        if key in OLD_ROWS:
            name, method = OLD_ROWS[key]
            ig = key == "ig"
            pairs = max(5, args.pairs // 8) if ig else args.pairs
            h = open_old(lib, args.model, PAIRED_WORK[name], args.threads, args.layer, x)
            t_torch, t_ours = paired_times(lib, h, torch_fns[name], pairs, 1 if ig else 3)
            lib.xcnn_paired_close(h)
            _, rss = ours(args.xcnn, args.model, args.threads, 2 if ig else 5, method,
                          ours_args[key])
            extra_col = "%.0f MB" % rss
        else:
            name = label.get(key, key)
            fn, draws = new_fns[key]
            kw = dict(new_open.get(key, dict(batch=1)))
            batch = kw.pop("batch")
            try:
                h = open_new(lib, args.model, key, args.threads, args.layer, batch, x, **kw)
                try:
                    slow = key in SLOW
                    pairs = (args.slow_pairs if slow else
                             max(5, args.pairs // 4) if key in MEDIUM else args.pairs)
                    t_torch, t_ours = paired_times(lib, h, fn, pairs, args.slow_warm if slow else 2,
                                                   None if slow else args.slow_pairs)
                    extra_col = "batch %d" % batch
                    if args.check:
                        extra_col += ", " + check_row(lib, h, fn, draws)
                finally:
                    lib.xcnn_paired_close(h)
            except NotAvailable as e:
                print("%-26s not available: %s" % (name, e))
                continue
        ratios = sorted(o / t for o, t in zip(t_ours, t_torch))
        q1, ratio, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios * 3)
        print("%-26s %9.1f %9.1f %7.2f %6.2f-%-6.2f %7s  %s" % (
            name, statistics.median(t_ours), statistics.median(t_torch), ratio, q1, q3,
            "ok" if ratio <= 0.8 else "MISS", extra_col), flush=True)
    print("(%d pairs per row; IG %d; deeplift, shap, lrp, ablationcam %d; occlusion, rise, "
          "scorecam and rows of calls over 1.5 s %d; ours ms and torch ms are medians of "
          "each side)" % (args.pairs, max(5, args.pairs // 8), max(5, args.pairs // 4),
                          args.slow_pairs))
    if "forward" in rows:
        wall, rss = predict_stats(args.xcnn, args.model, args.threads)
        print("xcnn predict: start to prediction %.3f s (target 0.25), peak RSS %.1f MB "
              "(target 100)" % (wall, rss))


def check_row(lib, h, fn, draws):
    """Our result against PyTorch's on the same draws: max|ours - torch| /
    max|torch|."""
    d = draws() if draws else None
    if d:
        for k, v in d.items():
            a = as_np(v)
            if lib.xcnn_paired_set_data(h, k.encode(), fptr(a), a.size) != 0:
                return "check: set_data %s failed" % k
        ref = fn(d)
    else:
        ref = fn()
    run_ours(lib, h)
    ref = as_np(ref).ravel()
    n = lib.xcnn_paired_output(h, None, 0)
    out = np.empty(n, dtype=np.float32)
    lib.xcnn_paired_output(h, fptr(out), n)
    if n != ref.size:
        return "check: size %d vs %d" % (n, ref.size)
    err = float(np.abs(out - ref).max() / max(np.abs(ref).max(), 1e-30))
    return "rel err %.1e" % err


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
