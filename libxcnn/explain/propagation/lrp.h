/*
 * Layer-wise relevance propagation (internal): what lrp.c, lrp_rules.c
 * and lrp_layers.c share. lrp.c says what LRP computes; lrp_rules.c gives
 * every op its rule; lrp_layers.c runs the Conv and Gemm rules, whose
 * products use modified weights.
 *
 * Calls go one way: lrp.c -> lrp_rules.c -> lrp_layers.c.
 */
#ifndef XCNN_EXPLAIN_LRP_H
#define XCNN_EXPLAIN_LRP_H

#include "../rules.h"

/* Zennit's stabilizer, fixed in the composites: stab(z) = z + 1e-6 sign(z). */
#define XCNN_LRP_STAB 1e-6

/* stab(z) = z + e sign(z), with sign(0) = +1 (Captum and Zennit alike). */
static inline double xcnn_lrp_stab(double z, double e)
{
    return z >= 0 ? z + e : z - e;
}

/* The defaults of o->epsilon (< 0): Captum's and the composites' Gemm's. */
#define XCNN_LRP_EPSILON_CAPTUM 1e-9
#define XCNN_LRP_EPSILON_ZENNIT 1e-6

/* What a Conv or Gemm does with its relevance (lrp_layers.c). */
typedef enum xcnn_lrp_kind {
    XCNN_LRP_KIND_EPSILON, /* R_i = x_i sum_j w_ji R_j / stab(z_j)            */
    XCNN_LRP_KIND_ZPLUS,   /* W+ x+ + W- x- + b+                              */
    XCNN_LRP_KIND_GAMMA,   /* W + gamma W+, W + gamma W-, by the output's sign */
    XCNN_LRP_KIND_FLAT,    /* weights 1, bias 0, inputs 1                     */
    XCNN_LRP_KIND_ZBOX     /* W x - W+ l - W- h                               */
} xcnn_lrp_kind;

/*
 * One LRP pass (the backward's ctx->state). It runs on one sample: the
 * buffers below hold one sample's values.
 */
typedef struct xcnn_lrp_state {
    const xcnn_rule_entry *table; /* the composite's rules, by op         */
    xcnn_lrp_rule rule;
    double epsilon;   /* the epsilon rule's: every layer in `epsilon`, the
                         Gemms and MatMuls in the composites              */
    double stab;      /* every other rule's stabilizer: epsilon in
                         `epsilon`, XCNN_LRP_STAB in the composites       */
    double gamma;
    float low, high;  /* z-box bounds (resolved: never NaN)               */
    int zero_bias;    /* biases left out of the rules' sums               */
    int first;        /* node index of the first layer (flat, z-box), -1  */
    float *room;      /* m->ex_rule: modified weights, columns, products  */
    size_t room_floats;
    float *out_buf;   /* m->ex_layer: one output of any layer             */
} xcnn_lrp_state;

/* ---- lrp.c ---- */

/* The state of a pass on input x with options o (checked): the defaults
 * resolved, the first layer found, the workspace handed out. The pass is
 * then xcnn_exec_backward_rules with node_rule xcnn_lrp_node_rule and
 * state s (tests/test_lrp.c runs it node by node this way). */
void xcnn_lrp_prepare(const xcnn_model *m, const float *x, const xcnn_explain_options *o,
                      xcnn_lrp_state *s);

/* ---- lrp_rules.c ---- */

/* The rule table of a composite. */
const xcnn_rule_entry *xcnn_lrp_table(xcnn_lrp_rule rule);

/* The composite's name ("epsilon-plus-flat"), for messages. */
const char *xcnn_lrp_rule_name(xcnn_lrp_rule rule);

/* Everything about the model that decides whether LRP can run with this
 * composite: every op of the backward has a rule, every Add has two
 * activations of one shape, and (composites) every BatchNormalization
 * follows a Conv it can be folded into; the workspace fits every layer.
 * XCNN_ERR_UNSUPPORTED naming the node, its op and the composite. */
xcnn_status xcnn_lrp_check_model(const xcnn_model *m, xcnn_lrp_rule rule, xcnn_err *err);

/* The node index of the layer that gets the first-layer rule (flat: the
 * first Conv, Gemm or MatMul; z-box: the first Conv), or -1. */
int xcnn_lrp_first_layer(const xcnn_model *m, xcnn_lrp_rule rule);

/* The backward's node_rule: node n by the state's table. */
void xcnn_lrp_node_rule(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                        const xcnn_bwd_ctx *ctx);

/* ---- lrp_layers.c ---- */

/* The BatchNormalization that is the only reader of Conv node n's output,
 * (its node index), or -1: the pair the canonizer merges. */
int xcnn_lrp_bn_after(const xcnn_graph *g, const xcnn_node *n);

/* Floats of the state's room a Conv needs at least (one output channel,
 * one pixel at a time), whatever its rule. */
size_t xcnn_lrp_conv_min_room(const xcnn_graph *g, const xcnn_node *n);
/* And a Gemm or MatMul. */
size_t xcnn_lrp_gemm_min_room(const xcnn_graph *g, const xcnn_node *n);

/* The relevance at Conv node n's output shared out to its input (added
 * into the input's grad) by rule `kind`. bn >= 0: the BatchNormalization
 * node merged into it (xcnn_lrp_bn_after), whose rule passed R on. */
void xcnn_lrp_conv(xcnn_graph *g, const xcnn_node *n, int batch, int bn, xcnn_lrp_kind kind,
                   const xcnn_lrp_state *st);

/* The same for a Gemm or MatMul (kinds epsilon and flat). */
void xcnn_lrp_gemm(xcnn_graph *g, const xcnn_node *n, int batch, xcnn_lrp_kind kind,
                   const xcnn_lrp_state *st);

#endif
