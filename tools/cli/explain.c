/*
 * xcnn explain MODEL INPUT --method M --out ATTR.npy [options]
 * One attribution for one input, written as float32 .npy, optionally as a
 * heatmap PNG. All the work is xcnn_explain(); this file turns flags into
 * options and options into messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"

/* Whether two output paths name one file, however spelt ("a.npy" and
 * "./a.npy", a link, a hard link): both exist and are one inode, or
 * neither exists and they have one last component in one directory. */
static int same_output(const char *a, const char *b)
{
    struct stat sa, sb;
    int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    if (ea || eb) return ea && eb && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    const char *na = strrchr(a, '/'), *nb = strrchr(b, '/');
    if (strcmp(na ? na + 1 : a, nb ? nb + 1 : b)) return 0;
    char da[4096], db[4096];
    snprintf(da, sizeof da, "%.*s", na ? (int)(na - a) + 1 : 1, na ? a : ".");
    snprintf(db, sizeof db, "%.*s", nb ? (int)(nb - b) + 1 : 1, nb ? b : ".");
    return stat(da, &sa) == 0 && stat(db, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static const struct {
    const char *name;
    xcnn_method method;
} methods[] = {
    {"saliency", XCNN_SALIENCY},
    {"input-x-gradient", XCNN_INPUT_X_GRADIENT},
    {"deconvnet", XCNN_DECONVNET},
    {"guided-backprop", XCNN_GUIDED_BACKPROP},
    {"integrated-gradients", XCNN_INTEGRATED_GRADIENTS},
    {"smoothgrad", XCNN_SMOOTHGRAD},
    {"gradcam", XCNN_GRADCAM},
    {"guided-gradcam", XCNN_GUIDED_GRADCAM},
};

static const struct {
    const char *name;
    xcnn_ig_rule rule;
} ig_rules[] = {
    {"gausslegendre", XCNN_IG_GAUSS_LEGENDRE},
    {"riemann_left", XCNN_IG_RIEMANN_LEFT},
    {"riemann_right", XCNN_IG_RIEMANN_RIGHT},
    {"riemann_middle", XCNN_IG_RIEMANN_MIDDLE},
    {"riemann_trapezoid", XCNN_IG_RIEMANN_TRAPEZOID},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

typedef struct explain_args {
    const char *model, *input, *out, *png, *baseline, *layer, *target_name;
    cli_input_opts io;
    int have_method, have_target;
    long target, steps, samples, seed, batch, threads;
    double stdev;
    int have_stdev, no_abs, no_relu, upsample;
    xcnn_method method;
    xcnn_ig_rule rule;
} explain_args;

static const char *explain_usage =
    "usage: xcnn explain MODEL INPUT --method METHOD --out ATTR.npy [--png HEAT.png]\n"
    "       [--target T] [--layer NAME] [--steps N] [--ig-method M] [--baseline zero|FILE.npy]\n"
    "       [--samples N] [--stdev S] [--seed K] [--no-abs] [--no-relu] [--upsample]\n"
    "       [--batch B] [--threads T] [--labels FILE] [--preprocess SPEC]\n"
    "METHOD: saliency input-x-gradient deconvnet guided-backprop integrated-gradients\n"
    "        smoothgrad gradcam guided-gradcam";

/* The value after flag argv[*i], or NULL (usage error printed). */
static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_usage_error("%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

static int parse_args(int argc, char **argv, explain_args *a)
{
    memset(a, 0, sizeof *a);
    a->steps = 50;
    a->samples = 25;
    a->batch = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        int rc_flag;
        if (cli_input_flag(argc, argv, &i, &a->io, &rc_flag)) {
            if (rc_flag) return rc_flag;
        } else if (!strcmp(f, "--method")) {
            if (!(v = value(argc, argv, &i))) return CLI_EXIT_USAGE;
            size_t k;
            for (k = 0; k < N_OF(methods) && strcmp(methods[k].name, v); k++) {}
            if (k == N_OF(methods)) return cli_usage_error("unknown method '%s'", v);
            a->method = methods[k].method;
            a->have_method = 1;
        } else if (!strcmp(f, "--ig-method")) {
            if (!(v = value(argc, argv, &i))) return CLI_EXIT_USAGE;
            size_t k;
            for (k = 0; k < N_OF(ig_rules) && strcmp(ig_rules[k].name, v); k++) {}
            if (k == N_OF(ig_rules))
                return cli_usage_error("unknown --ig-method '%s' (gausslegendre, riemann_left, "
                                       "riemann_right, riemann_middle, riemann_trapezoid)", v);
            a->rule = ig_rules[k].rule;
        } else if (!strcmp(f, "--target")) {
            if (!(v = value(argc, argv, &i))) return CLI_EXIT_USAGE;
            /* A number is a class index; anything else a class name. */
            if (v[0] == '-' && v[1] >= '0' && v[1] <= '9')
                return cli_usage_error("--target needs a class index >= 0 or a class name, got '%s'", v);
            if (cli_parse_int(v, 0, 1L << 30, &a->target)) a->target_name = v;
            a->have_target = 1;
        } else if (!strcmp(f, "--steps") || !strcmp(f, "--samples") || !strcmp(f, "--batch") ||
                   !strcmp(f, "--threads")) {
            if (!(v = value(argc, argv, &i))) return CLI_EXIT_USAGE;
            long *dst = !strcmp(f, "--steps")     ? &a->steps
                        : !strcmp(f, "--samples") ? &a->samples
                        : !strcmp(f, "--batch")   ? &a->batch
                                                  : &a->threads;
            long hi = dst == &a->threads ? 1024 : 100000; /* xcnn_model_set_threads' range */
            if (cli_parse_int(v, 1, hi, dst))
                return cli_usage_error("%s needs a whole number from 1 to %ld, got '%s'", f, hi, v);
        } else if (!strcmp(f, "--seed")) {
            if (!(v = value(argc, argv, &i))) return CLI_EXIT_USAGE;
            if (cli_parse_int(v, 0, 2147483647L, &a->seed))
                return cli_usage_error("--seed needs a whole number >= 0, got '%s'", v);
        } else if (!strcmp(f, "--stdev")) {
            if (!(v = value(argc, argv, &i))) return CLI_EXIT_USAGE;
            if (cli_parse_float(v, &a->stdev) || a->stdev < 0)
                return cli_usage_error("--stdev needs a number >= 0, got '%s'", v);
            a->have_stdev = 1;
        } else if (!strcmp(f, "--out")) {
            if (!(a->out = value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--png")) {
            if (!(a->png = value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--baseline")) {
            if (!(a->baseline = value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--layer")) {
            if (!(a->layer = value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--no-abs")) {
            a->no_abs = 1;
        } else if (!strcmp(f, "--no-relu")) {
            a->no_relu = 1;
        } else if (!strcmp(f, "--upsample")) {
            a->upsample = 1;
        } else if (f[0] == '-' && f[1]) {
            return cli_usage_error("explain: unknown option '%s'", f);
        } else if (!a->model) {
            a->model = f;
        } else if (!a->input) {
            a->input = f;
        } else {
            return cli_usage_error("explain: unexpected argument '%s'", f);
        }
    }
    if (!a->model || !a->input || !a->have_method || !a->out) {
        fprintf(stderr, "%s\n", explain_usage);
        return cli_usage_error("explain needs MODEL, INPUT, --method and --out");
    }
    if (a->png && (!strcmp(a->png, a->out) || same_output(a->png, a->out)))
        return cli_usage_error("--out and --png name the same file '%s'", a->out);
    return 0;
}

/* --out and --png, both or neither: each is written to a temporary file
 * beside its target, and only when both are complete are they renamed
 * into place, one right after the other. A failure before that leaves
 * both targets as they were. Only the second rename failing (after the
 * first target was replaced: the directory changed under us in between)
 * leaves --out new and --png old; the message then says so. */
static int write_outputs(const explain_args *a, xcnn_model *m, const float *attr,
                         const xcnn_explain_result *res, const float *image)
{
    xcnn_tensor_view in;
    xcnn_model_input(m, &in);
    if (a->png && (in.ndim != 4 || res->ndim != 4))
        return cli_error("--png needs an image-shaped (NxCxHxW) model input");
    char err[600];
    cli_stage out, png = {NULL, NULL, NULL};
    int rc = cli_stage_begin(&out, a->out);
    if (rc) return rc;
    if (a->png && (rc = cli_stage_begin(&png, a->png))) {
        cli_stage_abort(&out);
        return rc;
    }
    if (xcnn_npy_write(cli_stage_path(&out), attr, res->ndim, res->dims, err, sizeof err))
        rc = cli_stage_error(&out, err);
    /* The heatmap is drawn over the input when it is an image (in grey). */
    if (!rc && a->png &&
        xcnn_heatmap_png(cli_stage_path(&png), attr, (int)res->dims[1], (int)res->dims[2],
                         (int)res->dims[3], image, image ? (int)in.dims[1] : 0,
                         (int)in.dims[2], (int)in.dims[3], err, sizeof err))
        rc = cli_stage_error(&png, err);
    if (!rc) rc = cli_stage_commit(&out, NULL);
    if (!rc && a->png) rc = cli_stage_commit(&png, a->out);
    cli_stage_abort(&out);
    cli_stage_abort(&png);
    if (rc) return rc;
    printf("wrote %s\n", a->out);
    if (a->png) printf("wrote %s\n", a->png);
    return 0;
}

int cli_explain(int argc, char **argv)
{
    explain_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;

    xcnn_model *m = cli_load_model(a.model, &a.io);
    if (!m) return CLI_EXIT_ERROR;
    cli_labels labels;
    int is_image = 0;
    float *x = NULL, *baseline = NULL, *attr = NULL;
    rc = cli_labels_load(m, &a.io, &labels);
    if (!rc) x = cli_load_any_input(m, a.input, &a.io, &is_image);
    if (!x) {
        rc = CLI_EXIT_ERROR;
        goto done;
    }
    if (a.target_name && (rc = cli_label_index(&labels, a.target_name, &a.target))) goto done;
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, a.method);
    if (a.have_target) o.target = (int)a.target;
    o.no_abs = a.no_abs;
    o.steps = (int)a.steps;
    o.ig_rule = a.rule;
    o.samples = (int)a.samples;
    if (a.have_stdev) o.stdev = (float)a.stdev;
    o.seed = (uint64_t)a.seed;
    o.layer = a.layer;
    o.no_relu = a.no_relu;
    o.upsample = a.upsample;
    if (a.baseline && strcmp(a.baseline, "zero") != 0) {
        baseline = cli_load_input(m, a.baseline); /* input-shaped .npy */
        if (!baseline) {
            rc = CLI_EXIT_ERROR;
            goto done;
        }
        o.baseline = baseline;
    }
    if (a.threads && xcnn_model_set_threads(m, (int)a.threads) != XCNN_OK) {
        rc = cli_error("--threads: %s", xcnn_model_error(m));
        goto done;
    }

    /* Path points and noisy samples run in batches: 8 at a time by default,
     * never more than the method needs. */
    long points = a.method == XCNN_INTEGRATED_GRADIENTS ? a.steps
                  : a.method == XCNN_SMOOTHGRAD         ? a.samples
                                                        : 1;
    long batch = a.batch ? a.batch : 8;
    if (batch > points) batch = points;
    if (xcnn_model_reserve(m, (int)batch) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(m));
        goto done;
    }

    int ndim;
    int64_t dims[4];
    if (xcnn_explain_shape(m, &o, &ndim, dims) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(m));
        goto done;
    }
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    attr = malloc(n * sizeof(float));
    if (!attr) {
        rc = cli_error("out of memory");
        goto done;
    }
    xcnn_explain_result res;
    if (xcnn_explain(m, x, &o, attr, n, &res) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(m));
        goto done;
    }
    const char *tname = cli_label(&labels, res.target);
    printf("target %d%s%s%s (score %.6g)\n", res.target, tname ? " (" : "", tname ? tname : "",
           tname ? ")" : "", res.score);
    if (res.layer[0]) printf("layer %s\n", res.layer);
    if (a.method == XCNN_INTEGRATED_GRADIENTS)
        printf("convergence delta %.6g (sum of attributions minus f(x) - f(baseline))\n",
               res.delta);

    rc = write_outputs(&a, m, attr, &res, is_image ? x : NULL);
done:
    cli_labels_free(&labels);
    free(attr);
    free(baseline);
    free(x);
    xcnn_model_free(m);
    return rc;
}
