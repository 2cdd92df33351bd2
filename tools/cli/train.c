/*
 * xcnn train: train a small ResNet on Fashion-MNIST in C and save it as
 * ONNX. The loop is the whole story of supervised training:
 *
 *   for each epoch: shuffle; for each mini-batch: forward, loss, backward,
 *   update; then measure the test accuracy.
 *
 * Inputs: bytes scaled to [0, 1], then normalised with Fashion-MNIST's
 * training mean 0.2860 and std 0.3530. The learning rate follows a cosine
 * from --lr down to 0 over the whole run. Given --seed (initial weights and
 * shuffles), a run gives the same file for any thread count.
 * A progress line goes to stderr; the per-epoch results to stdout.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../../include/xcnn_image.h"
#include "../../include/xcnn_train.h"
#include "cli.h"

#define FASHION_MEAN 0.2860f
#define FASHION_STD 0.3530f
#define FASHION_PREPROCESS "gray;scale=0.00392156862745098;mean=0.2860;std=0.3530;size=28x28"

static const char *const fashion_labels[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                               "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                               "Bag",         "Ankle boot"};

typedef struct train_args {
    const char *data_dir, *out, *samples_dir, *labels_out;
    long epochs, batch, seed, threads, limit;
    double lr, weight_decay, momentum;
    int adam, quiet, lr_given, wd_given;
    xcnn_resnet_options net;
} train_args;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void usage_text(void)
{
    fprintf(stderr,
            "usage: xcnn train [options]\n"
            "  --data DIR          Fashion-MNIST idx files (default "
            "/usr/share/datasets/fashion-mnist)\n"
            "  --epochs N          default 4\n"
            "  --batch N           mini-batch size, default 64\n"
            "  --optimizer sgd|adam  default sgd (momentum 0.9)\n"
            "  --lr X              peak learning rate (cosine decay to 0); default 0.05 "
            "(sgd), 0.002 (adam)\n"
            "  --momentum X        sgd momentum, default 0.9\n"
            "  --weight-decay X    L2 on conv/fc weights, default 5e-4 (sgd), 0 (adam)\n"
            "  --widths A,B[,C[,D]] channels of the stages, default 16,32,64\n"
            "  --seed N            weights and shuffling, default 1\n"
            "  --threads N         OpenMP threads (results do not depend on it)\n"
            "  --limit N           train on the first N images only\n"
            "  --out FILE.onnx     save the trained model\n"
            "  --samples DIR       write one test image per class as PNG\n"
            "  --labels FILE       write the class names, one per line\n"
            "  --quiet             no progress line\n");
}

static int parse_widths(const char *s, xcnn_resnet_options *o)
{
    int n = 0;
    const char *p = s;
    while (*p && n < 4) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 4096) return -1;
        o->widths[n++] = (int)v;
        if (*end == ',') end++;
        else if (*end) return -1;
        p = end;
    }
    if (*p || n == 0) return -1;
    o->n_stages = n;
    return 0;
}

static int parse_args(int argc, char **argv, train_args *a)
{
    memset(a, 0, sizeof *a);
    a->data_dir = "/usr/share/datasets/fashion-mnist";
    a->epochs = 4;
    a->batch = 64;
    a->seed = 1;
    a->momentum = 0.9;
    xcnn_resnet_options_init(&a->net);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(o, "--quiet")) { a->quiet = 1; continue; }
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) { usage_text(); return -2; }
        if (!v) return cli_usage_error("train: option '%s' needs a value", o), -1;
        i++;
        if (!strcmp(o, "--data")) a->data_dir = v;
        else if (!strcmp(o, "--out")) a->out = v;
        else if (!strcmp(o, "--samples")) a->samples_dir = v;
        else if (!strcmp(o, "--labels")) a->labels_out = v;
        else if (!strcmp(o, "--epochs")) bad = cli_parse_int(v, 1, 1000, &a->epochs);
        else if (!strcmp(o, "--batch")) bad = cli_parse_int(v, 2, 4096, &a->batch);
        else if (!strcmp(o, "--seed")) bad = cli_parse_int(v, 0, 2147483647L, &a->seed);
        else if (!strcmp(o, "--threads")) bad = cli_parse_int(v, 1, 1024, &a->threads);
        else if (!strcmp(o, "--limit")) bad = cli_parse_int(v, 2, 1L << 30, &a->limit);
        else if (!strcmp(o, "--lr")) { bad = cli_parse_float(v, &a->lr) || !(a->lr > 0); a->lr_given = 1; }
        else if (!strcmp(o, "--momentum")) bad = cli_parse_float(v, &a->momentum) || a->momentum < 0 || a->momentum >= 1;
        else if (!strcmp(o, "--weight-decay")) { bad = cli_parse_float(v, &a->weight_decay) || a->weight_decay < 0; a->wd_given = 1; }
        else if (!strcmp(o, "--widths")) bad = parse_widths(v, &a->net);
        else if (!strcmp(o, "--optimizer")) {
            if (!strcmp(v, "adam")) a->adam = 1;
            else if (!strcmp(v, "sgd")) a->adam = 0;
            else bad = 1;
        } else return cli_usage_error("train: unknown option '%s'", o), -1;
        if (bad) return cli_usage_error("train: bad value '%s' for %s", v, o), -1;
    }
    a->net.seed = (uint64_t)a->seed;
    return 0;
}

/* "<dir>/<name>.gz", or the uncompressed file if only that exists. */
static void data_path(char *buf, size_t size, const char *dir, const char *name)
{
    snprintf(buf, size, "%s/%s.gz", dir, name);
    FILE *f = fopen(buf, "rb");
    if (f) {
        fclose(f);
        return;
    }
    snprintf(buf, size, "%s/%s", dir, name);
}

static int load_split(const char *dir, const char *prefix, xcnn_dataset *d)
{
    char ip[1024], lp[1024], name[64], err[600];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    data_path(ip, sizeof ip, dir, name);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    data_path(lp, sizeof lp, dir, name);
    if (xcnn_dataset_load_idx(ip, lp, FASHION_MEAN, FASHION_STD, d, err, sizeof err))
        return cli_error("%s", err);
    return 0;
}

static void progress(const train_args *a, long epoch, int done, int total, double loss,
                     int correct, double t0)
{
    double dt = now_seconds() - t0;
    fprintf(stderr, "\repoch %ld/%ld  %6d/%d  loss %.4f  acc %6.2f%%  %5.0f img/s ", epoch,
            a->epochs, done, total, done ? loss / done : 0.0,
            done ? 100.0 * correct / done : 0.0, dt > 0 ? done / dt : 0.0);
    fflush(stderr);
}

/* One pass over the (shuffled) training set. */
static int run_epoch(const train_args *a, xcnn_trainer *t, xcnn_model *m,
                     const xcnn_dataset *tr, int n, int *perm, uint64_t *rng, float *x, int *y,
                     long epoch, long *step, long total_steps)
{
    xcnn_shuffle(perm, n, rng);
    double t0 = now_seconds(), last = 0, loss_sum = 0;
    int correct = 0, done = 0;
    for (int i = 0; i + 1 < n; i += (int)a->batch) {
        int nb = n - i < a->batch ? n - i : (int)a->batch;
        if (nb < 2) break; /* batch statistics need two samples */
        xcnn_dataset_gather(tr, perm + i, nb, x, y);
        float lr = (float)(0.5 * a->lr * (1 + cos(3.141592653589793 * (double)*step / total_steps)));
        double loss;
        int c;
        if (xcnn_train_step(t, x, y, nb, lr, &loss, &c)) {
            if (!a->quiet) fputc('\n', stderr);
            return cli_error("training step %ld: %s", *step, xcnn_model_error(m));
        }
        (*step)++;
        loss_sum += loss * nb;
        correct += c;
        done += nb;
        double now = now_seconds();
        if (!a->quiet && (now - last > 0.25 || done >= n - 1)) {
            progress(a, epoch, done, n, loss_sum, correct, t0);
            last = now;
        }
    }
    double dt = now_seconds() - t0;
    if (!a->quiet) fprintf(stderr, "\r%78s\r", "");
    printf("epoch %ld/%ld: train loss %.4f acc %.2f%% (%.1f s, %.0f img/s)", epoch, a->epochs,
           loss_sum / done, 100.0 * correct / done, dt, done / dt);
    fflush(stdout);
    return 0;
}

static char *joined_labels(void)
{
    size_t len = 0;
    for (int i = 0; i < 10; i++) len += strlen(fashion_labels[i]) + 1;
    char *s = malloc(len);
    if (!s) return NULL;
    s[0] = 0;
    for (int i = 0; i < 10; i++) {
        strcat(s, fashion_labels[i]);
        if (i < 9) strcat(s, "\n");
    }
    return s;
}

/* Save, then load the file back and check it gives the same logits as the
 * model in memory on the first test images. */
static int save_and_verify(const train_args *a, xcnn_model *m, const xcnn_dataset *test)
{
    char *labels = joined_labels();
    if (!labels) return cli_error("out of memory");
    const char *keys[2] = {"xcnn.labels", "xcnn.preprocess"};
    const char *values[2] = {labels, FASHION_PREPROCESS};
    char err[600];
    xcnn_status st = xcnn_model_save_onnx(m, a->out, keys, values, 2, err, sizeof err);
    free(labels);
    if (st) return cli_error("%s", err);
    xcnn_model *back = NULL;
    if (xcnn_model_load(a->out, NULL, &back, err, sizeof err))
        return cli_error("reloading %s: %s", a->out, err);
    int n = test->n < 64 ? test->n : 64, rc = 0;
    size_t per = (size_t)test->channels * test->height * test->width;
    float *y1 = malloc((size_t)n * 10 * sizeof(float)), *y2 = malloc((size_t)n * 10 * sizeof(float));
    if (!y1 || !y2 || xcnn_model_reserve(back, n) || xcnn_forward(back, test->x, n, y2)) {
        rc = cli_error("verifying '%s': %s", a->out, xcnn_model_error(back));
    } else {
        double worst = 0;
        for (int i = 0; i < n && !rc; i++) {
            if (xcnn_forward(m, test->x + (size_t)i * per, 1, y1 + (size_t)i * 10))
                rc = cli_error("%s", xcnn_model_error(m));
            for (int k = 0; k < 10; k++)
                worst = fmax(worst, fabs((double)y1[i * 10 + k] - y2[i * 10 + k]));
        }
        if (!rc) printf("saved %s; reloaded: max |logit difference| on %d test images %.3g\n",
                        a->out, n, worst);
        if (!rc && worst > 1e-4) rc = cli_error("the saved model does not match");
    }
    free(y1);
    free(y2);
    xcnn_model_free(back);
    return rc;
}

/* One test image per class (the first of each) as <index>_<class>.png. */
static int write_samples(const train_args *a)
{
    char ip[1024], err[600];
    data_path(ip, sizeof ip, a->data_dir, "t10k-images-idx3-ubyte");
    xcnn_dataset test;
    if (load_split(a->data_dir, "t10k", &test)) return CLI_EXIT_ERROR;
    xcnn_idx img;
    if (xcnn_idx_read(ip, &img, err, sizeof err)) {
        xcnn_dataset_free(&test);
        return cli_error("%s", err);
    }
    int rc = 0;
    size_t per = (size_t)test.height * test.width;
    for (int c = 0; c < 10 && !rc; c++) {
        int i = 0;
        while (i < test.n && test.y[i] != c) i++;
        if (i == test.n) continue;
        char name[64], path[1200];
        snprintf(name, sizeof name, "%s", fashion_labels[c]);
        for (char *p = name; *p; p++)
            if (*p == '/' || *p == ' ') *p = '_';
        snprintf(path, sizeof path, "%s/%d_%s.png", a->samples_dir, i, name);
        if (xcnn_png_write_gray(path, img.data + (size_t)i * per, test.width, test.height, err,
                                sizeof err))
            rc = cli_error("%s", err);
    }
    xcnn_idx_free(&img);
    xcnn_dataset_free(&test);
    return rc;
}

static int write_labels(const char *path)
{
    char text[256] = "";
    for (int i = 0; i < 10; i++) {
        strcat(text, fashion_labels[i]);
        strcat(text, "\n");
    }
    return cli_write_text(path, text); /* whole or not at all */
}

static int train(const train_args *a, xcnn_model *m, const xcnn_dataset *tr,
                 const xcnn_dataset *test)
{
    xcnn_optim_options oo;
    xcnn_optim_options_init(&oo, a->adam ? XCNN_OPT_ADAM : XCNN_OPT_SGD);
    oo.momentum = (float)a->momentum;
    if (a->wd_given) oo.weight_decay = (float)a->weight_decay;
    train_args args = *a;
    if (!a->lr_given) args.lr = a->adam ? 0.002 : 0.05;
    char err[600];
    xcnn_trainer *t = NULL;
    if (xcnn_trainer_new(m, &oo, (int)a->batch, &t, err, sizeof err))
        return cli_error("%s", err);
    int n = a->limit && a->limit < tr->n ? (int)a->limit : tr->n;
    size_t per = (size_t)tr->channels * tr->height * tr->width;
    int *perm = malloc((size_t)n * sizeof(int)), *y = malloc((size_t)a->batch * sizeof(int));
    float *x = malloc((size_t)a->batch * per * sizeof(float));
    int rc = (!perm || !x || !y) ? cli_error("out of memory") : 0;
    for (int i = 0; i < n && !rc; i++) perm[i] = i;
    printf("model: %d weight tensors, %zu trainable parameters; %s, lr %g, batch %ld, %d "
           "training images\n", xcnn_trainer_param_tensors(t), xcnn_trainer_param_count(t),
           a->adam ? "adam" : "sgd", args.lr, a->batch, n);
    uint64_t rng = (uint64_t)a->seed * 0x9E3779B97F4A7C15ull + 12345;
    long step = 0, total = a->epochs * ((n + a->batch - 1) / a->batch);
    double t0 = now_seconds();
    for (long e = 1; e <= a->epochs && !rc; e++) {
        rc = run_epoch(&args, t, m, tr, n, perm, &rng, x, y, e, &step, total);
        double loss;
        int correct;
        if (!rc && xcnn_evaluate(m, test, (int)a->batch, &loss, &correct))
            rc = cli_error("evaluate: %s", xcnn_model_error(m));
        if (!rc)
            printf(" | test loss %.4f acc %.2f%% | %.1f s total\n", loss,
                   100.0 * correct / test->n, now_seconds() - t0);
    }
    free(perm);
    free(x);
    free(y);
    xcnn_trainer_free(t);
    return rc;
}

int cli_train(int argc, char **argv)
{
    train_args a;
    int pr = parse_args(argc, argv, &a);
    if (pr == -2) return 0;
    if (pr) return CLI_EXIT_USAGE;
    xcnn_dataset tr = {0}, test = {0};
    if (load_split(a.data_dir, "train", &tr) || load_split(a.data_dir, "t10k", &test)) {
        xcnn_dataset_free(&tr);
        return CLI_EXIT_ERROR;
    }
    char err[600];
    xcnn_model *m = NULL;
    int rc = 0;
    a.net.channels = tr.channels;
    a.net.height = tr.height;
    a.net.width = tr.width;
    a.net.classes = tr.classes > test.classes ? tr.classes : test.classes;
    if (a.net.classes != 10) rc = cli_error("expected 10 classes, the data has %d", a.net.classes);
    if (!rc && xcnn_resnet_build(&a.net, &m, err, sizeof err)) rc = cli_error("%s", err);
    if (!rc && a.threads && xcnn_model_set_threads(m, (int)a.threads) != XCNN_OK)
        rc = cli_error("--threads: %s", xcnn_model_error(m));
    if (!rc) rc = train(&a, m, &tr, &test);
    if (!rc && a.out) rc = save_and_verify(&a, m, &test);
    if (!rc && a.samples_dir) rc = write_samples(&a);
    if (!rc && a.labels_out) rc = write_labels(a.labels_out);
    xcnn_model_free(m);
    xcnn_dataset_free(&tr);
    xcnn_dataset_free(&test);
    return rc;
}
