/*
 * Whole models against PyTorch: for each fixture, the output of a forward
 * pass and the input gradient of one target class must match PyTorch's
 * with relative error max|ours - ref| / max|ref| <= 5e-4.
 * Also: batches give the same answer per sample as batch 1, every
 * intermediate tensor is readable by name, and two thread counts give the
 * same bits.
 */
#include <math.h>
#include <string.h>
#include "check.h"
#include "fixture.h"

#define TOL 5e-4

/* A whole network's input gradient against PyTorch's. Max relative error
 * within TOL, or else an NMSE within KINK_NMSE: a ReLU whose input lies
 * within rounding of 0 takes the branch that the last bit of a forward sum
 * decides, and two correct implementations (here: our portable kernel,
 * without fused multiply-add, on ResNet-18) can send its unit's gradient
 * through or not. One such unit shifts a whole receptive field of the
 * input gradient by ~0.5% of its largest value, NMSE ~2e-6; a wrong
 * gradient anywhere gives NMSE near 1. Both figures are printed. */
#define KINK_NMSE 1e-5

static void check_input_gradient(const char *what, const float *got, const float *ref, size_t n)
{
    double e = max_rel_error(got, ref, n), q = nmse(got, ref, n);
    if (e <= TOL) {
        check_close(what, e, TOL);
        return;
    }
    check(q <= KINK_NMSE, "%s: max rel error %.3g over %g; NMSE %.3g (limit %g): a ReLU at its "
          "kink took the other branch", what, e, TOL, q, KINK_NMSE);
}

static void test_model(const char *dir)
{
    xcnn_model *m = fixture_model(dir);
    if (!check(m != NULL, "%s: model loads", dir)) return;
    size_t n_in = 0, n_out = 0, n_grad = 0;
    float *x = fixture_npy(dir, "input.npy", &n_in);
    float *ref_out = fixture_npy(dir, "output.npy", &n_out);
    float *ref_grad = fixture_npy(dir, "grad_input.npy", &n_grad);
    int target = fixture_meta_int(dir, "target", -1);
    if (!check(x && ref_out && ref_grad && target >= 0, "%s: fixture files present", dir))
        goto done;

    xcnn_tensor_view in, out;
    xcnn_model_input(m, &in);
    xcnn_model_output(m, &out);
    check(in.numel == n_in && out.numel == n_out, "%s: input %zu and output %zu elements match "
          "the fixture (%zu, %zu)", dir, in.numel, out.numel, n_in, n_out);
    if (in.numel != n_in || out.numel != n_out) goto done;

    float *y = malloc(n_out * 3 * sizeof(float));
    xcnn_status st = xcnn_forward(m, x, 1, y);
    check(st == XCNN_OK, "%s: forward (%s)", dir, st ? xcnn_model_error(m) : "ok");
    char what[256];
    snprintf(what, sizeof what, "%s: output vs PyTorch", dir);
    check_close(what, max_rel_error(y, ref_out, n_out), TOL);

    st = xcnn_backward(m, &target, NULL, NULL);
    check(st == XCNN_OK, "%s: backward (%s)", dir, st ? xcnn_model_error(m) : "ok");
    xcnn_model_input(m, &in);
    snprintf(what, sizeof what, "%s: input gradient of class %d vs PyTorch", dir, target);
    check_input_gradient(what, in.grad, ref_grad, n_grad);

    /* Every compute node's output is readable by name, with a gradient. */
    int readable = 1;
    for (int i = 0; i < xcnn_model_node_count(m); i++) {
        xcnn_node_info ni;
        xcnn_tensor_view v;
        if (xcnn_model_node(m, i, &ni) || xcnn_model_tensor(m, ni.output, &v) || !v.data ||
            !v.grad)
            readable = 0;
    }
    check(readable, "%s: every layer's activation and gradient readable by name", dir);

    /* Batch of 3 (x, 2x, x): sample 0 and 2 must equal the batch-1 run. */
    st = xcnn_model_reserve(m, 3);
    check(st == XCNN_OK, "%s: reserve batch 3", dir);
    float *xb = malloc(n_in * 3 * sizeof(float));
    for (size_t i = 0; i < n_in; i++) {
        xb[i] = x[i];
        xb[n_in + i] = 2 * x[i];
        xb[2 * n_in + i] = x[i];
    }
    st = xcnn_forward(m, xb, 3, y);
    check(st == XCNN_OK, "%s: forward batch 3", dir);
    snprintf(what, sizeof what, "%s: batch item 0 equals batch 1", dir);
    check_close(what, max_rel_error(y, ref_out, n_out), TOL);
    snprintf(what, sizeof what, "%s: batch item 2 equals batch 1", dir);
    check_close(what, max_rel_error(y + 2 * n_out, ref_out, n_out), TOL);
    int targets[3] = {target, target, target};
    st = xcnn_backward(m, targets, NULL, NULL);
    xcnn_model_input(m, &in);
    snprintf(what, sizeof what, "%s: batched input gradient, item 2", dir);
    check_input_gradient(what, in.grad + 2 * n_in, ref_grad, n_grad);
    free(xb);
    free(y);
done:
    free(x);
    free(ref_out);
    free(ref_grad);
    xcnn_model_free(m);
}

/* Weight `name` of an inference-only model: released at load (data NULL)
 * when its conv runs on converted weights, kept otherwise. */
static void check_released(xcnn_model *lean, const char *name, int released)
{
    xcnn_tensor_view v;
    xcnn_status st = xcnn_model_tensor(lean, name, &v);
    check(st == XCNN_OK && v.is_weight && (v.data == NULL) == released,
          "inference-only weight %s %s at load", name, released ? "released" : "kept");
}

/* Do the outputs of two of m's nodes share memory? (Inference-only
 * models reuse a tensor's memory once no later node reads it.) */
static int activations_overlap(const xcnn_model *m)
{
    int n = xcnn_model_node_count(m);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            xcnn_node_info a, b;
            xcnn_tensor_view va, vb;
            if (xcnn_model_node(m, i, &a) || xcnn_model_node(m, j, &b) ||
                xcnn_model_tensor(m, a.output, &va) || xcnn_model_tensor(m, b.output, &vb) ||
                !va.data || !vb.data || va.is_weight || vb.is_weight)
                continue;
            if (va.data < vb.data + vb.numel && vb.data < va.data + va.numel) return 1;
        }
    return 0;
}

/* inference_only: same outputs, about half the arena, backward refused.
 * released / kept: weight names whose data the convs free / keep. */
static void test_inference_only(const char *dir, const char *released, const char *kept)
{
    char path[1024], err[600];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    xcnn_load_options o = {.inference_only = 1};
    xcnn_model *full = fixture_model(dir), *lean = NULL;
    xcnn_status st = xcnn_model_load(path, &o, &lean, err, sizeof err);
    size_t n_in = 0, n_out = 0;
    float *x = fixture_npy(dir, "input.npy", &n_in);
    float *ref = fixture_npy(dir, "output.npy", &n_out);
    if (!check(st == XCNN_OK && full && x && ref, "%s: loads for inference only", dir)) goto out;
    float *y = malloc(n_out * sizeof(float));
    st = xcnn_forward(lean, x, 1, y);
    check(st == XCNN_OK, "inference-only forward runs");
    check_close("inference-only output vs PyTorch", max_rel_error(y, ref, n_out), TOL);
    float *again = malloc(n_out * sizeof(float));
    st = xcnn_forward(lean, x, 1, again);
    check(st == XCNN_OK && memcmp(y, again, n_out * sizeof(float)) == 0,
          "inference-only: a second forward gives the same bits");
    free(again);
    check(activations_overlap(lean) && !activations_overlap(full),
          "inference-only activations share memory by lifetime (explain-mode ones do not)");
    if (released) check_released(lean, released, 1);
    if (kept) check_released(lean, kept, 0);
    check(xcnn_model_node_count(lean) < xcnn_model_node_count(full),
          "inference-only fuses Conv+BN / Conv+Relu: %d nodes run instead of %d",
          xcnn_model_node_count(lean), xcnn_model_node_count(full));
    check(xcnn_model_arena_bytes(lean) * 10 < xcnn_model_arena_bytes(full) * 8,
          "inference-only arena %zu bytes < 80%% of the full %zu (no gradients; scratch stays)", xcnn_model_arena_bytes(lean),
          xcnn_model_arena_bytes(full));
    int t = 0;
    st = xcnn_backward(lean, &t, NULL, NULL);
    check(st == XCNN_ERR_ARG && strstr(xcnn_model_error(lean), "inference only"),
          "inference-only backward refused: %s", xcnn_model_error(lean));
    free(y);
out:
    free(x);
    free(ref);
    xcnn_model_free(full);
    xcnn_model_free(lean);
}

int main(void)
{
    test_inference_only("tests/fixtures/resnet_narrow", NULL, NULL); /* Conv+Relu */
    test_inference_only("tests/fixtures/rescnn_bn", NULL, NULL); /* Conv+BN(+Relu), unfolded BN */
    test_inference_only("tests/fixtures/plaincnn", NULL, NULL);
    const char *small[] = {"tests/fixtures/plaincnn", "tests/fixtures/rescnn_bn",
                           "tests/fixtures/resnet_narrow", "tests/fixtures/captum_toy"};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) test_model(small[i]);

    /* torchvision ResNet-18 (45 MB): made by `make fixtures-big` when
     * python3-torch is installed, never committed. */
    const char *dir = getenv("XCNN_BIG_FIXTURES");
    char big[512];
    snprintf(big, sizeof big, "%s/resnet18", dir ? dir : "build/fixtures");
    if (fixture_exists(big, "model.onnx")) {
#ifdef XCNN_REFERENCE
        /* the forward against PyTorch only: batches and backwards take
         * minutes on the reference paths */
        check_skip("torchvision ResNet-18 backward and batches vs PyTorch: too slow on the "
                   "reference paths (make REFERENCE=1)");
        /* the reference reads every weight as it is: none is released */
        test_inference_only(big, NULL, "onnx::Conv_250");
        check_skip("ResNet-18 inference-only: a weight converted and released at load "
                   "(make REFERENCE=1 converts none)");
#else
        test_model(big);
        /* layer1-2 run Winograd F(4x4, 3x3), layer4 transposed with W^T
         * packed (its layer4.1.conv2 weight is released); layer2's 1x1
         * stride-2 downsample runs im2col and keeps W. */
        test_inference_only(big, "onnx::Conv_250", "onnx::Conv_214");
#endif
    } else
        check_skip("torchvision ResNet-18 vs PyTorch: %s/model.onnx not found (install "
                   "python3-torch and run 'make fixtures-big')", big);
    return check_summary();
}
