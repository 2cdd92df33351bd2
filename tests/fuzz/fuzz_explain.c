/*
 * libFuzzer harness: an options header and ONNX bytes -> the whole run
 * and explain API. The model is loaded twice, for explanations and
 * inference-only (xcnn_load_options.inference_only); when it is small
 * (arena <= RUN_MAX_ARENA_BYTES, forward <= RUN_MAX_FLOPS, input <=
 * RUN_MAX_INPUT floats), it runs:
 *   - explain mode: reserve a batch of 1..4, forward at batch 1 and 2, a
 *     backward (targets or a seed gradient; each ReLU rule; stop_at), then
 *     every xcnn_method with the header's options (target, steps and rule
 *     of integration, baseline, samples, stdev, noise, layer, no_abs,
 *     no_relu, upsample), and the backward after Grad-CAM;
 *   - inference-only: forward at batch 1 and 2; backward and xcnn_explain
 *     must be refused (XCNN_ERR_ARG, as xcnn.h says).
 * Steps and samples are capped (16 and 8 on tiny models, 4 and 2 on the
 * others) so one input runs in milliseconds.
 *
 * Input: HDR header bytes, then the model (an .onnx file):
 *   0   target: -1 (arg-max), 0, K-1, K or -2 (the last two refused);
 *       bits 3-7: the backward's targets
 *   1   integrated-gradients steps (the top values: 0, -1, 100001)
 *   2   integration rule (5: unknown); bits 4-5 baseline: none, finite,
 *       one NaN, the input
 *   3   smoothgrad samples (the top values: 0, -5)
 *   4   stdev: default, 0, small, large, huge, NaN, Inf, subnormal,
 *       FLT_MAX; bit 4: noise given
 *   5   layer (Grad-CAM): default, a node's output, a node's name, the
 *       input, the output, an unknown name, ""; 6: which node
 *   7   bit 0 no_abs, 1 no_relu, 2 upsample, 3 enable_param_grads,
 *       4-5 reserved batch 1..4, 6 result NULL, 7 explain twice (the
 *       same bits again) and at another batch (integrated gradients and
 *       smoothgrad do not depend on the batch, to the bit)
 *   8   smoothgrad seed
 *   9   backward: bits 0-1 ReLU rule (3: unknown), 2-3 stop_at: none, a
 *       node's output, unknown, the input; bit 4 a seed gradient
 *  10   input values (patterns); bit 7: also try a non-finite input,
 *       which forward and explain must refuse
 *  11   bit 7: input_dims given (11 bits 0-1 C-1, 12 H-1 and W-1 in
 *       nibbles): for models whose input sizes are symbolic
 *  13   methods to skip (bit method % 8 per xcnn_method)
 *  14   bits 0-1: also forward at batch 0 / max+1 (refused); bit 2 LRP's
 *       zero_bias, bit 3 the CAM family's normalize (the second round's
 *       other options reuse bytes 2, 3, 5, 6, 8 and 9)
 *  15   threads (no effect without OpenMP)
 * Besides the sanitizers' reports, a failure (abort) is: a refused call
 * without a one-line printable message, or with *out not NULL; a call
 * that should be refused and is not; a result whose shape is not the one
 * xcnn_explain_shape gave; explain giving different bits for the same
 * input (twice, or at another batch).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn.h"
#include "../../include/xcnn_image.h"

#define HDR 16
#define RUN_MAX_ARENA_BYTES ((size_t)16 << 20)
#define RUN_MAX_FLOPS 1e6   /* plaincnn is 5.5e5 */
#define TINY_FLOPS 5e4      /* steps up to 16 and samples up to 8 below this */
#define RUN_MAX_INPUT ((size_t)1 << 16)

#define FAIL(...)                                                                   \
    do {                                                                            \
        fprintf(stderr, "fuzz_explain: " __VA_ARGS__);                              \
        fprintf(stderr, "\n");                                                      \
        abort();                                                                    \
    } while (0)

static void check_msg(const char *what, xcnn_status st, const char *msg)
{
    if (!msg) FAIL("%s refused (%s): message NULL", what, xcnn_status_name(st));
    size_t len = strnlen(msg, 4096);
    if (len == 0) FAIL("%s refused (%s) with an empty message", what, xcnn_status_name(st));
    if (len == 4096) FAIL("%s refused (%s): message not terminated", what, xcnn_status_name(st));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)msg[i];
        if (c < 0x20 || c == 0x7f)
            FAIL("%s refused (%s) with control character 0x%02x in its message: %s", what,
                 xcnn_status_name(st), c, msg);
    }
}

/* A call on a model: a refusal leaves a message; `refuse`: must be refused. */
static xcnn_status on_model(const xcnn_model *m, const char *what, xcnn_status st, int refuse)
{
    if (st != XCNN_OK) check_msg(what, st, xcnn_model_error(m));
    else if (refuse) FAIL("%s: accepted, should be refused", what);
    return st;
}

static void fill(float *x, size_t n, int pattern, int salt)
{
    uint32_t s = 0x2545f491u ^ (uint32_t)(pattern * 131 + salt);
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        float r = (float)(s >> 8) / (float)(1 << 24) * 2 - 1; /* -1..1 */
        switch (pattern & 7) {
        case 0: x[i] = 0; break;
        case 1: x[i] = (float)((i + (size_t)salt) % 17) - 8; break;
        case 2: x[i] = r; break;
        case 3: x[i] = r * 1e30f; break;
        case 4: x[i] = r * 1e-40f; break; /* subnormal */
        case 5: x[i] = 1; break;
        case 6: x[i] = -fabsf(r) * 100; break;
        default: x[i] = r * FLT_MAX; break;
        }
    }
}

/* Read every value of a view, so a view larger than its buffer shows. */
static void touch(const xcnn_tensor_view *v)
{
    volatile float sum = 0;
    if (v->data)
        for (size_t i = 0; i < v->numel; i++) sum += v->data[i];
    if (v->grad)
        for (size_t i = 0; i < v->numel; i++) sum += v->grad[i];
    (void)sum;
}

typedef struct run {
    const uint8_t *h;
    xcnn_model *m;
    size_t in_n, k;     /* floats per sample of the input and the output */
    int tiny, batch;    /* reserved batch */
    float *x, *xbad;    /* batch 2 inputs; one sample with a NaN or Inf */
    const char *in_name, *out_name;
} run;

/* A node's output or name (node i mod the count), or NULL. */
static const char *node_name(const xcnn_model *m, int i, int want_name)
{
    int n = xcnn_model_node_count(m);
    if (n <= 0) return NULL;
    xcnn_node_info ni;
    if (xcnn_model_node(m, i % n, &ni) != XCNN_OK) return NULL;
    return want_name ? ni.name : ni.output;
}

static void backward(run *r, int batch)
{
    const uint8_t *h = r->h;
    xcnn_backward_options bo = {(xcnn_relu_rule)(h[9] & 3), NULL};
    int refuse = (h[9] & 3) == 3;
    switch ((h[9] >> 2) & 3) {
    case 1: bo.stop_at = node_name(r->m, h[6], 0); break;
    case 2: bo.stop_at = "no such tensor"; refuse = 1; break;
    case 3: bo.stop_at = r->in_name; break;
    }
    int targets[2];
    float *seed = NULL;
    for (int b = 0; b < batch; b++) {
        targets[b] = (int)(((size_t)(h[0] >> 3) + (size_t)b) % (r->k + 1));
        if (!(h[9] & 0x10) && (size_t)targets[b] >= r->k) refuse = 1;
    }
    if (h[9] & 0x10) {
        seed = malloc((size_t)batch * r->k * sizeof(float));
        if (!seed) return;
        fill(seed, (size_t)batch * r->k, h[10] + 2, 7);
    }
    xcnn_status st = xcnn_backward(r->m, seed ? NULL : targets, seed, &bo);
    on_model(r->m, "xcnn_backward", st, refuse);
    if (st == XCNN_OK) {
        xcnn_tensor_view in;
        if (xcnn_model_input(r->m, &in) == XCNN_OK) touch(&in);
        if (!bo.stop_at && !in.grad) FAIL("after a full backward the input has no gradient");
    }
    free(seed);
}

static const float stdevs[16] = {-1, 0, 0.1f, 1e3f, 1e30f, NAN, INFINITY, 1e-42f,
                                 FLT_MAX, -INFINITY, -1, -1, -1, -1, -1, -1};

/* Options from the header; *refuse: these options must be refused. */
static void options(const run *r, xcnn_method method, xcnn_explain_options *o, float *baseline,
                    float *noise, int *refuse)
{
    const uint8_t *h = r->h;
    xcnn_explain_options_init(o, method);
    *refuse = 0;
    switch (h[0] & 7) {
    case 4: o->target = 0; break;
    case 5: o->target = (int)r->k - 1; break;
    case 6: o->target = (int)r->k; *refuse = 1; break;
    case 7: o->target = -2; *refuse = 1; break;
    default: o->target = -1; break;
    }
    o->no_abs = h[7] & 1;
    o->no_relu = (h[7] >> 1) & 1;
    o->upsample = (h[7] >> 2) & 1;
    if (method == XCNN_INTEGRATED_GRADIENTS) {
        int cap = r->tiny ? 16 : 4;
        static const int bad_steps[8] = {0, -1, 100001, -2147483647 - 1, 0, -1, 100001, 0};
        if (h[1] >= 0xf8) {
            o->steps = bad_steps[h[1] & 7];
            *refuse = 1;
        } else {
            o->steps = 1 + h[1] % cap;
        }
        o->ig_rule = (xcnn_ig_rule)((h[2] & 15) % 6);
        if ((h[2] & 15) % 6 == 5) *refuse = 1;
        if (o->ig_rule == XCNN_IG_RIEMANN_TRAPEZOID && o->steps < 2) *refuse = 1;
        switch ((h[2] >> 4) & 3) {
        case 1: o->baseline = baseline; break;
        case 2: o->baseline = baseline; baseline[h[6] % r->in_n] = NAN; *refuse = 1; break;
        case 3: o->baseline = r->x; break;
        }
    }
    if (method == XCNN_SMOOTHGRAD) {
        int cap = r->tiny ? 8 : 2;
        if (h[3] >= 0xfc) {
            o->samples = h[3] & 1 ? -5 : 0;
            *refuse = 1;
        } else {
            o->samples = 1 + h[3] % cap;
        }
        o->stdev = stdevs[h[4] & 15];
        if (!isfinite(o->stdev)) *refuse = 1;
        o->seed = h[8];
        if ((h[4] & 0x10) && noise) o->noise = noise;
    }
    /* the second round (METHODS.md): the same header bytes, reused */
    if (method == XCNN_DEEPLIFT && ((h[2] >> 4) & 3) == 1) o->baseline = baseline;
    if (method == XCNN_DEEPLIFT_SHAP || method == XCNN_GRADIENT_SHAP) {
        o->baselines = baseline; /* two input-sized rows (explain_all) */
        o->n_baselines = 2;
        o->samples = 1 + h[3] % (r->tiny ? 4 : 2);
        o->seed = h[8];
    }
    if (method == XCNN_LRP) {
        o->lrp_rule = (xcnn_lrp_rule)(h[2] & 3);
        if ((h[2] & 3) == 3) *refuse = 1; /* unknown rule */
        o->zero_bias = (h[14] >> 2) & 1;
    }
    if (method == XCNN_OCCLUSION) {
        o->window[1] = 1 + h[6] % 4;
        o->window[2] = 1 + (h[6] >> 2) % 4;
        o->stride[0] = o->stride[1] = 1 + h[9] % 3;
    }
    if (method == XCNN_RISE) {
        o->samples = 1 + h[3] % 4;
        o->cells = 1 + h[6] % 3;
        o->seed = h[8];
    }
    if (method >= XCNN_CAM) o->normalize = (h[14] >> 3) & 1;
    if (method == XCNN_GRADCAM || method == XCNN_GUIDED_GRADCAM || method >= XCNN_CAM) {
        switch (h[5] & 7) {
        case 1: o->layer = node_name(r->m, h[6], 0); break;
        case 2: o->layer = node_name(r->m, h[6], 1); break;
        case 3: o->layer = r->in_name; break;
        case 4: o->layer = r->out_name; break;
        case 5: o->layer = "no such layer"; *refuse = 1; break;
        case 6: o->layer = ""; *refuse = 1; break;
        }
    }
}

static const char *method_names[XCNN_METHOD_COUNT] = {
    "saliency", "input_x_gradient", "deconvnet", "guided_backprop", "integrated_gradients",
    "smoothgrad", "gradcam", "guided_gradcam", "deeplift", "deeplift_shap", "gradient_shap",
    "lrp", "occlusion", "rise", "cam", "gradcam_plus_plus", "xgradcam", "layercam", "hirescam",
    "scorecam", "eigencam", "ablationcam"};

/* One explanation; the attribution is returned in a buffer of exactly the
 * size xcnn_explain_shape gave (NULL if refused). */
static float *explain(run *r, const float *x, const xcnn_explain_options *o, int refuse,
                      size_t *n_out)
{
    char what[64];
    snprintf(what, sizeof what, "xcnn_explain(%s)", method_names[o->method]);
    int ndim = 0;
    int64_t dims[4] = {0};
    xcnn_status st = xcnn_explain_shape(r->m, o, &ndim, dims);
    if (st != XCNN_OK) {
        check_msg("xcnn_explain_shape", st, xcnn_model_error(r->m));
        return NULL;
    }
    if (ndim < 1 || ndim > 4) FAIL("%s: shape of %d dimensions", what, ndim);
    size_t need = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || dims[i] > (int64_t)RUN_MAX_INPUT * 4)
            FAIL("%s: dimension %d is %lld", what, i, (long long)dims[i]);
        need *= (size_t)dims[i];
    }
    if (need > (size_t)RUN_MAX_INPUT * 4) return NULL;
    float *out = malloc(need ? need * sizeof(float) : 1);
    if (!out) return NULL;
    xcnn_explain_result res;
    int with_result = !(r->h[7] & 0x40);
    st = xcnn_explain(r->m, x, o, out, need, with_result ? &res : NULL);
    on_model(r->m, what, st, refuse);
    if (st != XCNN_OK) {
        free(out);
        return NULL;
    }
    if (with_result) {
        if (res.ndim != ndim) FAIL("%s: result ndim %d, shape said %d", what, res.ndim, ndim);
        for (int i = 0; i < ndim; i++)
            if (res.dims[i] != dims[i])
                FAIL("%s: result dim %d is %lld, shape said %lld", what, i,
                     (long long)res.dims[i], (long long)dims[i]);
        if (res.target < 0 || (size_t)res.target >= r->k)
            FAIL("%s: result target %d of %zu outputs", what, res.target, r->k);
        if (o->target >= 0 && res.target != o->target)
            FAIL("%s: explained target %d, asked for %d", what, res.target, o->target);
        if (strnlen(res.layer, sizeof res.layer) == sizeof res.layer)
            FAIL("%s: result layer not terminated", what);
    }
    *n_out = need;
    return out;
}

static void same_bits(const char *what, const char *when, const float *a, const float *b,
                      size_t n)
{
    if (a && b && memcmp(a, b, n * sizeof(float)) != 0) {
        size_t i = 0;
        while (a[i] == b[i] || (isnan(a[i]) && isnan(b[i]))) i++;
        FAIL("%s: %s gives other bits (element %zu: %.9g vs %.9g)", what, when, i, a[i], b[i]);
    }
}

/* After Grad-CAM, whose forward below its layer may have computed values
 * only, a full backward is refused until the next forward; if it is not,
 * it must give the input gradient a fresh forward and backward give. */
static void backward_after_cam(run *r)
{
    int t = 0;
    xcnn_status st = xcnn_backward(r->m, &t, NULL, NULL);
    on_model(r->m, "xcnn_backward after Grad-CAM", st, 0);
    xcnn_tensor_view in;
    if (st != XCNN_OK || xcnn_model_input(r->m, &in) != XCNN_OK || !in.grad) return;
    float *g = malloc(r->in_n * sizeof(float));
    if (!g) return;
    memcpy(g, in.grad, r->in_n * sizeof(float));
    if (on_model(r->m, "xcnn_forward(batch 1)", xcnn_forward(r->m, r->x, 1, NULL), 0) ==
            XCNN_OK &&
        on_model(r->m, "xcnn_backward", xcnn_backward(r->m, &t, NULL, NULL), 0) == XCNN_OK &&
        xcnn_model_input(r->m, &in) == XCNN_OK)
        same_bits("xcnn_backward after Grad-CAM (accepted)", "a fresh forward and backward",
                  in.grad, g, r->in_n);
    free(g);
}

static void explain_all(run *r)
{
    const uint8_t *h = r->h;
    float *baseline = malloc(2 * r->in_n * sizeof(float)); /* 2 rows: the SHAP baselines */
    size_t noise_n = (size_t)(r->tiny ? 8 : 2) * r->in_n;
    float *noise = malloc(noise_n * sizeof(float));
    if (!baseline || !noise) goto done;
    for (int method = 0; method < XCNN_METHOD_COUNT; method++) {
        if (h[13] >> (method % 8) & 1) continue;
        xcnn_explain_options o;
        int refuse;
        fill(baseline, 2 * r->in_n, h[10] + 1, 3);
        fill(noise, noise_n, 2, h[8]);
        options(r, (xcnn_method)method, &o, baseline, noise, &refuse);
        size_t n = 0, n2 = 0;
        float *a = explain(r, r->x, &o, refuse, &n);
        if ((h[10] & 0x80) && xcnn_explain_shape(r->m, &o, &(int){0}, (int64_t[4]){0}) == XCNN_OK) {
            /* a non-finite input: refused */
            float *b = explain(r, r->xbad, &o, 1, &n2);
            free(b);
        }
        if (a && (method == XCNN_GRADCAM || method == XCNN_GUIDED_GRADCAM))
            backward_after_cam(r);
        if (a && (h[7] & 0x80)) {
            float *b = explain(r, r->x, &o, 0, &n2);
            if (!b) FAIL("%s: accepted once, refused the second time", method_names[method]);
            same_bits(method_names[method], "a second call", a, b, n);
            free(b);
            if (method == XCNN_INTEGRATED_GRADIENTS || method == XCNN_SMOOTHGRAD) {
                int other = r->batch == 1 ? 3 : 1;
                if (on_model(r->m, "xcnn_model_reserve", xcnn_model_reserve(r->m, other), 0) ==
                    XCNN_OK) {
                    b = explain(r, r->x, &o, 0, &n2);
                    if (!b)
                        FAIL("%s: refused at batch %d, accepted at %d", method_names[method],
                             other, r->batch);
                    char when[64];
                    snprintf(when, sizeof when, "batch %d (not %d)", other, r->batch);
                    same_bits(method_names[method], when, a, b, n);
                    free(b);
                    on_model(r->m, "xcnn_model_reserve", xcnn_model_reserve(r->m, r->batch), 0);
                }
            }
        }
        free(a);
    }
done:
    free(baseline);
    free(noise);
}

static int cheap(const xcnn_model *m)
{
    if (xcnn_model_arena_bytes(m) > RUN_MAX_ARENA_BYTES) return 0;
    double flops = 0;
    for (int i = 0; i < xcnn_model_node_count(m); i++) {
        xcnn_node_info ni;
        if (xcnn_model_node(m, i, &ni) != XCNN_OK) return 0;
        if (!ni.name || !ni.op_type || !ni.output) FAIL("node %d: a NULL name", i);
        flops += ni.flops;
    }
    if (!(flops <= RUN_MAX_FLOPS)) return 0;
    return flops <= TINY_FLOPS ? 2 : 1;
}

/* The forwards every model gets: batch 1 and 2 and the refused ones. */
static int forwards(run *r)
{
    const uint8_t *h = r->h;
    xcnn_model *m = r->m;
    float *y = malloc(2 * r->k * sizeof(float) + 1);
    if (!y) return 0;
    int ok = on_model(m, "xcnn_forward(batch 1)", xcnn_forward(m, r->x, 1, y), 0) == XCNN_OK;
    if (h[10] & 0x80) on_model(m, "xcnn_forward(non-finite)", xcnn_forward(m, r->xbad, 1, y), 1);
    if (h[14] & 1) on_model(m, "xcnn_forward(batch 0)", xcnn_forward(m, r->x, 0, y), 1);
    if (h[14] & 2 && r->batch < 2)
        on_model(m, "xcnn_forward(batch over max)", xcnn_forward(m, r->x, 2, y), 1);
    if (r->batch >= 2) {
        xcnn_status st = xcnn_forward(m, r->x, 2, y);
        on_model(m, "xcnn_forward(batch 2)", st, 0);
        if (ok && st == XCNN_OK) {
            xcnn_tensor_view in, out;
            if (xcnn_model_input(m, &in) == XCNN_OK) touch(&in);
            if (xcnn_model_output(m, &out) == XCNN_OK) {
                touch(&out);
                if (out.ndim < 1 || out.dims[0] != 2)
                    FAIL("after a forward at batch 2 the output's batch is %lld",
                         out.ndim < 1 ? -1LL : (long long)out.dims[0]);
            }
            backward(r, 2);
        }
    }
    free(y);
    return ok;
}

static void exercise(const uint8_t *h, xcnn_model *m, int inference_only)
{
    int cost = cheap(m);
    const char *meta = xcnn_model_metadata(m, "xcnn.preprocess");
    if (meta) { /* the spec comes from the file: it must parse or be refused */
        xcnn_preprocess p;
        char err[600];
        xcnn_preprocess_init(&p);
        if (xcnn_preprocess_parse(meta, &p, err, sizeof err) != XCNN_OK)
            check_msg("xcnn_preprocess_parse(metadata)", XCNN_ERR_ARG, err);
    }
    (void)xcnn_model_metadata(m, "xcnn.labels");
    (void)xcnn_model_default_cam_layer(m);
    if (!cost) return;
    xcnn_tensor_view in, out;
    if (on_model(m, "xcnn_model_input", xcnn_model_input(m, &in), 0) ||
        on_model(m, "xcnn_model_output", xcnn_model_output(m, &out), 0))
        return;
    if (in.numel == 0 || in.numel > RUN_MAX_INPUT || out.numel == 0) return;
    run r = {h, m, in.numel, out.numel, cost == 2, 1 + ((h[7] >> 4) & 3), NULL, NULL,
             in.name, out.name};
    xcnn_model_set_threads(m, h[15] & 3);
    if (on_model(m, "xcnn_model_reserve", xcnn_model_reserve(m, r.batch), 0) != XCNN_OK) return;
    if (xcnn_model_max_batch(m) != r.batch)
        FAIL("reserved batch %d, max_batch says %d", r.batch, xcnn_model_max_batch(m));
    if (h[7] & 8)
        on_model(m, "xcnn_model_enable_param_grads", xcnn_model_enable_param_grads(m), 0);
    r.x = malloc(2 * r.in_n * sizeof(float));
    r.xbad = malloc(r.in_n * sizeof(float));
    if (!r.x || !r.xbad) goto done;
    fill(r.x, r.in_n, h[10], 0);
    fill(r.x + r.in_n, r.in_n, h[10], 1);
    memcpy(r.xbad, r.x, r.in_n * sizeof(float));
    r.xbad[h[6] % r.in_n] = h[6] & 1 ? INFINITY : NAN;

    if (!forwards(&r)) goto done;
    if (inference_only) {
        int t = 0;
        xcnn_explain_options o;
        xcnn_explain_options_init(&o, XCNN_SALIENCY);
        float *a = malloc(r.in_n * sizeof(float));
        if (a) {
            xcnn_status st = xcnn_explain(m, r.x, &o, a, r.in_n, NULL);
            if (st != XCNN_ERR_ARG)
                FAIL("inference-only model: xcnn_explain gave %s, not invalid argument",
                     xcnn_status_name(st));
            check_msg("xcnn_explain (inference-only)", st, xcnn_model_error(m));
        }
        free(a);
        xcnn_status st = xcnn_backward(m, &t, NULL, NULL);
        if (st != XCNN_ERR_ARG)
            FAIL("inference-only model: xcnn_backward gave %s, not invalid argument",
                 xcnn_status_name(st));
        check_msg("xcnn_backward (inference-only)", st, xcnn_model_error(m));
        goto done;
    }
    /* batch 1 again: the backward of batch 1 */
    if (on_model(m, "xcnn_forward(batch 1)", xcnn_forward(m, r.x, 1, NULL), 0) == XCNN_OK)
        backward(&r, 1);
    explain_all(&r);
done:
    free(r.x);
    free(r.xbad);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HDR) return 0;
    const uint8_t *h = data;
    /* Caps as fuzz_onnx.c: the library must refuse rather than allocate more. */
    xcnn_load_options lo;
    memset(&lo, 0, sizeof lo);
    lo.max_file_bytes = (uint64_t)1 << 20;
    lo.max_tensor_elems = (uint64_t)1 << 20;
    lo.max_nodes = 1000;
    if (h[11] & 0x80) {
        lo.input_dims[1] = 1 + (h[11] & 3);
        lo.input_dims[2] = 1 + (h[12] >> 4);
        lo.input_dims[3] = 1 + (h[12] & 15);
        for (int i = 4; i < XCNN_MAX_DIMS; i++) lo.input_dims[i] = 1 + ((h[11] >> 2) & 3);
    }
    for (int inference_only = 0; inference_only < 2; inference_only++) {
        lo.inference_only = inference_only;
        xcnn_model *m = (xcnn_model *)&lo; /* must come back NULL on failure */
        char err[600];
        err[0] = 0;
        xcnn_status st = xcnn_model_load_memory(data + HDR, size - HDR, &lo, &m, err, sizeof err);
        if (st != XCNN_OK) {
            if (m) FAIL("xcnn_model_load_memory refused (%s) and left *out set",
                        xcnn_status_name(st));
            check_msg(inference_only ? "xcnn_model_load_memory (inference-only)"
                                     : "xcnn_model_load_memory", st, err);
            continue;
        }
        exercise(h, m, inference_only);
        xcnn_model_free(m);
    }
    return 0;
}
