"""SqueezeNet references for tests/test_squeezenet_cam.sh (issue #19).

    /usr/bin/python3 tools/references/squeezenet_cam.py OUTDIR

torchvision's SqueezeNet 1.0 and 1.1 (random weights from a fixed seed,
nothing downloaded) at 96 x 96, exported to ONNX. Their classifier is
Dropout, Conv to 1000 channels (one per class), ReLU and global pooling:
the last 4-D map is a score map, and Grad-CAM's default layer must skip
it to the last Fire module's output, the layer pytorch-grad-cam users
give for SqueezeNet (model.features[-1]). Writes, for V in 1_0, 1_1:
    squeezenet_V.onnx       the export (opset 13)
    squeezenet_V_input.npy  the input, (1, 3, 96, 96), float32
    squeezenet_V_layer.txt  the ONNX tensor that is features[-1]'s output
                            (the Concat of the last Fire, found by the
                            export's node name, not by our rule)
    squeezenet_V_target.txt t, the float64 model's top class
    squeezenet_V_gradcam64.npy  Grad-CAM of the float64 model at t on
                            features[-1]: relu(sum_k mean_hw(dy/dA_k) A_k)
    squeezenet_V_gradcam32.npy  the same from torch's float32 model
                            (PyTorch's own float32 error, printed beside ours)
"""
import os
import sys

import numpy as np
import onnx
import torch
import torchvision


def gradcam(model, last, x, t):
    """Grad-CAM at model.features[last] for class t (None: the top class)."""
    feats = {}
    hook = model.features[last].register_forward_hook(lambda mod, i, o: feats.update(A=o))
    y = model(x)
    hook.remove()
    if t is None:
        t = int(y[0].argmax())
    A = feats["A"]
    (g,) = torch.autograd.grad(y[0, t], A)
    cam = (g.mean(dim=(2, 3), keepdim=True) * A).sum(1, keepdim=True).clamp(min=0)
    return cam.detach(), t


def main(out):
    os.makedirs(out, exist_ok=True)
    for v in ("1_0", "1_1"):
        torch.manual_seed(0)
        model = getattr(torchvision.models, "squeezenet" + v)(weights=None).eval()
        gen = torch.Generator().manual_seed(1)
        x = torch.rand((1, 3, 96, 96), generator=gen)
        name = "squeezenet_" + v
        path = os.path.join(out, name + ".onnx")
        torch.onnx.export(model, x, path, opset_version=13, input_names=["input"],
                          output_names=["logits"])

        last = len(model.features) - 1
        prefix = "/features/features.%d/" % last
        cats = [n.output[0] for n in onnx.load(path).graph.node
                if n.op_type == "Concat" and n.name.startswith(prefix)]
        if len(cats) != 1:
            sys.exit("%s: no single Concat named %s* in the export: %s" % (name, prefix, cats))

        # .double() converts in place; .float() gives back the same float32
        # weights (float -> double -> float is exact)
        cam, t = gradcam(model.double(), last, x.double(), None)
        cam32, _ = gradcam(model.float(), last, x, t)

        np.save(os.path.join(out, name + "_input.npy"), x.numpy().astype(np.float32))
        np.save(os.path.join(out, name + "_gradcam64.npy"), cam.numpy()[0])
        np.save(os.path.join(out, name + "_gradcam32.npy"), cam32.numpy()[0])
        with open(os.path.join(out, name + "_layer.txt"), "w") as f:
            f.write(cats[0] + "\n")
        with open(os.path.join(out, name + "_target.txt"), "w") as f:
            f.write("%d\n" % t)
        print("%s: features[-1] is %s, target %d, cam max %.3g"
              % (name, cats[0], t, float(cam.max())))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
