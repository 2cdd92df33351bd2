/*
 * LRP's rules, op by op, for each composite (METHODS.md, row lrp). In a
 * rule the backward's gradient buffers carry relevance: R at a node's
 * output is its output's grad, and the rule ADDS what it gives each input
 * into that input's grad (a tensor read by several nodes sums what each
 * gives it). stab(z) = z + e sign(z), sign(0) = +1.
 *
 *   op                          epsilon (Captum)       the composites (Zennit)
 *   Conv                        epsilon, e = eps       first: flat / z-box; others z+ / gamma
 *   Gemm, MatMul                epsilon, e = eps       epsilon, e = eps (flat if first in
 *                                                      epsilon-plus-flat)
 *   BatchNormalization          epsilon, e = eps       pass: merged into the Conv before it
 *   AveragePool, GAP,           epsilon, e = eps       norm, e = 1e-6
 *   ReduceMean (a mean, as GAP)
 *   Add (two activations)       refused                norm, e = 1e-6
 *   MaxPool                     its gradient: the winner takes all
 *   activations                 pass: R_in = R
 *   Pad, Flatten, Reshape,      their gradient: R goes to the position
 *   Concat, Transpose, Slice    it was copied from
 *
 * The epsilon rule of a layer y = w x + b (w, b per element for a
 * BatchNormalization, the window's 1 / n for a pool) is
 * R_i = x_i sum_j w_ji R_j / stab(y_j), and the norm rule of f (an Add, a
 * pool) is R_i = x_i (df/dx_i) R / stab(f(x)): the same products with
 * Zennit's fixed stabilizer. lrp_layers.c has the Conv and Gemm rules.
 * Any other op (Mul, Div, Sub, Softmax) has no rule: the model is refused
 * before any pass, naming the node.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "lrp.h"

static const xcnn_lrp_state *state_of(const xcnn_bwd_ctx *ctx)
{
    return ctx->state;
}

/* ---- the rules ------------------------------------------------------------ */

static void rule_conv(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                      const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    const xcnn_lrp_state *st = state_of(ctx);
    int first = (int)(n - g->nodes) == st->first;
    switch (st->rule) {
    case XCNN_LRP_EPSILON:
        xcnn_lrp_conv(g, n, batch, -1, XCNN_LRP_KIND_EPSILON, st);
        break;
    case XCNN_LRP_EPSILON_GAMMA_BOX:
        xcnn_lrp_conv(g, n, batch, xcnn_lrp_bn_after(g, n),
                      first ? XCNN_LRP_KIND_ZBOX : XCNN_LRP_KIND_GAMMA, st);
        break;
    default:
        xcnn_lrp_conv(g, n, batch, xcnn_lrp_bn_after(g, n),
                      first ? XCNN_LRP_KIND_FLAT : XCNN_LRP_KIND_ZPLUS, st);
        break;
    }
}

static void rule_gemm(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                      const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    const xcnn_lrp_state *st = state_of(ctx);
    int flat = st->rule == XCNN_LRP_EPSILON_PLUS_FLAT && (int)(n - g->nodes) == st->first;
    xcnn_lrp_gemm(g, n, batch, flat ? XCNN_LRP_KIND_FLAT : XCNN_LRP_KIND_EPSILON, st);
}

/* Activations (and the BatchNormalization the composites merged into the
 * Conv before it): R passes unchanged. */
static void rule_pass(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                      const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    (void)ctx;
    const xcnn_tensor *x = xcnn_in(g, n, 0), *y = xcnn_out(g, n, 0);
    float *dx = xcnn_tensor_grad(x);
    if (!dx) return;
    size_t count = xcnn_tensor_sample_numel(y) * (size_t)batch;
#pragma omp parallel for schedule(static) if (count > XCNN_PARALLEL_MIN)
    for (size_t i = 0; i < count; i++) dx[i] += y->grad[i];
}

/* Captum's epsilon rule on y = k (x - mean) + B, k = scale / sqrt(var +
 * eps), per channel: R_x = x k R / stab(y) (zero_bias: stab(k x)). */
static void rule_bn_epsilon(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                            const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    const xcnn_lrp_state *st = state_of(ctx);
    const xcnn_tensor *x = xcnn_in(g, n, 0), *y = xcnn_out(g, n, 0);
    float *dx = xcnn_tensor_grad(x);
    if (!dx) return;
    const float *scale = xcnn_in(g, n, 1)->data, *var = xcnn_in(g, n, 4)->data;
    double eps = xcnn_attr_float(n, "epsilon", 1e-5f);
    int C = (int)x->dims[1];
    size_t pixels = xcnn_tensor_sample_numel(x) / (size_t)C;
#pragma omp parallel for schedule(static) if ((size_t)batch * C * pixels > XCNN_PARALLEL_MIN)
    for (int bc = 0; bc < batch * C; bc++) {
        int c = bc % C;
        double k = scale[c] / sqrt((double)var[c] + eps);
        size_t o = (size_t)bc * pixels;
        for (size_t i = 0; i < pixels; i++) {
            double xv = x->data[o + i];
            double z = st->zero_bias ? k * xv : y->data[o + i];
            dx[o + i] += (float)(xv * k * y->grad[o + i] / xcnn_lrp_stab(z, st->epsilon));
        }
    }
}

/* AveragePool and GlobalAveragePool: the pool is linear, so its own
 * backward applied to s = R / stab(y) gives sum_j w_ji s_j; R_x = x times
 * that. The backward reads its output's grad and adds into its input's:
 * both are pointed at workspace for the call (s, and a zeroed product),
 * then put back. */
static void rule_pool(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                      const xcnn_bwd_ctx *ctx)
{
    const xcnn_lrp_state *st = state_of(ctx);
    xcnn_tensor *x = xcnn_in(g, n, 0), *y = xcnn_out(g, n, 0);
    float *dx = xcnn_tensor_grad(x);
    if (!dx) return;
    size_t xn = xcnn_tensor_sample_numel(x) * (size_t)batch;
    size_t yn = xcnn_tensor_sample_numel(y) * (size_t)batch;
    float *s = st->out_buf, *t = st->room, *gy = y->grad, *gx = x->grad;
    for (size_t i = 0; i < yn; i++) s[i] = (float)(gy[i] / xcnn_lrp_stab(y->data[i], st->stab));
    memset(t, 0, xn * sizeof *t);
    y->grad = s;
    x->grad = t;
    n->def->backward(g, n, batch, scratch, ctx);
    y->grad = gy;
    x->grad = gx;
#pragma omp parallel for schedule(static) if (xn > XCNN_PARALLEL_MIN)
    for (size_t i = 0; i < xn; i++) dx[i] += x->data[i] * t[i];
}

/* The norm rule on y = a + b (one shape, xcnn_lrp_check_model): each
 * addend gets its share of R, a R / stab(y) and b R / stab(y). */
static void rule_add(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                     const xcnn_bwd_ctx *ctx)
{
    (void)scratch;
    const xcnn_lrp_state *st = state_of(ctx);
    const xcnn_tensor *a = xcnn_in(g, n, 0), *b = xcnn_in(g, n, 1), *y = xcnn_out(g, n, 0);
    float *da = xcnn_tensor_grad(a), *db = xcnn_tensor_grad(b);
    size_t count = xcnn_tensor_sample_numel(y) * (size_t)batch;
    /* serial: a + a makes da and db one buffer */
    for (size_t i = 0; i < count; i++) {
        double s = y->grad[i] / xcnn_lrp_stab(y->data[i], st->stab);
        if (da) da[i] += (float)(a->data[i] * s);
        if (db) db[i] += (float)(b->data[i] * s);
    }
}

/* ---- the tables ----------------------------------------------------------- */

#define LRP_ACTIVATIONS                                                                  \
    {"Relu", rule_pass}, {"LeakyRelu", rule_pass}, {"Clip", rule_pass},                  \
        {"Sigmoid", rule_pass}, {"HardSigmoid", rule_pass}, {"HardSwish", rule_pass},    \
        {"Identity", rule_pass}, {"Dropout", rule_pass}
#define LRP_ROUTES                                                                       \
    {"MaxPool", XCNN_RULE_GRADIENT}, {"Pad", XCNN_RULE_GRADIENT},                        \
        {"Flatten", XCNN_RULE_GRADIENT}, {"Reshape", XCNN_RULE_GRADIENT},                \
        {"Concat", XCNN_RULE_GRADIENT}, {"Transpose", XCNN_RULE_GRADIENT},                \
        {"Slice", XCNN_RULE_GRADIENT}

static const xcnn_rule_entry epsilon_table[] = {
    {"Conv", rule_conv},
    {"Gemm", rule_gemm},
    {"MatMul", rule_gemm},
    {"BatchNormalization", rule_bn_epsilon},
    {"AveragePool", rule_pool},
    {"GlobalAveragePool", rule_pool},
    {"ReduceMean", rule_pool},
    LRP_ACTIVATIONS,
    LRP_ROUTES,
    {NULL, NULL}};

static const xcnn_rule_entry composite_table[] = {
    {"Conv", rule_conv},
    {"Gemm", rule_gemm},
    {"MatMul", rule_gemm},
    {"BatchNormalization", rule_pass},
    {"AveragePool", rule_pool},
    {"GlobalAveragePool", rule_pool},
    {"ReduceMean", rule_pool},
    {"Add", rule_add},
    LRP_ACTIVATIONS,
    LRP_ROUTES,
    {NULL, NULL}};

const xcnn_rule_entry *xcnn_lrp_table(xcnn_lrp_rule rule)
{
    return rule == XCNN_LRP_EPSILON ? epsilon_table : composite_table;
}

const char *xcnn_lrp_rule_name(xcnn_lrp_rule rule)
{
    switch (rule) {
    case XCNN_LRP_EPSILON: return "epsilon";
    case XCNN_LRP_EPSILON_GAMMA_BOX: return "epsilon-gamma-box";
    default: return "epsilon-plus-flat";
    }
}

void xcnn_lrp_node_rule(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                        const xcnn_bwd_ctx *ctx)
{
    xcnn_rules_run(state_of(ctx)->table, g, n, batch, scratch, ctx);
}

int xcnn_lrp_first_layer(const xcnn_model *m, xcnn_lrp_rule rule)
{
    if (rule == XCNN_LRP_EPSILON) return -1;
    for (int i = 0; i < m->n_compute; i++) {
        const char *op = m->g->nodes[m->compute[i]].op_type;
        /* Zennit: the flat rule takes the first linear layer, z-box the
         * first convolution */
        if (!strcmp(op, "Conv") || (rule == XCNN_LRP_EPSILON_PLUS_FLAT &&
                                    (!strcmp(op, "Gemm") || !strcmp(op, "MatMul"))))
            return m->compute[i];
    }
    return -1;
}

/* ---- what a model must be ------------------------------------------------ */

static const xcnn_tensor *input_of(const xcnn_graph *g, const xcnn_node *n, int i)
{
    return i < n->n_in && n->in[i] >= 0 ? &g->tensors[n->in[i]] : NULL;
}

static int same_shape(const xcnn_tensor *a, const xcnn_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

/* One node's own conditions (its op has a rule). */
static xcnn_status check_node(const xcnn_model *m, int ni, xcnn_lrp_rule rule, const char *name,
                              xcnn_err *err)
{
    const xcnn_graph *g = m->g;
    const xcnn_node *n = &g->nodes[ni];
    char s1[96], s2[96];
    if (!strcmp(n->op_type, "Add")) {
        if (rule == XCNN_LRP_EPSILON)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "LRP (epsilon) has no rule for op Add "
                             "(node '%s'): Captum's rules are for sequential nets; for a "
                             "residual net use epsilon-plus-flat (the default) or "
                             "epsilon-gamma-box, whose norm rule shares a sum out among its "
                             "addends", n->name);
        const xcnn_tensor *a = input_of(g, n, 0), *b = input_of(g, n, 1);
        if (!a || !b || a->kind == XCNN_T_CONST || b->kind == XCNN_T_CONST || !same_shape(a, b))
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "LRP (%s): Add '%s' adds %s%s and %s%s: "
                             "the norm rule takes two activations of one shape", name, n->name,
                             a && a->kind == XCNN_T_CONST ? "the constant " : "",
                             a ? xcnn_shape_str(a, s1, sizeof s1) : "nothing",
                             b && b->kind == XCNN_T_CONST ? "the constant " : "",
                             b ? xcnn_shape_str(b, s2, sizeof s2) : "nothing");
    }
    if (!strcmp(n->op_type, "BatchNormalization") && rule != XCNN_LRP_EPSILON) {
        int p = g->tensors[n->in[0]].producer;
        if (p < 0 || strcmp(g->nodes[p].op_type, "Conv") || xcnn_lrp_bn_after(g, &g->nodes[p]) != ni)
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "LRP (%s): BatchNormalization '%s' does "
                             "not follow a Conv whose only reader it is: the composite folds "
                             "each BatchNormalization into the Conv before it (Zennit's "
                             "canonizer); --rule epsilon gives it a rule of its own", name,
                             n->name);
    }
    size_t need = 0;
    if (!strcmp(n->op_type, "Conv")) need = xcnn_lrp_conv_min_room(g, n);
    else if (!strcmp(n->op_type, "Gemm") || !strcmp(n->op_type, "MatMul"))
        need = xcnn_lrp_gemm_min_room(g, n);
    else if (!strcmp(n->op_type, "AveragePool") || !strcmp(n->op_type, "GlobalAveragePool") ||
             !strcmp(n->op_type, "ReduceMean"))
        need = xcnn_tensor_sample_numel(&g->tensors[n->in[0]]);
    if (need > m->ex_rule_floats)
        return xcnn_fail(err, XCNN_ERR_LIMIT, "LRP: node '%s' (%s) needs %zu floats of "
                         "workspace, the model has %zu (xcnn_workspace_rule_floats)", n->name,
                         n->op_type, need, m->ex_rule_floats);
    return XCNN_OK;
}

xcnn_status xcnn_lrp_check_model(const xcnn_model *m, xcnn_lrp_rule rule, xcnn_err *err)
{
    const char *name = xcnn_lrp_rule_name(rule);
    char method[64];
    snprintf(method, sizeof method, "LRP (%s)", name);
    /* Ops no composite has a rule for first (a Mul is refused as such,
     * not as "use another composite"), then each node's conditions, then
     * this composite's table. */
    xcnn_status st = xcnn_rules_check(m, composite_table, method, -1, err);
    for (int i = m->n_compute - 1; !st && i >= 0; i--) st = check_node(m, m->compute[i], rule,
                                                                      name, err);
    if (!st) st = xcnn_rules_check(m, xcnn_lrp_table(rule), method, -1, err);
    return st;
}
