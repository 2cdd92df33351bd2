/*
 * xcnn visualize: activation maximisation (METHODS.md, "Feature
 * visualisation"; libxcnn/evaluate/visualize.c). The image in [0, 1] is
 * taken as pixel / 255; the model sees it through the preprocessing of its
 * "xcnn.preprocess" metadata (or --preprocess), as `xcnn explain` sees a
 * PNG: v * scale with v = 255 image, then (v - mean) / std, so the library
 * gets mean / (255 scale) and std / (255 scale).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn_eval.h"
#include "../../include/xcnn_image.h"
#include "cli.h"

static const char *const usage_text =
    "usage: xcnn visualize MODEL --layer L [--channel c] [--steps 512] [--lr 0.05] [--seed K]\n"
    "       --out IMG.png [--npy IMG.npy] [--threads T] [--preprocess SPEC]\n"
    "  maximises the mean of channel c of layer L (without --channel: the mean of L^2)\n"
    "  over an image parameterised as lucid does; prints objective=<value> last";

typedef struct args {
    const char *model, *layer, *out, *npy;
    long channel, steps, threads;
    double lr;
    unsigned long long seed;
    cli_input_opts io;
} args;

static int parse(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    a->channel = -1;
    a->steps = 512;
    a->lr = 0.05;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        int rc_flag;
        if (cli_input_flag(argc, argv, &i, &a->io, &rc_flag)) {
            if (rc_flag) return rc_flag;
        } else if (!strcmp(f, "--layer")) {
            if (!(a->layer = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--out")) {
            if (!(a->out = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--npy")) {
            if (!(a->npy = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--channel") || !strcmp(f, "--steps") ||
                   !strcmp(f, "--threads")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            long *dst = !strcmp(f, "--channel") ? &a->channel
                        : !strcmp(f, "--steps") ? &a->steps
                                                : &a->threads;
            long lo = dst == &a->channel ? 0 : 1;
            long hi = dst == &a->threads ? 1024 : dst == &a->steps ? 1000000 : 1L << 30;
            if (cli_parse_int(v, lo, hi, dst))
                return cli_usage_error("%s needs a whole number from %ld to %ld, got '%s'", f, lo,
                                       hi, v);
        } else if (!strcmp(f, "--lr")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            if (cli_parse_float(v, &a->lr) || !isfinite(a->lr) || a->lr <= 0 ||
                !isfinite((float)a->lr))
                return cli_usage_error("--lr needs a positive finite number, got '%s'", v);
        } else if (!strcmp(f, "--seed")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            char *end;
            a->seed = strtoull(v, &end, 10);
            if (!*v || *end || v[0] == '-' || v[0] == '+')
                return cli_usage_error("--seed needs a whole number >= 0, got '%s'", v);
        } else if (f[0] == '-' && f[1]) {
            return cli_usage_error("visualize: unknown option '%s'", f);
        } else if (!a->model) {
            a->model = f;
        } else {
            return cli_usage_error("visualize: unexpected argument '%s'", f);
        }
    }
    if (!a->model || !a->layer || !a->out) {
        fprintf(stderr, "%s\n", usage_text);
        return cli_usage_error("visualize needs MODEL, --layer and --out");
    }
    if (a->npy && !strcmp(a->npy, a->out))
        return cli_usage_error("--out and --npy name the same file '%s'", a->out);
    return 0;
}

/* mean and std for the library from the model's preprocessing. */
static int preprocess(const xcnn_model *m, const args *a, int C, float mean[3], float std[3],
                      int *bgr)
{
    char err[300];
    xcnn_preprocess p;
    xcnn_preprocess_init(&p);
    const char *meta = xcnn_model_metadata(m, "xcnn.preprocess");
    if (meta && xcnn_preprocess_parse(meta, &p, err, sizeof err) != XCNN_OK)
        return cli_error("the model's xcnn.preprocess metadata: %s", err);
    if (a->io.preprocess && xcnn_preprocess_parse(a->io.preprocess, &p, err, sizeof err))
        return cli_error("--preprocess: %s", err);
    double unit = 255.0 * p.scale; /* the model's value for image 1.0 before mean/std */
    for (int c = 0; c < C; c++) {
        int k = C == 3 ? c : 0;
        mean[c] = (float)(p.mean[k] / unit);
        std[c] = (float)(p.std[k] / unit);
        if (!isfinite(mean[c]) || !isfinite(std[c]) || std[c] == 0)
            return cli_error("the preprocessing (scale %g, mean %g, std %g) gives no usable "
                             "mean and std", (double)p.scale, (double)p.mean[k],
                             (double)p.std[k]);
    }
    *bgr = p.bgr && C == 3;
    return 0;
}

typedef struct progress {
    int every;
} progress;

static void on_step(int step, int steps, double objective, void *user)
{
    const progress *p = user;
    if (p->every && (step % p->every == 0 || step == steps))
        fprintf(stderr, "visualize: step %d/%d objective=%.6g\n", step, steps, objective);
}

static int write_outputs(const args *a, const float *img, const float *input, int C, int H,
                         int W, int bgr)
{
    char err[600];
    size_t HW = (size_t)H * W;
    xcnn_image png = {W, H, C, malloc((size_t)C * HW)};
    if (!png.pixels) return cli_error("out of memory");
    for (int c = 0; c < C; c++) {
        int src = bgr ? C - 1 - c : c; /* the PNG is RGB */
        for (size_t i = 0; i < HW; i++) {
            double v = img[(size_t)src * HW + i];
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            png.pixels[i * C + c] = (unsigned char)lrint(v * 255.0);
        }
    }
    cli_stage out, npy = {NULL, NULL, NULL};
    int rc = cli_stage_begin(&out, a->out);
    if (!rc && a->npy && (rc = cli_stage_begin(&npy, a->npy))) cli_stage_abort(&out);
    if (rc) {
        free(png.pixels);
        return rc;
    }
    if (xcnn_image_write_png(cli_stage_path(&out), &png, err, sizeof err))
        rc = cli_stage_error(&out, err);
    int64_t dims[4] = {1, C, H, W};
    if (!rc && a->npy && xcnn_npy_write(cli_stage_path(&npy), input, 4, dims, err, sizeof err))
        rc = cli_stage_error(&npy, err);
    if (!rc) rc = cli_stage_commit(&out, NULL);
    if (!rc && a->npy) rc = cli_stage_commit(&npy, a->out);
    cli_stage_abort(&out);
    cli_stage_abort(&npy);
    free(png.pixels);
    if (rc) return rc;
    printf("wrote %s\n", a->out);
    if (a->npy) printf("wrote %s\n", a->npy);
    return 0;
}

int cli_visualize(int argc, char **argv)
{
    args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc;
    xcnn_model *m = cli_load_model(a.model, &a.io);
    if (!m) return CLI_EXIT_ERROR;
    float *img = NULL, *input = NULL;
    xcnn_tensor_view in;
    xcnn_model_input(m, &in);
    if (in.ndim != 4 || (in.dims[1] != 1 && in.dims[1] != 3) || in.dims[2] < 1 ||
        in.dims[3] < 1 || in.dims[2] > XCNN_IMAGE_MAX_SIDE || in.dims[3] > XCNN_IMAGE_MAX_SIDE) {
        rc = cli_error("%s: the model's input is not a 1- or 3-channel image", a.model);
        goto done;
    }
    int C = (int)in.dims[1], H = (int)in.dims[2], W = (int)in.dims[3], bgr = 0;
    float mean[3], std[3];
    if ((rc = preprocess(m, &a, C, mean, std, &bgr))) goto done;
    if (a.threads && xcnn_model_set_threads(m, (int)a.threads) != XCNN_OK) {
        rc = cli_error("--threads %ld: %s", a.threads, xcnn_model_error(m));
        goto done;
    }
    size_t n = (size_t)C * H * W;
    img = malloc(n * sizeof *img);
    input = malloc(n * sizeof *input);
    if (!img || !input) {
        rc = cli_error("out of memory");
        goto done;
    }
    xcnn_visualize_options o;
    xcnn_visualize_options_init(&o);
    o.layer = a.layer;
    o.channel = (int)a.channel;
    o.steps = (int)a.steps;
    o.lr = (float)a.lr;
    o.seed = a.seed;
    progress p = {a.steps >= 50 ? (int)((a.steps + 9) / 10) : 0};
    o.progress = on_step;
    o.progress_user = &p;
    double objective = 0;
    if (xcnn_visualize(m, &o, mean, std, img, input, &objective) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(m));
        goto done;
    }
    if ((rc = write_outputs(&a, img, input, C, H, W, bgr))) goto done;
    printf("objective=%.9g\n", objective);
done:
    free(img);
    free(input);
    xcnn_model_free(m);
    return rc;
}
