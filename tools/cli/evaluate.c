/*
 * xcnn evaluate MODEL INPUT --attribution A.npy --metric deletion|insertion
 *     [--target T] [--step P] [--score logit] [--out CURVE.npy]
 *     [--batch B] [--threads T] [--labels FILE] [--preprocess SPEC]
 * The deletion or insertion curve of one attribution for one input
 * (METHODS.md, "Metrics"): prints the target and `auc=<value>`, writes the
 * curve as a float32 .npy of shape (n+1,). All the work is xcnn_curve();
 * this file turns flags into options and options into messages. The other
 * metrics of METHODS.md are refused here until they are written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "../../include/xcnn_eval.h"

typedef struct evaluate_args {
    const char *model, *input, *attribution, *metric, *out, *target_name;
    cli_input_opts io;
    int have_target, logit;
    long target, step, batch, threads;
    xcnn_curve_kind kind;
} evaluate_args;

static const char *evaluate_usage =
    "usage: xcnn evaluate MODEL INPUT --attribution A.npy --metric deletion|insertion\n"
    "       [--target T] [--step P] [--score probability|logit] [--out CURVE.npy]\n"
    "       [--batch B] [--threads T] [--labels FILE] [--preprocess SPEC]";

/* METHODS.md's metrics that this build does not run yet. */
static const char *const later[] = {"sanity", "input-invariance", "infidelity", "sensitivity"};

static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_usage_error("%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

static int parse_args(int argc, char **argv, evaluate_args *a)
{
    memset(a, 0, sizeof *a);
    int all_metrics = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        int rc_flag;
        if (cli_input_flag(argc, argv, &i, &a->io, &rc_flag)) {
            if (rc_flag) return rc_flag;
        } else if (!strcmp(f, "--metric")) {
            if (!(a->metric = value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--attribution")) {
            if (!(a->attribution = value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--out")) {
            if (!(a->out = value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--target")) {
            if (!(v = value(argc, argv, &i))) return CLI_EXIT_USAGE;
            /* A number is a class index; anything else a class name. */
            if (v[0] == '-' && v[1] >= '0' && v[1] <= '9')
                return cli_usage_error("--target needs a class index >= 0 or a class name, "
                                       "got '%s'", v);
            if (cli_parse_int(v, 0, 1L << 30, &a->target)) a->target_name = v;
            a->have_target = 1;
        } else if (!strcmp(f, "--step")) {
            if (!(v = value(argc, argv, &i))) return CLI_EXIT_USAGE;
            if (cli_parse_int(v, 1, 1L << 30, &a->step))
                return cli_usage_error("--step needs a whole number of pixels >= 1, got '%s'", v);
        } else if (!strcmp(f, "--batch") || !strcmp(f, "--threads")) {
            if (!(v = value(argc, argv, &i))) return CLI_EXIT_USAGE;
            long *dst = !strcmp(f, "--batch") ? &a->batch : &a->threads;
            long hi = dst == &a->threads ? 1024 : 100000; /* xcnn_model_set_threads' range */
            if (cli_parse_int(v, 1, hi, dst))
                return cli_usage_error("%s needs a whole number from 1 to %ld, got '%s'", f, hi,
                                       v);
        } else if (!strcmp(f, "--score")) {
            if (!(v = value(argc, argv, &i))) return CLI_EXIT_USAGE;
            if (!strcmp(v, "logit")) a->logit = 1;
            else if (!strcmp(v, "probability")) a->logit = 0;
            else return cli_usage_error("unknown --score '%s' (probability, logit)", v);
        } else if (!strcmp(f, "--methods") || !strcmp(f, "--out-dir")) {
            if (!value(argc, argv, &i)) return CLI_EXIT_USAGE;
            all_metrics = 1;
        } else if (f[0] == '-' && f[1]) {
            return cli_usage_error("evaluate: unknown option '%s'", f);
        } else if (!a->model) {
            a->model = f;
        } else if (!a->input) {
            a->input = f;
        } else if (all_metrics) {
            continue; /* IMAGES... of the all-metrics form, refused below */
        } else {
            return cli_usage_error("evaluate: unexpected argument '%s'", f);
        }
    }
    if (a->metric) {
        for (size_t k = 0; k < sizeof later / sizeof later[0]; k++)
            if (!strcmp(a->metric, later[k]))
                return cli_usage_error("metric '%s' is not available yet", a->metric);
        if (!strcmp(a->metric, "deletion")) a->kind = XCNN_CURVE_DELETION;
        else if (!strcmp(a->metric, "insertion")) a->kind = XCNN_CURVE_INSERTION;
        else
            return cli_usage_error("unknown metric '%s' (deletion, insertion, sanity, "
                                   "input-invariance, infidelity, sensitivity)", a->metric);
    }
    if (all_metrics)
        return cli_usage_error("--methods and --out-dir (every metric for every method) are "
                               "not available yet");
    if (!a->model || !a->input || !a->metric || !a->attribution) {
        fprintf(stderr, "%s\n", evaluate_usage);
        return cli_usage_error("evaluate needs MODEL, INPUT, --attribution and --metric");
    }
    return 0;
}

/* --attribution FILE.npy: (1, c, h, w), (c, h, w) or (h, w); c 1 or the
 * input's C, h x w at most the input's (xcnn_curve checks those). */
static float *load_attribution(const char *path, int *c, int *h, int *w)
{
    char err[600];
    float *data = NULL;
    int ndim = 0;
    int64_t dims[XCNN_MAX_DIMS];
    if (xcnn_npy_read(path, &data, &ndim, dims, err, sizeof err) != XCNN_OK) {
        cli_error("%s", err);
        return NULL;
    }
    int ok = ndim >= 2 && ndim <= 4 && (ndim < 4 || dims[0] == 1);
    for (int i = 0; ok && i < ndim; i++) ok = dims[i] >= 1 && dims[i] <= (1L << 30);
    if (!ok) {
        char got[128];
        cli_dims_str(dims, ndim, got, sizeof got);
        cli_error("--attribution %s has shape %s; it must be 1 x C x H x W, C x H x W or "
                  "H x W", path, ndim ? got : "scalar");
        free(data);
        return NULL;
    }
    *c = ndim >= 3 ? (int)dims[ndim - 3] : 1;
    *h = (int)dims[ndim - 2];
    *w = (int)dims[ndim - 1];
    return data;
}

int cli_evaluate(int argc, char **argv)
{
    evaluate_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;

    xcnn_model *m = cli_load_model(a.model, &a.io);
    if (!m) return CLI_EXIT_ERROR;
    cli_labels labels;
    int is_image = 0, ac = 0, ah = 0, aw = 0, points = 0;
    float *x = NULL, *attr = NULL, *curve = NULL, *y = NULL;
    rc = cli_labels_load(m, &a.io, &labels);
    if (rc) goto done;
    x = cli_load_any_input(m, a.input, &a.io, &is_image);
    if (!x || !(attr = load_attribution(a.attribution, &ac, &ah, &aw))) {
        rc = CLI_EXIT_ERROR;
        goto done;
    }
    if (a.target_name && (rc = cli_label_index(&labels, a.target_name, &a.target))) goto done;
    xcnn_curve_options o;
    xcnn_curve_options_init(&o, a.kind);
    o.step = (int)a.step;
    o.score = a.logit ? XCNN_SCORE_LOGIT : XCNN_SCORE_PROBABILITY;
    xcnn_tensor_view in;
    xcnn_model_input(m, &in);
    long hw = in.ndim == 4 ? (long)(in.dims[2] * in.dims[3]) : 0;
    if (a.step) {
        if (hw && a.step > hw) {
            rc = cli_usage_error("--step %ld is more than the input's %ld pixels (H*W)", a.step,
                                 hw);
            goto done;
        }
    }
    if (a.threads && xcnn_model_set_threads(m, (int)a.threads) != XCNN_OK) {
        rc = cli_error("--threads: %s", xcnn_model_error(m));
        goto done;
    }
    if (xcnn_curve_points(m, &o, &points) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(m));
        goto done;
    }
    /* The curve's points run in batches: 8 at a time by default. */
    long batch = a.batch ? a.batch : 8;
    if (batch > points) batch = points;
    if (xcnn_model_reserve(m, (int)batch) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(m));
        goto done;
    }
    /* The target, resolved here to be named on the target line. */
    xcnn_tensor_view outv;
    xcnn_model_output(m, &outv);
    size_t k = 1;
    for (int i = 1; i < outv.ndim; i++) k *= (size_t)outv.dims[i];
    if (!(y = malloc(k * sizeof(float))) || !(curve = malloc((size_t)points * sizeof(float)))) {
        rc = cli_error("out of memory");
        goto done;
    }
    if (xcnn_forward(m, x, 1, y) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(m));
        goto done;
    }
    o.target = a.have_target ? (int)a.target : -1;
    if (o.target < 0) {
        o.target = 0;
        for (size_t i = 1; i < k; i++)
            if (y[i] > y[o.target]) o.target = (int)i;
    }
    double auc = 0;
    if (xcnn_curve(m, x, attr, ac, ah, aw, &o, curve, (size_t)points, &auc) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(m));
        goto done;
    }
    const char *tname = cli_label(&labels, o.target);
    printf("target %d%s%s%s (%s %.6g)\n", o.target, tname ? " (" : "", tname ? tname : "",
           tname ? ")" : "", a.logit ? "logit" : "probability",
           curve[a.kind == XCNN_CURVE_DELETION ? 0 : points - 1]);
    printf("%s: %d points, step %ld pixels\n", a.metric, points,
           o.step ? (long)o.step : (hw + 223) / 224);
    printf("auc=%.6g\n", auc);
    if (a.out) {
        char err[600];
        int64_t dims[1] = {points};
        cli_stage out;
        if ((rc = cli_stage_begin(&out, a.out))) goto done;
        if (xcnn_npy_write(cli_stage_path(&out), curve, 1, dims, err, sizeof err))
            rc = cli_stage_error(&out, err);
        if (!rc) rc = cli_stage_commit(&out, NULL);
        cli_stage_abort(&out);
        if (!rc) printf("wrote %s\n", a.out);
    }
done:
    cli_labels_free(&labels);
    free(y);
    free(curve);
    free(attr);
    free(x);
    xcnn_model_free(m);
    return rc;
}
