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

/* ---- Similarity of two maps (the sanity check's measures) ----------- */

/* Spearman's rank correlation of a[0..n) and b[0..n): the Pearson
 * correlation of their ranks, ties given their average rank (scipy's
 * spearmanr). Values are compared as given (the sanity check passes
 * absolute values). When either array is constant the correlation is
 * undefined; *rho is then 0 (no shared order). n >= 2; a NaN or an Inf is
 * XCNN_ERR_NUMERIC. Allocates (n ints and 2n doubles) per call; the
 * metrics use an internal, allocation-free version. err (may be NULL)
 * receives a message on failure. */
xcnn_status xcnn_spearman(const float *a, const float *b, size_t n, double *rho, char *err,
                          size_t err_size);

/* The mean SSIM (Wang et al. 2004) of two h x w maps a and b, each first
 * min-max scaled to [0, 1] (a constant map becomes all 0): local means,
 * variances and covariance under an 11 x 11 Gaussian window (sigma 1.5,
 * normalised), C1 = (0.01 L)^2, C2 = (0.03 L)^2 with data range L = 1,
 *   S = (2 mu_a mu_b + C1)(2 cov + C2) / ((mu_a^2 + mu_b^2 + C1)(var_a + var_b + C2)),
 * averaged over the (h - 10) x (w - 10) positions where the window lies
 * inside the map (skimage's structural_similarity with gaussian_weights,
 * sigma 1.5, use_sample_covariance=False, data_range 1, which crops the
 * same border). h, w >= 11 (XCNN_ERR_SHAPE otherwise). Allocates 7 h w
 * doubles per call. */
xcnn_status xcnn_ssim(const float *a, const float *b, int h, int w, double *ssim, char *err,
                      size_t err_size);

/* ---- Sanity check: cascading randomization (Adebayo et al. 2018) ----- */
/*
 * The layers: every compute node Conv, Gemm or MatMul whose weight input
 * (Conv W, Gemm B, MatMul B) is a constant (an initializer), and every
 * BatchNormalization, in forward order; the check goes through them from
 * the last (nearest the output) to the first. Step k (k = 1..L)
 * re-initialises layers L, L-1, ..., L-k+1 in a copy of the model (the
 * caller's is never written: the copy is encoded to ONNX in memory,
 * changed and loaded again):
 *   Conv, Gemm, MatMul: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 *     PyTorch's default (kaiming_uniform_(a=sqrt(5)) and its bias rule);
 *     fan_in = C_in/group * kh * kw (Conv), the reduced dimension K (Gemm,
 *     MatMul); drawn from one seeded splitmix64 stream (base/rng.h),
 *     layer after layer in that order, weight then bias, element order;
 *   BatchNormalization: scale 1, B 0, mean 0, var 1.
 * A model whose BatchNormalizations were folded into its Convs (as
 * torch.onnx.export does in eval mode) has no BN layer: its Conv is one
 * layer, and re-initialising it replaces the folded weight and bias.
 * Each step explains, on the copy, the target the original model gives
 * (eo->target, or its arg-max), and compares the map with the original
 * one (the same method on the unchanged copy). A map is the attribution
 * summed over channels (signed), resized bilinear (align_corners=False) to
 * the input's H x W when smaller: spearman is xcnn_spearman of the maps'
 * absolute values, ssim is xcnn_ssim of the maps (min-max scaled).
 */
typedef struct xcnn_sanity_options {
    uint64_t seed;            /* default 0; same seed, same weights        */
} xcnn_sanity_options;

void xcnn_sanity_options_init(xcnn_sanity_options *o);

typedef struct xcnn_sanity_step {
    char layer[256];          /* the node re-initialised at this step      */
    double spearman;          /* with the original map, in [-1, 1]          */
    double ssim;              /* with the original map, in [-1, 1]          */
} xcnn_sanity_step;

/* The number of layers, L (the steps of xcnn_sanity); 0 when the model
 * has none (xcnn_sanity then refuses it). */
xcnn_status xcnn_sanity_layers(xcnn_model *m, int *n_layers);

/* The cascading randomization of method eo for `input` (C x H x W):
 * steps[0..L) (max_steps >= L, else XCNN_ERR_ARG), from the output layer
 * down; *n_steps (may be NULL) = L. *flagged (may be NULL) is 1 when the
 * map survives randomization: the mean over the L steps of spearman, or
 * that of ssim, is >= 0.5 (the map stays alike while the model it should
 * explain is taken apart; guided backprop's failure in the paper is that
 * it survives the top layers). The rule and threshold are ours (Adebayo et
 * al. judge by eye; 0.5 is far above what an independent map scores).
 * Allocates: a model copy (the model's bytes once, then one load
 * per step) and the maps; the caller's model, its arena included, is
 * untouched. Errors: those of xcnn_explain (on the copy; the message
 * names the step), XCNN_ERR_SHAPE for an input under 11 x 11 (SSIM),
 * XCNN_ERR_UNSUPPORTED for a model with no layer. */
xcnn_status xcnn_sanity(xcnn_model *m, const float *input, const xcnn_explain_options *eo,
                        const xcnn_sanity_options *so, xcnn_sanity_step *steps, int max_steps,
                        int *n_steps, int *flagged);

/* ---- Input invariance (Kindermans et al. 2017) ----------------------- */
/*
 * x2 = x + m, m a constant per input channel; the shifted model is a copy
 * whose first Conv (the only node reading the input; it must not pad, as
 * padding would see the shift at the border) has its bias changed by
 * -W m: b2[o] = b[o] - sum_{c,i,j} W[o,c,i,j] m[c] (a bias is added when
 * it had none), so that every activation is unchanged. Each method runs
 * on (model, x) and (shifted model, x2); the result is
 * max|a1 - a2| / max|a1| (0 when both are all zero, 1 when only a1 is),
 * a pass when <= 1e-4.
 */
typedef struct xcnn_invariance_options {
    const float *shift;       /* C values (the input's channels); NULL
                                 (default): -1 each                         */
    /* 1: the shifted run's baseline(s) are shifted too (eo->baseline + m,
     * or m when NULL; eo->baselines + m), the "baseline-shifted" IG and
     * DeepLIFT that pass. 0 (default): the same baselines on both runs. */
    int shift_baselines;
    /* 1: a first Conv that pads is accepted: the shifted model pads x2
     * explicitly with m (a Pad node ahead of the Conv, whose own padding
     * becomes 0), the shifted image of the zero border, so that every
     * activation is still unchanged. Ours, not the paper's; needs the
     * same shift in every channel. 0 (default): such a Conv is refused. */
    int pad_with_shift;
} xcnn_invariance_options;

void xcnn_invariance_options_init(xcnn_invariance_options *o);

/* max_rel_diff and pass (either may be NULL) as above. Allocates the
 * shifted model (encoded, changed and loaded once per call) and two
 * attributions. XCNN_ERR_UNSUPPORTED (with the reason) when the input is
 * not read by one Conv alone, or that Conv pads (without pad_with_shift). */
xcnn_status xcnn_input_invariance(xcnn_model *m, const float *input,
                                  const xcnn_explain_options *eo,
                                  const xcnn_invariance_options *io, double *max_rel_diff,
                                  int *pass);

/* ---- Infidelity (Yeh et al. 2019; Captum's infidelity) -------------- */
/*
 *   INFD = (1/n) sum_k (sum(a * I_k) - (f(x)[t] - f(x - I_k)[t]))^2
 * with I_k ~ Normal(0, s^2) per input element, drawn from a seeded
 * generator (or given), f the model's raw output (Captum's forward_func),
 * a the attribution: input-shaped, or 1 channel (applied to every
 * channel), resized bilinear to H x W when smaller. The n perturbed
 * forwards run in batches of xcnn_model_max_batch(m); allocation-free.
 */
typedef struct xcnn_infidelity_options {
    int target;               /* -1 (default): the arg-max of f(x)         */
    int samples;              /* n, default 10                              */
    float stdev;              /* s, default 0.003 (absolute)                */
    uint64_t seed;            /* default 0                                  */
    const float *perturbations; /* optional: n x input-size I_k to use
                                   instead of drawing them (to reproduce
                                   another implementation); default NULL */
} xcnn_infidelity_options;

void xcnn_infidelity_options_init(xcnn_infidelity_options *o);

xcnn_status xcnn_infidelity(xcnn_model *m, const float *input, const float *attr, int attr_c,
                            int attr_h, int attr_w, const xcnn_infidelity_options *o,
                            double *value);

/* ---- Sensitivity (Yeh et al. 2019; Captum's sensitivity_max) --------- */
/*
 *   SENS = max_k ||e(x + d_k) - e(x)|| / ||e(x)||     (Frobenius norms)
 * d_k ~ Uniform(-r, r) per input element (seeded, or given), e the method
 * eo explaining the target of x (eo->target, or the arg-max of f(x)) on
 * every perturbed input too; ||e(x)|| = 0 divides by 1 (as Captum does).
 */
typedef struct xcnn_sensitivity_options {
    int samples;              /* n, default 10                              */
    float radius;             /* r, default 0.02                            */
    uint64_t seed;            /* default 0                                  */
    const float *perturbations; /* optional: n x input-size d_k; default NULL */
} xcnn_sensitivity_options;

void xcnn_sensitivity_options_init(xcnn_sensitivity_options *o);

/* The floats of work xcnn_sensitivity needs for eo: the input once and
 * the attribution twice. */
xcnn_status xcnn_sensitivity_work_floats(xcnn_model *m, const xcnn_explain_options *eo,
                                         size_t *floats);

/* *value as above. work (work_len floats, at least
 * xcnn_sensitivity_work_floats) is the caller's; NULL: allocated and
 * freed within the call. With work given nothing is allocated. */
xcnn_status xcnn_sensitivity(xcnn_model *m, const float *input, const xcnn_explain_options *eo,
                             const xcnn_sensitivity_options *o, float *work, size_t work_len,
                             double *value);

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
