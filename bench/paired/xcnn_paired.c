/*
 * libxcnn for bench/compare_torch.py: each compared work (forward,
 * forward + backward, Grad-CAM, integrated gradients) as one call, so that
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

enum { PAIRED_FORWARD, PAIRED_FORWARD_BACKWARD, PAIRED_GRADCAM, PAIRED_IG };

typedef struct xcnn_paired {
    xcnn_model *m;
    int work;
    float *x, *out;
    size_t out_len;
    xcnn_explain_options o;
    char layer[256]; /* o.layer: a copy, the caller's string may go */
} xcnn_paired;

void xcnn_paired_close(xcnn_paired *p)
{
    if (!p) return;
    xcnn_model_free(p->m);
    free(p->x);
    free(p->out);
    free(p);
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
        return xcnn_explain(p->m, p->x, &p->o, p->out, p->out_len, NULL);
    }
}

/* The message of the last failed run. */
const char *xcnn_paired_error(const xcnn_paired *p)
{
    return xcnn_model_error(p->m);
}
