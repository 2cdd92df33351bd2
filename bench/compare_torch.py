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
import torchvision


def torch_rows(threads, ig_steps, ig_batch):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    for p in model.parameters():
        p.requires_grad_(False)  # explainers need input gradients only
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

    return x, {
        "forward": forward,
        "forward+backward": forward_backward,
        "grad-cam layer4": gradcam,
        "IG %d steps (batch %d)" % (ig_steps, ig_batch): integrated_gradients,
    }


# bench/paired/xcnn_paired.c's works
PAIRED_WORK = {"forward": 0, "forward+backward": 1, "grad-cam layer4": 2,
               "IG 50 steps (batch 10)": 3}


def load_paired(path):
    lib = ctypes.CDLL(path)
    lib.xcnn_paired_open.restype = ctypes.c_void_p
    lib.xcnn_paired_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                                     ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                                     ctypes.POINTER(ctypes.c_float), ctypes.c_char_p,
                                     ctypes.c_size_t]
    lib.xcnn_paired_run.argtypes = [ctypes.c_void_p]
    lib.xcnn_paired_close.argtypes = [ctypes.c_void_p]
    lib.xcnn_paired_error.restype = ctypes.c_char_p
    lib.xcnn_paired_error.argtypes = [ctypes.c_void_p]
    return lib


def paired_row(lib, torch_fn, model, work, threads, layer, x, pairs, warm):
    """Times of `pairs` (torch, ours) pairs, the order alternating."""
    xa = np.ascontiguousarray(x.numpy(), dtype=np.float32)
    err = ctypes.create_string_buffer(512)
    h = lib.xcnn_paired_open(model.encode(), work, threads, layer.encode(), 50, 10,
                             xa.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), err, 512)
    if not h:
        sys.exit("xcnn_paired_open failed: %s" % err.value.decode())

    def ours():
        if lib.xcnn_paired_run(h) != 0:
            sys.exit("xcnn_paired_run failed: %s" % lib.xcnn_paired_error(h).decode())

    for _ in range(warm):
        torch_fn()
        ours()
    t_torch, t_ours = [], []
    for i in range(pairs):
        for side in ((torch_fn, t_torch), (ours, t_ours))[:: 1 if i % 2 == 0 else -1]:
            t = time.perf_counter()
            side[0]()
            side[1].append((time.perf_counter() - t) * 1e3)
    lib.xcnn_paired_close(h)
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
                    help="(PyTorch, ours) pairs of calls per row (IG: an eighth, at least 5)")
    ap.add_argument("--layer", default="/layer4/layer4.1/relu_1/Relu_output_0",
                    help="Grad-CAM tensor in the ONNX (torchvision's layer4 output)")
    args = ap.parse_args()
    if not os.path.exists(args.model):
        sys.exit("%s missing: run /usr/bin/python3 tools/make_fixtures.py --big --out build/fixtures"
                 % args.model)

    print("cpu: %s, threads: %d, torch %s" % (cpu_name(), args.threads, torch.__version__))
    build = os.path.dirname(args.xcnn)
    so = os.path.join(build, "bench", "libxcnn_paired.so")
    # Made (or remade after a change) here: a stale copy would time old code.
    if subprocess.run(["make", "-s", "BUILD=" + build, "all", "paired"]).returncode != 0:
        sys.exit("make paired failed")
    lib = load_paired(so)
    x, torch_fns = torch_rows(args.threads, 50, 10)
    ours_args = {
        "forward": ("forward", []),
        "forward+backward": ("forward-backward", []),
        "grad-cam layer4": ("gradcam", ["--layer", args.layer]),
        "IG 50 steps (batch 10)": ("integrated-gradients", ["--steps", "50", "--batch", "10"]),
    }
    print("%-24s %9s %9s %7s %13s %7s  %s" % ("ResNet-18 224x224", "ours ms", "torch ms",
                                            "ratio", "quartiles", "target", "our peak RSS"))
    for name, (method, extra) in ours_args.items():
        ig = name.startswith("IG")
        pairs = max(5, args.pairs // 8) if ig else args.pairs
        t_torch, t_ours = paired_row(lib, torch_fns[name], args.model, PAIRED_WORK[name],
                                     args.threads, args.layer, x, pairs, 1 if ig else 3)
        ratios = sorted(o / t for o, t in zip(t_ours, t_torch))
        q1, ratio, q3 = statistics.quantiles(ratios, n=4)
        _, rss = ours(args.xcnn, args.model, args.threads, 2 if ig else 5, method, extra)
        print("%-24s %9.1f %9.1f %7.2f %6.2f-%-6.2f %7s  %.0f MB" % (
            name, statistics.median(t_ours), statistics.median(t_torch), ratio, q1, q3,
            "ok" if ratio <= 0.8 else "MISS", rss))
    print("(%d pairs per row, IG %d; ours ms and torch ms are medians of each side)"
          % (args.pairs, max(5, args.pairs // 8)))
    wall, rss = predict_stats(args.xcnn, args.model, args.threads)
    print("xcnn predict: start to prediction %.3f s (target 0.25), peak RSS %.1f MB (target 100)"
          % (wall, rss))


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
