"""float64 references of CAM and the CAM family (METHODS.md), for make_method_fixtures.py.

Written from METHODS.md alone (pytorch-grad-cam's definitions; CAM from Zhou et
al. 2016), independently of libxcnn/explain/cam/cam_family.c and friends. With A the
hooked module's output (1 x K x h x w), G = dy/dA, y = f(x)[t]:

  cam                M = sum_k W[t,k] A_k (the Gemm after GlobalAveragePool; no
                     ReLU, no bias)
  gradcam_plus_plus  alpha = G^2 / (2 G^2 + sum_ij(A_k) G^3 + 1e-6), 0 where G = 0;
                     w_k = sum_ij relu(G) alpha; relu(sum_k w_k A_k)
  xgradcam           w_k = sum_ij(G A) / (sum_ij(A) + 1e-7); relu(sum_k w_k A_k)
  layercam           relu(sum_k relu(G) A)
  hirescam           relu(sum_k G A)
  scorecam           U_k = A_k bilinear (align_corners=True) to H x W, min-max scaled
                     (+1e-8); s_k = f(x U_k)[t]; w = softmax(s); relu(sum_k w_k A_k)
  eigencam           p = A_c v1 (A_c: (h w) x K, centred per channel; v1 its first
                     right singular vector), sign so that max(p) >= |min(p)|; relu(p)
  ablationcam        y_k = f(x)[t] with channel k of A set to 0; w_k = (y - y_k) / y;
                     relu(sum_k w_k A_k)

Files (tests/fixtures/<model>/, all (1,1,h,w) unless said):
  cam_<method>.npy          at meta gradcam_layer (resnet_narrow: cam_cam at the GAP's
                            input, which is its gradcam_layer_default)
  cam_<method>_default.npy  at gradcam_layer_default
  cam_<method>_norm_up.npy  at gradcam_layer, normalised (c - min) / (max(c - min) + 1e-7),
                            then bilinear (align_corners=False) to H x W: (1,1,H,W)
captum_toy gets none (too small to say anything; CAM is refused on it).
"""
import copy

import numpy as np
import torch
import torch.nn.functional as F

METHODS = ["gradcam_plus_plus", "xgradcam", "layercam", "hirescam", "scorecam", "eigencam",
           "ablationcam"]
# which methods get a normalise + upsample variant, per model
NORM_UP = {"plaincnn": ["gradcam_plus_plus", "scorecam"],
           "rescnn_bn": ["xgradcam", "eigencam"],
           "resnet_narrow": ["ablationcam", "layercam", "cam"]}


def capture(model, module, x, t):
    """A = module's output, y = f(x)[t], A still in the graph (for dy/dA)."""
    store = {}
    h = module.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    y = model(x)[0, t]
    h.remove()
    return store["a"], y


def gradient_cam(method, A, G):
    S = A.sum(dim=(2, 3), keepdim=True)
    if method == "gradcam_plus_plus":
        g2 = G * G
        g3 = g2 * G
        alpha = g2 / (2 * g2 + S * g3 + 1e-6)
        alpha = torch.where(G != 0, alpha, torch.zeros_like(alpha))
        w = (G.clamp(min=0) * alpha).sum(dim=(2, 3), keepdim=True)
        cam = (w * A).sum(1, keepdim=True)
    elif method == "xgradcam":
        w = (G * A).sum(dim=(2, 3), keepdim=True) / (S + 1e-7)
        cam = (w * A).sum(1, keepdim=True)
    elif method == "layercam":
        cam = (G.clamp(min=0) * A).sum(1, keepdim=True)
    elif method == "hirescam":
        cam = (G * A).sum(1, keepdim=True)
    else:
        raise ValueError(method)
    return cam.clamp(min=0)


def scorecam(model, A, x, t):
    K = A.shape[1]
    U = F.interpolate(A, size=x.shape[2:], mode="bilinear", align_corners=True)[0]  # K,H,W
    mx = U.reshape(K, -1).max(1)[0].view(K, 1, 1)
    mn = U.reshape(K, -1).min(1)[0].view(K, 1, 1)
    U = (U - mn) / (mx - mn + 1e-8)
    s = model(x * U[:, None])[:, t]          # x (1,C,H,W) * (K,1,H,W) -> K inputs
    w = torch.softmax(s, 0).view(1, K, 1, 1)
    return (w * A).sum(1, keepdim=True).clamp(min=0)


def eigencam(A):
    K, h, w = A.shape[1:]
    M = A[0].reshape(K, h * w).T.numpy()      # (h w) x K
    Mc = M - M.mean(axis=0)
    _, _, vt = np.linalg.svd(Mc, full_matrices=False)
    p = Mc @ vt[0]
    if p.max() < abs(p.min()):
        p = -p
    return torch.from_numpy(np.maximum(p, 0).reshape(1, 1, h, w))


def ablationcam(model, module, A, x, t):
    K = A.shape[1]
    y = model(x)[0, t]

    def zero(m, i, o):
        o = o.clone()
        for k in range(K):
            o[k, k] = 0
        return o

    h = module.register_forward_hook(zero)
    yk = model(x.expand(K, *x.shape[1:]))[:, t]
    h.remove()
    w = ((y - yk) / y).view(1, K, 1, 1)
    return (w * A).sum(1, keepdim=True).clamp(min=0)


def cam_weights(model):
    """The classifier's weights W (classes x K) of a model ending GAP -> Flatten -> fc."""
    fc = getattr(model, "fc", None)
    pool = getattr(model, "avgpool", None)
    if fc is None or pool is None:
        return None
    return fc.weight


def one(model, module, x, t, method):
    A, y = capture(model, module, x, t)
    if method == "cam":
        W = cam_weights(model)
        return (W[t].view(1, -1, 1, 1) * A).sum(1, keepdim=True).detach()
    if method in ("gradcam_plus_plus", "xgradcam", "layercam", "hirescam"):
        (G,) = torch.autograd.grad(y, A)
        return gradient_cam(method, A.detach(), G)
    A = A.detach()
    if method == "scorecam":
        return scorecam(model, A, x, t)
    if method == "eigencam":
        return eigencam(A)
    if method == "ablationcam":
        return ablationcam(model, module, A, x, t)
    raise ValueError(method)


def norm_up(cam, size):
    c = cam - cam.amin(dim=(2, 3), keepdim=True)
    c = c / (c.amax(dim=(2, 3), keepdim=True) + 1e-7)
    return F.interpolate(c, size=size, mode="bilinear", align_corners=False)


def references(model32, x32, t, name, layers):
    if name == "captum_toy":
        return {}
    m = copy.deepcopy(model32).double().eval()
    path = {id(mod): p for p, mod in model32.named_modules()}
    mods = {k: m.get_submodule(path[id(mod)]) for k, (mod, _) in layers.items()}
    x = torch.from_numpy(x32).double()
    out = {}
    with torch.enable_grad():
        for method in METHODS:
            out["cam_" + method] = one(m, mods["gradcam_layer"], x, t, method)
            out["cam_%s_default" % method] = one(m, mods["gradcam_layer_default"], x, t, method)
        if cam_weights(m) is not None:
            # CAM only at the GAP's input: the default layer of this model
            out["cam_cam"] = one(m, mods["gradcam_layer_default"], x, t, "cam")
        for method in NORM_UP.get(name, []):
            L = mods["gradcam_layer_default" if method == "cam" else "gradcam_layer"]
            out["cam_%s_norm_up" % method] = norm_up(one(m, L, x, t, method), x.shape[2:])
    return {k: v.detach().numpy() for k, v in out.items()}
