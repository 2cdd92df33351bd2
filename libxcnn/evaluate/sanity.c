/* The sanity check (xcnn_eval.h): being written. */
#include <string.h>
#include "../../include/xcnn_eval.h"
#include "../base/format.h"
#include "../core/model.h"

void xcnn_sanity_options_init(xcnn_sanity_options *o)
{
    if (o) memset(o, 0, sizeof *o);
}

xcnn_status xcnn_sanity_layers(xcnn_model *m, int *n_layers)
{
    if (!m) return XCNN_ERR_ARG;
    (void)n_layers;
    xcnn_format(m->error, sizeof m->error, "xcnn_sanity_layers: not written yet");
    return XCNN_ERR_UNSUPPORTED;
}

xcnn_status xcnn_sanity(xcnn_model *m, const float *input, const xcnn_explain_options *eo,
                        const xcnn_sanity_options *so, xcnn_sanity_step *steps, int max_steps,
                        int *n_steps, int *flagged)
{
    if (!m) return XCNN_ERR_ARG;
    (void)input, (void)eo, (void)so, (void)steps, (void)max_steps, (void)n_steps, (void)flagged;
    xcnn_format(m->error, sizeof m->error, "xcnn_sanity: not written yet");
    return XCNN_ERR_UNSUPPORTED;
}
