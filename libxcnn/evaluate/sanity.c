/*
 * The sanity check of Adebayo et al. 2018, cascading model-parameter
 * randomization (METHODS.md, "Metrics"; the layers and the draws are
 * defined in xcnn_eval.h). An explanation that explains the model must
 * change when the model's weights do:
 *
 *   a_0     the map of method e for x on the model as it is;
 *   step k  layers L, L-1, .., L-k+1 (counted from the input, 1..L)
 *           re-initialised: Conv/Gemm/MatMul W, b ~ U(-1/sqrt(fan_in),
 *           1/sqrt(fan_in)) (PyTorch's default), BatchNorm to the identity
 *           (scale 1, B 0, mean 0, var 1); a_k the map of e for the same x
 *           and the same target t (the original model's);
 *   report  spearman(|a_0|, |a_k|) and ssim(a_0, a_k) (similarity.c) per
 *           step; flagged when the mean of spearman over the steps, or that
 *           of ssim, is >= 0.5: the map stays alike while the model is
 *           taken apart (a rule of ours, xcnn_eval.h).
 *
 * A map is the attribution summed over channels (signed), resized bilinear
 * to H x W when smaller. The copy: the model's graph encoded to ONNX and
 * parsed (model_copy.c); each step changes one more layer's weights in that
 * graph and loads it again, so no op ever runs on weight forms made from
 * older weights. a_0 is computed on a load of the unchanged graph, the same
 * code path as every step's. Nothing of the caller's model is written but
 * its error message.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn_eval.h"
#include "model_copy.h"
#include "../base/error.h"
#include "../base/rng.h"
#include "../graph/graph.h"
#include "../io/resize.h"
#include "../explain/explain.h"

#define SANITY_FLAG 0.5

void xcnn_sanity_options_init(xcnn_sanity_options *o)
{
    if (o) memset(o, 0, sizeof *o);
}

/* A float constant, or NULL. */
static xcnn_tensor *const_float(xcnn_graph *g, const xcnn_node *n, int i)
{
    xcnn_tensor *t = xcnn_in(g, n, i);
    return t && t->kind == XCNN_T_CONST && t->dtype == XCNN_DT_FLOAT && t->ndim >= 0 ? t : NULL;
}

/* Is node n a layer (xcnn_eval.h)? The input holding its weight in *w. */
static int is_layer(xcnn_graph *g, const xcnn_node *n)
{
    if (!strcmp(n->op_type, "BatchNormalization")) return 1;
    if (!strcmp(n->op_type, "Conv") || !strcmp(n->op_type, "Gemm") ||
        !strcmp(n->op_type, "MatMul")) {
        xcnn_tensor *w = const_float(g, n, 1);
        return w && w->ndim >= 2;
    }
    return 0;
}

static int count_layers(xcnn_graph *g, const int *order, int n_order)
{
    int L = 0;
    for (int i = 0; i < n_order; i++) L += is_layer(g, &g->nodes[order ? order[i] : i]);
    return L;
}

/* The reduced dimension of layer n's weight w. */
static int64_t fan_in(const xcnn_node *n, const xcnn_tensor *w)
{
    if (!strcmp(n->op_type, "Conv")) {
        int64_t f = 1;
        for (int d = 1; d < w->ndim; d++) f *= w->dims[d];
        return f;
    }
    if (!strcmp(n->op_type, "Gemm"))
        return xcnn_attr_int(n, "transB", 0) ? w->dims[1] : w->dims[0];
    return w->dims[w->ndim - 2]; /* MatMul: B is ... x K x N */
}

static xcnn_status fill_uniform(xcnn_graph *g, xcnn_tensor *t, double bound, uint64_t *rng,
                                xcnn_err *err)
{
    float *d = xcnn_tensor_writable(g, t);
    if (!d) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory");
    for (size_t i = 0, c = xcnn_tensor_numel(t); i < c; i++)
        d[i] = (float)((2 * xcnn_rng_uniform(rng) - 1) * bound);
    return XCNN_OK;
}

static xcnn_status fill_const(xcnn_graph *g, xcnn_tensor *t, float v, xcnn_err *err)
{
    if (!t) return XCNN_OK;
    float *d = xcnn_tensor_writable(g, t);
    if (!d) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory");
    for (size_t i = 0, c = xcnn_tensor_numel(t); i < c; i++) d[i] = v;
    return XCNN_OK;
}

/* Re-initialise layer n of g (the copy). */
static xcnn_status randomize(xcnn_graph *g, const xcnn_node *n, uint64_t *rng, xcnn_err *err)
{
    if (!strcmp(n->op_type, "BatchNormalization")) {
        xcnn_status st = fill_const(g, const_float(g, n, 1), 1.0f, err);
        if (!st) st = fill_const(g, const_float(g, n, 2), 0.0f, err);
        if (!st) st = fill_const(g, const_float(g, n, 3), 0.0f, err);
        if (!st) st = fill_const(g, const_float(g, n, 4), 1.0f, err);
        return st;
    }
    xcnn_tensor *w = const_float(g, n, 1);
    int64_t f = fan_in(n, w);
    double bound = f > 0 ? 1.0 / sqrt((double)f) : 0.0;
    xcnn_status st = fill_uniform(g, w, bound, rng, err);
    xcnn_tensor *b = const_float(g, n, 2);
    if (!st && b) st = fill_uniform(g, b, bound, rng, err);
    return st;
}

xcnn_status xcnn_sanity_layers(xcnn_model *m, int *n_layers)
{
    if (!m) return XCNN_ERR_ARG;
    if (!n_layers) {
        if (xcnn_model_enter(m)) {
            xcnn_format(m->error, sizeof m->error, "xcnn_sanity_layers: n_layers is NULL");
            xcnn_model_leave(m);
        }
        return XCNN_ERR_ARG;
    }
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    *n_layers = count_layers(m->g, m->compute, m->n_compute);
    xcnn_model_leave(m);
    return XCNN_OK;
}

/* The map of attribution a (shape dims[0..ndim)) as H x W floats into map;
 * tmp holds h x w floats. */
static void make_map(const float *a, int ndim, const int64_t *dims, int64_t H, int64_t W,
                     float *tmp, float *map)
{
    int64_t c = ndim >= 3 ? dims[ndim - 3] : 1, h = dims[ndim - 2], w = dims[ndim - 1];
    size_t hw = (size_t)(h * w);
    float *dst = h == H && w == W ? map : tmp;
    for (size_t q = 0; q < hw; q++) {
        double s = 0;
        for (int64_t k = 0; k < c; k++) s += (double)a[(size_t)k * hw + q];
        dst[q] = (float)s;
    }
    if (dst == tmp) xcnn_resize_bilinear(tmp, (int)h, (int)w, map, (int)H, (int)W);
}

typedef struct sanity_run {
    xcnn_graph *g;          /* the copy's graph, randomized step by step */
    int *layers;            /* node indices of g's layers, forward order */
    float *attr, *tmp, *map0, *map, *abs0, *absk;
    size_t attr_len;
} sanity_run;

static void run_free(sanity_run *r)
{
    if (r->g) xcnn_graph_free(r->g);
    free(r->layers);
    free(r->attr);
    free(r->tmp);
    free(r->map0);
    free(r->map);
    free(r->abs0);
    free(r->absk);
}

/* Load g, explain x with eo into r->attr, its map into map. */
static xcnn_status explain_copy(const xcnn_model *m, xcnn_graph *g, const float *x,
                                const xcnn_explain_options *eo, sanity_run *r, int64_t H,
                                int64_t W, float *map, int *target, xcnn_err *err)
{
    xcnn_model *c = NULL;
    xcnn_status st = xcnn_copy_load(g, m, &c, err);
    if (st) return st;
    xcnn_explain_result res;
    st = xcnn_explain(c, x, eo, r->attr, r->attr_len, &res);
    if (st) xcnn_fail(err, st, "%s", xcnn_model_error(c));
    else {
        make_map(r->attr, res.ndim, res.dims, H, W, r->tmp, map);
        if (target) *target = res.target;
    }
    xcnn_model_free(c);
    return st;
}

static xcnn_status sanity(xcnn_model *m, const float *x, const xcnn_explain_options *eo,
                          const xcnn_sanity_options *so, xcnn_sanity_step *steps, int max_steps,
                          int *n_steps, int *flagged, xcnn_err *err)
{
    if (!x || !eo || !steps)
        return xcnn_fail(err, XCNN_ERR_ARG, "sanity: input, explain options and steps must not "
                         "be NULL");
    const xcnn_tensor *in = &m->g->tensors[m->g->input];
    if (in->ndim != 4 || in->dims[2] < 11 || in->dims[3] < 11)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "sanity: the model input must be N x C x H x W "
                         "with H, W >= 11 (SSIM's 11 x 11 window on H x W maps)");
    int L = count_layers(m->g, m->compute, m->n_compute);
    if (L == 0)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "sanity: the model has no layer to "
                         "randomize (Conv, Gemm or MatMul with a constant weight, "
                         "BatchNormalization)");
    if (max_steps < L)
        return xcnn_fail(err, XCNN_ERR_ARG, "sanity: steps holds %d, the model has %d layers "
                         "(xcnn_sanity_layers)", max_steps, L);
    int ndim = 0;
    int64_t dims[4];
    xcnn_status st = xcnn_ex_explain_shape_held(m, eo, &ndim, dims);
    if (st) return xcnn_fail(err, st, "%s", m->error);
    int64_t H = in->dims[2], W = in->dims[3];
    size_t hw = (size_t)(H * W);
    sanity_run r = {0};
    r.attr_len = 1;
    for (int d = 0; d < ndim; d++) r.attr_len *= (size_t)dims[d];
    r.attr = malloc(r.attr_len * sizeof(float));
    r.tmp = malloc(r.attr_len * sizeof(float));
    r.map0 = malloc(hw * sizeof(float));
    r.map = malloc(hw * sizeof(float));
    r.abs0 = malloc(hw * sizeof(float));
    r.absk = malloc(hw * sizeof(float));
    r.layers = malloc((size_t)L * sizeof(int));
    if (!r.attr || !r.tmp || !r.map0 || !r.map || !r.abs0 || !r.absk || !r.layers) {
        run_free(&r);
        return xcnn_fail(err, XCNN_ERR_NOMEM, "sanity: out of memory");
    }
    char msg[512];
    st = xcnn_copy_graph(m, &r.g, err);
    if (st) {
        xcnn_format(msg, sizeof msg, "%s", err->msg);
        xcnn_fail(err, st, "sanity: copying the model: %.400s", msg);
        run_free(&r);
        return st;
    }
    /* The copy lists the running nodes in the model's order, and the same
     * layers (its constants are the model's). */
    int nl = 0;
    for (int i = 0; i < r.g->n_nodes && nl < L; i++)
        if (is_layer(r.g, &r.g->nodes[i])) r.layers[nl++] = i;
    if (nl != L || count_layers(r.g, NULL, r.g->n_nodes) != L) {
        run_free(&r);
        return xcnn_fail(err, XCNN_ERR_FORMAT, "sanity: the model's copy has other layers than "
                         "the model (%d, not %d)", nl, L);
    }
    int target = -1;
    st = explain_copy(m, r.g, x, eo, &r, H, W, r.map0, &target, err);
    if (st) {
        xcnn_format(msg, sizeof msg, "%s", err->msg);
        xcnn_fail(err, st, "sanity, the unchanged model: %.440s", msg);
        run_free(&r);
        return st;
    }
    for (size_t q = 0; q < hw; q++) r.abs0[q] = fabsf(r.map0[q]);
    xcnn_explain_options e = *eo;
    e.target = target;
    uint64_t rng = so ? so->seed : 0;
    for (int k = 0; k < L; k++) {
        const xcnn_node *n = &r.g->nodes[r.layers[L - 1 - k]];
        xcnn_sanity_step *s = &steps[k];
        memset(s, 0, sizeof *s);
        xcnn_format(s->layer, sizeof s->layer, "%s", n->name);
        st = randomize(r.g, n, &rng, err);
        if (!st) st = explain_copy(m, r.g, x, &e, &r, H, W, r.map, NULL, err);
        if (!st) {
            for (size_t q = 0; q < hw; q++) r.absk[q] = fabsf(r.map[q]);
            st = xcnn_spearman(r.abs0, r.absk, hw, &s->spearman, msg, sizeof msg);
            if (!st) st = xcnn_ssim(r.map0, r.map, (int)H, (int)W, &s->ssim, msg, sizeof msg);
            if (st) xcnn_fail(err, st, "%s", msg);
        }
        if (st) {
            xcnn_format(msg, sizeof msg, "%s", err->msg);
            xcnn_fail(err, st, "sanity, step %d (layer '%.200s' re-initialised): %.250s", k + 1,
                      n->name, msg);
            run_free(&r);
            return st;
        }
    }
    if (n_steps) *n_steps = L;
    if (flagged) {
        double sp = 0, ss = 0;
        for (int k = 0; k < L; k++) sp += steps[k].spearman, ss += steps[k].ssim;
        *flagged = sp / L >= SANITY_FLAG || ss / L >= SANITY_FLAG;
    }
    run_free(&r);
    return XCNN_OK;
}

xcnn_status xcnn_sanity(xcnn_model *m, const float *input, const xcnn_explain_options *eo,
                        const xcnn_sanity_options *so, xcnn_sanity_step *steps, int max_steps,
                        int *n_steps, int *flagged)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    xcnn_err err = {{0}};
    xcnn_status st = sanity(m, input, eo, so, steps, max_steps, n_steps, flagged, &err);
    if (st) xcnn_format(m->error, sizeof m->error, "%s", err.msg);
    xcnn_model_leave(m);
    return st;
}
