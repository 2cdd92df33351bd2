#!/usr/bin/python3
"""
Throughput over many images (README: Many images): images per second for
predict, saliency, Grad-CAM and integrated gradients (16 Gauss-Legendre
steps), on the shipped Fashion-MNIST model (data/fashion_resnet.onnx,
1x28x28) and on ResNet-18 (build/fixtures/resnet18/model.onnx, 3x224x224),
2 threads everywhere, three ways:
  xcnn many    one `xcnn predict|explain MODEL --list L --out-dir D` run:
               the model loaded once, the images batched where the maths
               allows; wall time of the whole process (load, reads, writes
               and manifest included)
  xcnn loop    one `xcnn predict|explain MODEL IMAGE ...` process per image,
               as a shell loop does (timed over --loop-images images)
  PyTorch      the same network run from the ONNX's own weights (a small
               interpreter of its nodes below: Conv, BatchNormalization,
               Relu, MaxPool, Add, GlobalAveragePool, Flatten, Gemm), in
               batches of 32 inputs per forward/backward pass (IG: 32 path
               points per pass), input tensors already in memory (no file
               reading or writing: a lower bound on its cost)
  C API        build/bench/bench_batch (make bench): the same inputs in
               memory through xcnn_forward / xcnn_explain_batch, batches of
               32, after a warm-up round: the comparison of like with like
Fashion-MNIST inputs are the 10 shipped images under 200 names (links);
ResNet-18's the fixture's input.npy under N names. The machine's other
load counts: run it on a quiet machine for figures to quote.

    /usr/bin/python3 bench/throughput.py [--xcnn build/xcnn] [--images 200]
        [--loop-images 20] [--r18-ig-images 20] [--threads 2] [--models fashion,resnet18]
        [--rounds 3]
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F


class OnnxNet(torch.nn.Module):
    """The ONNX graph's nodes run in order with torch.nn.functional."""

    def __init__(self, path):
        super().__init__()
        m = onnx.load(path)
        self.w = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy())
                  for t in m.graph.initializer}
        self.nodes = [(n.op_type, list(n.input), list(n.output),
                       {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute})
                      for n in m.graph.node]
        self.input = m.graph.input[0].name
        self.output = m.graph.output[0].name
        self.cam_layer = None  # the last 4-D activation with h*w > 1 (xcnn's default)

    def forward(self, x, keep=None):
        v = {self.input: x}
        kept = None
        for op, ins, outs, at in self.nodes:
            a = [v[i] if i in v else self.w.get(i) for i in ins]
            if op == "Conv":
                p = at.get("pads", [0, 0, 0, 0])
                y = F.conv2d(a[0], a[1], a[2] if len(a) > 2 else None, at.get("strides", [1, 1]),
                             (p[0], p[1]), at.get("dilations", [1, 1]), at.get("group", 1))
            elif op == "BatchNormalization":
                y = F.batch_norm(a[0], a[3], a[4], a[1], a[2], False, 0.0, at.get("epsilon", 1e-5))
            elif op == "Relu":
                y = F.relu(a[0])
            elif op == "MaxPool":
                p = at.get("pads", [0, 0, 0, 0])
                y = F.max_pool2d(a[0], at["kernel_shape"], at.get("strides", 1), (p[0], p[1]))
            elif op == "Add":
                y = a[0] + a[1]
            elif op == "GlobalAveragePool":
                y = a[0].mean(dim=(2, 3), keepdim=True)
            elif op == "Flatten":
                y = torch.flatten(a[0], at.get("axis", 1))
            elif op == "Gemm":
                y = F.linear(a[0], a[1] if at.get("transB", 0) else a[1].t(), a[2])
            else:
                raise SystemExit(f"throughput.py: op {op} not in the interpreter")
            v[outs[0]] = y
            if y.dim() == 4 and y.shape[2] * y.shape[3] > 1:
                self.cam_layer, kept = outs[0], y
        if keep is not None:
            keep.append(kept)
        return v[self.output]


def leggauss01(n):
    a, w = np.polynomial.legendre.leggauss(n)
    return (a + 1) / 2, w / 2


def torch_rate(net, x, method, batch=32, steps=16):
    """Images per second of `method` over the images x (N x C x H x W), by
    the wall clock and by this process's CPU time."""
    n = x.shape[0]
    t0, c0 = time.perf_counter(), time.process_time()
    if method == "predict":
        with torch.no_grad():
            for i in range(0, n, batch):
                net(x[i:i + batch])
    elif method == "saliency":
        for i in range(0, n, batch):
            xb = x[i:i + batch].clone().requires_grad_(True)
            y = net(xb)
            t = y.argmax(1)
            g, = torch.autograd.grad(y.gather(1, t[:, None]).sum(), xb)
            g.abs()
    elif method == "gradcam":
        for i in range(0, n, batch):
            keep = []
            y = net(x[i:i + batch].clone().requires_grad_(True), keep)
            t = y.argmax(1)
            a = keep[0]
            g, = torch.autograd.grad(y.gather(1, t[:, None]).sum(), a)
            F.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(1, keepdim=True))
    elif method == "ig":
        al, w = leggauss01(steps)
        al = torch.tensor(al, dtype=x.dtype)
        w = torch.tensor(w, dtype=x.dtype)
        per = max(1, batch // steps)  # images per pass: 32 path points
        for i in range(0, n, per):
            xi = x[i:i + per]
            k = xi.shape[0]
            with torch.no_grad():
                t = net(xi).argmax(1)
            pts = (al[:, None, None, None, None] * xi[None]).reshape(steps * k, *xi.shape[1:])
            pts.requires_grad_(True)
            y = net(pts)
            g, = torch.autograd.grad(y.gather(1, t.repeat(steps)[:, None]).sum(), pts)
            (xi * (w[:, None, None, None, None] * g.reshape(steps, k, *xi.shape[1:])).sum(0))
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def median_pair(runs):
    """The run of median wall-clock rate (its CPU rate with it)."""
    runs = sorted(runs, key=lambda r: r[0])
    return runs[len(runs) // 2]


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def xcnn_args(method):
    if method == "predict":
        return ["predict"]
    m = {"saliency": "saliency", "gradcam": "gradcam", "ig": "integrated-gradients"}[method]
    return ["explain", "--method", m] + (["--steps", "16"] if method == "ig" else [])


def xcnn_many(xcnn, model, paths, method, threads, tmp):
    out = tempfile.mkdtemp(dir=tmp)
    lst = os.path.join(out, "list.txt")
    with open(lst, "w") as f:
        f.write("\n".join(paths) + "\n")
    a = xcnn_args(method)
    cmd = [xcnn, a[0], model, "--list", lst, "--out-dir", os.path.join(out, "d"),
           "--threads", str(threads)] + a[1:]
    t0, c0 = time.perf_counter(), children_cpu()
    r = subprocess.run(cmd, capture_output=True, text=True)
    el, cpu = time.perf_counter() - t0, children_cpu() - c0
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr[-400:]}")
    shutil.rmtree(out)
    return len(paths) / el, len(paths) / cpu


def xcnn_memory(bench, model, x, method, threads, tmp):
    """bench_batch's median rate: the C API on inputs in memory, warmed up
    (None when the program is not built: make bench)."""
    if not os.path.exists(bench):
        return None
    npy = os.path.join(tmp, "inputs.npy")
    np.save(npy, np.ascontiguousarray(x, dtype=np.float32))
    r = subprocess.run([bench, model, npy, "--method", method, "--threads", str(threads)],
                       capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{bench}: exit {r.returncode}: {r.stderr[-400:]}")
    return float(r.stdout.rsplit("median_per_s=", 1)[1].split()[0])


def xcnn_loop(xcnn, model, paths, method, threads, tmp):
    a = xcnn_args(method)
    t0, c0 = time.perf_counter(), children_cpu()
    for p in paths:
        cmd = [xcnn, a[0], model, p, "--threads", str(threads)] + a[1:]
        if a[0] == "explain":
            cmd += ["--out", os.path.join(tmp, "loop.npy")]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr[-400:]}")
    return len(paths) / (time.perf_counter() - t0), len(paths) / (children_cpu() - c0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xcnn", default="build/xcnn")
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--loop-images", type=int, default=20)
    ap.add_argument("--r18-ig-images", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="fashion,resnet18")
    ap.add_argument("--r18", default="build/fixtures/resnet18/model.onnx")
    ap.add_argument("--bench", default="build/bench/bench_batch")
    ap.add_argument("--rounds", type=int, default=3,
                    help="xcnn's run and PyTorch's, alternated this many times: medians")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tmp = tempfile.mkdtemp(prefix="xcnn_throughput_")
    rows = []
    try:
        for which in args.models.split(","):
            if which == "fashion":
                model = "data/fashion_resnet.onnx"
                src = sorted(os.path.join("data/fashion", f) for f in os.listdir("data/fashion")
                             if f.endswith(".png"))
                from PIL import Image  # noqa: the same pixels xcnn reads, for PyTorch
                imgs = [np.asarray(Image.open(p).convert("L"), dtype=np.float32) / 255.0
                        for p in src]
                x_all = np.stack([imgs[i % len(imgs)] for i in range(args.images)])[:, None]
            else:
                model = args.r18
                if not os.path.exists(model):
                    print(f"SKIP resnet18: {model} missing (make fixtures-big)")
                    continue
                src = [os.path.join(os.path.dirname(model), "input.npy")]
                x1 = np.load(src[0]).astype(np.float32).reshape(1, 3, 224, 224)
                x_all = np.repeat(x1, args.images, 0)
            d = os.path.join(tmp, which)
            os.makedirs(d)
            paths = []
            for i in range(args.images):  # one name per image: outputs are per name
                s = src[i % len(src)]
                p = os.path.join(d, f"img{i:04d}{os.path.splitext(s)[1]}")
                os.symlink(os.path.abspath(s), p)
                paths.append(p)
            net = OnnxNet(model).eval()
            x = torch.from_numpy(np.ascontiguousarray(x_all))
            for method in ["predict", "saliency", "gradcam", "ig"]:
                n = args.images
                if which == "resnet18" and method == "ig":
                    n = min(n, args.r18_ig_images)
                manys, trs = [], []
                for _ in range(max(1, args.rounds)):
                    manys.append(xcnn_many(args.xcnn, model, paths[:n], method, args.threads, tmp))
                    trs.append(torch_rate(net, x[:n], method))
                many, tr = median_pair(manys), median_pair(trs)
                mem = xcnn_memory(args.bench, model, x_all[:n], method, args.threads, tmp)
                nl = min(n, args.loop_images)
                loop = xcnn_loop(args.xcnn, model, paths[:nl], method, args.threads, tmp)
                rows.append((which, method, n, nl, many, loop, tr, mem))
                print(f"{which:9s} {method:9s} {n:4d} images: xcnn {many[0]:8.1f}/s "
                      f"({many[1]:.1f}/CPU-s), loop {loop[0]:6.1f}/s ({loop[1]:.1f}/CPU-s, {nl} "
                      f"images), PyTorch b32 {tr[0]:8.1f}/s ({tr[1]:.1f}/CPU-s), "
                      f"xcnn in memory {mem if mem else float('nan'):.1f}/s", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("Images per second by the wall clock (per CPU-second in brackets):")
    print(f"(xcnn one run and PyTorch: medians of {max(1, args.rounds)} alternating rounds)")
    print("| model | row | images | xcnn, one run | process loop | vs loop | PyTorch, batches of 32 | vs PyTorch | xcnn C API, in memory | vs PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    names = {"predict": "predict", "saliency": "saliency", "gradcam": "Grad-CAM", "ig": "IG-16"}
    for which, method, n, nl, many, loop, tr, mem in rows:
        m_cells = f"{mem:.1f} | {mem / tr[0]:.2f}x" if mem else "not built (make bench) | "
        print(f"| {'Fashion-MNIST 28²' if which == 'fashion' else 'ResNet-18 224²'} | "
              f"{names[method]} | {n} | {many[0]:.1f} ({many[1]:.1f}) | {loop[0]:.1f} "
              f"({loop[1]:.1f}; {nl} images) | {many[0] / loop[0]:.1f}x ({many[1] / loop[1]:.1f}x) | "
              f"{tr[0]:.1f} ({tr[1]:.1f}) | {many[0] / tr[0]:.2f}x ({many[1] / tr[1]:.2f}x) | "
              f"{m_cells} |")


if __name__ == "__main__":
    sys.exit(main())
