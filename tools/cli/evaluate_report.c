/*
 * xcnn evaluate MODEL INPUT... --methods a,b,c|all [--out-dir DIR]
 *     [--step P] [--score probability|logit] [--seed K] [--batch B]
 *     [--threads T] [--labels FILE] [--preprocess SPEC] [--input-shape CxHxW]
 * Every metric of METHODS.md ("Metrics") for every method on every input:
 * for each input the target is the model's arg-max; each method explains
 * it (xcnn_explain), and its attribution is scored by deletion and
 * insertion (xcnn_curve), then the method itself by the sanity check
 * (xcnn_sanity), input invariance (xcnn_input_invariance), infidelity
 * (xcnn_infidelity) and sensitivity (xcnn_sensitivity). A table of the
 * means goes to stdout; with --out-dir, DIR/metrics.csv (every number, one
 * row per input and method) and the plots (report_files.c).
 *
 * A metric the library refuses for this model or method with
 * XCNN_ERR_UNSUPPORTED (input invariance when the first Conv pads, say) is
 * "n/a" in the table, empty in the CSV, and said once on stderr; any other
 * error stops the run (exit 1) and nothing is written. The methods take
 * their defaults, except those that need more (documented in the usage
 * text below and the README): two baselines for the SHAP methods (zeros,
 * and the input's mean), occlusion's window, RISE's mask count.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "evaluate_report.h"

#define N_METHODS XCNN_METHOD_COUNT

/* Without --methods: one or two of each family, quick on any model. */
static const char *const default_methods = "saliency,input-x-gradient,integrated-gradients,"
                                           "gradcam,deeplift,lrp,occlusion";

#define RISE_MASKS 1000 /* RISE in the report: its default 4000 times 30 runs is slow */

static const char *const report_usage =
    "usage: xcnn evaluate MODEL INPUT... [--methods a,b,c|all] [--out-dir DIR]\n"
    "       [--step P] [--score probability|logit] [--seed K] [--shift-baselines]\n"
    "       [--pad-with-shift] [--batch B] [--threads T]\n"
    "       [--labels FILE] [--preprocess SPEC] [--input-shape CxHxW]\n"
    "  every metric (deletion, insertion, sanity, input-invariance, infidelity,\n"
    "  sensitivity) for every method on every input: a table on stdout; with --out-dir,\n"
    "  DIR/metrics.csv, deletion.png, insertion.png and sanity.png.\n"
    "  --methods defaults to saliency,input-x-gradient,integrated-gradients,gradcam,\n"
    "  deeplift,lrp,occlusion; 'all' is every method. Without a list of your own, the\n"
    "  methods the model refuses are left out (with a note). The methods run with their\n"
    "  defaults; deeplift-shap and gradient-shap get two baselines (zeros and the input's\n"
    "  mean), occlusion a window of ceil(min(H,W)/7) pixels with half that stride, rise\n"
    "  1000 masks of min(7, H, W) cells. A metric the library refuses for the model is\n"
    "  n/a (said once on stderr). Input invariance shifts the input by -1 and takes it\n"
    "  back in the first Conv's bias; --shift-baselines shifts the baselines too, and\n"
    "  --pad-with-shift pads a first Conv that pads with the shift (ours, not the paper's).";

typedef struct report_args {
    const char *model, *methods, *out_dir;
    char **inputs;
    int n_inputs;
    cli_input_opts io;
    long step, batch, threads;
    unsigned long long seed;
    int logit, shift_baselines, pad_with_shift;
} report_args;

int cli_evaluate_is_report(int argc, char **argv)
{
    int out_dir = 0, metric = 0, attribution = 0, methods_flag = 0, positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (f[0] == '-' && f[1]) {
            out_dir |= !strcmp(f, "--out-dir");
            metric |= !strcmp(f, "--metric");
            attribution |= !strcmp(f, "--attribution");
            methods_flag |= !strcmp(f, "--methods");
            /* the other flags take a value */
            if (strcmp(f, "--shift-baselines") && strcmp(f, "--pad-with-shift")) i++;
        } else {
            positional++;
        }
    }
    /* --out-dir; or, with neither --metric nor --attribution (the other
     * forms), --methods or more than one INPUT */
    return out_dir || (!metric && !attribution && (methods_flag || positional > 2));
}

static int parse_args(int argc, char **argv, report_args *a)
{
    memset(a, 0, sizeof *a);
    a->inputs = malloc((size_t)argc * sizeof *a->inputs);
    if (!a->inputs) return cli_error("out of memory");
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        int rc_flag;
        if (cli_input_flag(argc, argv, &i, &a->io, &rc_flag)) {
            if (rc_flag) return rc_flag;
        } else if (!strcmp(f, "--methods")) {
            if (!(a->methods = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--out-dir")) {
            if (!(a->out_dir = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            if (!*a->out_dir) return cli_usage_error("--out-dir needs a directory name");
        } else if (!strcmp(f, "--step")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            if (cli_parse_int(v, 1, 1L << 30, &a->step))
                return cli_usage_error("--step needs a whole number of pixels >= 1, got '%s'", v);
        } else if (!strcmp(f, "--batch") || !strcmp(f, "--threads")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            long *dst = !strcmp(f, "--batch") ? &a->batch : &a->threads;
            long hi = dst == &a->threads ? 1024 : 100000;
            if (cli_parse_int(v, 1, hi, dst))
                return cli_usage_error("%s needs a whole number from 1 to %ld, got '%s'", f, hi,
                                       v);
        } else if (!strcmp(f, "--seed")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            char *end;
            a->seed = strtoull(v, &end, 10);
            if (!*v || *end || v[0] == '-' || v[0] == '+')
                return cli_usage_error("--seed needs a whole number >= 0, got '%s'", v);
        } else if (!strcmp(f, "--score")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            if (!strcmp(v, "logit")) a->logit = 1;
            else if (!strcmp(v, "probability")) a->logit = 0;
            else return cli_usage_error("unknown --score '%s' (probability, logit)", v);
        } else if (!strcmp(f, "--shift-baselines")) {
            a->shift_baselines = 1;
        } else if (!strcmp(f, "--pad-with-shift")) {
            a->pad_with_shift = 1;
        } else if (!strcmp(f, "--metric") || !strcmp(f, "--attribution") ||
                   !strcmp(f, "--target") || !strcmp(f, "--out")) {
            return cli_usage_error("%s is for one input and one metric; the report (--methods "
                                   "with several inputs or --out-dir) runs every metric on each "
                                   "input's predicted class", f);
        } else if (f[0] == '-' && f[1]) {
            return cli_usage_error("evaluate: unknown option '%s'", f);
        } else if (!a->model) {
            a->model = f;
        } else {
            a->inputs[a->n_inputs++] = argv[i];
        }
    }
    if (!a->model || !a->n_inputs) {
        fprintf(stderr, "%s\n", report_usage);
        return cli_usage_error("the report needs MODEL and at least one INPUT");
    }
    return 0;
}

/* "a,b,c" or "all" into xcnn_method values; 0 or an exit code. */
static int parse_methods(const char *list, int *idx, int *n, int *all)
{
    *n = 0;
    *all = !strcmp(list, "all");
    if (*all) {
        for (int k = 0; k < N_METHODS; k++) idx[(*n)++] = k;
        return 0;
    }
    const char *s = list;
    for (;;) {
        size_t len = strcspn(s, ",");
        xcnn_method m;
        int found = cli_method_lookup(s, len, &m) ? -1 : (int)m;
        if (found < 0) {
            char names[400] = "";
            for (int k = 0; k < N_METHODS; k++) {
                strcat(names, k ? " " : "");
                strcat(names, cli_method_name((xcnn_method)k));
            }
            return cli_usage_error("--methods: unknown method '%.*s' (%s, or all)", (int)len, s,
                                   names);
        }
        for (int j = 0; j < *n; j++)
            if (idx[j] == found)
                return cli_usage_error("--methods names '%s' twice",
                                       cli_method_name((xcnn_method)found));
        idx[(*n)++] = found;
        if (!s[len]) break;
        s += len + 1;
    }
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The run's state besides the report itself. */
typedef struct run {
    xcnn_model *m;
    int C, H, W;
    size_t in_numel, attr_cap, work_cap;
    float *x_all;              /* n_inputs x in_numel */
    float *attr, *y, *curve, *baselines, *work;
    xcnn_sanity_step *steps;
    unsigned long long seed;
    int step;                  /* of the curves; 0: their default */
    int shift_baselines, pad_with_shift; /* input invariance's options */
    int named;                 /* r->layers filled in, from a sanity run */
    int progress;              /* stderr is a terminal */
    double t0;
    char last_note[6][300];    /* the last reason given per metric */
} run;

static void progress(run *u, const report *r, int i, int k, const char *what)
{
    if (!u->progress) return;
    const char *base = strrchr(r->inputs[i], '/') ? strrchr(r->inputs[i], '/') + 1 : r->inputs[i];
    fprintf(stderr, "\r\033[K[%d/%d] %.40s  %s: %s  %.0f s", i + 1, r->n_inputs, base,
            r->method_names[k], what, now_seconds() - u->t0);
    fflush(stderr);
}

/* The options every metric explains with: defaults, and what some methods
 * need beyond them (see the usage text). x: this input. */
static void method_options(run *u, xcnn_method method, int target, const float *x,
                           xcnn_explain_options *o)
{
    xcnn_explain_options_init(o, method);
    o->target = target;
    o->seed = u->seed;
    double mean = 0;
    for (size_t i = 0; i < u->in_numel; i++) mean += x[i];
    mean /= (double)u->in_numel;
    for (size_t i = 0; i < u->in_numel; i++) {
        u->baselines[i] = 0;
        u->baselines[u->in_numel + i] = (float)mean;
    }
    o->baselines = u->baselines;
    o->n_baselines = 2;
    int side = u->H < u->W ? u->H : u->W;
    int win = (side + 6) / 7;
    o->window[1] = o->window[2] = win;
    o->stride[0] = o->stride[1] = win / 2 > 0 ? win / 2 : 1;
    if (method == XCNN_RISE) o->samples = RISE_MASKS;
    if (o->cells > side) o->cells = side; /* RISE's 7 x 7 grid on a smaller input */
}

/* A metric's status: 0 fine; 1 n/a (said once per method and metric);
 * or an exit code (printed). */
static int metric_status(run *u, const report *r, int i, int k, int metric, const char *name,
                         xcnn_status st)
{
    if (st == XCNN_OK) return 0;
    if (u->progress) fprintf(stderr, "\r\033[K");
    /* The sanity check's SSIM needs 11 x 11 maps: a smaller model is n/a too. */
    if (st == XCNN_ERR_UNSUPPORTED || (st == XCNN_ERR_SHAPE && metric == 2)) {
        /* Said when it is new for this metric: a reason about the model
         * (the first Conv pads) is the same for every method, and said once. */
        const char *msg = xcnn_model_error(u->m);
        if (strcmp(u->last_note[metric], msg))
            fprintf(stderr, "xcnn: note: %s n/a for %s: %s\n", name, r->method_names[k], msg);
        snprintf(u->last_note[metric], sizeof u->last_note[metric], "%s", msg);
        return 1;
    }
    return -cli_error("%s, %s, %s: %s", r->inputs[i], r->method_names[k], name,
                      xcnn_model_error(u->m));
}

/* Every metric for method k on input i. 0, or an exit code. */
static int score_one(run *u, report *r, const xcnn_method *meth, int i, int k)
{
    const float *x = u->x_all + (size_t)i * u->in_numel;
    report_row *row = &r->rows[(size_t)i * r->n_methods + k];
    xcnn_explain_options eo;
    method_options(u, meth[k], row->target, x, &eo);
    xcnn_explain_result res;
    progress(u, r, i, k, "explain");
    if (xcnn_explain(u->m, x, &eo, u->attr, u->attr_cap, &res) != XCNN_OK) {
        if (u->progress) fprintf(stderr, "\r\033[K");
        return cli_error("%s, %s: %s", r->inputs[i], r->method_names[k], xcnn_model_error(u->m));
    }
    int ac = (int)res.dims[1], ah = (int)res.dims[2], aw = (int)res.dims[3];
    int rc;

    for (int kind = 0; kind < 2; kind++) {
        progress(u, r, i, k, kind ? "insertion" : "deletion");
        xcnn_curve_options co;
        xcnn_curve_options_init(&co, kind ? XCNN_CURVE_INSERTION : XCNN_CURVE_DELETION);
        co.target = row->target;
        co.score = r->logit ? XCNN_SCORE_LOGIT : XCNN_SCORE_PROBABILITY;
        co.step = u->step;
        double auc = NAN;
        rc = metric_status(u, r, i, k, kind, kind ? "insertion" : "deletion",
                           xcnn_curve(u->m, x, u->attr, ac, ah, aw, &co, u->curve,
                                      (size_t)r->points, &auc));
        if (rc < 0) return -rc;
        if (rc) continue;
        *(kind ? &row->insertion : &row->deletion) = auc;
        double *sum = (kind ? r->insertion_sum : r->deletion_sum) + (size_t)k * r->points;
        for (int p = 0; p < r->points; p++) sum[p] += u->curve[p];
        if (kind) r->curves[k]++;
    }

    if (r->n_layers) {
        progress(u, r, i, k, "sanity");
        xcnn_sanity_options so;
        xcnn_sanity_options_init(&so);
        so.seed = u->seed;
        int n_steps = 0, flagged = 0;
        rc = metric_status(u, r, i, k, 2, "sanity",
                           xcnn_sanity(u->m, x, &eo, &so, u->steps, r->n_layers, &n_steps,
                                       &flagged));
        if (rc < 0) return -rc;
        if (!rc && n_steps == r->n_layers) {
            row->sanity_flagged = flagged;
            if (!u->named)
                for (int s = 0; s < n_steps; s++) snprintf(r->layers[s], 256, "%s", u->steps[s].layer);
            u->named = 1;
            for (int s = 0; s < n_steps; s++) {
                row->spearman[s] = u->steps[s].spearman;
                row->ssim[s] = u->steps[s].ssim;
            }
        }
    }

    progress(u, r, i, k, "input invariance");
    xcnn_invariance_options io;
    xcnn_invariance_options_init(&io);
    io.shift_baselines = u->shift_baselines;
    io.pad_with_shift = u->pad_with_shift;
    double diff = NAN;
    int pass = 0;
    rc = metric_status(u, r, i, k, 3, "input-invariance",
                       xcnn_input_invariance(u->m, x, &eo, &io, &diff, &pass));
    if (rc < 0) return -rc;
    if (!rc) row->invariance = diff, row->invariance_pass = pass;

    progress(u, r, i, k, "infidelity");
    xcnn_infidelity_options fo;
    xcnn_infidelity_options_init(&fo);
    fo.target = row->target;
    fo.seed = u->seed;
    double v = NAN;
    rc = metric_status(u, r, i, k, 4, "infidelity",
                       xcnn_infidelity(u->m, x, u->attr, ac, ah, aw, &fo, &v));
    if (rc < 0) return -rc;
    if (!rc) row->infidelity = v;

    progress(u, r, i, k, "sensitivity");
    xcnn_sensitivity_options sno;
    xcnn_sensitivity_options_init(&sno);
    sno.seed = u->seed;
    size_t need = 0;
    xcnn_status st = xcnn_sensitivity_work_floats(u->m, &eo, &need);
    if (st == XCNN_OK && need > u->work_cap) {
        free(u->work);
        u->work = malloc(need * sizeof(float));
        u->work_cap = u->work ? need : 0;
        if (!u->work) return cli_error("out of memory");
    }
    v = NAN;
    if (st == XCNN_OK)
        st = xcnn_sensitivity(u->m, x, &eo, &sno, u->work, u->work_cap, &v);
    rc = metric_status(u, r, i, k, 5, "sensitivity", st);
    if (rc < 0) return -rc;
    if (!rc) row->sensitivity = v;
    return 0;
}

/* The methods the model allows, found by explaining the first input
 * once. Without a --methods list of the user's own (all, or the default
 * set) one the model refuses (XCNN_ERR_UNSUPPORTED, or no output shape)
 * is left out with a note; a method the user named is an error. */
static int check_methods(run *u, report *r, xcnn_method *meth, int named)
{
    int kept = 0, rc = 0;
    float *tmp = NULL;
    for (int k = 0; k < r->n_methods && !rc; k++) {
        xcnn_explain_options o;
        method_options(u, meth[k], -1, u->x_all, &o);
        int ndim;
        int64_t dims[4];
        size_t n = 1;
        xcnn_status st = xcnn_explain_shape(u->m, &o, &ndim, dims);
        if (st == XCNN_OK) {
            for (int d = 0; d < ndim; d++) n *= (size_t)dims[d];
            float *more = realloc(tmp, n * sizeof(float));
            if (!more) {
                rc = cli_error("out of memory");
                break;
            }
            tmp = more;
            st = xcnn_explain(u->m, u->x_all, &o, tmp, n, NULL);
        }
        if (st != XCNN_OK) {
            if (named || (st != XCNN_ERR_UNSUPPORTED && st != XCNN_ERR_ARG && st != XCNN_ERR_SHAPE))
                rc = cli_error("%s, %s: %s", r->inputs[0], r->method_names[k],
                               xcnn_model_error(u->m));
            else
                fprintf(stderr, "xcnn: note: %s left out: %s\n", r->method_names[k],
                        xcnn_model_error(u->m));
            continue;
        }
        if (n > u->attr_cap) u->attr_cap = n;
        meth[kept] = meth[k];
        r->method_names[kept++] = r->method_names[k];
    }
    free(tmp);
    if (!rc && !kept) rc = cli_error("the model allows none of the methods");
    if (!rc) r->n_methods = kept;
    return rc;
}

static double mean_of(const report *r, int k, size_t offset, int *count)
{
    double s = 0;
    *count = 0;
    for (int i = 0; i < r->n_inputs; i++) {
        const report_row *row = &r->rows[(size_t)i * r->n_methods + k];
        double v = *(const double *)((const char *)row + offset);
        if (!isnan(v)) s += v, (*count)++;
    }
    return *count ? s / *count : NAN;
}

static void cell_number(char *buf, size_t size, double v, int count, const char *fmt)
{
    if (!count) snprintf(buf, size, "n/a");
    else snprintf(buf, size, fmt, v);
}

/* "pass", "fail 1/3" (of those with a value), "n/a". */
static void cell_flag(char *buf, size_t size, int fails, int count)
{
    if (!count) snprintf(buf, size, "n/a");
    else if (!fails) snprintf(buf, size, "pass");
    else snprintf(buf, size, "fail %d/%d", fails, count);
}

void report_print_table(const report *r)
{
    printf("%-22s %10s %10s %10s %11s %11s %11s\n", "method", "deletion", "insertion", "sanity",
           "invariance", "infidelity", "sensitivity");
    for (int k = 0; k < r->n_methods; k++) {
        char c[6][32];
        int n;
        double v = mean_of(r, k, offsetof(report_row, deletion), &n);
        cell_number(c[0], 32, v, n, "%.4f");
        v = mean_of(r, k, offsetof(report_row, insertion), &n);
        cell_number(c[1], 32, v, n, "%.4f");
        int sf = 0, sn = 0, inf = 0, inn = 0;
        for (int i = 0; i < r->n_inputs; i++) {
            const report_row *row = &r->rows[(size_t)i * r->n_methods + k];
            if (row->sanity_flagged >= 0) sn++, sf += row->sanity_flagged;
            if (row->invariance_pass >= 0) inn++, inf += !row->invariance_pass;
        }
        cell_flag(c[2], 32, sf, sn);
        cell_flag(c[3], 32, inf, inn);
        v = mean_of(r, k, offsetof(report_row, infidelity), &n);
        cell_number(c[4], 32, v, n, "%.4g");
        v = mean_of(r, k, offsetof(report_row, sensitivity), &n);
        cell_number(c[5], 32, v, n, "%.4g");
        printf("%-22s %10s %10s %10s %11s %11s %11s\n", r->method_names[k], c[0], c[1], c[2],
               c[3], c[4], c[5]);
    }
    printf("means over %d input%s (%s scores). deletion: AUC, lower is better; insertion: AUC, "
           "higher is better;\nsanity: fail k/n when k maps stay alike as the layers are "
           "randomized (mean Spearman or mean SSIM over the steps >= 0.5);\ninvariance: pass when max|a1 - a2| / max|a1| <= 1e-4 "
           "for an input shifted by -1%s%s;\ninfidelity and sensitivity: lower is better.\n",
           r->n_inputs, r->n_inputs == 1 ? "" : "s", r->logit ? "logit" : "probability",
           r->shift_baselines ? ", baselines shifted too" : "",
           r->pad_with_shift ? ", padded with the shift" : "");
}

static void report_free(report *r)
{
    free(r->deletion_sum);
    free(r->insertion_sum);
    free(r->curves);
    free(r->layers);
    if (r->rows) free(r->rows[0].spearman);
    free(r->rows);
    free(r->method_names);
}

/* Sizes everything once the model and the methods are known. */
static int report_alloc(report *r, run *u)
{
    size_t mp = (size_t)r->n_methods * (size_t)r->points;
    size_t rows = (size_t)r->n_inputs * (size_t)r->n_methods;
    size_t L = (size_t)(r->n_layers ? r->n_layers : 1);
    r->deletion_sum = calloc(mp, sizeof(double));
    r->insertion_sum = calloc(mp, sizeof(double));
    r->curves = calloc((size_t)r->n_methods, sizeof(int));
    r->rows = calloc(rows, sizeof(report_row));
    double *block = r->rows ? malloc(rows * 2 * L * sizeof(double)) : NULL;
    u->steps = malloc(L * sizeof *u->steps);
    u->curve = malloc((size_t)r->points * sizeof(float));
    u->attr = malloc(u->attr_cap * sizeof(float));
    if (!r->deletion_sum || !r->insertion_sum || !r->curves || !r->rows || !block || !u->steps ||
        !u->curve || !u->attr) {
        free(block);
        if (r->rows) r->rows[0].spearman = NULL;
        return cli_error("out of memory (the report of %d inputs x %d methods)", r->n_inputs,
                         r->n_methods);
    }
    for (size_t j = 0; j < rows; j++) {
        report_row *row = &r->rows[j];
        row->deletion = row->insertion = row->invariance = NAN;
        row->infidelity = row->sensitivity = NAN;
        row->sanity_flagged = row->invariance_pass = -1;
        row->spearman = block + j * 2 * L;
        row->ssim = row->spearman + L;
        for (size_t s = 0; s < 2 * L; s++) row->spearman[s] = NAN;
    }
    return 0;
}

/* The sanity check's layers, from the output down, by name. */
static int sanity_layers(run *u, report *r)
{
    int n = 0;
    xcnn_status st = xcnn_sanity_layers(u->m, &n);
    if (st == XCNN_ERR_UNSUPPORTED || (st == XCNN_OK && n == 0)) {
        fprintf(stderr, "xcnn: note: sanity: n/a: %s\n",
                st == XCNN_OK ? "the model has no layer with weights" : xcnn_model_error(u->m));
        r->n_layers = 0;
        return 0;
    }
    if (st != XCNN_OK) return cli_error("sanity: %s", xcnn_model_error(u->m));
    r->n_layers = n;
    r->layers = calloc((size_t)n, sizeof *r->layers);
    if (!r->layers) return cli_error("out of memory");
    return 0;
}

int cli_evaluate_report(int argc, char **argv)
{
    report_args a;
    report r;
    run u;
    memset(&r, 0, sizeof r);
    memset(&u, 0, sizeof u);
    cli_labels labels = {NULL, NULL, 0};
    cli_stage st[REPORT_FILES];
    char *paths[REPORT_FILES] = {NULL};
    int made = 0, staged = 0, idx[N_METHODS], n_idx = 0, all = 0;
    xcnn_method meth[N_METHODS];
    int rc = parse_args(argc, argv, &a);
    if (!rc) rc = parse_methods(a.methods ? a.methods : default_methods, idx, &n_idx, &all);
    if (rc) {
        free(a.inputs);
        return rc;
    }
    r.model = a.model;
    r.inputs = a.inputs;
    r.n_inputs = a.n_inputs;
    r.logit = a.logit;
    r.n_methods = n_idx;
    r.method_names = malloc((size_t)n_idx * sizeof *r.method_names);
    if (!r.method_names) {
        free(a.inputs);
        return cli_error("out of memory");
    }
    for (int k = 0; k < n_idx; k++) {
        r.method_names[k] = cli_method_name((xcnn_method)idx[k]);
        meth[k] = (xcnn_method)idx[k];
    }
    u.seed = a.seed;
    u.step = (int)a.step;
    u.shift_baselines = r.shift_baselines = a.shift_baselines;
    u.pad_with_shift = r.pad_with_shift = a.pad_with_shift;
    u.progress = isatty(fileno(stderr));
    u.t0 = now_seconds();

    if (!(u.m = cli_load_model(a.model, &a.io))) {
        rc = CLI_EXIT_ERROR;
        goto done;
    }
    xcnn_tensor_view in, outv;
    xcnn_model_input(u.m, &in);
    xcnn_model_output(u.m, &outv);
    if (in.ndim != 4 || in.dims[0] != 1) {
        char s[128];
        cli_shape_str(&in, s, sizeof s);
        rc = cli_error("%s: the report needs an image model (input 1 x C x H x W), not %s",
                       a.model, s);
        goto done;
    }
    u.C = (int)in.dims[1], u.H = (int)in.dims[2], u.W = (int)in.dims[3];
    u.in_numel = in.numel;
    if ((rc = cli_labels_load(u.m, &a.io, &labels))) goto done;
    r.labels = (const char *const *)labels.names;
    r.n_labels = labels.count;
    /* Every input first: a bad one is found before the long run. */
    u.x_all = malloc((size_t)r.n_inputs * u.in_numel * sizeof(float));
    u.baselines = malloc(2 * u.in_numel * sizeof(float));
    u.y = malloc(outv.numel * sizeof(float));
    if (!u.x_all || !u.baselines || !u.y) {
        rc = cli_error("out of memory (%d inputs)", r.n_inputs);
        goto done;
    }
    for (int i = 0; i < r.n_inputs; i++) {
        int is_image;
        float *x = cli_load_any_input(u.m, r.inputs[i], &a.io, &is_image);
        if (!x) {
            rc = CLI_EXIT_ERROR;
            goto done;
        }
        memcpy(u.x_all + (size_t)i * u.in_numel, x, u.in_numel * sizeof(float));
        free(x);
    }
    if (a.threads && xcnn_model_set_threads(u.m, (int)a.threads) != XCNN_OK) {
        rc = cli_error("--threads: %s", xcnn_model_error(u.m));
        goto done;
    }
    xcnn_curve_options co;
    xcnn_curve_options_init(&co, XCNN_CURVE_DELETION);
    if (a.step && a.step > (long)u.H * u.W) {
        rc = cli_usage_error("--step %ld is more than the input's %ld pixels (H*W)", a.step,
                             (long)u.H * u.W);
        goto done;
    }
    co.step = (int)a.step;
    if (xcnn_curve_points(u.m, &co, &r.points) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(u.m));
        goto done;
    }
    long batch = a.batch ? a.batch : 8;
    if (xcnn_model_reserve(u.m, (int)batch) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(u.m));
        goto done;
    }
    if ((rc = check_methods(&u, &r, meth, a.methods && !all)) || (rc = sanity_layers(&u, &r)) ||
        (rc = report_alloc(&r, &u)))
        goto done;
    if (a.out_dir) {
        if ((rc = report_files_begin(a.out_dir, st, paths, &made))) goto done;
        staged = 1;
    }

    for (int i = 0; i < r.n_inputs; i++) {
        const float *x = u.x_all + (size_t)i * u.in_numel;
        if (xcnn_forward(u.m, x, 1, u.y) != XCNN_OK) {
            rc = cli_error("%s: %s", r.inputs[i], xcnn_model_error(u.m));
            goto done;
        }
        int t = 0;
        for (size_t c = 1; c < outv.numel; c++)
            if (u.y[c] > u.y[t]) t = (int)c;
        for (int k = 0; k < r.n_methods; k++) {
            report_row *row = &r.rows[(size_t)i * r.n_methods + k];
            row->target = t;
            row->score = u.y[t];
            if (!r.logit) { /* softmax(f(x))[t], the curves' score at the start */
                double z = 0;
                for (size_t c = 0; c < outv.numel; c++) z += exp((double)u.y[c] - u.y[t]);
                row->score = (float)(1.0 / z);
            }
            if ((rc = score_one(&u, &r, meth, i, k))) goto done;
        }
    }
    if (u.progress) fprintf(stderr, "\r\033[K");

    report_print_table(&r);
    if (staged) {
        if ((rc = report_files_write(&r, st, paths))) goto done;
        staged = 0;
        for (int f = 0; f < REPORT_FILES; f++) printf("wrote %s\n", paths[f]);
        for (int f = 0; f < REPORT_FILES; f++) free(paths[f]);
    }
    fprintf(stderr, "evaluate: %d input%s x %d method%s in %.1f s\n", r.n_inputs,
            r.n_inputs == 1 ? "" : "s", r.n_methods, r.n_methods == 1 ? "" : "s",
            now_seconds() - u.t0);
done:
    if (staged) report_files_abort(a.out_dir, st, paths, made);
    cli_labels_free(&labels);
    report_free(&r);
    free(u.x_all);
    free(u.attr);
    free(u.y);
    free(u.curve);
    free(u.baselines);
    free(u.work);
    free(u.steps);
    xcnn_model_free(u.m);
    free(a.inputs);
    return rc;
}
