"""LRP references (METHODS.md, row lrp), in float64, straight from the definitions.

    references(model, x32, target, name, layers) -> {file stem: array}
        called by tools/make_method_fixtures.py for each fixture model
    /usr/bin/python3 tools/references/lrp.py [--out DIR]
        writes the lrp_bn fixture (a tiny model with its BatchNormalization
        kept as nodes, for the BatchNorm-merge canonizer) and its references

Relevance R starts as y = f(x)[t] at t, 0 elsewhere, and goes back layer by
layer. Each layer is run through Rule, an autograd Function whose forward is
the true layer and whose backward maps the relevance at its output to the
relevance at its inputs by the layer's rule; the model's forward is written
out with these (so the composite's choice per layer reads in one place), and
one torch.autograd.grad from the seed gives the relevance at the input.
Every rule is the "modified gradient" of Zennit: with some modified layers
z = sum_k A_k(x_k), s = R / stab(z), R_in = sum_k x_k * d<z, s>/dx_k, the
derivative taken by autograd. stab(z) = z + e sign(z), sign(0) = +1.

    epsilon   z = W x + b                          e = epsilon (1e-9 Captum)
    z+        z = W+ x+ + W- x- + b+               e = 1e-6
    gamma     zp = (W+gW+) x+ + (W+gW-) x- + b+gb+, masked by [y > 0];
              zn = (W+gW-) x+ + (W+gW+) x- + b+gb-, masked by [y < 0]
              (Zennit's generalised Gamma), y the true output
    flat      W = 1, b = 0, x = 1; R_in is the derivative alone
    z-box     z = W x - W+ l - W- h, R = x dz/dx + l dz/dl + h dz/dh
    norm      (Add, average pools) R_i = x_i df/dx_i R / stab(f)

zero_bias leaves every b out of the z's (the gamma masks keep y's bias).
The composites (Captum's epsilon; Zennit's EpsilonPlusFlat and
EpsilonGammaBox with their BatchNorm-merge and ResNet canonizers) pick a rule
per layer in `Composite.linear`. Models that LRP refuses (the SE block's Mul,
plaincnn's gate Mul) get no references.
"""
import argparse
import copy
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

STAB = 1e-6


def stab(z, e):
    return z + e * torch.where(z >= 0, torch.ones_like(z), -torch.ones_like(z))


def grads(z, inputs, s):
    return torch.autograd.grad(z, inputs, s, retain_graph=True)


class Rule(torch.autograd.Function):
    """forward: fn(*xs), the true layer; backward: rule(xs, R) -> R per x"""

    @staticmethod
    def forward(ctx, fn, rule, *xs):
        ctx.rule = rule
        ctx.save_for_backward(*xs)
        return fn(*xs)

    @staticmethod
    def backward(ctx, r):
        xs = [x.detach() for x in ctx.saved_tensors]
        with torch.enable_grad():
            rs = ctx.rule(xs, r)
        return (None, None) + tuple(rs)


def leaf(t):
    return t.detach().clone().requires_grad_(True)


# ---- the rules, for a linear layer lin(x, w, b) --------------------------
def r_epsilon(lin, w, b, eps, zero_bias):
    def rule(xs, r):
        x = leaf(xs[0])
        z = lin(x, w, None if zero_bias else b)
        (g,) = grads(z, x, r / stab(z, eps))
        return [x.detach() * g]
    return rule


def r_zplus(lin, w, b, zero_bias):
    bp = None if (zero_bias or b is None) else b.clamp(min=0)

    def rule(xs, r):
        xp, xn = leaf(xs[0].clamp(min=0)), leaf(xs[0].clamp(max=0))
        z = lin(xp, w.clamp(min=0), bp) + lin(xn, w.clamp(max=0), None)
        gp, gn = grads(z, (xp, xn), r / stab(z, STAB))
        return [xp.detach() * gp + xn.detach() * gn]
    return rule


def r_gamma(lin, w, b, gamma, zero_bias):
    wp, wn = w + gamma * w.clamp(min=0), w + gamma * w.clamp(max=0)
    if zero_bias or b is None:
        bpos = bneg = None
    else:
        bpos, bneg = b + gamma * b.clamp(min=0), b + gamma * b.clamp(max=0)

    def rule(xs, r):
        y = lin(xs[0], w, b)  # the true output: its sign picks the rows
        xp, xn = leaf(xs[0].clamp(min=0)), leaf(xs[0].clamp(max=0))
        zp = lin(xp, wp, bpos) + lin(xn, wn, None)
        zn = lin(xp, wn, bneg) + lin(xn, wp, None)
        sp = (y > 0).to(r) * r / stab(zp, STAB)
        sn = (y < 0).to(r) * r / stab(zn, STAB)
        gp1, gn1 = grads(zp, (xp, xn), sp)
        gp2, gn2 = grads(zn, (xp, xn), sn)
        return [xp.detach() * (gp1 + gp2) + xn.detach() * (gn1 + gn2)]
    return rule


def r_flat(lin, w):
    def rule(xs, r):
        one = leaf(torch.ones_like(xs[0]))
        z = lin(one, torch.ones_like(w), None)
        (g,) = grads(z, one, r / stab(z, STAB))
        return [g]
    return rule


def r_zbox(lin, w, low, high):
    def rule(xs, r):
        x = leaf(xs[0])
        lo, hi = leaf(torch.full_like(x, low)), leaf(torch.full_like(x, high))
        z = lin(x, w, None) - lin(lo, w.clamp(min=0), None) - lin(hi, w.clamp(max=0), None)
        gx, gl, gh = grads(z, (x, lo, hi), r / stab(z, STAB))
        return [x.detach() * gx + lo.detach() * gl + hi.detach() * gh]
    return rule


def r_norm(fn, e):
    def rule(xs, r):
        ls = [leaf(x) for x in xs]
        z = fn(*ls)
        gs = grads(z, ls, r / stab(z, e))
        return [x.detach() * g for x, g in zip(ls, gs)]
    return rule


def r_pass(xs, r):
    return [r]


# ---- layers as (lin, w, b), BatchNorm merged (the canonizer) -------------
def conv_lin(conv):
    def lin(x, w, b):
        return F.conv2d(x, w, b, conv.stride, conv.padding, conv.dilation, conv.groups)
    return lin


def merged(conv, bn=None):
    """(lin, w, b) of conv, with bn folded in: w' = k w, b' = k (b - mean) + beta"""
    w = conv.weight.detach()
    b = conv.bias.detach() if conv.bias is not None else None
    if bn is not None:
        k = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
        w = w * k[:, None, None, None]
        b = k * ((b if b is not None else 0) - bn.running_mean) + bn.bias.detach()
    return conv_lin(conv), w, b


def linear_of(fc):
    return (lambda x, w, b: F.linear(x, w, b)), fc.weight.detach(), fc.bias.detach()


def bn_lin(bn):
    """BatchNorm as y = k x + (beta - k mean), per channel (Captum's epsilon rule)"""
    k = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    b = bn.bias.detach() - k * bn.running_mean

    def lin(x, w, bb):
        y = x * w[None, :, None, None]
        return y + bb[None, :, None, None] if bb is not None else y
    return lin, k, b


class Composite:
    """rule: epsilon | epsilon-plus-flat | epsilon-gamma-box"""

    def __init__(self, rule, x, epsilon=None, gamma=0.25, low=None, high=None, zero_bias=False):
        self.rule = rule
        self.eps = epsilon if epsilon is not None else (1e-9 if rule == "epsilon" else 1e-6)
        self.stab = self.eps if rule == "epsilon" else STAB
        self.gamma = gamma
        self.low = float(x.min()) if low is None else low
        self.high = float(x.max()) if high is None else high
        self.zero_bias = zero_bias
        self.seen_first = False

    def linear(self, lin, w, b, conv, x):
        """a Conv (conv=True) or Linear layer on x"""
        first = False
        if self.rule == "epsilon-plus-flat" or (self.rule == "epsilon-gamma-box" and conv):
            first = not self.seen_first
            self.seen_first = True
        if self.rule == "epsilon" or not conv and not (first and self.rule == "epsilon-plus-flat"):
            rule = r_epsilon(lin, w, b, self.eps, self.zero_bias)
        elif self.rule == "epsilon-plus-flat":
            rule = r_flat(lin, w) if first else r_zplus(lin, w, b, self.zero_bias)
        else:
            rule = (r_zbox(lin, w, self.low, self.high) if first
                    else r_gamma(lin, w, b, self.gamma, self.zero_bias))
        return Rule.apply(lambda t: lin(t, w, b), rule, x)

    def conv(self, conv, x, bn=None):
        if self.rule == "epsilon" and bn is not None:  # Captum: BN is a layer of its own
            y = self.linear(*merged(conv), True, x)
            return self.bn(bn, y)
        return self.linear(*merged(conv, bn), True, x)

    def bn(self, bn, x):
        lin, k, b = bn_lin(bn)
        rule = r_epsilon(lin, k, b, self.eps, self.zero_bias)
        return Rule.apply(lambda t: lin(t, k, b), rule, x)

    def fc(self, fc, x):
        return self.linear(*linear_of(fc), False, x)

    def act(self, fn, x):
        return Rule.apply(fn, r_pass, x)

    def norm(self, fn, *xs):
        return Rule.apply(fn, r_norm(fn, self.stab), *xs)


# ---- the models' forwards, layer by layer --------------------------------
def forward_captum_toy(m, x, c):
    h = c.act(torch.relu, c.conv(m.conv1, x))
    return c.act(torch.relu, c.fc(m.fc1, h.reshape(-1, 8)))


def forward_resnet_narrow(m, x, c):
    h = c.act(torch.relu, c.conv(m.conv1, x, m.bn1))
    h = F.max_pool2d(h, 3, 2, 1)  # its gradient: the winner takes all
    for layer in (m.layer1, m.layer2, m.layer3, m.layer4):
        for blk in layer:
            idt = h if blk.downsample is None else c.conv(blk.downsample[0], h, blk.downsample[1])
            y = c.act(torch.relu, c.conv(blk.conv1, h, blk.bn1))
            y = c.conv(blk.conv2, y, blk.bn2)
            h = c.act(torch.relu, c.norm(torch.add, y, idt))
    h = c.norm(lambda t: F.adaptive_avg_pool2d(t, 1), h)
    return c.fc(m.fc, torch.flatten(h, 1))


class LrpBN(nn.Module):
    """The lrp_bn fixture: BatchNorm kept after three Convs (the canonizer),
    a LeakyRelu so that later Convs see negative inputs (z+ and gamma's x-
    parts), a grouped Conv with a bias, Concat, AveragePool, a dilated
    strided Conv, GlobalAveragePool, Flatten and a Linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(6)
        self.act1 = nn.LeakyReLU(0.1)
        self.a = nn.Conv2d(6, 4, 1, bias=False)
        self.a_bn = nn.BatchNorm2d(4)
        self.b = nn.Conv2d(6, 4, 3, 1, 1, groups=2)
        self.pool = nn.AvgPool2d(2)
        self.conv3 = nn.Conv2d(8, 8, 3, 2, 2, dilation=2, bias=False)
        self.bn3 = nn.BatchNorm2d(8)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.act1(self.bn1(self.conv1(x)))
        x = torch.cat([torch.relu(self.a_bn(self.a(x))), torch.relu(self.b(x))], 1)
        x = torch.relu(self.bn3(self.conv3(self.pool(x))))
        return self.fc(torch.flatten(self.gap(x), 1))


def forward_lrp_bn(m, x, c):
    h = c.act(lambda t: F.leaky_relu(t, 0.1), c.conv(m.conv1, x, m.bn1))
    ha = c.act(torch.relu, c.conv(m.a, h, m.a_bn))
    hb = c.act(torch.relu, c.conv(m.b, h))
    h = torch.cat([ha, hb], 1)  # its gradient routes R back
    h = c.norm(lambda t: F.avg_pool2d(t, 2), h)
    h = c.act(torch.relu, c.conv(m.conv3, h, m.bn3))
    h = c.norm(lambda t: F.adaptive_avg_pool2d(t, 1), h)
    return c.fc(m.fc, torch.flatten(h, 1))


FORWARDS = {"captum_toy": forward_captum_toy, "resnet_narrow": forward_resnet_narrow,
            "lrp_bn": forward_lrp_bn}

# stem -> composite options, per model
CASES = {
    "captum_toy": {
        "lrp_epsilon": dict(rule="epsilon"),
        "lrp_epsilon_e0p5": dict(rule="epsilon", epsilon=0.5),
        "lrp_epsilon_plus_flat": dict(rule="epsilon-plus-flat"),
        "lrp_epsilon_gamma_box": dict(rule="epsilon-gamma-box"),
    },
    "resnet_narrow": {
        "lrp_epsilon_plus_flat": dict(rule="epsilon-plus-flat"),
        "lrp_epsilon_plus_flat_zb": dict(rule="epsilon-plus-flat", zero_bias=True),
        "lrp_epsilon_gamma_box": dict(rule="epsilon-gamma-box"),
    },
    "lrp_bn": {
        "lrp_epsilon": dict(rule="epsilon"),
        "lrp_epsilon_zb": dict(rule="epsilon", zero_bias=True),
        "lrp_epsilon_plus_flat": dict(rule="epsilon-plus-flat"),
        "lrp_epsilon_plus_flat_zb": dict(rule="epsilon-plus-flat", zero_bias=True),
        "lrp_epsilon_gamma_box": dict(rule="epsilon-gamma-box"),
        "lrp_epsilon_gamma_box_zb": dict(rule="epsilon-gamma-box", zero_bias=True),
        "lrp_epsilon_gamma_box_custom": dict(rule="epsilon-gamma-box", gamma=0.5, low=-3.0,
                                             high=3.5, epsilon=0.01),
    },
}


def lrp(model64, x, target, forward, opts):
    c = Composite(x=x, **opts)
    xl = leaf(x)
    y = forward(model64, xl, c)
    seed = torch.zeros_like(y)
    seed[0, target] = y[0, target].detach()
    (r,) = torch.autograd.grad(y, xl, seed)
    return r


def references(model, x32, target, name, layers):
    if name not in CASES:
        return {}  # refused by LRP: a Mul of two activations (tests/test_lrp.c)
    m = copy.deepcopy(model).double().eval()
    x = torch.from_numpy(x32).double()
    with torch.no_grad():
        want = m(x)
    out = {}
    for stem, opts in CASES[name].items():
        # the layer-by-layer forward is the model's forward
        c = Composite(x=x, **opts)
        with torch.no_grad():
            got = FORWARDS[name](m, x, c)
        assert torch.allclose(got, want, rtol=1e-12, atol=1e-12), name
        out[stem] = lrp(m, x, target, FORWARDS[name], opts)
        r = out[stem]
        print("   %s %-30s sum(R) %.6g, y %.6g" % (name, stem, float(r.sum()),
                                                   float(want[0, target])))
    return out


# ---- the lrp_bn fixture --------------------------------------------------
def build_lrp_bn():
    torch.manual_seed(5)
    m = LrpBN()
    with torch.no_grad():
        for p in m.modules():
            if isinstance(p, nn.Conv2d):
                nn.init.kaiming_normal_(p.weight, mode="fan_in", nonlinearity="relu")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, here)
    import make_fixtures
    make_fixtures.randomize_bn(m, torch.Generator().manual_seed(15))
    m.eval()
    return m, make_fixtures.input_for((1, 3, 12, 12), 105), make_fixtures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="fixture root (default tests/fixtures)")
    args = ap.parse_args()
    root = args.out or os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "tests", "fixtures")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    m, x32, mf = build_lrp_bn()
    d = os.path.join(root, "lrp_bn")
    os.makedirs(d, exist_ok=True)
    om = mf.export_onnx(m, torch.from_numpy(x32), 13, preserve_bn=True)
    hist = mf.op_histogram(om)
    assert hist.get("BatchNormalization") == 3, hist
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(om.SerializeToString())
    with torch.no_grad():
        out = m(torch.from_numpy(x32))
    target = int(torch.argsort(out[0], descending=True)[1])  # not the arg-max
    mf.save_npy(os.path.join(d, "input.npy"), x32)
    mf.save_npy(os.path.join(d, "output.npy"), out)
    for k, v in sorted(references(m, x32, target, "lrp_bn", {}).items()):
        mf.save_npy(os.path.join(d, k + ".npy"), v)
    with open(os.path.join(d, "meta.txt"), "w") as f:
        f.write("model=lrp_bn\nopset=13\ntarget=%d\nargmax=%d\ninput_shape=%s\n"
                "output_shape=%s\n" % (target, int(out[0].argmax()),
                                       ",".join(map(str, x32.shape)),
                                       ",".join(map(str, out.shape))))
    print("== lrp_bn: ops %s" % ", ".join("%s %d" % kv for kv in hist.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
