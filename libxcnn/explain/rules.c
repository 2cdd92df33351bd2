/* Rule tables (rules.h): lookup, the check before a pass, the dispatch. */
#include <string.h>
#include "rules.h"

const xcnn_rule_entry *xcnn_rule_find(const xcnn_rule_entry *table, const char *op_type)
{
    for (const xcnn_rule_entry *e = table; e->op_type; e++)
        if (!strcmp(e->op_type, op_type)) return e;
    return NULL;
}

xcnn_status xcnn_rules_check(const xcnn_model *m, const xcnn_rule_entry *table,
                             const char *method, int stop, xcnn_err *err)
{
    const xcnn_graph *g = m->g;
    int stop_producer = stop >= 0 ? g->tensors[stop].producer : -1;
    for (int i = m->n_compute - 1; i >= 0; i--) {
        int ni = m->compute[i];
        if (ni <= stop_producer) break;
        const xcnn_node *n = &g->nodes[ni];
        if (!xcnn_rule_find(table, n->op_type))
            return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "%s has no rule for op %s (node '%s'): "
                             "the method cannot run on this model", method, n->op_type, n->name);
    }
    return XCNN_OK;
}

void xcnn_rules_run(const xcnn_rule_entry *table, xcnn_graph *g, const xcnn_node *n, int batch,
                    float *scratch, const xcnn_bwd_ctx *ctx)
{
    const xcnn_rule_entry *e = xcnn_rule_find(table, n->op_type);
    if (e && e->rule) e->rule(g, n, batch, scratch, ctx);
    else n->def->backward(g, n, batch, scratch, ctx);
}
