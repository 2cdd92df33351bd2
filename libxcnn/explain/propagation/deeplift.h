/*
 * DeepLIFT's rule table (deeplift_rules.c), for deeplift.c: the backward
 * of the first n samples of a batch whose samples n..2n-1 are their
 * references (sample b's reference is sample b + n of every tensor).
 */
#ifndef XCNN_EXPLAIN_DEEPLIFT_H
#define XCNN_EXPLAIN_DEEPLIFT_H

#include "../rules.h"

/* xcnn_bwd_ctx.state of a DeepLIFT backward. */
typedef struct xcnn_dl_state {
    int n;                /* samples explained; their references follow   */
    const xcnn_model *m;  /* its workspace holds MaxPool's sums            */
} xcnn_dl_state;

/* Op by op: the rescale rule (Relu, Sigmoid, Clip, HardSigmoid,
 * HardSwish, LeakyRelu), the max-pool rule, or the op's gradient (linear
 * ops, and Mul). Ops without an entry (Softmax, Div) are refused. */
extern const xcnn_rule_entry xcnn_deeplift_rules[];

/* xcnn_bwd_ctx.node_rule: runs node n by the table. */
void xcnn_deeplift_node_rule(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                             const xcnn_bwd_ctx *ctx);

#endif
