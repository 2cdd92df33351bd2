/* Infidelity (xcnn_eval.h): being written. */
#include <string.h>
#include "../../include/xcnn_eval.h"
#include "../base/format.h"
#include "../core/model.h"

void xcnn_infidelity_options_init(xcnn_infidelity_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->target = -1;
    o->samples = 10;
    o->stdev = 0.003f;
}

xcnn_status xcnn_infidelity(xcnn_model *m, const float *input, const float *attr, int attr_c,
                            int attr_h, int attr_w, const xcnn_infidelity_options *o,
                            double *value)
{
    if (!m) return XCNN_ERR_ARG;
    (void)input, (void)attr, (void)attr_c, (void)attr_h, (void)attr_w, (void)o, (void)value;
    xcnn_format(m->error, sizeof m->error, "xcnn_infidelity: not written yet");
    return XCNN_ERR_UNSUPPORTED;
}
