/*
 * Lesson 07: training a tiny CNN, and watching the loss fall.
 *
 * Training is lessons 01-04 in a loop. For a mini-batch of B images with
 * labels:
 *   1. forward: the network's logits z (one score per class);
 *   2. the loss, cross-entropy: how surprised the network is by the truth,
 *        loss = 1/B sum_b [ log sum_k exp(z[b][k]) - z[b][label_b] ]
 *      (softmax turns scores into probabilities p = exp(z) / sum exp(z);
 *      the loss is -log p[label]: 0 when certain and right);
 *   3. backward from dloss/dz = (p - onehot(label)) / B, down to every
 *      weight (lesson 03's dL/dW);
 *   4. a step downhill: w -= lr * (gradient + momentum of past steps).
 * xcnn_train_step does all four.
 *
 * The data is made here, so the lesson needs no download: 12x12 images of
 * a bright bar, horizontal, vertical, or diagonal, or a cross, at a random
 * place, with noise; the class is the shape. (`xcnn train` trains the same
 * way on Fashion-MNIST.) The network is a small ResNet (lesson 04's block)
 * built by xcnn_resnet_build.
 *
 * We check that the loss falls, that the network then classifies images it
 * never saw, and the cross-entropy formula against libxcnn's evaluation.
 */
#include <stdlib.h>
#include "lesson.h"
#include "../../include/xcnn_train.h"

enum { S = 12, CLASSES = 4, TRAIN = 256, TEST = 64, BATCH = 16, STEPS = 64 };
static const char *shape_name[CLASSES] = {"horizontal", "vertical", "diagonal", "cross"};

/* One image of class `label`: a 7-pixel bar (or cross) at a random place,
 * on noise. Values about 0..1. */
static void make_image(int label, float *img, uint64_t *seed)
{
    for (int i = 0; i < S * S; i++) img[i] = 0.15f * (lesson_rand(seed) + 1.0f);
    int r = 1 + (int)((lesson_rand(seed) + 1.0f) * 1.5f); /* top-left: 1..4 */
    int c = 1 + (int)((lesson_rand(seed) + 1.0f) * 1.5f);
    for (int k = 0; k < 7; k++) {
        if (label == 0) img[(r + 3) * S + c + k] = 1.0f;
        if (label == 1) img[(r + k) * S + c + 3] = 1.0f;
        if (label == 2) img[(r + k) * S + c + k] = 1.0f;
        if (label == 3) img[(r + 3) * S + c + k] = img[(r + k) * S + c + 3] = 1.0f;
    }
}

static void make_dataset(xcnn_dataset *d, int n, uint64_t seed)
{
    d->n = n;
    d->channels = 1;
    d->height = d->width = S;
    d->classes = CLASSES;
    d->x = malloc((size_t)n * S * S * sizeof(float));
    d->y = malloc((size_t)n * sizeof(int));
    for (int i = 0; d->x && d->y && i < n; i++) {
        d->y[i] = i % CLASSES;
        make_image(d->y[i], d->x + (size_t)i * S * S, &seed);
    }
}

static void free_dataset(xcnn_dataset *d)
{
    free(d->x);
    free(d->y);
}

/* Mean cross-entropy and accuracy by hand, from xcnn_forward's logits.
 * log sum exp(z) is computed as max + log sum exp(z - max), which cannot
 * overflow. */
static double loss_by_hand(xcnn_model *m, const xcnn_dataset *d, int *correct)
{
    float z[BATCH * CLASSES];
    double total = 0;
    *correct = 0;
    for (int i = 0; i < d->n; i += BATCH) {
        if (xcnn_forward(m, d->x + (size_t)i * S * S, BATCH, z) != XCNN_OK) return NAN;
        for (int b = 0; b < BATCH; b++) {
            const float *zb = z + b * CLASSES;
            int best = 0;
            for (int k = 1; k < CLASSES; k++) best = zb[k] > zb[best] ? k : best;
            double sum = 0;
            for (int k = 0; k < CLASSES; k++) sum += exp((double)zb[k] - zb[best]);
            total += zb[best] + log(sum) - zb[d->y[i + b]];
            *correct += best == d->y[i + b];
        }
    }
    return total / d->n;
}

int main(void)
{
    lesson L = {"07", 0, 0};
    char err[256] = "out of memory";
    printf("lesson 07: training a tiny CNN\n");
    xcnn_dataset train, test;
    make_dataset(&train, TRAIN, 71);
    make_dataset(&test, TEST, 72); /* other images, never trained on */

    /* The network: 1x12x12 -> stem conv 8 -> block(8) -> block(16, stride
     * 2) -> average pool -> 4 logits. */
    xcnn_resnet_options ro;
    xcnn_resnet_options_init(&ro);
    ro.height = ro.width = S;
    ro.classes = CLASSES;
    ro.n_stages = 2;
    ro.widths[0] = 8;
    ro.widths[1] = 16;
    ro.seed = 7;
    xcnn_model *m = NULL;
    xcnn_trainer *t = NULL;
    xcnn_optim_options oo;
    xcnn_optim_options_init(&oo, XCNN_OPT_SGD); /* lr 0.05, momentum 0.9 */
    if (!train.x || !train.y || !test.x || !test.y ||
        xcnn_resnet_build(&ro, &m, err, sizeof err) != XCNN_OK ||
        xcnn_trainer_new(m, &oo, BATCH, &t, err, sizeof err) != XCNN_OK) {
        printf("lesson 07: FAIL (%s)\n", err);
        xcnn_model_free(m);
        free_dataset(&train);
        free_dataset(&test);
        return 1;
    }
    xcnn_model_set_threads(m, 1); /* tiny: one thread is fastest, same bits */
    printf("  %d trainable weights in %d tensors; classes:", (int)xcnn_trainer_param_count(t),
           xcnn_trainer_param_tensors(t));
    for (int k = 0; k < CLASSES; k++) printf(" %d %s%s", k, shape_name[k], k < 3 ? "," : "\n");

    /* Before training: libxcnn's evaluation against the formula by hand. */
    double lib_before, hand_before;
    int lib_ok, hand_ok, acc_before;
    xcnn_evaluate(m, &test, BATCH, &lib_before, &lib_ok);
    hand_before = loss_by_hand(m, &test, &hand_ok);
    acc_before = hand_ok;
    printf("  before: test loss %.4f (by hand %.4f; guessing gives log 4 = %.4f), %d/%d right\n",
           lib_before, hand_before, log(4.0), lib_ok, TEST);
    double err_eval = fabs(lib_before - hand_before) / hand_before;

    /* The loop: shuffle the order each epoch, a step per mini-batch. */
    int perm[TRAIN], yb[BATCH];
    static float xb[BATCH * S * S];
    uint64_t rng = 1;
    double first = 0, last = 0, window = 0;
    for (int step = 0; step < STEPS; step++) {
        int at = step * BATCH % TRAIN;
        if (at == 0) {
            for (int i = 0; i < TRAIN; i++) perm[i] = i;
            xcnn_shuffle(perm, TRAIN, &rng);
        }
        xcnn_dataset_gather(&train, perm + at, BATCH, xb, yb);
        double loss;
        int right;
        if (xcnn_train_step(t, xb, yb, BATCH, oo.lr, &loss, &right) != XCNN_OK) {
            printf("  train step: %s\n", xcnn_model_error(m));
            last = NAN;
            break;
        }
        window += loss;
        if (step % 8 == 7) { /* the mean of the last 8 steps */
            printf("  steps %2d-%2d: mean training loss %.4f  ", step - 7, step, window / 8);
            for (int k = 0; k < (int)(28 * window / 8); k++) printf("#");
            printf("\n");
            if (step == 7) first = window / 8;
            last = window / 8;
            window = 0;
        }
    }

    double lib_after, hand_after;
    int hand_ok_after;
    xcnn_evaluate(m, &test, BATCH, &lib_after, &lib_ok);
    hand_after = loss_by_hand(m, &test, &hand_ok_after);
    printf("  after:  test loss %.4f (by hand %.4f), %d/%d right\n", lib_after, hand_after,
           lib_ok, TEST);
    err_eval = fmax(err_eval, fabs(lib_after - hand_after) / hand_after);

    lesson_check(&L, "xcnn_evaluate's loss = cross-entropy by hand", err_eval, 1e-5);
    lesson_require(&L, "xcnn_evaluate's accuracy = arg-max by hand", lib_ok == hand_ok_after);
    lesson_require(&L, "training loss fell to under half (last 8 steps vs first 8)",
                   last < 0.5 * first);
    lesson_require(&L, "test loss fell to under half", lib_after < 0.5 * lib_before);
    lesson_require(&L, "test accuracy rose to at least 90%",
                   hand_ok_after >= TEST * 9 / 10 && hand_ok_after > acc_before);
    xcnn_trainer_free(t);
    xcnn_model_free(m);
    free_dataset(&train);
    free_dataset(&test);
    return lesson_end(&L);
}
