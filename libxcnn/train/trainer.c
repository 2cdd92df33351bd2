/*
 * The training step, in the order a textbook writes it:
 *
 *   1. forward in training mode   (BatchNorm uses batch statistics)
 *   2. loss and dloss/dlogits     (cross-entropy, loss.c)
 *   3. backward from that seed    (every weight gradient, summed over the
 *                                  batch; the seed already divides by B)
 *   4. w -= update(w, dw)         (optimizer.c), for each trainable tensor
 *
 * Everything a step touches is allocated by xcnn_trainer_new.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn_train.h"
#include "../core/model.h"
#include "../base/format.h"

struct xcnn_trainer {
    xcnn_model *m;
    xcnn_optim_options opt;
    int n_params;        /* trainable tensors                             */
    int *param;          /* their tensor indices                          */
    float **state;       /* optimizer state of each, inside state_mem     */
    float *state_mem;
    size_t param_count;  /* total elements                                */
    float *seed;         /* max_batch x classes: dloss/dlogits            */
    int max_batch;       /* seed's batch: a later xcnn_model_reserve may
                            let the model take more, the trainer not      */
    int classes;
    long step;
};

/* Which inputs of a node are trainable weights (bit i: input i). */
static unsigned trainable_inputs(const xcnn_node *n)
{
    if (!strcmp(n->op_type, "Conv") || !strcmp(n->op_type, "Gemm") ||
        !strcmp(n->op_type, "MatMul") || !strcmp(n->op_type, "ConvTranspose"))
        return 0x6u; /* W, B */
    if (!strcmp(n->op_type, "BatchNormalization")) return 0x6u; /* scale, B (not mean, var) */
    return 0;
}

static xcnn_status find_params(xcnn_trainer *t, char *err, size_t size)
{
    xcnn_graph *g = t->m->g;
    unsigned char *seen = calloc((size_t)g->n_tensors + 1, 1);
    t->param = malloc(((size_t)g->n_tensors + 1) * sizeof(int));
    if (!seen || !t->param) {
        free(seen);
        return XCNN_ERR_NOMEM;
    }
    for (int i = 0; i < t->m->n_compute; i++) {
        const xcnn_node *n = &g->nodes[t->m->compute[i]];
        unsigned mask = trainable_inputs(n);
        for (int k = 0; k < n->n_in && k < 8; k++) {
            int ti = n->in[k];
            if (!(mask >> k & 1u) || ti < 0 || seen[ti]) continue;
            const xcnn_tensor *w = &g->tensors[ti];
            if (w->kind != XCNN_T_CONST || w->dtype != XCNN_DT_FLOAT) continue;
            if (!w->grad) {
                if (err && size) xcnn_format(err, size, "weight '%s' has no gradient buffer", w->name);
                free(seen);
                return XCNN_ERR_ARG;
            }
            seen[ti] = 1;
            t->param[t->n_params++] = ti;
            t->param_count += xcnn_tensor_numel(w);
        }
    }
    free(seen);
    return XCNN_OK;
}

static xcnn_status alloc_state(xcnn_trainer *t, int max_batch)
{
    size_t per = (size_t)xcnn_optim_state_floats(t->opt.kind);
    t->state = malloc(((size_t)t->n_params + 1) * sizeof(float *));
    t->state_mem = calloc(t->param_count * per + 1, sizeof(float));
    t->seed = malloc((size_t)max_batch * (size_t)t->classes * sizeof(float));
    t->max_batch = max_batch;
    if (!t->state || !t->state_mem || !t->seed) return XCNN_ERR_NOMEM;
    size_t off = 0;
    for (int i = 0; i < t->n_params; i++) {
        t->state[i] = t->state_mem + off;
        off += xcnn_tensor_numel(&t->m->g->tensors[t->param[i]]) * per;
    }
    return XCNN_OK;
}

/* A message into the caller's buffer (if any), and its status. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static xcnn_status buf_fail(char *err, size_t size, xcnn_status st, const char *fmt, ...)
{
    if (err && size) {
        va_list ap;
        va_start(ap, fmt);
        xcnn_vformat(err, size, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* The optimizer settings torch.optim refuses, refused here too: a NaN or
 * negative rate would train to garbage without a word. */
static const char *bad_optim(const xcnn_optim_options *o)
{
    if (o->kind != XCNN_OPT_SGD && o->kind != XCNN_OPT_ADAM) return "unknown optimizer kind";
    if (!isfinite(o->lr) || o->lr < 0) return "lr must be a finite number >= 0";
    if (!isfinite(o->weight_decay) || o->weight_decay < 0)
        return "weight_decay must be a finite number >= 0";
    if (o->kind == XCNN_OPT_SGD && !(o->momentum >= 0 && o->momentum <= 1))
        return "momentum must be 0..1";
    if (o->kind == XCNN_OPT_ADAM &&
        (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1)))
        return "beta1 and beta2 must be in [0, 1)";
    if (o->kind == XCNN_OPT_ADAM && !(isfinite(o->eps) && o->eps > 0))
        return "eps must be a finite number > 0";
    return NULL;
}

xcnn_status xcnn_trainer_new(xcnn_model *m, const xcnn_optim_options *o, int max_batch,
                             xcnn_trainer **out, char *err, size_t err_size)
{
    if (out) *out = NULL;
    if (!m || !o || !out)
        return buf_fail(err, err_size, XCNN_ERR_ARG,
                        "xcnn_trainer_new: model, options and out must not be NULL");
    if (max_batch < 1)
        return buf_fail(err, err_size, XCNN_ERR_ARG, "max_batch must be at least 1 (got %d)",
                        max_batch);
    const char *bad = bad_optim(o);
    if (bad) return buf_fail(err, err_size, XCNN_ERR_ARG, "optimizer: %s", bad);
    /* Held throughout: the reserve, the gradient buffers and the look at
     * the weights are one step for whoever else holds the model. */
    if (!xcnn_model_enter(m))
        return buf_fail(err, err_size, XCNN_ERR_BUSY, "%s", xcnn_status_name(XCNN_ERR_BUSY));
    xcnn_err e = {{0}};
    if (m->mem) { /* before the reserve below, which would carve the buffer */
        xcnn_model_leave(m);
        return buf_fail(err, err_size, XCNN_ERR_ARG, "the model lives in a static buffer "
                        "(xcnn_model_load_static): its weights are read-only, so it cannot "
                        "be trained");
    }
    xcnn_status st = max_batch == m->max_batch ? XCNN_OK : xcnn_arena_reserve(m, max_batch, &e);
    if (!st) st = xcnn_arena_enable_param_grads(m, &e);
    const xcnn_tensor *y = &m->g->tensors[m->g->output];
    xcnn_trainer *t = NULL;
    if (st)
        buf_fail(err, err_size, st, "%s", e.msg);
    else if (y->ndim != 2)
        st = buf_fail(err, err_size, XCNN_ERR_SHAPE,
                      "output '%s' must be batch x classes logits (has %d dims)", y->name,
                      y->ndim);
    else if (!(t = calloc(1, sizeof *t)))
        st = buf_fail(err, err_size, XCNN_ERR_NOMEM, "out of memory");
    if (t) {
        t->m = m;
        t->opt = *o;
        t->classes = (int)y->dims[1];
        st = find_params(t, err, err_size);
        if (!st) st = alloc_state(t, max_batch);
        if (st == XCNN_ERR_NOMEM) buf_fail(err, err_size, st, "out of memory");
        if (st) {
            xcnn_trainer_free(t);
            t = NULL;
        }
    }
    xcnn_model_leave(m);
    *out = t;
    return st;
}

void xcnn_trainer_free(xcnn_trainer *t)
{
    if (!t) return;
    free(t->param);
    free(t->state);
    free(t->state_mem);
    free(t->seed);
    free(t);
}

int xcnn_trainer_param_tensors(const xcnn_trainer *t) { return t ? t->n_params : 0; }
size_t xcnn_trainer_param_count(const xcnn_trainer *t) { return t ? t->param_count : 0; }

static int count_correct(const float *logits, const int *labels, int batch, int classes)
{
    int correct = 0;
    for (int b = 0; b < batch; b++) {
        const float *z = logits + (size_t)b * classes;
        int best = 0;
        for (int k = 1; k < classes; k++)
            if (z[k] > z[best]) best = k;
        correct += best == labels[b];
    }
    return correct;
}

static xcnn_status step_fail(xcnn_model *m, xcnn_status st, const char *msg)
{
    xcnn_format(m->error, sizeof m->error, "%s", msg);
    return st;
}

/* The step with the model held (xcnn_train_step). */
static xcnn_status train_step(xcnn_trainer *t, const float *x, const int *labels, int batch,
                              float lr, double *loss, int *correct)
{
    xcnn_model *m = t->m;
    xcnn_graph *g = m->g;
    if (!x || !labels)
        return step_fail(m, XCNN_ERR_ARG, "train step: x and labels must not be NULL");
    if (!isfinite(lr) || lr < 0)
        return step_fail(m, XCNN_ERR_ARG, "train step: the learning rate must be a finite "
                         "number >= 0");
    if (batch > t->max_batch) {
        xcnn_format(m->error, sizeof m->error, "train step: batch %d is over the trainer's "
                 "max_batch %d (xcnn_trainer_new)", batch, t->max_batch);
        return XCNN_ERR_ARG;
    }
    g->training = 1;
    xcnn_status st = xcnn_model_forward_held(m, x, batch, NULL);
    g->training = 0;
    if (st) return st;
    const float *logits = g->tensors[g->output].data;
    double l = 0;
    st = xcnn_cross_entropy(logits, labels, batch, t->classes, &l, t->seed);
    if (st == XCNN_ERR_ARG) return step_fail(m, st, "a label is outside 0..classes-1");
    if (st) return step_fail(m, st, "the logits are not finite: training diverged "
                             "(lower the learning rate)");
    if (loss) *loss = l;
    if (correct) *correct = count_correct(logits, labels, batch, t->classes);
    g->training = 1;
    st = xcnn_model_backward_held(m, NULL, t->seed, NULL);
    g->training = 0;
    if (st) return st;
    t->step++;
    for (int i = 0; i < t->n_params; i++) {
        xcnn_tensor *w = &g->tensors[t->param[i]];
        xcnn_optim_update(&t->opt, lr, t->step, w->data, w->grad, t->state[i],
                          xcnn_tensor_numel(w), w->ndim >= 2);
    }
    /* The weights changed: the activations in the arena are stale. */
    m->have_forward = 0;
    return XCNN_OK;
}

/* One flag over the whole step: forward, backward and the update run on
 * one thread's activations (model.h, xcnn_model_enter). */
xcnn_status xcnn_train_step(xcnn_trainer *t, const float *x, const int *labels, int batch,
                            float lr, double *loss, int *correct)
{
    if (!t) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(t->m)) return XCNN_ERR_BUSY;
    xcnn_status st = train_step(t, x, labels, batch, lr, loss, correct);
    xcnn_model_leave(t->m);
    return st;
}

/* xcnn_evaluate with the model held. */
static xcnn_status evaluate(xcnn_model *m, const xcnn_dataset *d, int batch, double *loss,
                            int *correct)
{
    if (!d) return step_fail(m, XCNN_ERR_ARG, "evaluate: the dataset is NULL");
    if (batch < 1) return step_fail(m, XCNN_ERR_ARG, "evaluate: batch must be at least 1");
    if (batch > m->max_batch) batch = m->max_batch;
    const xcnn_tensor *y = &m->g->tensors[m->g->output];
    int classes = (int)xcnn_tensor_sample_numel(y);
    size_t in_n = xcnn_tensor_sample_numel(&m->g->tensors[m->g->input]);
    /* Samples are read in the model's input size: a dataset of another
     * size would be read past its end (or out of step). */
    if (d->n < 0) {
        xcnn_format(m->error, sizeof m->error, "evaluate: the dataset has %d samples", d->n);
        return XCNN_ERR_ARG;
    }
    if (d->channels < 1 || d->height < 1 || d->width < 1 ||
        (size_t)d->channels * (size_t)d->height * (size_t)d->width != in_n) {
        xcnn_format(m->error, sizeof m->error, "evaluate: the dataset's samples are %dx%dx%d, the "
                 "model input takes %zu floats", d->channels, d->height, d->width, in_n);
        return XCNN_ERR_SHAPE;
    }
    if (d->n > 0 && (!d->x || !d->y))
        return step_fail(m, XCNN_ERR_ARG, "evaluate: the dataset has no samples or labels");
    size_t per = in_n;
    double total = 0;
    int right = 0;
    m->g->training = 0;
    for (int i = 0; i < d->n; i += batch) {
        int nb = d->n - i < batch ? d->n - i : batch;
        xcnn_status st = xcnn_model_forward_held(m, d->x + (size_t)i * per, nb, NULL);
        if (st) return st;
        double l = 0;
        st = xcnn_cross_entropy(y->data, d->y + i, nb, classes, &l, NULL);
        if (st) return step_fail(m, st, "evaluate: bad label or non-finite logits");
        total += l * nb;
        right += count_correct(y->data, d->y + i, nb, classes);
    }
    if (loss) *loss = d->n ? total / d->n : 0;
    if (correct) *correct = right;
    return XCNN_OK;
}

xcnn_status xcnn_evaluate(xcnn_model *m, const xcnn_dataset *d, int batch, double *loss,
                          int *correct)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    xcnn_status st = evaluate(m, d, batch, loss, correct);
    xcnn_model_leave(m);
    return st;
}
