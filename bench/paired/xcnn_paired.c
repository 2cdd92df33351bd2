/*
 * libxcnn for bench/compare_torch.py: each compared work (forward,
 * forward + backward, Grad-CAM, integrated gradients, and any method
 * through xcnn_paired_open_method) as one call, so that
 * Python can time PyTorch's call and ours in turn, in one process, on the
 * same OpenMP threads (one libgomp), call after call. Timed back to back
 * like this, both sides of a pair meet the same state of the machine: on
 * this VM the speed changes within a second, and timing each side in its
 * own process let the two land in different states.
 *
 * Built with the library, position-independent, into
 * build/bench/libxcnn_paired.so by `make paired`.
 */
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn.h"

enum { PAIRED_FORWARD, PAIRED_FORWARD_BACKWARD, PAIRED_GRADCAM, PAIRED_IG, PAIRED_METHOD };

typedef struct xcnn_paired {
    xcnn_model *m;
    int work;
    float *x, *out;
    size_t out_len;
    xcnn_explain_options o;
    char layer[256]; /* o.layer: a copy, the caller's string may go */
    /* copies of what the options point to (xcnn_paired_open_method,
     * xcnn_paired_set_data) */
    float *baselines, *masks, *noise, *draw_alpha;
    int *draw_index;
    xcnn_explain_result res;
} xcnn_paired;

void xcnn_paired_close(xcnn_paired *p)
{
    if (!p) return;
    xcnn_model_free(p->m);
    free(p->x);
    free(p->out);
    free(p->baselines);
    free(p->masks);
    free(p->noise);
    free(p->draw_alpha);
    free(p->draw_index);
    free(p);
}

static void set_err(char *err, size_t err_size, const char *msg)
{
    if (err && err_size) {
        strncpy(err, msg, err_size - 1);
        err[err_size - 1] = 0;
    }
}

static float *copy_floats(const float *src, size_t n)
{
    float *d = malloc(n * sizeof(float));
    if (d) memcpy(d, src, n * sizeof(float));
    return d;
}

/* The model at `path` set up for `work` as `xcnn bench` sets it up (the
 * plain forward loaded inference_only, as deployed), with input x (one
 * sample), target 0, `threads` threads; Grad-CAM at `layer`; integrated
 * gradients with `steps` Gauss-Legendre points in batches of `batch`.
 * NULL on any error (the message goes to err). */
xcnn_paired *xcnn_paired_open(const char *path, int work, int threads, const char *layer,
                              int steps, int batch, const float *x, char *err, size_t err_size)
{
    xcnn_load_options lo;
    memset(&lo, 0, sizeof lo);
    lo.inference_only = work == PAIRED_FORWARD;
    xcnn_paired *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->work = work;
    if (xcnn_model_load(path, &lo, &p->m, err, err_size) != XCNN_OK) {
        xcnn_paired_close(p);
        return NULL;
    }
    xcnn_model_set_threads(p->m, threads);
    xcnn_explain_options_init(&p->o, work == PAIRED_IG ? XCNN_INTEGRATED_GRADIENTS
                                                       : XCNN_GRADCAM);
    p->o.target = 0;
    if (layer) {
        strncpy(p->layer, layer, sizeof p->layer - 1);
        p->o.layer = p->layer;
    }
    p->o.steps = steps;
    xcnn_tensor_view in;
    int ndim;
    int64_t dims[4];
    int explain = work == PAIRED_GRADCAM || work == PAIRED_IG;
    if (xcnn_model_reserve(p->m, work == PAIRED_IG ? batch : 1) != XCNN_OK ||
        xcnn_model_input(p->m, &in) != XCNN_OK ||
        (explain && xcnn_explain_shape(p->m, &p->o, &ndim, dims) != XCNN_OK)) {
        if (err && err_size) {
            strncpy(err, xcnn_model_error(p->m), err_size - 1);
            err[err_size - 1] = 0;
        }
        xcnn_paired_close(p);
        return NULL;
    }
    p->x = malloc(in.numel * sizeof(float));
    p->out_len = 1;
    for (int i = 0; explain && i < ndim; i++) p->out_len *= (size_t)dims[i];
    p->out = malloc(p->out_len * sizeof(float));
    if (!p->x || !p->out) {
        xcnn_paired_close(p);
        return NULL;
    }
    memcpy(p->x, x, in.numel * sizeof(float));
    return p;
}

/* Any xcnn_method (an xcnn_method value), set up as a row of
 * bench/compare_torch.py needs it: target 0, `threads` threads, the model
 * reserved for `batch` inputs (the library may run fewer per pass:
 * xcnn_ex_pass_batch), the rest of the options at their defaults
 * (xcnn_explain_options_init) but for these, each left alone when 0/NULL:
 *   layer                  o.layer (CAM family)
 *   baselines, n_baselines deeplift-shap, gradient-shap (copied); for
 *                          deeplift the first row is o.baseline
 *   win_c, win_h, win_w    occlusion window; stride_h, stride_w its strides
 *   samples                gradient-shap, rise
 *   lrp_rule               o.lrp_rule (an xcnn_lrp_rule) when >= 0
 * NULL on any error (the message goes to err). */
xcnn_paired *xcnn_paired_open_method(const char *path, int method, int threads, const char *layer,
                                     int batch, const float *x, const float *baselines,
                                     int n_baselines, int win_c, int win_h, int win_w,
                                     int stride_h, int stride_w, int samples, int lrp_rule,
                                     char *err, size_t err_size)
{
    if (method < 0 || method >= XCNN_METHOD_COUNT || batch < 1) {
        set_err(err, err_size, "xcnn_paired_open_method: bad method or batch");
        return NULL;
    }
    xcnn_load_options lo;
    memset(&lo, 0, sizeof lo);
    xcnn_paired *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->work = PAIRED_METHOD;
    if (xcnn_model_load(path, &lo, &p->m, err, err_size) != XCNN_OK) {
        xcnn_paired_close(p);
        return NULL;
    }
    xcnn_model_set_threads(p->m, threads);
    xcnn_explain_options *o = &p->o;
    xcnn_explain_options_init(o, (xcnn_method)method);
    o->target = 0;
    if (layer && *layer) {
        strncpy(p->layer, layer, sizeof p->layer - 1);
        o->layer = p->layer;
    }
    xcnn_tensor_view in;
    int ndim;
    int64_t dims[4];
    if (xcnn_model_reserve(p->m, batch) != XCNN_OK || xcnn_model_input(p->m, &in) != XCNN_OK) {
        set_err(err, err_size, xcnn_model_error(p->m));
        xcnn_paired_close(p);
        return NULL;
    }
    if (baselines && n_baselines > 0) {
        p->baselines = copy_floats(baselines, (size_t)n_baselines * in.numel);
        if (!p->baselines) goto nomem;
        if (method == XCNN_DEEPLIFT) {
            o->baseline = p->baselines;
        } else {
            o->baselines = p->baselines;
            o->n_baselines = n_baselines;
        }
    }
    if (win_h > 0) {
        o->window[0] = win_c;
        o->window[1] = win_h;
        o->window[2] = win_w;
    }
    if (stride_h > 0) {
        o->stride[0] = stride_h;
        o->stride[1] = stride_w > 0 ? stride_w : stride_h;
    }
    if (samples > 0) o->samples = samples;
    if (lrp_rule >= 0) o->lrp_rule = (xcnn_lrp_rule)lrp_rule;
    if (xcnn_explain_shape(p->m, o, &ndim, dims) != XCNN_OK) {
        set_err(err, err_size, xcnn_model_error(p->m));
        xcnn_paired_close(p);
        return NULL;
    }
    p->x = copy_floats(x, in.numel);
    p->out_len = 1;
    for (int i = 0; i < ndim; i++) p->out_len *= (size_t)dims[i];
    p->out = malloc(p->out_len * sizeof(float));
    if (!p->x || !p->out) goto nomem;
    return p;
nomem:
    set_err(err, err_size, "out of memory");
    xcnn_paired_close(p);
    return NULL;
}

/* Hand an opened method data to use instead of drawing it (to compare
 * its result with PyTorch's on the same draws): "masks" (rise: n masks of
 * H x W), "noise" (gradient-shap: n x input-size), "draw_alpha"
 * (gradient-shap: n), "draw_index" (gradient-shap: n, given as floats).
 * Copied. 0 on success. */
int xcnn_paired_set_data(xcnn_paired *p, const char *what, const float *data, size_t n)
{
    if (!p || !what || !data || !n) return 1;
    if (!strcmp(what, "masks")) {
        xcnn_tensor_view in;
        if (xcnn_model_input(p->m, &in) != XCNN_OK || in.ndim != 4) return 1;
        free(p->masks);
        if (!(p->masks = copy_floats(data, n))) return 1;
        p->o.masks = p->masks;
        p->o.n_masks = (int)(n / (size_t)(in.dims[2] * in.dims[3]));
    } else if (!strcmp(what, "noise")) {
        free(p->noise);
        if (!(p->noise = copy_floats(data, n))) return 1;
        p->o.noise = p->noise;
    } else if (!strcmp(what, "draw_alpha")) {
        free(p->draw_alpha);
        if (!(p->draw_alpha = copy_floats(data, n))) return 1;
        p->o.draw_alpha = p->draw_alpha;
    } else if (!strcmp(what, "draw_index")) {
        free(p->draw_index);
        if (!(p->draw_index = malloc(n * sizeof(int)))) return 1;
        for (size_t i = 0; i < n; i++) p->draw_index[i] = (int)data[i];
        p->o.draw_index = p->draw_index;
    } else {
        return 1;
    }
    return 0;
}

/* The last run's attribution (xcnn_paired_run of an explanation): up to
 * n floats copied into dst; returns how many it holds (0 for the plain
 * forward and forward + backward). */
size_t xcnn_paired_output(const xcnn_paired *p, float *dst, size_t n)
{
    if (p->work == PAIRED_FORWARD || p->work == PAIRED_FORWARD_BACKWARD) return 0;
    if (dst) memcpy(dst, p->out, (n < p->out_len ? n : p->out_len) * sizeof(float));
    return p->out_len;
}

/* The last run's result: score, delta, total (explanations). */
void xcnn_paired_result(const xcnn_paired *p, float out[3])
{
    out[0] = p->res.score;
    out[1] = p->res.delta;
    out[2] = p->res.total;
}

/* One run of the work; 0 on success. */
int xcnn_paired_run(xcnn_paired *p)
{
    int target = 0;
    switch (p->work) {
    case PAIRED_FORWARD:
        return xcnn_forward(p->m, p->x, 1, NULL);
    case PAIRED_FORWARD_BACKWARD:
        return xcnn_forward(p->m, p->x, 1, NULL) || xcnn_backward(p->m, &target, NULL, NULL);
    default:
        return xcnn_explain(p->m, p->x, &p->o, p->out, p->out_len, &p->res);
    }
}

/* The message of the last failed run. */
const char *xcnn_paired_error(const xcnn_paired *p)
{
    return xcnn_model_error(p->m);
}
