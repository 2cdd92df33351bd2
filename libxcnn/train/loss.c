/*
 * Cross-entropy on logits z (softmax + negative log-likelihood), mean over
 * a batch of B samples with labels y:
 *
 *   loss      = 1/B sum_b [ log sum_k exp(z_bk) - z_b,y_b ]
 *   dloss/dz  = (softmax(z_b) - onehot(y_b)) / B
 *
 * The log-sum-exp subtracts max_k z_bk first so exp never overflows.
 */
#include <math.h>
#include "../../include/xcnn_train.h"

xcnn_status xcnn_cross_entropy(const float *logits, const int *labels, int batch, int classes,
                               double *loss, float *grad)
{
    if (!logits || !labels || batch < 1 || classes < 1) return XCNN_ERR_ARG;
    double total = 0;
    for (int b = 0; b < batch; b++) {
        const float *z = logits + (size_t)b * classes;
        if (labels[b] < 0 || labels[b] >= classes) return XCNN_ERR_ARG;
        double zmax = z[0];
        for (int k = 0; k < classes; k++) {
            if (!isfinite(z[k])) return XCNN_ERR_NUMERIC;
            if (z[k] > zmax) zmax = z[k];
        }
        double sum = 0;
        for (int k = 0; k < classes; k++) sum += exp(z[k] - zmax);
        double lse = zmax + log(sum);
        total += lse - z[labels[b]];
        if (!grad) continue;
        float *g = grad + (size_t)b * classes;
        for (int k = 0; k < classes; k++)
            g[k] = (float)((exp(z[k] - lse) - (k == labels[b])) / batch);
    }
    if (loss) *loss = total / batch;
    return XCNN_OK;
}
