#!/usr/bin/python3
"""Write the float64 PyTorch references of METHODS.md's methods into the committed fixtures.

    /usr/bin/python3 tools/make_method_fixtures.py [--out DIR] [--only a,b]

For each fixture model of tools/make_fixtures.py (rebuilt from the same seeds:
the script checks that its output equals the committed output.npy), every
module of tools/references/ computes its method's references straight from
METHODS.md, in float64, independently of the C code; the arrays go beside the
first round's in tests/fixtures/<model>/ (tests/fixtures/README.md lists them).
Modules: deeplift (DeepLIFT, DeepLIFT-SHAP, GradientSHAP), lrp, perturbation
(occlusion, RISE), cam_family (CAM, Grad-CAM++ ... Ablation-CAM), metrics
(deletion and insertion curves). Each has
references(model, x32, target, name, layers) -> {file stem: array}, where model
is the float32 eval model (a module makes its own float64 copy), x32 the input,
target the fixture's class (meta.txt) and layers make_fixtures' Grad-CAM layers.
With lrp among the modules it also writes tests/fixtures/lrp_bn, a tiny model
that keeps its BatchNormalization nodes (for LRP's BatchNorm-merge canonizer),
by tools/references/lrp.py. Seeded: a rerun writes the same bytes; the file
stems each module writes are listed in its docstring and in
tests/fixtures/README.md.
"""
import argparse
import importlib
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures  # noqa: E402

MODULES = ["deeplift", "lrp", "perturbation", "cam_family", "metrics"]


def meta(d):
    out = {}
    with open(os.path.join(d, "meta.txt")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            out[k] = v
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="fixture root (default tests/fixtures)")
    ap.add_argument("--only", help="comma-separated modules (default all)")
    ap.add_argument("--models", help="comma-separated fixture models (default all)")
    args = ap.parse_args()
    root = args.out or os.path.join(os.path.dirname(HERE), "tests", "fixtures")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    mods = args.only.split(",") if args.only else MODULES
    names = args.models.split(",") if args.models else list(make_fixtures.BUILDERS)
    for name in names:
        d = os.path.join(root, name)
        model, x32, layers, _ = make_fixtures.BUILDERS[name]()
        model.eval()
        info = meta(d)
        target = int(info["target"])
        with torch.no_grad():
            out = model(torch.from_numpy(x32)).numpy()
        want = np.load(os.path.join(d, "output.npy"))
        assert np.array_equal(np.load(os.path.join(d, "input.npy")), x32), name
        assert np.abs(out - want).max() <= 1e-5 * np.abs(want).max(), name
        for mod in mods:
            if not os.path.exists(os.path.join(HERE, "references", mod + ".py")):
                print("   (no tools/references/%s.py yet)" % mod)
                continue
            ref = importlib.import_module("references." + mod)
            arrays = ref.references(model, x32, target, name, layers)
            for k, v in sorted(arrays.items()):
                make_fixtures.save_npy(os.path.join(d, k + ".npy"), v)
            print("== %s: %s wrote %s" % (name, mod, ", ".join(sorted(arrays))))
    if "lrp" in mods and not args.models:
        lrp = importlib.import_module("references.lrp")
        sys.argv = [sys.argv[0]] + (["--out", root] if args.out else [])
        lrp.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
