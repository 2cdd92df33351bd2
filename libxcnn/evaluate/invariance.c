/*
 * Input invariance (Kindermans et al. 2017; METHODS.md, "Metrics"). Two
 * networks that compute the same function of their own inputs, one reading
 * x and the other x2 = x + m (m a constant per channel), should be
 * explained alike:
 *
 *   f2      the model with its first Conv's bias b2 = b - W m, i.e.
 *           b2[o] = b[o] - sum_{c,i,j} W[o,c,i,j] m[c_of(o, c)] (c_of: the
 *           input channel that group's weight channel c reads), so that
 *           W (x + m) + b2 = W x + b at every output pixel: every later
 *           activation, and so every gradient at or after the first Conv's
 *           output, is the same in f2(x2) as in f(x);
 *   result  max|a1 - a2| / max|a1|, a1 = e(f, x), a2 = e(f2, x2), for the
 *           target t of f(x); a pass when <= 1e-4. (Both all zero: 0;
 *           a1 all zero and a2 not: 1.)
 *
 * A Conv that pads would see the shift at its border (zeros in both
 * padded inputs, which are no longer the same point of the two spaces), so
 * it is refused, as is a model whose input is read by anything else than
 * one Conv. With pad_with_shift (ours, not the paper's) the shifted model
 * pads explicitly instead: a Pad node of value m ahead of the Conv, whose
 * pads become 0, so that its border holds 0 + m, the shifted image of the
 * original's zeros, and f2(x2) = f(x) holds at the border too. ONNX's Pad
 * has one value: m must then be the same in every channel. Gradients pass, input x gradient does not (x2 != x), and IG or
 * DeepLIFT pass only with baselines shifted by m too
 * (xcnn_invariance_options.shift_baselines).
 *
 * f2 is a copy (model_copy.c): the model's graph, the bias changed (or
 * added), loaded afresh. f itself is the caller's model, explained as
 * xcnn_explain would.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn_eval.h"
#include "model_copy.h"
#include "../base/error.h"
#include "../explain/explain.h"
#include "../graph/graph.h"

#define INVARIANCE_PASS 1e-4

void xcnn_invariance_options_init(xcnn_invariance_options *o)
{
    if (o) memset(o, 0, sizeof *o);
}

/* The node of g that reads the input: one Conv that does not pad, with a
 * constant 4-D weight. */
static xcnn_status first_conv(xcnn_graph *g, int pad_with_shift, int *node, xcnn_err *err)
{
    int last = -1;
    int readers = xcnn_graph_readers(g, g->input, &last);
    if (readers != 1 || strcmp(g->nodes[last].op_type, "Conv"))
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "input invariance shifts the input and "
                         "takes the shift back in the first Conv's bias: the model's input must "
                         "be read by one Conv alone (it is read %d time%s%s%s)", readers,
                         readers == 1 ? "" : "s", readers >= 1 ? ", last by " : "",
                         readers >= 1 ? g->nodes[last].op_type : "");
    const xcnn_node *n = &g->nodes[last];
    const xcnn_tensor *w = xcnn_in(g, n, 1);
    if (n->in[0] != g->input || !w || w->kind != XCNN_T_CONST || w->dtype != XCNN_DT_FLOAT ||
        w->ndim != 4 || !w->data)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "input invariance: the first Conv '%s' "
                         "must read the input as its data and have a constant 4-D weight",
                         n->name);
    int np = 0;
    const int64_t *pads = xcnn_attr_ints(n, "pads", &np);
    int padded = 0;
    for (int i = 0; i < np; i++) padded |= pads[i] != 0;
    const char *ap = xcnn_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "input invariance: the first Conv '%s' "
                         "pads by auto_pad %s, and its zero border would see the shift",
                         n->name, ap);
    if (padded && !pad_with_shift)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "input invariance: the first Conv '%s' "
                         "pads its input, and its zero border would see the shift (Kindermans "
                         "et al.'s construction needs a Conv without padding; "
                         "xcnn_invariance_options.pad_with_shift, --pad-with-shift, pads the "
                         "shifted input with the shift instead)", n->name);
    if (padded && np != 4)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "input invariance: the first Conv '%s' "
                         "has %d pads (2-D convolutions only)", n->name, np);
    *node = last;
    return XCNN_OK;
}

/* In the copy g: node's bias b - W m (a bias of zeros added first when
 * the Conv has none). */
static xcnn_status shift_bias(xcnn_graph *g, int node, const float *shift, int64_t C,
                              xcnn_err *err)
{
    xcnn_node *n = &g->nodes[node];
    const xcnn_tensor *w = xcnn_in(g, n, 1);
    int64_t O = w->dims[0], cg = w->dims[1], k = w->dims[2] * w->dims[3];
    int64_t group = xcnn_attr_int(n, "group", 1);
    if (group < 1 || cg * group != C || O % group)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "input invariance: Conv '%s' has %lld x %lld "
                         "weights in %lld groups for %lld input channels", n->name,
                         (long long)O, (long long)cg, (long long)group, (long long)C);
    xcnn_tensor *b = xcnn_in(g, n, 2);
    if (b && (b->kind != XCNN_T_CONST || b->dtype != XCNN_DT_FLOAT || !b->data ||
              xcnn_tensor_numel(b) != (size_t)O))
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "input invariance: Conv '%s' has a bias "
                         "that is not a constant of %lld floats", n->name, (long long)O);
    if (!b) {
        char name[300];
        xcnn_format(name, sizeof name, "%.250s.xcnn_shift_bias", n->name);
        int t = xcnn_graph_add_tensor(g, name, XCNN_T_CONST);
        int *in = t >= 0 ? xcnn_graph_alloc(g, 3 * sizeof(int)) : NULL;
        float *d = in ? xcnn_graph_calloc(g, (size_t)O, sizeof(float)) : NULL;
        if (!d) {
            if (in) xcnn_graph_free_mem(g, in);
            return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory");
        }
        n = &g->nodes[node];
        b = &g->tensors[t];
        b->dtype = XCNN_DT_FLOAT;
        b->producer = -1;
        int64_t dims[1] = {O};
        xcnn_status st = xcnn_tensor_set_shape(b, 1, dims, err);
        if (st) {
            xcnn_graph_free_mem(g, in);
            xcnn_graph_free_mem(g, d);
            return st;
        }
        b->data = d;
        in[0] = n->in[0];
        in[1] = n->in[1];
        in[2] = t;
        xcnn_graph_free_mem(g, n->in);
        n->in = in;
        n->n_in = 3;
        w = xcnn_in(g, n, 1);
    }
    float *bd = xcnn_tensor_writable(g, b);
    if (!bd) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory");
    int64_t per = O / group;
    for (int64_t o = 0; o < O; o++) {
        int64_t c0 = (o / per) * cg;
        double s = 0;
        for (int64_t c = 0; c < cg; c++)
            for (int64_t q = 0; q < k; q++)
                s += (double)w->data[(o * cg + c) * k + q] * (double)shift[c0 + c];
        bd[o] = (float)((double)bd[o] - s);
    }
    return XCNN_OK;
}

/* In the copy g: the padding of Conv `node` (pads t, l, b, r) made explicit
 * by a Pad node ahead of it whose value is the shift v: the shifted model's
 * border then holds 0 + v, the shifted image of the original's zero border.
 * The Pad goes first in the node order; the Conv's pads become 0. */
static xcnn_status pad_with(xcnn_graph *g, int *node, float v, xcnn_err *err)
{
    xcnn_node *n = &g->nodes[*node];
    xcnn_attr *pa = NULL;
    for (int i = 0; i < n->n_attr; i++)
        if (!strcmp(n->attr[i].name, "pads")) pa = &n->attr[i];
    if (!pa || pa->n != 4 || !pa->ints) return XCNN_OK; /* first_conv: no padding */
    char name[300], pname[320], vname[320];
    xcnn_format(name, sizeof name, "%.250s.xcnn_shift_pad", n->name);
    xcnn_format(pname, sizeof pname, "%s.pads", name);
    xcnn_format(vname, sizeof vname, "%s.value", name);
    int tp = xcnn_graph_add_tensor(g, pname, XCNN_T_CONST);
    int tv = tp >= 0 ? xcnn_graph_add_tensor(g, vname, XCNN_T_CONST) : -1;
    int to = tv >= 0 ? xcnn_graph_add_tensor(g, name, XCNN_T_ACTIVATION) : -1;
    if (to < 0) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory");
    xcnn_tensor *p = &g->tensors[tp], *val = &g->tensors[tv];
    int64_t eight[1] = {8};
    xcnn_status st = xcnn_tensor_set_shape(p, 1, eight, err);
    if (!st) st = xcnn_tensor_set_shape(val, 0, NULL, err);
    if (st) return st;
    p->dtype = XCNN_DT_INT64;
    p->producer = val->producer = -1;
    val->dtype = XCNN_DT_FLOAT;
    /* idata is malloc'ed (graph.h); data from the graph's memory */
    if (!(p->idata = malloc(8 * sizeof(int64_t))) ||
        !(val->data = xcnn_graph_alloc(g, sizeof(float))))
        return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory");
    const int64_t pads[8] = {0, 0, pa->ints[0], pa->ints[1], 0, 0, pa->ints[2], pa->ints[3]};
    memcpy(p->idata, pads, sizeof pads);
    val->data[0] = v;
    int in[3] = {g->input, tp, tv}, out[1] = {to};
    int k = xcnn_graph_add_node(g, name, "Pad", in, 3, out, 1);
    if (k < 0) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory");
    /* to the front, every later node one place on */
    xcnn_node pad = g->nodes[k];
    memmove(&g->nodes[1], &g->nodes[0], (size_t)k * sizeof pad);
    g->nodes[0] = pad;
    for (int i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].producer >= 0) g->tensors[i].producer++;
    g->tensors[to].producer = 0;
    (*node)++;
    n = &g->nodes[*node];
    for (int i = 0; i < n->n_attr; i++)
        if (!strcmp(n->attr[i].name, "pads"))
            for (int q = 0; q < n->attr[i].n; q++) n->attr[i].ints[q] = 0;
    n->in[0] = to;
    return XCNN_OK;
}

typedef struct inv_buf {
    float *a1, *a2, *x2, *base, *bases, *shift;
} inv_buf;

static void buf_free(inv_buf *b)
{
    free(b->a1), free(b->a2), free(b->x2), free(b->base), free(b->bases), free(b->shift);
}

static xcnn_status invariance(xcnn_model *m, const float *x, const xcnn_explain_options *eo,
                              const xcnn_invariance_options *io, double *rel, int *pass,
                              xcnn_err *err)
{
    if (!x || !eo)
        return xcnn_fail(err, XCNN_ERR_ARG, "input invariance: input and explain options must "
                         "not be NULL");
    const xcnn_tensor *in = &m->g->tensors[m->g->input];
    if (in->ndim != 4)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "input invariance: the model input has %d "
                         "dimensions; the shift is per channel of an N x C x H x W input",
                         in->ndim);
    int64_t C = in->dims[1];
    size_t in_n = xcnn_ex_input_numel(m), hw = in_n / (size_t)C;
    const float *user = io ? io->shift : NULL;
    if (user)
        for (int64_t c = 0; c < C; c++)
            if (!isfinite(user[c]))
                return xcnn_fail(err, XCNN_ERR_NUMERIC, "input invariance: shift[%lld] is %s",
                                 (long long)c, isnan(user[c]) ? "NaN" : "infinite");
    int ndim = 0, conv = -1;
    int64_t dims[4];
    xcnn_status st = xcnn_ex_explain_shape_held(m, eo, &ndim, dims);
    if (st) return xcnn_fail(err, st, "%s", m->error);
    if (m->inference_only)
        return xcnn_fail(err, XCNN_ERR_ARG, "input invariance explains, and the model was loaded "
                         "for inference only: load it without");
    int pad_shift = io && io->pad_with_shift;
    st = first_conv(m->g, pad_shift, &conv, err);
    if (st) return st;
    if (pad_shift)
        for (int64_t c = 1; c < C; c++)
            if ((user ? user[c] : -1.0f) != (user ? user[0] : -1.0f))
                return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "input invariance: pad_with_shift "
                                 "pads with one value (ONNX Pad's), so the shift must be the "
                                 "same in every channel (shift[0] %g, shift[%lld] %g)",
                                 (double)user[0], (long long)c, (double)user[c]);
    size_t a_n = 1;
    for (int d = 0; d < ndim; d++) a_n *= (size_t)dims[d];
    int shift_b = io && io->shift_baselines;
    size_t nb = eo->baselines && eo->n_baselines > 0 ? (size_t)eo->n_baselines : 0;
    inv_buf b = {0};
    b.a1 = malloc(a_n * sizeof(float));
    b.a2 = malloc(a_n * sizeof(float));
    b.x2 = malloc(in_n * sizeof(float));
    b.shift = malloc((size_t)C * sizeof(float));
    if (shift_b) b.base = malloc(in_n * sizeof(float));
    if (shift_b && nb) b.bases = malloc(nb * in_n * sizeof(float));
    if (!b.a1 || !b.a2 || !b.x2 || !b.shift || (shift_b && !b.base) || (shift_b && nb && !b.bases)) {
        buf_free(&b);
        return xcnn_fail(err, XCNN_ERR_NOMEM, "input invariance: out of memory");
    }
    for (int64_t c = 0; c < C; c++) b.shift[c] = user ? user[c] : -1.0f;
    for (size_t i = 0; i < in_n; i++) b.x2[i] = x[i] + b.shift[i / hw];

    /* a1: the model as it is */
    xcnn_explain_result res;
    st = xcnn_ex_explain_held(m, x, eo, b.a1, a_n, &res);
    if (st) {
        xcnn_fail(err, st, "input invariance, the model: %.440s", m->error);
        buf_free(&b);
        return st;
    }
    xcnn_explain_options e2 = *eo;
    e2.target = res.target;
    if (shift_b) {
        for (size_t i = 0; i < in_n; i++)
            b.base[i] = (eo->baseline ? eo->baseline[i] : 0.0f) + b.shift[i / hw];
        e2.baseline = b.base;
        for (size_t s = 0; s < nb; s++)
            for (size_t i = 0; i < in_n; i++)
                b.bases[s * in_n + i] = eo->baselines[s * in_n + i] + b.shift[i / hw];
        if (nb) e2.baselines = b.bases;
    }

    /* a2: the shifted model on the shifted input */
    xcnn_graph *g2 = NULL;
    xcnn_model *m2 = NULL;
    st = xcnn_copy_graph(m, &g2, err);
    int conv2 = -1;
    if (!st) {
        for (int i = 0; i < g2->n_nodes && conv2 < 0; i++)
            if (!strcmp(g2->nodes[i].name, m->g->nodes[conv].name)) conv2 = i;
        if (conv2 < 0)
            st = xcnn_fail(err, XCNN_ERR_FORMAT, "input invariance: the model's copy has no "
                           "node '%s'", m->g->nodes[conv].name);
    }
    if (!st) st = shift_bias(g2, conv2, b.shift, C, err);
    if (!st && pad_shift) st = pad_with(g2, &conv2, b.shift[0], err);
    if (!st) st = xcnn_copy_load(g2, m, &m2, err);
    if (g2) xcnn_graph_free(g2);
    if (st) {
        char msg[512];
        xcnn_format(msg, sizeof msg, "%s", err->msg);
        xcnn_fail(err, st, "input invariance, making the shifted model: %.400s", msg);
        buf_free(&b);
        return st;
    }
    st = xcnn_explain(m2, b.x2, &e2, b.a2, a_n, NULL);
    if (st) xcnn_fail(err, st, "input invariance, the shifted model: %.420s", xcnn_model_error(m2));
    xcnn_model_free(m2);
    if (st) {
        buf_free(&b);
        return st;
    }
    double top = 0, diff = 0;
    for (size_t i = 0; i < a_n; i++) {
        double a = fabs((double)b.a1[i]), d = fabs((double)b.a1[i] - (double)b.a2[i]);
        if (a > top) top = a;
        if (d > diff) diff = d;
    }
    double r = top > 0 ? diff / top : (diff > 0 ? 1.0 : 0.0);
    if (rel) *rel = r;
    if (pass) *pass = r <= INVARIANCE_PASS;
    buf_free(&b);
    return XCNN_OK;
}

xcnn_status xcnn_input_invariance(xcnn_model *m, const float *input,
                                  const xcnn_explain_options *eo,
                                  const xcnn_invariance_options *io, double *max_rel_diff,
                                  int *pass)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    xcnn_err err = {{0}};
    xcnn_status st = invariance(m, input, eo, io, max_rel_diff, pass, &err);
    if (st) xcnn_format(m->error, sizeof m->error, "%s", err.msg);
    xcnn_model_leave(m);
    return st;
}
