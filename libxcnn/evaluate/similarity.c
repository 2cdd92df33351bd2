/* Spearman and SSIM (xcnn_eval.h): being written. */
#include <string.h>
#include "../../include/xcnn_eval.h"
#include "../base/format.h"

xcnn_status xcnn_spearman(const float *a, const float *b, size_t n, double *rho, char *err,
                          size_t err_size)
{
    (void)a, (void)b, (void)n, (void)rho;
    if (err && err_size) xcnn_format(err, err_size, "xcnn_spearman: not written yet");
    return XCNN_ERR_UNSUPPORTED;
}

xcnn_status xcnn_ssim(const float *a, const float *b, int h, int w, double *ssim, char *err,
                      size_t err_size)
{
    (void)a, (void)b, (void)h, (void)w, (void)ssim;
    if (err && err_size) xcnn_format(err, err_size, "xcnn_ssim: not written yet");
    return XCNN_ERR_UNSUPPORTED;
}
