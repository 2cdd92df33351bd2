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

const xcnn_ex_method xcnn_ex_cam = {"cam", stub_check, NULL, stub_run};
const xcnn_ex_method xcnn_ex_gradcam_plus_plus = {"gradcam-plus-plus", stub_check, NULL, stub_run};
const xcnn_ex_method xcnn_ex_xgradcam = {"xgradcam", stub_check, NULL, stub_run};
const xcnn_ex_method xcnn_ex_layercam = {"layercam", stub_check, NULL, stub_run};
const xcnn_ex_method xcnn_ex_hirescam = {"hirescam", stub_check, NULL, stub_run};
const xcnn_ex_method xcnn_ex_scorecam = {"scorecam", stub_check, NULL, stub_run};
const xcnn_ex_method xcnn_ex_eigencam = {"eigencam", stub_check, NULL, stub_run};
const xcnn_ex_method xcnn_ex_ablationcam = {"ablationcam", stub_check, NULL, stub_run};
