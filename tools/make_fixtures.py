#!/usr/bin/python3
"""Write PyTorch reference fixtures for libxcnn's tests.

    /usr/bin/python3 tools/make_fixtures.py [--out DIR] [--big [--big-explainers]]
    /usr/bin/python3 tools/make_fixtures.py --zoo [DIR]

Without --big: the small committed fixtures (resnet_narrow, rescnn_bn, plaincnn,
captum_toy) go to tests/fixtures/ (or DIR). With --big: only torchvision's
resnet18 (random init, 224x224) goes to DIR/resnet18/: its 47 MB model, output
and input gradient in seconds; with --big-explainers also every explainer
reference (about 12 minutes on one thread). Never committed. With --zoo:
torchvision's CNNs for `make test-zoo` into DIR (default build/zoo), each
with PyTorch's float32 and float64 outputs and saliency
(tools/references/zoo.py says what and how). Never committed either.

For each model: the ONNX export, an input, PyTorch's output and, for one target
class, every explainer of docs EXPLAINERS.md computed by PyTorch autograd in
float64. The explainers are written here a second time, independently of the C
code, straight from their definitions; deconvnet and guided backprop swap the
backward of every ReLU module through a custom autograd Function.

Everything is seeded: running the script twice gives the same bytes (the script
checks nothing variable ends up in the ONNX file: no doc strings, fixed
producer). See tests/fixtures/README.md for the layout of a fixture directory.
"""
import argparse
import copy
import io
import os
import sys

import numpy as np
import onnx
import onnx.mapping
import onnx.numpy_helper
import onnx.shape_inference
import torch
import torch.nn as nn
import torch.nn.functional as F

IG_STEPS = 50
SG_SAMPLES = 5
SG_STDEV_FRAC = 0.15
CHUNK = 10  # inputs per batched forward/backward (memory bound for resnet18)


# ---------------------------------------------------------------------------
# ReLU with a swappable backward rule
# ---------------------------------------------------------------------------
class _GuidedReLU(torch.autograd.Function):
    """guided backprop: g_in = max(g_out, 0) * [x > 0]"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g.clamp(min=0) * (x > 0).to(g.dtype)


class _DeconvReLU(torch.autograd.Function):
    """deconvnet: g_in = max(g_out, 0), whatever the forward sign"""

    @staticmethod
    def forward(ctx, x):
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        return g.clamp(min=0)


class XReLU(nn.Module):
    """nn.ReLU (never in place) whose backward follows self.rule:
    "none" (true gradient), "guided" or "deconv". Exports as one Relu node."""

    def __init__(self):
        super().__init__()
        self.rule = "none"

    def forward(self, x):
        if self.rule == "guided":
            return _GuidedReLU.apply(x)
        if self.rule == "deconv":
            return _DeconvReLU.apply(x)
        return torch.relu(x)


def swap_relus(module):
    """Replace every nn.ReLU below module by an XReLU (same attribute name,
    so ONNX names do not change). Used for torchvision's resnet18."""
    for name, child in module.named_children():
        if isinstance(child, nn.ReLU):
            setattr(module, name, XReLU())
        else:
            swap_relus(child)


def set_rule(model, rule):
    n = 0
    for m in model.modules():
        assert not isinstance(m, nn.ReLU), "a ReLU that cannot be swapped"
        if isinstance(m, XReLU):
            m.rule = rule
            n += 1
    assert n > 0
    return n


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------
def randomize_bn(model, gen):
    """Non-trivial BatchNorm statistics and affine parameters, so BN matters."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
            m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
            m.weight.data.copy_(0.6 + 0.8 * torch.rand(c, generator=gen))
            m.bias.data.copy_(0.2 * torch.randn(c, generator=gen))


def he_init(model, linear=False):
    """He-normal convolutions keep activations O(1) through deep random nets."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d) or (linear and isinstance(m, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = XReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = XReLU()
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu1(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu2(y + idt)


class ResNetNarrow(nn.Module):
    """ResNet-18 topology (BasicBlock, [2,2,2,2]) with widths 8,16,16,16."""

    def __init__(self, widths=(8, 16, 16, 16), classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = XReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = widths[0]
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            setattr(self, "layer%d" % (i + 1),
                    nn.Sequential(BasicBlock(cin, w, stride), BasicBlock(w, w, 1)))
            cin = w
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class SqueezeExcite(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, r, 1)
        self.relu = XReLU()
        self.fc2 = nn.Conv2d(r, c, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x):
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))


class ResCNNBN(nn.Module):
    """Small residual CNN exercising many ONNX ops, exported with BN unfolded."""

    def __init__(self, classes=10):
        super().__init__()
        # stem: asymmetric zero pad (l1 r2 t1 b2) + 4x4 conv keeps 32x32
        self.pad = nn.ZeroPad2d((1, 2, 1, 2))
        self.stem = nn.Conv2d(3, 16, 4, 1, 0, bias=False)
        self.stem_bn = nn.BatchNorm2d(16)
        self.stem_relu = XReLU()
        # residual block: dilated conv, ReLU6, depthwise conv, LeakyReLU, Add
        self.dil = nn.Conv2d(16, 16, 3, 1, padding=2, dilation=2, bias=False)
        self.dil_bn = nn.BatchNorm2d(16)
        self.relu6 = nn.ReLU6()
        self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=True)
        self.dw_bn = nn.BatchNorm2d(16)
        self.leaky = nn.LeakyReLU(0.1)
        self.res_relu = XReLU()
        # 32x32 -> 17x17 (ceil mode with padding)
        self.pool = nn.MaxPool2d(3, 2, padding=1, ceil_mode=True)
        # two branches, concatenated
        self.a = nn.Conv2d(16, 8, 1, bias=False)
        self.a_bn = nn.BatchNorm2d(8)
        self.a_relu = XReLU()
        self.b = nn.Conv2d(16, 8, 3, 1, 1, groups=2, bias=False)
        self.b_bn = nn.BatchNorm2d(8)
        self.b_act = nn.Hardswish()
        self.se = SqueezeExcite(16, 4)
        # head: 17x17 -> 9x9, Hardswish, flatten by view, Linear
        self.head = nn.Conv2d(16, 16, 3, 2, 1, bias=False)
        self.head_bn = nn.BatchNorm2d(16)
        self.head_act = nn.Hardswish()
        self.fc = nn.Linear(16 * 9 * 9, classes)

    def forward(self, x):
        x = self.stem_relu(self.stem_bn(self.stem(self.pad(x))))
        y = self.relu6(self.dil_bn(self.dil(x)))
        y = self.leaky(self.dw_bn(self.dw(y)))
        x = self.pool(self.res_relu(x + y))
        x = torch.cat([self.a_relu(self.a_bn(self.a(x))),
                       self.b_act(self.b_bn(self.b(x)))], 1)
        x = self.se(x)
        x = self.head_act(self.head_bn(self.head(x)))
        x = x.view(x.size(0), -1)
        return self.fc(x)


class Gate(nn.Module):
    """x * hardsigmoid(conv1x1(x))"""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 1)
        self.act = nn.Hardsigmoid()

    def forward(self, x):
        return x * self.act(self.conv(x))


class PlainCNN(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1, 1)
        self.relu1 = XReLU()
        self.pool1 = nn.AvgPool2d(3, 2, 1, count_include_pad=False)  # 28 -> 14
        self.conv2 = nn.Conv2d(8, 12, 3, 1, 1)
        self.relu2 = XReLU()
        self.pool2 = nn.AvgPool2d(2, padding=1, count_include_pad=True)  # 14 -> 8
        self.gate = Gate(12)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(12 * 8 * 8, 32)
        self.relu3 = XReLU()
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(32, classes)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.gate(self.pool2(self.relu2(self.conv2(x))))
        x = self.drop(self.relu3(self.fc1(self.flatten(x))))
        return self.fc2(x)


class CaptumToy(nn.Module):
    """Captum's BasicModel_ConvNet_One_Conv (tests/helpers/basic_models.py)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3, 1)
        self.relu1 = XReLU()
        self.fc1 = nn.Linear(8, 4)
        self.relu2 = XReLU()
        with torch.no_grad():
            self.conv1.weight.fill_(1.0)
            self.conv1.bias.copy_(torch.tensor([-50.0, -75.0]))
            self.fc1.weight.copy_(torch.cat([torch.ones(4, 5), -torch.ones(4, 3)], 1))
            self.fc1.bias.zero_()

    def forward(self, x):
        x = self.relu1(self.conv1(x)).view(-1, 8)
        return self.relu2(self.fc1(x))


# ---------------------------------------------------------------------------
# ONNX export and graph queries
# ---------------------------------------------------------------------------
def export_onnx(model, x, opset, preserve_bn=False):
    kw = dict(input_names=["input"], output_names=["output"], opset_version=opset)
    if preserve_bn:
        kw.update(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    else:
        kw.update(do_constant_folding=True)
    buf = io.BytesIO()
    torch.onnx.export(model, x, buf, **kw)
    m = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(m)
    # nothing that varies from run to run or machine to machine
    m.producer_version = torch.__version__.split("a")[0].split("+")[0]
    m.doc_string = ""
    for n in m.graph.node:
        n.doc_string = ""
    return m


def _fold_eval(n, v):
    """numpy value of node n whose inputs v are all constants (the few ops
    torch writes to compute Pad's pads), or None."""
    a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
    op = n.op_type
    if op == "Constant":
        return onnx.numpy_helper.to_array(a["value"])
    if op == "Shape":
        return np.array(v[0].shape, dtype=np.int64)
    if op == "Gather":
        return np.take(v[0], v[1], axis=a.get("axis", 0))
    if op in ("Mul", "Sub", "Add"):
        return {"Mul": np.multiply, "Sub": np.subtract, "Add": np.add}[op](v[0], v[1])
    if op == "Cast":
        return v[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[a["to"]])
    if op == "ConstantOfShape":
        fill = onnx.numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
        return np.full(v[0], fill[0], dtype=fill.dtype)
    if op == "Concat":
        return np.concatenate(v, axis=a["axis"])
    if op == "Reshape":
        return v[0].reshape(v[1])
    if op == "Unsqueeze":
        return np.expand_dims(v[0], tuple(v[1]))
    if op == "Transpose":
        return np.transpose(v[0], a.get("perm"))
    if op == "Slice":
        idx = [slice(None)] * v[0].ndim
        axes = v[3] if len(v) > 3 else range(len(v[1]))
        steps = v[4] if len(v) > 4 else [1] * len(v[1])
        for s, e, ax, st in zip(v[1], v[2], axes, steps):
            dim = v[0].shape[ax]
            e = max(e, -dim - 1) if st < 0 else e  # numpy: -huge means "before 0"
            idx[ax] = slice(s, None if e < -dim else e, st)
        return v[0][tuple(idx)]
    return None


def fold_constants(m):
    """Copy of m with every all-constant node replaced by an initializer, so
    that onnx shape inference sees Pad's pads. Only for finding shapes: the
    fixture keeps torch's export as it is."""
    m = copy.deepcopy(m)
    vals = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
    keep = []
    for n in m.graph.node:
        r = None
        if all(i in vals for i in n.input):
            r = _fold_eval(n, [vals[i] for i in n.input])
        if r is None:
            keep.append(n)
        else:
            vals[n.output[0]] = np.asarray(r)
            m.graph.initializer.append(onnx.numpy_helper.from_array(np.asarray(r), n.output[0]))
    del m.graph.node[:]
    m.graph.node.extend(keep)
    return m, vals


def tensor_shapes(m):
    """name -> shape (list of ints, or None when unknown) for every tensor."""
    inf = onnx.shape_inference.infer_shapes(fold_constants(m)[0])
    shapes = {}
    for vi in list(inf.graph.value_info) + list(inf.graph.output) + list(inf.graph.input):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    return shapes


def default_gradcam_layer(m, shapes):
    """The last node output, in graph order, that is 4-D with h*w > 1;
    but if it has one channel per class and no Gemm or MatMul follows it
    (a score map, as SqueezeNet's), the last such output before it with
    another channel count (xcnn_model_default_cam_layer's rule)."""
    maps, dense = [], False  # maps: (output, channels) in graph order
    for n in m.graph.node:
        dense |= n.op_type in ("Gemm", "MatMul") and bool(maps)
        for o in n.output:
            s = shapes.get(o)
            if s and len(s) == 4 and None not in s and s[2] * s[3] > 1:
                maps.append((o, s[1]))
                dense = False
    if not maps:
        return None
    out = shapes.get(m.graph.output[0].name)
    classes = int(np.prod(out[1:])) if out and None not in out else None
    if maps[-1][1] == classes and not dense:
        for o, c in reversed(maps):
            if c != classes:
                return o
    return maps[-1][0]


def op_histogram(m):
    h = {}
    for n in m.graph.node:
        h[n.op_type] = h.get(n.op_type, 0) + 1
    return dict(sorted(h.items()))


# ---------------------------------------------------------------------------
# Explainers (float64 autograd, straight from EXPLAINERS.md)
# ---------------------------------------------------------------------------
def grad_at(model, xs, t):
    """dy/dx and y = f(x)[t] for a batch of inputs xs (rows independent)."""
    gs, ys = [], []
    for i in range(0, xs.shape[0], CHUNK):
        xb = xs[i:i + CHUNK].clone().requires_grad_(True)
        y = model(xb)[:, t]
        (g,) = torch.autograd.grad(y.sum(), xb)
        gs.append(g.detach())
        ys.append(y.detach())
    return torch.cat(gs), torch.cat(ys)


def ig_nodes(method, n):
    if method == "gausslegendre":
        g, v = np.polynomial.legendre.leggauss(n)
        return (g + 1) / 2, v / 2
    i = np.arange(n, dtype=np.float64)
    if method == "riemann_left":
        return i / n, np.full(n, 1.0 / n)
    if method == "riemann_right":
        return (i + 1) / n, np.full(n, 1.0 / n)
    if method == "riemann_middle":
        return (i + 0.5) / n, np.full(n, 1.0 / n)
    if method == "riemann_trapezoid":
        w = np.full(n, 1.0 / n)
        w[0] = w[-1] = 0.5 / n
        return i / (n - 1), w
    raise ValueError(method)


def integrated_gradients(model, x, x0, t, method, n):
    a, w = ig_nodes(method, n)
    a = torch.from_numpy(a).to(x.dtype).view(-1, 1, 1, 1)
    w = torch.from_numpy(w).to(x.dtype).view(-1, 1, 1, 1)
    g, _ = grad_at(model, x0 + a * (x - x0), t)
    attr = (x - x0) * (w * g).sum(0, keepdim=True)
    with torch.no_grad():
        fx, f0 = model(x)[0, t], model(x0)[0, t]
    delta = attr.sum() - (fx - f0)
    return attr, float(delta)


def capture(model, module, x, t):
    """A = module's output (its last call), y = f(x)[t]."""
    store = {}
    h = module.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    y = model(x)[0, t]
    h.remove()
    return store["a"], y


def gradcam(model, module, x, t, relu=True):
    A, y = capture(model, module, x, t)
    (g,) = torch.autograd.grad(y, A)
    cam = (g.mean(dim=(2, 3), keepdim=True) * A).sum(1, keepdim=True).detach()
    return cam.clamp(min=0) if relu else cam


def guided_gradcam(model, module, x, t):
    cam = gradcam(model, module, x, t, relu=True)
    set_rule(model, "guided")
    gb, _ = grad_at(model, x, t)
    set_rule(model, "none")
    return gb * F.interpolate(cam, size=x.shape[2:], mode="nearest")


def references(model32, x32, t, layers, seed):
    """All explainer references for target t. layers: meta key -> module
    path (the model is copied to float64, so modules are looked up by name)."""
    m = copy.deepcopy(model32).double().eval()
    set_rule(m, "none")
    layers = {k: m.get_submodule(v) for k, v in layers.items()}
    x = torch.from_numpy(x32).double()
    rs = np.random.RandomState(seed)
    ref, meta = {}, {}

    g, _ = grad_at(m, x, t)
    ref["saliency"] = g.abs()
    ref["saliency_noabs"] = g
    ref["input_x_gradient"] = x * g
    for rule, name in (("deconv", "deconvnet"), ("guided", "guided_backprop")):
        set_rule(m, rule)
        ref[name], _ = grad_at(m, x, t)
    set_rule(m, "none")

    zero = torch.zeros_like(x)
    for method in ("gausslegendre", "riemann_left", "riemann_right",
                   "riemann_middle", "riemann_trapezoid"):
        ref["ig_" + method], meta[method] = integrated_gradients(m, x, zero, t, method, IG_STEPS)
    ref["ig_gausslegendre_s7"], meta["gausslegendre_s7"] = integrated_gradients(
        m, x, zero, t, "gausslegendre", 7)
    baseline = rs.standard_normal(x32.shape).astype(np.float32)
    ref["baseline"] = torch.from_numpy(baseline)
    ref["ig_baseline"], meta["baseline"] = integrated_gradients(
        m, x, torch.from_numpy(baseline).double(), t, "gausslegendre", IG_STEPS)
    # each delta under two keys: ig_delta_<file stem> and ig_delta_<stem without "ig_">
    for k in [k for k in meta]:
        d = meta.pop(k)
        meta["ig_delta_ig_" + k] = d
        meta["ig_delta_" + k] = d

    stdev = float(SG_STDEV_FRAC * (x32.max() - x32.min()))
    noise = (rs.standard_normal((SG_SAMPLES,) + x32.shape[1:]) * stdev).astype(np.float32)
    ref["smoothgrad_noise"] = torch.from_numpy(noise)
    noisy = torch.from_numpy(x32 + noise).double()  # x + e rounded to float32, as in C
    gs, _ = grad_at(m, noisy, t)
    ref["smoothgrad"] = gs.abs().mean(0, keepdim=True)
    meta["smoothgrad_samples"] = SG_SAMPLES
    meta["smoothgrad_stdev"] = stdev

    L = layers["gradcam_layer"]
    ref["gradcam"] = gradcam(m, L, x, t)
    ref["gradcam_norelu"] = gradcam(m, L, x, t, relu=False)
    ref["gradcam_upsample"] = F.interpolate(ref["gradcam"], size=x.shape[2:],
                                            mode="bilinear", align_corners=False)
    ref["gradcam_default"] = gradcam(m, layers["gradcam_layer_default"], x, t)
    ref["guided_gradcam"] = guided_gradcam(m, L, x, t)
    if "gradcam_layer_relu1" in layers:
        ref["guided_gradcam_relu1"] = guided_gradcam(m, layers["gradcam_layer_relu1"], x, t)
    return ref, meta


# ---------------------------------------------------------------------------
# One fixture directory
# ---------------------------------------------------------------------------
def save_npy(path, a):
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    np.save(path, np.ascontiguousarray(a, dtype=np.float32))


def make_fixture(outdir, name, model, x32, opset, layers, preserve_bn=False,
                 target=None, seed=0, checks=None, explainers=True):
    """layers: meta key -> (module, expected ONNX tensor name)."""
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    model.eval()
    x = torch.from_numpy(x32)

    om = export_onnx(model, x, opset, preserve_bn)
    shapes = tensor_shapes(om)
    hist = op_histogram(om)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(om.SerializeToString())

    with torch.no_grad():
        out = model(x)
    order = torch.argsort(out[0], descending=True)
    if target is None:
        target = int(order[1])  # second-highest logit: not the default target
    argmax = int(order[0])

    # every Grad-CAM layer must be the tensor we think it is: check the name
    # exists and the hooked module's output has that tensor's shape
    meta = {"model": name, "opset": opset, "target": target, "argmax": argmax,
            "input_shape": ",".join(map(str, x32.shape)),
            "output_shape": ",".join(map(str, out.shape)), "ig_steps": IG_STEPS}
    default = default_gradcam_layer(om, shapes)
    mods = {}
    for key, (mod, tname) in layers.items():
        assert tname in shapes, "%s: no ONNX tensor %s" % (name, tname)
        A, _ = capture(model, mod, x, target)
        assert list(A.shape) == shapes[tname], (tname, A.shape, shapes[tname])
        meta[key] = tname
        meta[key + "_shape"] = ",".join(map(str, A.shape))
        mods[key] = next(p for p, q in model.named_modules() if q is mod)
    assert meta["gradcam_layer_default"] == default, (default, meta["gradcam_layer_default"])

    xg = x.clone().requires_grad_(True)
    (g32,) = torch.autograd.grad(model(xg)[0, target], xg)

    # The explainer references cost ~350 float64 passes (integrated
    # gradients): minutes on ResNet-18, so optional there.
    ref, rmeta = references(model, x32, target, mods, seed) if explainers else ({}, {})
    meta.update(rmeta)
    # float64 output agrees with the float32 output we store
    with torch.no_grad():
        out64 = copy.deepcopy(model).double()(x.double())
    err = float((out64.float() - out).abs().max() / out.abs().max())
    assert err < 1e-4, err

    save_npy(os.path.join(d, "input.npy"), x32)
    save_npy(os.path.join(d, "output.npy"), out)
    save_npy(os.path.join(d, "grad_input.npy"), g32)
    for k, v in ref.items():
        save_npy(os.path.join(d, k + ".npy"), v)
    with open(os.path.join(d, "meta.txt"), "w") as f:
        for k, v in meta.items():
            f.write("%s=%s\n" % (k, repr(v) if isinstance(v, float) else v))

    top = out[0][order[:3]].tolist()
    print("== %s: input %s, output %s, argmax %d, target %d, top3 %s"
          % (name, tuple(x32.shape), tuple(out.shape), argmax, target,
             ["%.4f" % v for v in top]))
    print("   ops: %s" % ", ".join("%s %d" % kv for kv in hist.items()))
    for k in layers:
        print("   %s = %s %s" % (k, meta[k], meta[k + "_shape"]))
    print("   ig deltas: %s" % ", ".join("%s %.3g" % (k[12:], v) for k, v in rmeta.items()
                                         if k.startswith("ig_delta_ig_")))
    if checks:
        checks(ref)
    return om, hist


def input_for(shape, seed):
    return np.random.RandomState(seed).standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------------------
def build_resnet_narrow():
    """(model, input, Grad-CAM layers, make_fixture keywords) of a fixture:
    the same seeds every time, so tools/make_method_fixtures.py rebuilds the
    very model whose ONNX is committed."""
    torch.manual_seed(1)
    m = ResNetNarrow()
    he_init(m)
    randomize_bn(m, torch.Generator().manual_seed(11))
    layers = {
        "gradcam_layer": (m.layer3[1].relu2, "/layer3/layer3.1/relu2/Relu_output_0"),
        "gradcam_layer_default": (m.layer4[1].relu2, "/layer4/layer4.1/relu2/Relu_output_0"),
    }
    return m, input_for((1, 3, 64, 64), 101), layers, dict(opset=11, seed=201)


def fixture_resnet_narrow(out):
    m, x, layers, kw = build_resnet_narrow()
    make_fixture(out, "resnet_narrow", m, x, kw["opset"], layers, seed=kw["seed"])


def build_rescnn_bn():
    torch.manual_seed(2)
    m = ResCNNBN()
    he_init(m)
    randomize_bn(m, torch.Generator().manual_seed(12))
    layers = {
        "gradcam_layer": (m.se, "/se/Mul_output_0"),
        "gradcam_layer_default": (m.head_act, "/head_act/Mul_output_0"),
    }
    return m, input_for((1, 3, 32, 32), 102), layers, dict(opset=13, seed=202, preserve_bn=True)


def fixture_rescnn_bn(out):
    m, x, layers, kw = build_rescnn_bn()
    om, hist = make_fixture(out, "rescnn_bn", m, x, kw["opset"], layers,
                           preserve_bn=True, seed=kw["seed"])
    # torch computes Pad's pads with a small constant subgraph: check its value
    # (ONNX order: begin of N, C, H, W, then their ends; ZeroPad2d(l1 r2 t1 b2))
    pads = [n for n in om.graph.node if n.op_type == "Pad"][0].input[1]
    assert fold_constants(om)[1][pads].tolist() == [0, 0, 1, 1, 0, 0, 2, 2]
    for op in ("BatchNormalization", "Pad", "Shape", "Reshape", "Concat", "Gather",
               "Unsqueeze", "MaxPool", "Add", "Mul", "Sigmoid", "LeakyRelu", "Clip",
               "HardSigmoid", "GlobalAveragePool", "Gemm"):
        assert op in hist, "rescnn_bn: no %s node in the export" % op


def build_plaincnn():
    torch.manual_seed(3)
    m = PlainCNN()
    he_init(m, linear=True)
    layers = {
        "gradcam_layer": (m.relu2, "/relu2/Relu_output_0"),
        "gradcam_layer_default": (m.gate, "/gate/Mul_output_0"),
    }
    return m, input_for((1, 1, 28, 28), 103), layers, dict(opset=17, seed=203)


def fixture_plaincnn(out):
    m, x, layers, kw = build_plaincnn()
    make_fixture(out, "plaincnn", m, x, kw["opset"], layers, seed=kw["seed"])


GOLDEN = {  # EXPLAINERS.md, "Golden values from Captum's own tests"
    "guided_backprop": [[0, 1, 1, 1], [1, 3, 3, 2], [1, 3, 3, 2], [1, 2, 2, 1]],
    "deconvnet": [[2, 3, 3, 1], [3, 5, 5, 2], [3, 5, 5, 2], [1, 2, 2, 1]],
    "gradcam_norelu": [[11.25, 13.5], [20.25, 22.5]],
    "guided_gradcam_relu1": [[0, 0, 4, 4], [0, 0, 12, 8], [28, 84, 97.5, 65],
                             [28, 56, 65, 32.5]],
}


def check_captum_golden(ref):
    for k, want in GOLDEN.items():
        got = ref[k].detach().numpy().reshape(np.array(want).shape)
        print("   %-22s ours   %s" % (k, got.tolist()))
        print("   %-22s golden %s" % ("", want))
        assert np.allclose(got, want, rtol=0, atol=1e-9), k
    print("   captum golden values: all match")


def build_captum_toy():
    m = CaptumToy()
    x32 = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    layers = {
        "gradcam_layer": (m.conv1, "/conv1/Conv_output_0"),
        "gradcam_layer_default": (m.relu1, "/relu1/Relu_output_0"),
        "gradcam_layer_relu1": (m.relu1, "/relu1/Relu_output_0"),
    }
    return m, x32, layers, dict(opset=13, seed=204, target=0)


def fixture_captum_toy(out):
    m, x32, layers, kw = build_captum_toy()
    make_fixture(out, "captum_toy", m, x32, kw["opset"], layers, target=0, seed=kw["seed"],
                 checks=check_captum_golden)


# name -> builder, for tools/make_method_fixtures.py
BUILDERS = {"captum_toy": build_captum_toy, "plaincnn": build_plaincnn,
            "rescnn_bn": build_rescnn_bn, "resnet_narrow": build_resnet_narrow}


def fixture_resnet18(out, explainers):
    import torchvision
    torch.manual_seed(4)
    m = torchvision.models.resnet18(weights=None)
    swap_relus(m)  # BasicBlock calls its one relu twice: ONNX names relu, relu_1
    randomize_bn(m, torch.Generator().manual_seed(14))
    layers = {
        "gradcam_layer": (m.layer3[1].relu, "/layer3/layer3.1/relu_1/Relu_output_0"),
        "gradcam_layer_default": (m.layer4[1].relu, "/layer4/layer4.1/relu_1/Relu_output_0"),
    }
    make_fixture(out, "resnet18", m, input_for((1, 3, 224, 224), 104), 13, layers, seed=205,
                 explainers=explainers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="output directory (default tests/fixtures)")
    ap.add_argument("--big", action="store_true",
                    help="write only torchvision resnet18 (47 MB model, output and input "
                         "gradient, ~1 min) to OUT/resnet18")
    ap.add_argument("--big-explainers", action="store_true",
                    help="with --big: also every explainer reference (~12 min)")
    ap.add_argument("--zoo", nargs="?", const="build/zoo", metavar="DIR",
                    help="export torchvision's CNNs with PyTorch's outputs and saliency for "
                         "make test-zoo into DIR (default build/zoo); see "
                         "tools/references/zoo.py")
    args = ap.parse_args()
    if args.zoo:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "references"))
        import zoo
        # ZOO_MODELS (space-separated names): only those, as make test-zoo passes it
        zoo.export_zoo(args.zoo, os.environ.get("ZOO_MODELS", "").split() or None)
        return 0
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = args.out or os.path.join(root, "tests", "fixtures")
    torch.set_num_threads(1)  # same bits whatever the machine's core count
    torch.use_deterministic_algorithms(True)
    if args.big:
        fixture_resnet18(out, args.big_explainers)
    else:
        fixture_captum_toy(out)
        fixture_plaincnn(out)
        fixture_rescnn_bn(out)
        fixture_resnet_narrow(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
