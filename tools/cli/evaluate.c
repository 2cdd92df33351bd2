/*
 * xcnn evaluate MODEL INPUT --metric M ...: one metric of METHODS.md
 * ("Metrics") for one input.
 *
 *   --metric deletion|insertion --attribution A.npy [--step P] [--score logit]
 *       [--out CURVE.npy]: prints the target and `auc=<v>`, writes the
 *       curve (float32, (n+1,));
 *   --metric sanity --methods a[,b] [--seed K]: per method one line per
 *       randomization step, output layer first:
 *       `method=<m> layer=<name> spearman=<v> ssim=<v>`, then whether the
 *       method is flagged;
 *   --metric input-invariance --methods a[,b] [--shift v[,v..]]
 *       [--shift-baselines] [--pad-with-shift]:
 *       `method=<m> max_rel_diff=<v> pass|fail`;
 *   --metric infidelity (--attribution A.npy | --methods a[,b])
 *       [--noise-stdev s] [--samples n] [--seed K]: `infidelity=<v>`, or
 *       `method=<m> infidelity=<v>`;
 *   --metric sensitivity --methods a[,b] [--radius r] [--samples n]
 *       [--seed K]: `method=<m> sensitivity=<v>`;
 * and for all: [--target T] [--batch B] [--threads T] [--labels FILE]
 * [--preprocess SPEC]. The methods run with xcnn explain's defaults, and
 * for the methods that need more: occlusion a window of a seventh of the
 * input's side (stride half of it), deeplift-shap and gradient-shap two
 * baselines: zeros, and each channel's mean over the input. All the work is the library's (include/xcnn_eval.h);
 * this file turns flags into options and options into messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "../../include/xcnn_eval.h"

enum metric {
    M_CURVE,
    M_SANITY,
    M_INVARIANCE,
    M_INFIDELITY,
    M_SENSITIVITY
};

#define MAX_METHODS XCNN_METHOD_COUNT
#define MAX_SHIFT 64

typedef struct evaluate_args {
    const char *model, *input, *attribution, *metric_name, *out, *target_name, *methods_arg;
    cli_input_opts io;
    int have_target, logit, shift_baselines, pad_with_shift, have_samples;
    long target, step, batch, threads, samples;
    unsigned long long seed;
    double noise_stdev, radius;
    enum metric metric;
    xcnn_curve_kind kind;
    int n_methods;
    xcnn_method methods[MAX_METHODS];
    int n_shift;
    float shift[MAX_SHIFT];
} evaluate_args;

static const char *evaluate_usage =
    "usage: xcnn evaluate MODEL INPUT --metric deletion|insertion --attribution A.npy\n"
    "           [--step P] [--score probability|logit] [--out CURVE.npy]\n"
    "       xcnn evaluate MODEL INPUT --metric sanity --methods a[,b..] [--seed K]\n"
    "       xcnn evaluate MODEL INPUT --metric input-invariance --methods a[,b..]\n"
    "           [--shift v[,v..]] [--shift-baselines] [--pad-with-shift]\n"
    "       xcnn evaluate MODEL INPUT --metric infidelity (--attribution A.npy | --methods a[,b..])\n"
    "           [--noise-stdev S] [--samples N] [--seed K]\n"
    "       xcnn evaluate MODEL INPUT --metric sensitivity --methods a[,b..] [--radius R]\n"
    "           [--samples N] [--seed K]\n"
    "       every form: [--target T] [--batch B] [--threads T] [--labels FILE] [--preprocess SPEC]";

/* --methods a,b,c */
static int parse_methods(const char *v, evaluate_args *a)
{
    const char *p = v;
    while (1) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        xcnn_method found;
        if (cli_method_lookup(p, len, &found))
            return cli_usage_error("--methods: unknown method '%.*s' (xcnn explain --help lists "
                                   "them: saliency, input-x-gradient, gradcam, ...)", (int)len, p);
        for (int k = 0; k < a->n_methods; k++)
            if (a->methods[k] == found)
                return cli_usage_error("--methods: '%s' is given twice", cli_method_name(found));
        if (a->n_methods == MAX_METHODS)
            return cli_usage_error("--methods: at most %d methods", MAX_METHODS);
        a->methods[a->n_methods++] = found;
        if (!end) return 0;
        p = end + 1;
    }
}

/* --shift v[,v..] */
static int parse_shift(const char *v, evaluate_args *a)
{
    char buf[1024];
    if (strlen(v) >= sizeof buf) return cli_usage_error("--shift: too long");
    strcpy(buf, v);
    a->n_shift = 0;
    for (char *s = buf, *tok; (tok = strtok(s, ",")); s = NULL) {
        double d;
        if (a->n_shift == MAX_SHIFT)
            return cli_usage_error("--shift: at most %d values (one per input channel)", MAX_SHIFT);
        if (cli_parse_float(tok, &d) || d > 1e30 || d < -1e30)
            return cli_usage_error("--shift needs numbers, one per input channel, got '%s'", tok);
        a->shift[a->n_shift++] = (float)d;
    }
    if (!a->n_shift) return cli_usage_error("--shift needs numbers, one per input channel");
    return 0;
}

static int parse_args(int argc, char **argv, evaluate_args *a)
{
    memset(a, 0, sizeof *a);
    a->noise_stdev = -1;
    a->radius = -1;
    int out_dir = 0, extra_inputs = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        int rc_flag;
        if (cli_input_flag(argc, argv, &i, &a->io, &rc_flag)) {
            if (rc_flag) return rc_flag;
        } else if (!strcmp(f, "--metric")) {
            if (!(a->metric_name = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--attribution")) {
            if (!(a->attribution = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--out")) {
            if (!(a->out = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--methods")) {
            if (!(a->methods_arg = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            if (a->n_methods) return cli_usage_error("--methods is given twice");
            int rc = parse_methods(a->methods_arg, a);
            if (rc) return rc;
        } else if (!strcmp(f, "--shift")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            int rc = parse_shift(v, a);
            if (rc) return rc;
        } else if (!strcmp(f, "--shift-baselines")) {
            a->shift_baselines = 1;
        } else if (!strcmp(f, "--pad-with-shift")) {
            a->pad_with_shift = 1;
        } else if (!strcmp(f, "--target")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            /* A number is a class index; anything else a class name. */
            if (v[0] == '-' && v[1] >= '0' && v[1] <= '9')
                return cli_usage_error("--target needs a class index >= 0 or a class name, "
                                       "got '%s'", v);
            if (cli_parse_int(v, 0, 1L << 30, &a->target)) a->target_name = v;
            a->have_target = 1;
        } else if (!strcmp(f, "--step")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            if (cli_parse_int(v, 1, 1L << 30, &a->step))
                return cli_usage_error("--step needs a whole number of pixels >= 1, got '%s'", v);
        } else if (!strcmp(f, "--samples")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            if (cli_parse_int(v, 1, 100000, &a->samples))
                return cli_usage_error("--samples needs a whole number from 1 to 100000, got "
                                       "'%s'", v);
            a->have_samples = 1;
        } else if (!strcmp(f, "--seed")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            char *end;
            if (v[0] < '0' || v[0] > '9' || (a->seed = strtoull(v, &end, 10), *end))
                return cli_usage_error("--seed needs a whole number >= 0, got '%s'", v);
        } else if (!strcmp(f, "--noise-stdev") || !strcmp(f, "--radius")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            double d;
            if (cli_parse_float(v, &d) || !(d > 0) || d > 1e30)
                return cli_usage_error("%s needs a number > 0, got '%s'", f, v);
            if (!strcmp(f, "--radius")) a->radius = d;
            else a->noise_stdev = d;
        } else if (!strcmp(f, "--batch") || !strcmp(f, "--threads")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            long *dst = !strcmp(f, "--batch") ? &a->batch : &a->threads;
            long hi = dst == &a->threads ? 1024 : 100000; /* xcnn_model_set_threads' range */
            if (cli_parse_int(v, 1, hi, dst))
                return cli_usage_error("%s needs a whole number from 1 to %ld, got '%s'", f, hi,
                                       v);
        } else if (!strcmp(f, "--score")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            if (!strcmp(v, "logit")) a->logit = 1;
            else if (!strcmp(v, "probability")) a->logit = 0;
            else return cli_usage_error("unknown --score '%s' (probability, logit)", v);
        } else if (!strcmp(f, "--out-dir")) {
            if (!cli_flag_value(argc, argv, &i)) return CLI_EXIT_USAGE;
            out_dir = 1;
        } else if (f[0] == '-' && f[1]) {
            return cli_usage_error("evaluate: unknown option '%s'", f);
        } else if (!a->model) {
            a->model = f;
        } else if (!a->input) {
            a->input = f;
        } else {
            extra_inputs++;
        }
    }
    if (out_dir)
        return cli_usage_error("--out-dir (the report: every metric for every method) is not "
                               "available in this build");
    if (extra_inputs)
        return cli_usage_error("evaluate: one INPUT per run with --metric (more than one is "
                               "the report's form, with --out-dir)");
    if (!a->model || !a->input || !a->metric_name) {
        fprintf(stderr, "%s\n", evaluate_usage);
        return cli_usage_error("evaluate needs MODEL, INPUT and --metric");
    }
    const char *m = a->metric_name;
    if (!strcmp(m, "deletion") || !strcmp(m, "insertion")) {
        a->metric = M_CURVE;
        a->kind = !strcmp(m, "deletion") ? XCNN_CURVE_DELETION : XCNN_CURVE_INSERTION;
    } else if (!strcmp(m, "sanity")) a->metric = M_SANITY;
    else if (!strcmp(m, "input-invariance")) a->metric = M_INVARIANCE;
    else if (!strcmp(m, "infidelity")) a->metric = M_INFIDELITY;
    else if (!strcmp(m, "sensitivity")) a->metric = M_SENSITIVITY;
    else
        return cli_usage_error("unknown metric '%s' (deletion, insertion, sanity, "
                               "input-invariance, infidelity, sensitivity)", m);
    /* Which flags each metric reads: any other is a mistake worth saying. */
    int curve = a->metric == M_CURVE, infd = a->metric == M_INFIDELITY;
    if (curve && !a->attribution)
        return cli_usage_error("--metric %s needs --attribution A.npy", m);
    if (curve && a->n_methods)
        return cli_usage_error("--metric %s reads an --attribution, not --methods", m);
    if (infd && !a->attribution == !a->n_methods)
        return cli_usage_error("--metric infidelity needs --attribution A.npy or --methods "
                               "a[,b..] (one of them)");
    if (!curve && !infd && !a->n_methods)
        return cli_usage_error("--metric %s needs --methods a[,b..]", m);
    if (!curve && !infd && a->attribution)
        return cli_usage_error("--metric %s explains with --methods; --attribution is for "
                               "deletion, insertion and infidelity", m);
    if (!curve && (a->out || a->step || a->logit))
        return cli_usage_error("--out, --step and --score are for deletion and insertion");
    if (a->metric != M_INVARIANCE && (a->n_shift || a->shift_baselines || a->pad_with_shift))
        return cli_usage_error("--shift, --shift-baselines and --pad-with-shift are for "
                               "input-invariance");
    if (!infd && a->noise_stdev > 0)
        return cli_usage_error("--noise-stdev is for infidelity");
    if (a->metric != M_SENSITIVITY && a->radius > 0)
        return cli_usage_error("--radius is for sensitivity");
    if (!infd && a->metric != M_SENSITIVITY && a->have_samples)
        return cli_usage_error("--samples is for infidelity and sensitivity");
    return 0;
}

/* --attribution FILE.npy: (1, c, h, w), (c, h, w) or (h, w); c 1 or the
 * input's C, h x w at most the input's (the library checks those). */
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

/* The state every form shares. */
typedef struct eval_ctx {
    evaluate_args *a;
    xcnn_model *m;
    cli_labels labels;
    float *x, *y, *baselines; /* 2 inputs: zeros, the channel means */
    size_t in_n, k_out;
    int C, H, W, target;
} eval_ctx;

/* The explain options of method `method` for this run (see the top). */
static void method_options(const eval_ctx *c, xcnn_method method, xcnn_explain_options *o)
{
    xcnn_explain_options_init(o, method);
    o->target = c->target;
    if (method == XCNN_OCCLUSION) {
        int wh = c->H / 7 > 1 ? c->H / 7 : 1, ww = c->W / 7 > 1 ? c->W / 7 : 1;
        o->window[0] = 0;
        o->window[1] = wh;
        o->window[2] = ww;
        o->stride[0] = wh / 2 > 1 ? wh / 2 : 1;
        o->stride[1] = ww / 2 > 1 ? ww / 2 : 1;
    }
    if (method == XCNN_DEEPLIFT_SHAP || method == XCNN_GRADIENT_SHAP) {
        o->baselines = c->baselines;
        o->n_baselines = 2;
    }
}

static int run_curve(eval_ctx *c)
{
    evaluate_args *a = c->a;
    int ac = 0, ah = 0, aw = 0, points = 0, rc = 0;
    float *attr = load_attribution(a->attribution, &ac, &ah, &aw), *curve = NULL;
    if (!attr) return CLI_EXIT_ERROR;
    xcnn_curve_options o;
    xcnn_curve_options_init(&o, a->kind);
    o.step = (int)a->step;
    o.score = a->logit ? XCNN_SCORE_LOGIT : XCNN_SCORE_PROBABILITY;
    o.target = c->target;
    long hw = (long)c->H * c->W;
    if (a->step && hw && a->step > hw) {
        rc = cli_usage_error("--step %ld is more than the input's %ld pixels (H*W)", a->step, hw);
        goto done;
    }
    if (xcnn_curve_points(c->m, &o, &points) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(c->m));
        goto done;
    }
    if (!(curve = malloc((size_t)points * sizeof(float)))) {
        rc = cli_error("out of memory");
        goto done;
    }
    double auc = 0;
    if (xcnn_curve(c->m, c->x, attr, ac, ah, aw, &o, curve, (size_t)points, &auc) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(c->m));
        goto done;
    }
    const char *tname = cli_label(&c->labels, o.target);
    printf("target %d%s%s%s (%s %.6g)\n", o.target, tname ? " (" : "", tname ? tname : "",
           tname ? ")" : "", a->logit ? "logit" : "probability",
           curve[a->kind == XCNN_CURVE_DELETION ? 0 : points - 1]);
    printf("%s: %d points, step %ld pixels\n", a->metric_name, points,
           o.step ? (long)o.step : (hw + 223) / 224);
    printf("auc=%.6g\n", auc);
    if (a->out) {
        char err[600];
        int64_t dims[1] = {points};
        cli_stage out;
        if ((rc = cli_stage_begin(&out, a->out))) goto done;
        if (xcnn_npy_write(cli_stage_path(&out), curve, 1, dims, err, sizeof err))
            rc = cli_stage_error(&out, err);
        if (!rc) rc = cli_stage_commit(&out, NULL);
        cli_stage_abort(&out);
        if (!rc) printf("wrote %s\n", a->out);
    }
done:
    free(attr);
    free(curve);
    return rc;
}

static int run_sanity(eval_ctx *c)
{
    int L = 0;
    if (xcnn_sanity_layers(c->m, &L) != XCNN_OK) return cli_error("%s", xcnn_model_error(c->m));
    if (L == 0)
        return cli_error("sanity: the model has no layer to randomize (Conv, Gemm or MatMul with "
                         "a constant weight, BatchNormalization)");
    xcnn_sanity_step *steps = calloc((size_t)L, sizeof *steps);
    if (!steps) return cli_error("out of memory");
    xcnn_sanity_options so;
    xcnn_sanity_options_init(&so);
    so.seed = c->a->seed;
    int rc = 0;
    for (int k = 0; k < c->a->n_methods && !rc; k++) {
        xcnn_explain_options eo;
        method_options(c, c->a->methods[k], &eo);
        int n = 0, flagged = 0;
        const char *name = cli_method_name(c->a->methods[k]);
        if (xcnn_sanity(c->m, c->x, &eo, &so, steps, L, &n, &flagged) != XCNN_OK) {
            rc = cli_error("%s: %s", name, xcnn_model_error(c->m));
            break;
        }
        for (int s = 0; s < n; s++)
            printf("method=%s layer=%s spearman=%.4f ssim=%.4f\n", name, steps[s].layer,
                   steps[s].spearman, steps[s].ssim);
        double sp = 0, ss = 0;
        for (int s = 0; s < n; s++) sp += steps[s].spearman, ss += steps[s].ssim;
        printf("%s: %s (mean over the steps: spearman %.4f, ssim %.4f; flagged at >= 0.5)\n",
               name, flagged ? "FLAGGED, the map survives randomization" : "not flagged",
               sp / n, ss / n);
        fflush(stdout);
    }
    free(steps);
    return rc;
}

static int run_invariance(eval_ctx *c)
{
    if (c->a->n_shift && c->a->n_shift != c->C)
        return cli_usage_error("--shift has %d values; the input has %d channels", c->a->n_shift,
                               c->C);
    xcnn_invariance_options io;
    xcnn_invariance_options_init(&io);
    io.shift = c->a->n_shift ? c->a->shift : NULL;
    io.shift_baselines = c->a->shift_baselines;
    io.pad_with_shift = c->a->pad_with_shift;
    for (int k = 0; k < c->a->n_methods; k++) {
        xcnn_explain_options eo;
        method_options(c, c->a->methods[k], &eo);
        double rel = 0;
        int pass = 0;
        const char *name = cli_method_name(c->a->methods[k]);
        if (xcnn_input_invariance(c->m, c->x, &eo, &io, &rel, &pass) != XCNN_OK)
            return cli_error("%s: %s", name, xcnn_model_error(c->m));
        printf("method=%s max_rel_diff=%.3g %s\n", name, rel, pass ? "pass" : "fail");
        fflush(stdout);
    }
    return 0;
}

static int run_infidelity(eval_ctx *c)
{
    evaluate_args *a = c->a;
    xcnn_infidelity_options o;
    xcnn_infidelity_options_init(&o);
    o.target = c->target;
    o.seed = a->seed;
    if (a->have_samples) o.samples = (int)a->samples;
    if (a->noise_stdev > 0) o.stdev = (float)a->noise_stdev;
    if (a->attribution) {
        int ac = 0, ah = 0, aw = 0;
        float *attr = load_attribution(a->attribution, &ac, &ah, &aw);
        if (!attr) return CLI_EXIT_ERROR;
        double v = 0;
        xcnn_status st = xcnn_infidelity(c->m, c->x, attr, ac, ah, aw, &o, &v);
        free(attr);
        if (st) return cli_error("%s", xcnn_model_error(c->m));
        printf("infidelity=%.6g\n", v);
        return 0;
    }
    for (int k = 0; k < a->n_methods; k++) {
        xcnn_explain_options eo;
        method_options(c, a->methods[k], &eo);
        const char *name = cli_method_name(a->methods[k]);
        int ndim = 0;
        int64_t dims[4];
        if (xcnn_explain_shape(c->m, &eo, &ndim, dims) != XCNN_OK)
            return cli_error("%s: %s", name, xcnn_model_error(c->m));
        size_t n = 1;
        for (int d = 0; d < ndim; d++) n *= (size_t)dims[d];
        float *attr = malloc(n * sizeof(float));
        if (!attr) return cli_error("out of memory");
        double v = 0;
        xcnn_status st = xcnn_explain(c->m, c->x, &eo, attr, n, NULL);
        if (!st) {
            int ac = ndim >= 3 ? (int)dims[ndim - 3] : 1;
            st = xcnn_infidelity(c->m, c->x, attr, ac, (int)dims[ndim - 2], (int)dims[ndim - 1],
                                 &o, &v);
        }
        free(attr);
        if (st) return cli_error("%s: %s", name, xcnn_model_error(c->m));
        printf("method=%s infidelity=%.6g\n", name, v);
        fflush(stdout);
    }
    return 0;
}

static int run_sensitivity(eval_ctx *c)
{
    evaluate_args *a = c->a;
    xcnn_sensitivity_options o;
    xcnn_sensitivity_options_init(&o);
    o.seed = a->seed;
    if (a->have_samples) o.samples = (int)a->samples;
    if (a->radius > 0) o.radius = (float)a->radius;
    for (int k = 0; k < a->n_methods; k++) {
        xcnn_explain_options eo;
        method_options(c, a->methods[k], &eo);
        const char *name = cli_method_name(a->methods[k]);
        double v = 0;
        if (xcnn_sensitivity(c->m, c->x, &eo, &o, NULL, 0, &v) != XCNN_OK)
            return cli_error("%s: %s", name, xcnn_model_error(c->m));
        printf("method=%s sensitivity=%.6g\n", name, v);
        fflush(stdout);
    }
    return 0;
}

int cli_evaluate(int argc, char **argv)
{
    evaluate_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;

    eval_ctx c;
    memset(&c, 0, sizeof c);
    c.a = &a;
    c.m = cli_load_model(a.model, &a.io);
    if (!c.m) return CLI_EXIT_ERROR;
    int is_image = 0;
    rc = cli_labels_load(c.m, &a.io, &c.labels);
    if (rc) goto done;
    c.x = cli_load_any_input(c.m, a.input, &a.io, &is_image);
    if (!c.x) {
        rc = CLI_EXIT_ERROR;
        goto done;
    }
    if (a.target_name && (rc = cli_label_index(&c.labels, a.target_name, &a.target))) goto done;
    xcnn_tensor_view in, outv;
    xcnn_model_input(c.m, &in);
    xcnn_model_output(c.m, &outv);
    c.in_n = in.numel;
    c.C = in.ndim == 4 ? (int)in.dims[1] : 0;
    c.H = in.ndim == 4 ? (int)in.dims[2] : 0;
    c.W = in.ndim == 4 ? (int)in.dims[3] : 0;
    c.k_out = 1;
    for (int i = 1; i < outv.ndim; i++) c.k_out *= (size_t)outv.dims[i];
    if (a.threads && xcnn_model_set_threads(c.m, (int)a.threads) != XCNN_OK) {
        rc = cli_error("--threads: %s", xcnn_model_error(c.m));
        goto done;
    }
    /* The metrics run their points in batches: 8 at a time by default. */
    if (xcnn_model_reserve(c.m, (int)(a.batch ? a.batch : 8)) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(c.m));
        goto done;
    }
    if (!(c.y = malloc(c.k_out * sizeof(float))) ||
        !(c.baselines = calloc(2 * c.in_n, sizeof(float)))) {
        rc = cli_error("out of memory");
        goto done;
    }
    if (c.C > 0) {
        size_t hw = c.in_n / (size_t)c.C;
        for (int ch = 0; ch < c.C; ch++) {
            double s = 0;
            for (size_t q = 0; q < hw; q++) s += c.x[ch * hw + q];
            for (size_t q = 0; q < hw; q++) c.baselines[c.in_n + ch * hw + q] = (float)(s / hw);
        }
    }
    /* The target, resolved here so that every method explains the same. */
    if (xcnn_forward(c.m, c.x, 1, c.y) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(c.m));
        goto done;
    }
    c.target = a.have_target ? (int)a.target : -1;
    if (c.target >= (int)c.k_out) {
        rc = cli_error("--target %d is out of range: the model has %zu outputs (0..%zu)",
                       c.target, c.k_out, c.k_out - 1);
        goto done;
    }
    if (c.target < 0) {
        c.target = 0;
        for (size_t i = 1; i < c.k_out; i++)
            if (c.y[i] > c.y[c.target]) c.target = (int)i;
    }
    if (a.metric != M_CURVE) {
        const char *tname = cli_label(&c.labels, c.target);
        printf("target %d%s%s%s\n", c.target, tname ? " (" : "", tname ? tname : "",
               tname ? ")" : "");
    }
    switch (a.metric) {
    case M_CURVE: rc = run_curve(&c); break;
    case M_SANITY: rc = run_sanity(&c); break;
    case M_INVARIANCE: rc = run_invariance(&c); break;
    case M_INFIDELITY: rc = run_infidelity(&c); break;
    case M_SENSITIVITY: rc = run_sensitivity(&c); break;
    }
done:
    cli_labels_free(&c.labels);
    free(c.y);
    free(c.baselines);
    free(c.x);
    xcnn_model_free(c.m);
    return rc;
}
