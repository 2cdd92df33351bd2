#!/usr/bin/python3
"""
Deletion and insertion (METHODS.md, "Metrics") on ResNet-18 224x224: `xcnn evaluate`
against a batched PyTorch loop of the same definition (tools/references/metrics.py's
curve(), float32 model, torch's threads = ours), in the same run.

The map is the model's saliency (`xcnn explain --method saliency`, one channel); the step is
RISE-like, 224 pixels, so n = 224 steps and 225 points per curve. Ours is timed as the
whole `xcnn evaluate` process (load, one forward for the target line, the 225 points:
226 forwards), the best of --repeat runs; PyTorch's as the curve() call alone (its inputs
built, then --torch-batch at a time), the best of --repeat. Also prints both AUCs and the
largest difference between the curves (ours against float32 PyTorch).

    /usr/bin/python3 bench/compare_metrics.py [--xcnn build/xcnn]
        [--model build/fixtures/resnet18/model.onnx] [--threads 2] [--batch 8]
        [--torch-batch 16] [--repeat 1]
The ONNX comes from: /usr/bin/python3 tools/make_fixtures.py --big --out build/fixtures
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools", "references"))
from compare_torch import fixture_resnet18  # noqa: E402
import metrics  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--xcnn", default=os.path.join(ROOT, "build", "xcnn"))
    ap.add_argument("--model", default=os.path.join(ROOT, "build", "fixtures", "resnet18",
                                                    "model.onnx"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--torch-batch", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--step", type=int, default=224)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x_path = os.path.join(os.path.dirname(args.model), "input.npy")
    x32 = np.load(x_path).astype(np.float32).reshape(1, 3, 224, 224)
    model = fixture_resnet18()
    with tempfile.TemporaryDirectory() as tmp:
        attr = os.path.join(tmp, "sal.npy")
        subprocess.run([args.xcnn, "explain", args.model, x_path, "--method", "saliency",
                        "--out", attr, "--threads", str(args.threads)], check=True,
                       stdout=subprocess.DEVNULL)
        a = np.load(attr)
        print("ResNet-18 224x224, saliency map %s, step %d, threads %d (ours --batch %d, "
              "torch batch %d)" % (a.shape, args.step, args.threads, args.batch,
                                   args.torch_batch))
        print("%-10s %10s %10s %8s %12s %12s %10s" % ("metric", "ours s", "torch s", "ratio",
                                                   "auc ours", "auc torch", "max|diff|"))
        for kind in ("deletion", "insertion"):
            out = os.path.join(tmp, kind + ".npy")
            cmd = [args.xcnn, "evaluate", args.model, x_path, "--attribution", attr, "--metric",
                   kind, "--step", str(args.step), "--threads", str(args.threads), "--batch",
                   str(args.batch), "--out", out]
            ours = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                r = subprocess.run(cmd, check=True, capture_output=True, text=True)
                ours.append(time.perf_counter() - t0)
            target = int(re.search(r"^target (\d+)", r.stdout, re.M).group(1))
            auc_ours = float(re.search(r"^auc=(\S+)", r.stdout, re.M).group(1))
            c_ours = np.load(out)
            xt = torch.from_numpy(x32)
            theirs = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                c_t, auc_t, _ = metrics.curve(model, xt, a, kind, args.step, target,
                                              "probability", batch=args.torch_batch)
                theirs.append(time.perf_counter() - t0)
            diff = float(np.abs(c_ours.astype(np.float64) - c_t.astype(np.float64)).max())
            print("%-10s %10.2f %10.2f %8.2f %12.6f %12.6f %10.2e" % (
                kind, min(ours), min(theirs), min(ours) / min(theirs), auc_ours, auc_t, diff))
    return 0


if __name__ == "__main__":
    sys.exit(main())
