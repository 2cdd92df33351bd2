/*
 * Layer-wise relevance propagation (Bach et al. 2015; METHODS.md, row lrp).
 *
 * The output's value at the target, y = f(x)[t], is the relevance to
 * share out: R = y at t, 0 at the other outputs. Going back layer by
 * layer, each layer hands its output's relevance on to its inputs by a
 * rule, and what reaches the input is the attribution. A rule
 * redistributes rather than differentiates: for a layer z_j = sum_i w_ji
 * x_i + b_j the basic (epsilon) rule gives input i the part of each R_j
 * that its term w_ji x_i contributed to z_j,
 *
 *     R_i = x_i sum_j w_ji R_j / stab(z_j),   stab(z) = z + e sign(z)
 *
 * so that sum_i R_i = sum_j R_j z_j / stab(z_j) (less the bias's part):
 * relevance is conserved up to the biases and e.
 *
 * The rules for each kind of layer come in composites:
 *   epsilon             Captum's LRP: the epsilon rule (e = 1e-9) on every
 *                       Conv, Gemm, MatMul, BatchNormalization and average
 *                       pool, for plain sequential nets
 *   epsilon-plus-flat   Zennit's EpsilonPlusFlat with its canonizers (the
 *                       default): BatchNormalization folded into its Conv,
 *                       flat rule on the first Conv or Gemm, z+ on the
 *                       other Convs, epsilon (1e-6) on Gemms, the norm rule
 *                       on residual Adds and average pools
 *   epsilon-gamma-box   Zennit's EpsilonGammaBox: z-box on the first Conv
 *                       (bounds low, high: by default the input's minimum
 *                       and maximum), gamma on the other Convs
 * and in all of them activations pass R unchanged, MaxPool gives it all to
 * the window's maximum, and Pad, Flatten, Reshape and Concat take it back
 * to where they copied from. lrp_rules.c lists the rules by op;
 * lrp_layers.c writes out the Conv and Gemm rules. zero_bias (Zennit's
 * zero_params='bias') leaves every bias out of the rules' sums: relevance
 * is then conserved layer by layer, to the stabilizers, but for outputs
 * that no input reaches (z = 0: a window of zeros, which the forward's
 * biases still lit), whose relevance has nowhere to go.
 *
 * The pass is the engine's backward with a rule per node
 * (xcnn_exec_backward_rules), seeded with y at t: the relevance travels
 * in the gradient buffers. result.total is the sum of the attribution, to
 * hold against result.score = y.
 *
 * Workspace: the seed and the pools' ratios in m->ex_layer (the seed is
 * copied into the output's buffer before any rule runs), the products in
 * m->ex_rule.
 */
#include <math.h>
#include <string.h>
#include "lrp.h"

static xcnn_status lrp_check(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                             xcnn_err *err)
{
    (void)x;
    if ((unsigned)o->lrp_rule > XCNN_LRP_EPSILON_GAMMA_BOX)
        return xcnn_fail(err, XCNN_ERR_ARG, "LRP rule %d is unknown: epsilon-plus-flat (%d, "
                         "the default), epsilon (%d) or epsilon-gamma-box (%d)", (int)o->lrp_rule,
                         XCNN_LRP_EPSILON_PLUS_FLAT, XCNN_LRP_EPSILON, XCNN_LRP_EPSILON_GAMMA_BOX);
    if (!isfinite(o->epsilon))
        return xcnn_fail(err, XCNN_ERR_ARG, "LRP epsilon must be a finite number >= 0, or "
                         "negative for the default (1e-9 for the epsilon rule, 1e-6 in the "
                         "composites); got %g", (double)o->epsilon);
    if (!isfinite(o->gamma) || o->gamma < 0)
        return xcnn_fail(err, XCNN_ERR_ARG, "LRP gamma must be a finite number >= 0 (default "
                         "0.25); got %g", (double)o->gamma);
    if (isnan(o->low) != isnan(o->high))
        return xcnn_fail(err, XCNN_ERR_ARG, "LRP low and high are the z-box's bounds: give both "
                         "or neither (then the input's minimum and maximum); got low %g, "
                         "high %g", (double)o->low, (double)o->high);
    if (!isnan(o->low) && (!isfinite(o->low) || !isfinite(o->high) || o->low > o->high))
        return xcnn_fail(err, XCNN_ERR_ARG, "LRP low and high must be finite with low <= high; "
                         "got low %g, high %g", (double)o->low, (double)o->high);
    if (o->zero_bias != 0 && o->zero_bias != 1)
        return xcnn_fail(err, XCNN_ERR_ARG, "LRP zero_bias must be 0 or 1; got %d",
                         o->zero_bias);
    if (xcnn_ex_output_numel(m) > m->ex_layer_floats)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "LRP: the model's output is not the output "
                         "of a layer");
    return xcnn_lrp_check_model(m, o->lrp_rule, err);
}

void xcnn_lrp_prepare(const xcnn_model *m, const float *x, const xcnn_explain_options *o,
                      xcnn_lrp_state *s)
{
    size_t n = xcnn_ex_input_numel(m);
    int eps_rule = o->lrp_rule == XCNN_LRP_EPSILON;
    memset(s, 0, sizeof *s);
    s->table = xcnn_lrp_table(o->lrp_rule);
    s->rule = o->lrp_rule;
    s->epsilon = o->epsilon >= 0 ? (double)o->epsilon
                                 : eps_rule ? XCNN_LRP_EPSILON_CAPTUM : XCNN_LRP_EPSILON_ZENNIT;
    s->stab = eps_rule ? s->epsilon : XCNN_LRP_STAB;
    s->gamma = o->gamma;
    s->low = o->low;
    s->high = o->high;
    if (isnan(s->low)) { /* the box the input lies in */
        s->low = s->high = x[0];
        for (size_t i = 1; i < n; i++) {
            if (x[i] < s->low) s->low = x[i];
            if (x[i] > s->high) s->high = x[i];
        }
    }
    s->zero_bias = o->zero_bias;
    s->first = xcnn_lrp_first_layer(m, o->lrp_rule);
    s->room = m->ex_rule;
    s->room_floats = m->ex_rule_floats;
    s->out_buf = m->ex_layer;
}

static xcnn_status lrp_run(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                           float *out, xcnn_explain_result *res, xcnn_err *err)
{
    xcnn_status st = xcnn_ex_forward_target(m, x, o, res, err);
    if (st) return st;
    size_t n = xcnn_ex_input_numel(m), k = xcnn_ex_output_numel(m);
    xcnn_lrp_state s;
    xcnn_lrp_prepare(m, x, o, &s);
    float *seed = m->ex_layer;
    memset(seed, 0, k * sizeof *seed);
    seed[res->target] = res->score;
    xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, xcnn_lrp_node_rule, &s};
    st = xcnn_exec_backward_rules(m, NULL, seed, &ctx, 1, -1, err);
    if (st) return xcnn_ex_context(st, err, "LRP (%s)", xcnn_lrp_rule_name(o->lrp_rule));
    const float *r = m->g->tensors[m->g->input].grad;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = r[i];
        total += r[i];
    }
    res->total = (float)total;
    if (!isfinite(res->total))
        return xcnn_fail(err, XCNN_ERR_NUMERIC, "LRP (%s): the sum of the relevance (%g) "
                         "overflows float", xcnn_lrp_rule_name(o->lrp_rule), total);
    return XCNN_OK;
}

const xcnn_ex_method xcnn_ex_lrp = {"lrp", lrp_check, NULL, lrp_run};
