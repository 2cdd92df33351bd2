/*
 * Rule tables: how DeepLIFT and LRP run the network backward.
 *
 * Both are backward passes in which some ops pass something other than
 * the gradient: DeepLIFT's multipliers through a ReLU or a MaxPool, LRP's
 * relevance through a Conv. Rather than a second engine, the ordinary
 * backward walk (core/exec.c) asks the method for each node's rule
 * (xcnn_bwd_ctx.node_rule). A method keeps one table, op by op: the rule,
 * or XCNN_RULE_GRADIENT where the op's own backward is the rule (DeepLIFT's
 * linear ops). An op missing from a method's table is refused before any
 * pass, with a message naming the node, the op and the method: a new op
 * gets its rule by a line in each table.
 */
#ifndef XCNN_EXPLAIN_RULES_H
#define XCNN_EXPLAIN_RULES_H

#include "explain.h"

/* The op's own backward is the rule. */
#define XCNN_RULE_GRADIENT ((xcnn_node_rule)0)

typedef struct xcnn_rule_entry {
    const char *op_type;   /* as in ONNX ("Conv"); NULL ends a table       */
    xcnn_node_rule rule;   /* XCNN_RULE_GRADIENT: the op's backward        */
} xcnn_rule_entry;

/* The entry for op_type, or NULL if the table has none. */
const xcnn_rule_entry *xcnn_rule_find(const xcnn_rule_entry *table, const char *op_type);

/* Every node of the backward from the output to `stop` (-1: the input)
 * has an entry in the table; otherwise XCNN_ERR_UNSUPPORTED naming the
 * first that does not, its op and `method`. */
xcnn_status xcnn_rules_check(const xcnn_model *m, const xcnn_rule_entry *table,
                             const char *method, int stop, xcnn_err *err);

/* Run node n by the table (for a method's node_rule): the entry's rule,
 * or the op's own backward. The table must have passed xcnn_rules_check. */
void xcnn_rules_run(const xcnn_rule_entry *table, xcnn_graph *g, const xcnn_node *n, int batch,
                    float *scratch, const xcnn_bwd_ctx *ctx);

#endif
