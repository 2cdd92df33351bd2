/* The explanation methods' command-line names (METHODS.md's spelling),
 * indexed by xcnn_method: explain, evaluate and the report take them from
 * here, so a method added to the library is named in one place. */
#include <string.h>
#include "cli.h"

static const char *const method_names[XCNN_METHOD_COUNT] = {
    [XCNN_SALIENCY] = "saliency",
    [XCNN_INPUT_X_GRADIENT] = "input-x-gradient",
    [XCNN_DECONVNET] = "deconvnet",
    [XCNN_GUIDED_BACKPROP] = "guided-backprop",
    [XCNN_INTEGRATED_GRADIENTS] = "integrated-gradients",
    [XCNN_SMOOTHGRAD] = "smoothgrad",
    [XCNN_GRADCAM] = "gradcam",
    [XCNN_GUIDED_GRADCAM] = "guided-gradcam",
    [XCNN_DEEPLIFT] = "deeplift",
    [XCNN_DEEPLIFT_SHAP] = "deeplift-shap",
    [XCNN_GRADIENT_SHAP] = "gradient-shap",
    [XCNN_LRP] = "lrp",
    [XCNN_OCCLUSION] = "occlusion",
    [XCNN_RISE] = "rise",
    [XCNN_CAM] = "cam",
    [XCNN_GRADCAM_PLUS_PLUS] = "gradcam-plus-plus",
    [XCNN_XGRADCAM] = "xgradcam",
    [XCNN_LAYERCAM] = "layercam",
    [XCNN_HIRESCAM] = "hirescam",
    [XCNN_SCORECAM] = "scorecam",
    [XCNN_EIGENCAM] = "eigencam",
    [XCNN_ABLATIONCAM] = "ablationcam",
};

const char *cli_method_name(xcnn_method m)
{
    return (int)m >= 0 && (int)m < XCNN_METHOD_COUNT && method_names[m] ? method_names[m] : "?";
}

int cli_method_lookup(const char *name, size_t len, xcnn_method *m)
{
    for (int k = 0; k < XCNN_METHOD_COUNT; k++)
        if (method_names[k] && strlen(method_names[k]) == len &&
            !strncmp(method_names[k], name, len)) {
            *m = (xcnn_method)k;
            return 0;
        }
    return -1;
}
