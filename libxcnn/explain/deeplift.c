/* STUB: to be written. */
#include "explain.h"

static xcnn_status stub_check(xcnn_model *m, const float *x, const xcnn_explain_options *o, xcnn_err *err)
{
    (void)m; (void)x; (void)o;
    return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "not written yet");
}

static xcnn_status stub_run(xcnn_model *m, const float *x, const xcnn_explain_options *o, float *out,
                            xcnn_explain_result *res, xcnn_err *err)
{
    (void)m; (void)x; (void)o; (void)out; (void)res;
    return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "not written yet");
}

const xcnn_ex_method xcnn_ex_deeplift = {"deeplift", stub_check, NULL, stub_run};
const xcnn_ex_method xcnn_ex_deeplift_shap = {"deeplift-shap", stub_check, NULL, stub_run};
