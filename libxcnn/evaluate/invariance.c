/* Input invariance (xcnn_eval.h): being written. */
#include <string.h>
#include "../../include/xcnn_eval.h"
#include "../base/format.h"
#include "../core/model.h"

void xcnn_invariance_options_init(xcnn_invariance_options *o)
{
    if (o) memset(o, 0, sizeof *o);
}

xcnn_status xcnn_input_invariance(xcnn_model *m, const float *input,
                                  const xcnn_explain_options *eo,
                                  const xcnn_invariance_options *io, double *max_rel_diff,
                                  int *pass)
{
    if (!m) return XCNN_ERR_ARG;
    (void)input, (void)eo, (void)io, (void)max_rel_diff, (void)pass;
    xcnn_format(m->error, sizeof m->error, "xcnn_input_invariance: not written yet");
    return XCNN_ERR_UNSUPPORTED;
}
