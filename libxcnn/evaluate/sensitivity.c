/* Sensitivity (xcnn_eval.h): being written. */
#include <string.h>
#include "../../include/xcnn_eval.h"
#include "../base/format.h"
#include "../core/model.h"

void xcnn_sensitivity_options_init(xcnn_sensitivity_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->samples = 10;
    o->radius = 0.02f;
}

xcnn_status xcnn_sensitivity_work_floats(xcnn_model *m, const xcnn_explain_options *eo,
                                         size_t *floats)
{
    if (!m) return XCNN_ERR_ARG;
    (void)eo, (void)floats;
    xcnn_format(m->error, sizeof m->error, "xcnn_sensitivity_work_floats: not written yet");
    return XCNN_ERR_UNSUPPORTED;
}

xcnn_status xcnn_sensitivity(xcnn_model *m, const float *input, const xcnn_explain_options *eo,
                             const xcnn_sensitivity_options *o, float *work, size_t work_len,
                             double *value)
{
    if (!m) return XCNN_ERR_ARG;
    (void)input, (void)eo, (void)o, (void)work, (void)work_len, (void)value;
    xcnn_format(m->error, sizeof m->error, "xcnn_sensitivity: not written yet");
    return XCNN_ERR_UNSUPPORTED;
}
