/*
 * The two optimizers, each one line of math per parameter, written as
 * torch.optim.SGD (dampening 0, not Nesterov) and torch.optim.Adam do it
 * (weight decay as an L2 term added to the gradient):
 *
 *   u = g + wd * w                      (wd only for decayed tensors)
 *   SGD   v = momentum * v + u,           w -= lr * v
 *   Adam  m = b1 m + (1 - b1) u,          v = b2 v + (1 - b2) u^2,
 *         w -= lr * mhat / (sqrt(vhat) + eps),
 *         mhat = m / (1 - b1^t), vhat = v / (1 - b2^t)
 *
 * PyTorch's SGD sets v = u on the first step; with v starting at zero
 * momentum * 0 + u is the same thing.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "../../include/xcnn_train.h"

void xcnn_optim_options_init(xcnn_optim_options *o, xcnn_optimizer kind)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->lr = kind == XCNN_OPT_ADAM ? 0.001f : 0.05f;
    o->momentum = 0.9f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->weight_decay = kind == XCNN_OPT_ADAM ? 0.0f : 5e-4f;
}

int xcnn_optim_state_floats(xcnn_optimizer kind) { return kind == XCNN_OPT_ADAM ? 2 : 1; }

static void sgd(const xcnn_optim_options *o, float lr, float wd, float *w, const float *g,
                float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float u = g[i] + wd * w[i];
        v[i] = o->momentum * v[i] + u;
        w[i] -= lr * v[i];
    }
}

static void adam(const xcnn_optim_options *o, float lr, float wd, long step, float *w,
                 const float *g, float *m, float *v, size_t n)
{
    double c1 = 1.0 - pow(o->beta1, (double)step), c2 = 1.0 - pow(o->beta2, (double)step);
    for (size_t i = 0; i < n; i++) {
        float u = g[i] + wd * w[i];
        m[i] = o->beta1 * m[i] + (1 - o->beta1) * u;
        v[i] = o->beta2 * v[i] + (1 - o->beta2) * u * u;
        double mhat = m[i] / c1, vhat = v[i] / c2;
        w[i] -= (float)(lr * mhat / (sqrt(vhat) + o->eps));
    }
}

xcnn_status xcnn_optim_update(const xcnn_optim_options *o, float lr, long step, float *w,
                              const float *g, float *state, size_t n, int decay)
{
    if (!o || (n && (!w || !g || !state)) || !isfinite(lr)) return XCNN_ERR_ARG;
    /* the settings xcnn_trainer_new refuses (trainer.c), refused here too:
     * an unknown kind or a NaN setting would update to garbage silently */
    if (o->kind != XCNN_OPT_SGD && o->kind != XCNN_OPT_ADAM) return XCNN_ERR_ARG;
    if (!isfinite(o->weight_decay) || o->weight_decay < 0) return XCNN_ERR_ARG;
    if (o->kind == XCNN_OPT_SGD && !(o->momentum >= 0 && o->momentum <= 1)) return XCNN_ERR_ARG;
    if (o->kind == XCNN_OPT_ADAM && (!(o->beta1 >= 0 && o->beta1 < 1) ||
                                     !(o->beta2 >= 0 && o->beta2 < 1) ||
                                     !(isfinite(o->eps) && o->eps > 0)))
        return XCNN_ERR_ARG;
    /* state holds 2n floats for Adam: n past SIZE_MAX / 2 cannot be real */
    if (o->kind == XCNN_OPT_ADAM && n > SIZE_MAX / 2 / sizeof(float)) return XCNN_ERR_ARG;
    float wd = decay ? o->weight_decay : 0.0f;
    if (o->kind == XCNN_OPT_ADAM)
        adam(o, lr, wd, step < 1 ? 1 : step, w, g, state, state + n, n);
    else
        sgd(o, lr, wd, w, g, state, n);
    return XCNN_OK;
}
