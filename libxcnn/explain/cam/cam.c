/*
 * CAM (Zhou et al. 2016, "Learning Deep Features for Discriminative
 * Localization"). For a model that ends
 *     A (1 x K x h x w) -> GlobalAveragePool -> [Flatten | Reshape]* -> Gemm -> y
 * the class score is y_t = alpha * sum_k W[t,k] mean_ij(A_k) + bias_t, so
 *     M = alpha * sum_k W[t,k] A_k            (1 x 1 x h x w)
 * is the map whose mean is the score (less the bias). No ReLU, no bias
 * (METHODS.md); W is the Gemm's B, read as [M, K] under transB (how
 * torch exports nn.Linear) and as [K, M] without; alpha is 1 in every
 * torch export. One forward, no backward. Other models, and layers
 * other than the GAP's input, are refused: there M is not defined.
 */
#include <string.h>
#include "cam_family.h"
#include "../../base/format.h"

/* The node that makes tensor t, or NULL for inputs and constants. */
static const xcnn_node *maker(const xcnn_graph *g, int t)
{
    int p = g->tensors[t].producer;
    return p >= 0 ? &g->nodes[p] : NULL;
}

static int is_op(const xcnn_node *n, const char *op) { return n && !strcmp(n->op_type, op); }

xcnn_status xcnn_ex_cam_gap_layer(const xcnn_model *m, const char *name, int *layer, int *gemm,
                                  xcnn_err *err)
{
    const xcnn_graph *g = m->g;
    const char *need = "cam needs a model that ends GlobalAveragePool -> (Flatten or Reshape) "
                       "-> Gemm (Zhou et al.'s CAM)";
    const xcnn_node *fc = maker(g, g->output);
    if (!is_op(fc, "Gemm"))
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "%s: the model's output '%s' is made by %s%s%s",
                         need, g->tensors[g->output].name, fc ? fc->op_type : "no node",
                         fc ? " node " : "", fc ? fc->name : "");
    int t = fc->in[0];
    const xcnn_node *n = maker(g, t);
    while (is_op(n, "Flatten") || is_op(n, "Reshape")) {
        t = n->in[0];
        n = maker(g, t);
    }
    if (!is_op(n, "GlobalAveragePool"))
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "%s: the Gemm '%s' reads '%s', made by %s%s%s",
                         need, fc->name, g->tensors[t].name, n ? n->op_type : "no node",
                         n ? " node " : "", n ? n->name : "");
    int a = n->in[0];
    const xcnn_tensor *lt = &g->tensors[a], *b = &g->tensors[fc->in[1]];
    int trans = xcnn_attr_int(fc, "transB", 0) != 0;
    /* the Gemm's K (its weight's columns under transB) must be the
     * layer's channels, or the Flatten/Reshape moved the features around */
    if (lt->ndim != 4 || b->kind != XCNN_T_CONST || b->ndim != 2 || !b->data ||
        b->dims[trans ? 1 : 0] != lt->dims[1])
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "%s: the GlobalAveragePool's input '%s' "
                         "does not meet the Gemm '%s' channel for channel", need, lt->name,
                         fc->name);
    if (name) {
        /* Grad-CAM's lookup first, for its messages about unknown names,
         * weights and the input */
        int want;
        xcnn_status st = xcnn_ex_cam_layer(m, name, &want, err);
        if (st) return st;
        if (want != a)
            return xcnn_fail(err, XCNN_ERR_ARG, "cam: layer '%s' is not the input of the "
                             "GlobalAveragePool before the classifier: CAM weighs that "
                             "layer's channels, '%s' (the default)", name, lt->name);
    }
    *layer = a;
    if (gemm) *gemm = (int)(fc - g->nodes);
    return XCNN_OK;
}

static xcnn_status cam_check(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                             xcnn_err *err)
{
    (void)x;
    int t;
    xcnn_status st = xcnn_ex_family_check(m, o, "cam", 0, &t, err);
    return st ? st : xcnn_ex_cam_gap_layer(m, o->layer, &t, NULL, err);
}

static xcnn_status cam_shape(xcnn_model *m, const xcnn_explain_options *o, int *ndim,
                             int64_t dims[4], xcnn_err *err)
{
    int t;
    xcnn_status st = cam_check(m, NULL, o, err);
    if (!st) st = xcnn_ex_cam_gap_layer(m, o->layer, &t, NULL, err);
    if (!st) xcnn_ex_cam_shape(m, t, o->upsample, ndim, dims);
    return st;
}

static xcnn_status cam_run(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                           float *out, xcnn_explain_result *res, xcnn_err *err)
{
    int t, gi;
    xcnn_status st = xcnn_ex_cam_gap_layer(m, o->layer, &t, &gi, err);
    if (st) return st;
    const xcnn_graph *g = m->g;
    const xcnn_tensor *lt = &g->tensors[t];
    xcnn_format(res->layer, sizeof res->layer, "%s", lt->name);
    st = xcnn_ex_forward_values(m, x, o, t, res, err);
    if (st) return st;

    const xcnn_node *fc = &g->nodes[gi];
    const xcnn_tensor *b = &g->tensors[fc->in[1]];
    int trans = xcnn_attr_int(fc, "transB", 0) != 0;
    double alpha = xcnn_attr_float(fc, "alpha", 1.0f);
    int K = (int)lt->dims[1];
    int64_t classes = trans ? b->dims[0] : b->dims[1];
    size_t hw = (size_t)(lt->dims[2] * lt->dims[3]);
    float *map = xcnn_ex_family_map(m, o, out);
    for (size_t p = 0; p < hw; p++) {
        double s = 0;
        for (int k = 0; k < K; k++) {
            float wk = trans ? b->data[(size_t)res->target * (size_t)K + (size_t)k]
                             : b->data[(size_t)k * (size_t)classes + (size_t)res->target];
            s += (double)wk * lt->data[(size_t)k * hw + p];
        }
        map[p] = (float)(alpha * s);
    }
    return xcnn_ex_family_finish(m, "cam", lt, map, o, out, err);
}

const xcnn_ex_method xcnn_ex_cam = {"cam", cam_check, cam_shape, cam_run};
