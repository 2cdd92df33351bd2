/*
 * libxcnn: judging explanations (METHODS.md, "Metrics" and "Feature
 * visualisation"). Same conventions as xcnn.h: statuses, messages in
 * xcnn_model_error, caller-owned outputs. The metrics run the model many
 * times in batches of up to xcnn_model_max_batch(m) (reserve a larger
 * batch for speed); like the explainers they allocate nothing after the
 * model is loaded and reserved, and a sample's result does not depend on
 * the batch or the thread count. The sanity check is the exception: it
 * loads its own copies of the model (the caller's is never modified).
 */
#ifndef XCNN_EVAL_H
#define XCNN_EVAL_H

#include "xcnn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a metric scores: softmax(f(x))[t] (default) or the raw f(x)[t]. */
typedef enum xcnn_score_kind {
    XCNN_SCORE_PROBABILITY = 0,
    XCNN_SCORE_LOGIT = 1
} xcnn_score_kind;

/* ---- Deletion and insertion (Petsiuk et al. 2018) ------------------- */

typedef enum xcnn_curve_kind {
    XCNN_CURVE_DELETION = 0,  /* pixels set to 0, most important first   */
    XCNN_CURVE_INSERTION = 1  /* from blur(x), original pixels put back   */
} xcnn_curve_kind;

typedef struct xcnn_curve_options {
    xcnn_curve_kind kind;
    int target;               /* -1 (default): the arg-max of f(x)        */
    int step;                 /* pixels per step; 0 (default): ceil(H*W/224) */
    xcnn_score_kind score;    /* default XCNN_SCORE_PROBABILITY           */
} xcnn_curve_options;

void xcnn_curve_options_init(xcnn_curve_options *o, xcnn_curve_kind kind);

/* The number of points of the curve (n + 1, n = ceil(H*W/step)) for
 * this model's input. */
xcnn_status xcnn_curve_points(xcnn_model *m, const xcnn_curve_options *o, int *points);

/* The curve of attribution `attr` (attr_c x attr_h x attr_w floats: summed
 * over channels, signed; resized bilinear to H x W when smaller) for
 * `input`, into curve[0..points) (curve_len its capacity), and its area
 * (sum_k s_k - (s_0 + s_n)/2) / n into *auc (may be NULL). */
xcnn_status xcnn_curve(xcnn_model *m, const float *input, const float *attr, int attr_c,
                       int attr_h, int attr_w, const xcnn_curve_options *o, float *curve,
                       size_t curve_len, double *auc);

/* ---- Feature visualisation (Olah et al.; lucid / lucent) ------------ */

typedef struct xcnn_visualize_options {
    const char *layer;        /* tensor or node name (required)           */
    int channel;              /* -1 (default): the mean of A^2 ("energy")  */
    int steps;                /* default 512                               */
    float lr;                 /* Adam's learning rate, default 0.05        */
    uint64_t seed;            /* default 0                                 */
    /* Called after every step (may be NULL, the default): the step 1..steps,
     * the steps in all, that step's objective, and progress_user. It runs
     * while the model is held: it must not call the library on this model. */
    void (*progress)(int step, int steps, double objective, void *user);
    void *progress_user;
} xcnn_visualize_options;

void xcnn_visualize_options_init(xcnn_visualize_options *o);

/* Activation maximisation: writes the final image (C x H x W floats in
 * [0, 1], before the model's preprocessing) into image, and the model's
 * input for it (after preprocessing: (image - mean) / std per channel,
 * from mean[], std[] of C values each; NULL: none) into model_input (may
 * be NULL); *objective (may be NULL) receives the last step's objective
 * (the objective of that step's shifted image, before its Adam update).
 * The model's input must be 1 x C x H x W with C 1 (gray) or 3 (RGB), and
 * the model loaded with gradients. Unlike the metrics, this long
 * optimisation allocates its own state (the spectrum, Adam's moments, the
 * image: about 40 C H W bytes) with malloc once per call and frees it
 * before returning; the model's last forward and backward are those of
 * the last step. Errors: XCNN_ERR_ARG (options), XCNN_ERR_NOT_FOUND (the
 * layer), XCNN_ERR_SHAPE (not an image model), XCNN_ERR_NOMEM.
 * Deterministic for a seed and a thread count. See
 * libxcnn/evaluate/visualize.c for the exact definition. */
xcnn_status xcnn_visualize(xcnn_model *m, const xcnn_visualize_options *o, const float *mean,
                           const float *std, float *image, float *model_input,
                           double *objective);

#ifdef __cplusplus
}
#endif
#endif /* XCNN_EVAL_H */
