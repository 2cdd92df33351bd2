#!/usr/bin/python3
"""
libxcnn against PyTorch on the same CPU, in the same run.

ResNet-18 (torchvision, 224x224, batch 1) with the same thread count for
both (default 2). Rows:
  forward            torch: model(x) under no_grad  | ours: xcnn bench --method forward
  forward+backward   d logit / d input (weights frozen, as an explainer needs)
  grad-cam layer4    forward, gradient at layer4's output, weighted sum + ReLU
  IG 50 steps        Gauss-Legendre path, 10 points per forward/backward batch
Each figure is the median of --iters runs after a warm-up; each row is run
--rounds times, PyTorch and ours back to back, and the ratio shown is the
median of the per-round ratios. It also reports
`xcnn predict`'s peak RSS and its process start-to-prediction wall time.

    /usr/bin/python3 bench/compare_torch.py [--xcnn build/xcnn]
        [--model build/fixtures/resnet18/model.onnx] [--threads 2] [--iters 10]
        [--rounds 3]
The ONNX comes from: /usr/bin/python3 tools/make_fixtures.py --big --out build/fixtures
"""
import argparse
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


def median_ms(fn, iters):
    fn()  # warm-up
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def torch_rows(threads, iters, ig_steps, ig_batch):
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

    return {
        "forward": forward,
        "forward+backward": forward_backward,
        "grad-cam layer4": gradcam,
        "IG %d steps (batch %d)" % (ig_steps, ig_batch): integrated_gradients,
    }


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
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of (PyTorch, ours) per row; ratios are their medians")
    ap.add_argument("--layer", default="/layer4/layer4.1/relu_1/Relu_output_0",
                    help="Grad-CAM tensor in the ONNX (torchvision's layer4 output)")
    args = ap.parse_args()
    if not os.path.exists(args.model):
        sys.exit("%s missing: run /usr/bin/python3 tools/make_fixtures.py --big --out build/fixtures"
                 % args.model)

    print("cpu: %s, threads: %d, torch %s" % (cpu_name(), args.threads, torch.__version__))
    torch_fns = torch_rows(args.threads, args.iters, 50, 10)
    ig_iters = max(3, args.iters // 3)
    ours_args = {
        "forward": ("forward", [], args.iters),
        "forward+backward": ("forward-backward", [], args.iters),
        "grad-cam layer4": ("gradcam", ["--layer", args.layer], args.iters),
        "IG 50 steps (batch 10)": ("integrated-gradients", ["--steps", "50", "--batch", "10"],
                                   ig_iters),
    }
    # This VM's speed drifts with its neighbours' load: each round times
    # PyTorch and us back to back on one row, and the ratio reported is
    # the median of the rounds' ratios, so a slow spell hits both sides.
    rows = {name: {"torch": [], "ours": [], "ratio": [], "rss": 0.0} for name in ours_args}
    for _ in range(args.rounds):
        for name, (method, extra, iters) in ours_args.items():
            t = median_ms(torch_fns[name], iters)
            ms, rss = ours(args.xcnn, args.model, args.threads, iters, method, extra)
            r = rows[name]
            r["torch"].append(t)
            r["ours"].append(ms)
            r["ratio"].append(ms / t)
            r["rss"] = max(r["rss"], rss)
    print("%-24s %10s %10s %8s %8s  %s" % ("ResNet-18 224x224", "ours ms", "torch ms", "ratio",
                                          "target", "our peak RSS"))
    for name, r in rows.items():
        ratio = statistics.median(r["ratio"])
        print("%-24s %10.1f %10.1f %8.2f %8s  %.0f MB" % (
            name, statistics.median(r["ours"]), statistics.median(r["torch"]), ratio,
            "ok" if ratio <= 0.8 else "MISS", r["rss"]))
    print("(medians over %d rounds; ratios per round: %s)" % (args.rounds, "; ".join(
        "%s %s" % (name.split()[0], " ".join("%.2f" % x for x in r["ratio"]))
        for name, r in rows.items())))
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
