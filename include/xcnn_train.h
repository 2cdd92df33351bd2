/*
 * libxcnn: training in C, the teaching path. A small network is built
 * through the graph API, trained with mini-batch SGD or Adam on a
 * cross-entropy loss, and saved as an ONNX file by our own encoder.
 *
 * The loop a caller writes (tools/cli/train.c is the full version):
 *
 *     xcnn_model *m;   xcnn_resnet_build(&ropts, &m, err, sizeof err);
 *     xcnn_trainer *t; xcnn_trainer_new(m, &oopts, 64, &t, err, sizeof err);
 *     for each epoch:
 *         xcnn_shuffle(perm, n, &rng);
 *         for each batch of 64 indices:
 *             xcnn_dataset_gather(&train, perm + i, 64, x, y);
 *             xcnn_train_step(t, x, y, 64, lr, &loss, &correct);
 *         xcnn_evaluate(m, &test, 256, &loss, &correct);
 *     xcnn_model_save_onnx(m, "model.onnx", keys, values, 2, err, sizeof err);
 *
 * Conventions are those of xcnn.h: statuses, caller-owned buffers, no
 * global state (two trainers on two models in two threads are fine), and
 * the same result for the same seed whatever the thread count.
 */
#ifndef XCNN_TRAIN_H
#define XCNN_TRAIN_H

#include "xcnn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- Loss ------------------------------------------------------------ */

/* Cross-entropy on logits (softmax + negative log-likelihood), the mean
 * over the batch:
 *     loss = 1/B sum_b [ log sum_k exp(z[b][k]) - z[b][labels[b]] ]
 *     grad[b][k] = (softmax(z[b])[k] - [k == labels[b]]) / B
 * logits and grad are batch x classes; grad may be NULL. The gradient is
 * the seed of xcnn_backward. XCNN_ERR_ARG for a label outside
 * 0..classes-1, XCNN_ERR_NUMERIC for a non-finite logit. */
xcnn_status xcnn_cross_entropy(const float *logits, const int *labels, int batch, int classes,
                               double *loss, float *grad);

/* --- Optimizers ------------------------------------------------------ */

typedef enum xcnn_optimizer {
    XCNN_OPT_SGD = 0,  /* SGD with momentum, as torch.optim.SGD           */
    XCNN_OPT_ADAM = 1  /* Adam, as torch.optim.Adam                       */
} xcnn_optimizer;

typedef struct xcnn_optim_options {
    xcnn_optimizer kind;
    float lr;           /* default 0.05 (SGD), 0.001 (Adam); the trainer
                           takes the rate per step, so this is the base    */
    float momentum;     /* SGD: default 0.9 (0: plain SGD)                 */
    float beta1, beta2; /* Adam: defaults 0.9, 0.999                       */
    float eps;          /* Adam: default 1e-8                              */
    float weight_decay; /* L2 penalty added to the gradient (g += wd * w),
                           on weights of 2 or more dims (Conv, Gemm) only:
                           biases and BatchNorm scales are not decayed.
                           Default 5e-4 (SGD), 0 (Adam).                   */
} xcnn_optim_options;

/* Fill o with the defaults above for `kind`. */
void xcnn_optim_options_init(xcnn_optim_options *o, xcnn_optimizer kind);

/* Floats of optimizer state per parameter: 1 for SGD (the momentum
 * buffer), 2 for Adam (first, then second moment). */
int xcnn_optim_state_floats(xcnn_optimizer kind);

/* One update of n parameters w with gradient g at learning rate lr.
 * state holds n * xcnn_optim_state_floats() floats, zero before the first
 * step; step counts from 1 (Adam's bias correction). decay: apply
 * o->weight_decay to these parameters. With u = g + decay * wd * w:
 *   SGD   v = momentum * v + u;  w -= lr * v
 *   Adam  m = b1 m + (1-b1) u;  v = b2 v + (1-b2) u^2;
 *         w -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps)
 * XCNN_ERR_ARG (nothing updated) for NULL pointers, a non-finite lr, or
 * settings xcnn_trainer_new refuses (an unknown kind, a NaN or out-of-range
 * momentum, beta, eps or weight_decay).
 * This and the two dataset helpers below take no model and no buffer:
 * the status is their whole message. */
xcnn_status xcnn_optim_update(const xcnn_optim_options *o, float lr, long step, float *w,
                              const float *g, float *state, size_t n, int decay);

/* --- Datasets -------------------------------------------------------- */

/* Samples as floats, ready for the network: x is n x channels x height x
 * width, y the n labels (0 .. classes-1). */
typedef struct xcnn_dataset {
    int n, channels, height, width, classes;
    float *x;
    int *y;
} xcnn_dataset;

/* Read an idx image file ([n, rows, cols] bytes) and its idx label file,
 * raw or gzip-compressed (xcnn_idx_read), as 1-channel images scaled to
 * [0, 1] and normalised: x = (byte / 255 - mean) / std. For Fashion-MNIST
 * use mean 0.2860, std 0.3530 (the training set's statistics).
 * classes is the largest label + 1. Free with xcnn_dataset_free. */
xcnn_status xcnn_dataset_load_idx(const char *images_path, const char *labels_path,
                                  float mean, float std, xcnn_dataset *out, char *err,
                                  size_t err_size);
void xcnn_dataset_free(xcnn_dataset *d);

/* Copy samples idx[0 .. count) into x (count samples) and y (y may be
 * NULL). XCNN_ERR_ARG, nothing copied, for an index outside 0 .. n-1, a
 * negative count or NULL pointers. */
xcnn_status xcnn_dataset_gather(const xcnn_dataset *d, const int *idx, int count, float *x,
                                int *y);

/* A random permutation of perm[0 .. n) (Fisher-Yates), drawn from the
 * generator state *rng (splitmix64), which it advances: the same state
 * gives the same order on every machine. */
xcnn_status xcnn_shuffle(int *perm, int n, uint64_t *rng); /* XCNN_ERR_ARG: n < 0, NULLs */

/* --- Building a network ---------------------------------------------- */

/* A small ResNet for small images:
 *   stem   conv3x3(channels -> widths[0]) + BN + ReLU
 *   stage s = 0 .. n_stages-1: blocks[s] basic residual blocks of
 *          widths[s] channels; the first block of stages s > 0 has stride 2
 *          and a conv1x1(stride 2) + BN shortcut
 *          block: relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x))
 *   head   GlobalAveragePool, Flatten, Gemm -> classes logits
 * Tensors are named like PyTorch's ResNet ("layer1.0.conv1", "fc"); the
 * input is "input" [1, channels, height, width], the output "logits".
 * Conv weights are drawn He-normal (std sqrt(2 / fan_in)), the Gemm like
 * PyTorch's Linear (uniform +-1/sqrt(fan_in)), from `seed`; BN starts at
 * scale 1, bias 0, running mean 0, var 1, momentum 0.9 (ONNX's meaning:
 * PyTorch's 0.1). */
typedef struct xcnn_resnet_options {
    int channels, height, width, classes; /* default 1, 28, 28, 10        */
    int n_stages;                         /* 1 .. 4, default 3            */
    int widths[4];                        /* default 16, 32, 64           */
    int blocks[4];                        /* default 1, 1, 1              */
    uint64_t seed;                        /* default 0                    */
} xcnn_resnet_options;

void xcnn_resnet_options_init(xcnn_resnet_options *o);

/* Build the network into a model (reserved for batch 1). The graph is
 * encoded to ONNX by our writer and loaded by our loader, so the model
 * trained is exactly the one a saved file describes. Free with
 * xcnn_model_free. */
xcnn_status xcnn_resnet_build(const xcnn_resnet_options *o, xcnn_model **out, char *err,
                              size_t err_size);

/* --- Training -------------------------------------------------------- */

typedef struct xcnn_trainer xcnn_trainer;

/* Prepare m for training with mini-batches of up to max_batch samples:
 * reserves the batch, enables weight gradients, finds the trainable
 * weights (inputs W and B of Conv/Gemm/MatMul, scale and B of
 * BatchNormalization; running statistics are state, not parameters) and
 * allocates the optimizer state. The model's output must be batch x
 * classes logits. The trainer does not own m; free it before m.
 * Settings torch.optim refuses (a negative or non-finite lr or
 * weight_decay, momentum outside 0..1, betas outside [0, 1), eps <= 0)
 * are XCNN_ERR_ARG. */
xcnn_status xcnn_trainer_new(xcnn_model *m, const xcnn_optim_options *o, int max_batch,
                             xcnn_trainer **out, char *err, size_t err_size);
void xcnn_trainer_free(xcnn_trainer *t);

/* Trainable weights (tensors) and their total element count. */
int xcnn_trainer_param_tensors(const xcnn_trainer *t);
size_t xcnn_trainer_param_count(const xcnn_trainer *t);

/* One step on a mini-batch: forward in training mode (BatchNormalization
 * normalises with the batch statistics and updates its running ones),
 * cross-entropy against labels, backward, one optimizer update at rate
 * lr. batch is 1 .. the trainer's max_batch (XCNN_ERR_ARG past it, even
 * after an xcnn_model_reserve for more). loss (may be NULL) receives the
 * batch's mean loss before the update,
 * correct (may be NULL) how many arg-max predictions matched. On failure
 * the message is in xcnn_model_error(model). Allocates nothing. */
xcnn_status xcnn_train_step(xcnn_trainer *t, const float *x, const int *labels, int batch,
                            float lr, double *loss, int *correct);

/* Inference-mode pass over a whole dataset in batches of up to `batch`
 * (at most the model's reserved batch): mean cross-entropy and the number
 * of correct arg-max predictions (either may be NULL). The dataset's
 * samples must have the model input's size (XCNN_ERR_SHAPE if not). */
xcnn_status xcnn_evaluate(xcnn_model *m, const xcnn_dataset *d, int batch, double *loss,
                          int *correct);

/* --- Saving ---------------------------------------------------------- */

/* Write m as an ONNX file (ir_version 8, opset 13) with our own encoder:
 * the nodes as loaded (BatchNormalization stays an inference-form node
 * carrying the running statistics), the current weights as initializers,
 * input and output with their batch-1 shapes, and metadata_props: the
 * model's own entries plus keys[i] = values[i] for i < n_meta (replacing
 * entries of the same key). */
xcnn_status xcnn_model_save_onnx(const xcnn_model *m, const char *path, const char *const *keys,
                                 const char *const *values, int n_meta, char *err,
                                 size_t err_size);

/* The same into memory: *data is malloc'ed, owned by the caller (free()). */
xcnn_status xcnn_model_save_onnx_memory(const xcnn_model *m, const char *const *keys,
                                        const char *const *values, int n_meta,
                                        unsigned char **data, size_t *size, char *err,
                                        size_t err_size);

/* Write an 8-bit grayscale PNG (height rows of width bytes). */
xcnn_status xcnn_png_write_gray(const char *path, const unsigned char *gray, int width,
                                int height, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif /* XCNN_TRAIN_H */
