/*
 * xcnn explain MODEL INPUT --method M --out ATTR.npy [options]
 * One attribution for one input, written as float32 .npy, optionally as a
 * heatmap PNG. All the work is xcnn_explain(); this file turns flags into
 * options and options into messages.
 *
 * xcnn explain MODEL INPUTS... [--list FILE] --method M[,M2...] --out-dir DIR
 * Many inputs, one model load: DIR/<stem>.<method>.npy (and .png with
 * --png) for each, rows of DIR/manifest.csv, reruns that skip what is
 * done, --shard i/n (many.h). xcnn_explain_batch runs the inputs through
 * the network together where that is the same maths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "many.h"

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
    xcnn_lrp_rule rule;
} lrp_rules[] = {
    {"epsilon-plus-flat", XCNN_LRP_EPSILON_PLUS_FLAT},
    {"epsilon", XCNN_LRP_EPSILON},
    {"epsilon-gamma-box", XCNN_LRP_EPSILON_GAMMA_BOX},
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
    const char *baselines, *masks;
    cli_input_opts io;
    int have_method, have_target, have_samples;
    long target, steps, samples, seed, batch, threads, cells;
    double stdev, epsilon, gamma, low, high, p1;
    int have_stdev, no_abs, no_relu, upsample, normalize, zero_bias;
    int have_epsilon, have_gamma, have_low, have_high, have_cells, have_p1;
    int window[3], stride[2], have_window, have_stride;
    xcnn_method method;             /* the first of methods[]  */
    xcnn_method methods[XCNN_METHOD_COUNT];
    int n_methods;
    many_opts mo;                   /* the many-input mode      */
    int many;
    char **inputs;                  /* INPUT arguments (argv's) */
    int n_inputs;
    xcnn_ig_rule rule;
    xcnn_lrp_rule lrp_rule;
} explain_args;

static const char *explain_usage =
    "usage: xcnn explain MODEL INPUT --method METHOD --out ATTR.npy [--png HEAT.png]\n"
    "       xcnn explain MODEL INPUTS... [--list FILE] --method M[,M2...] --out-dir DIR\n"
    "            [--png] [--shard i/n] [--force]  (one model load; DIR/<stem>.<method>.npy,\n"
    "            DIR/manifest.csv; a rerun skips what is done)\n"
    "       [--target T] [--layer NAME] [--steps N] [--ig-method M] [--baseline zero|FILE.npy|V]\n"
    "       [--baselines FILE.npy] [--samples N] [--stdev S] [--seed K] [--no-abs] [--no-relu]\n"
    "       [--upsample] [--normalize] [--rule R] [--epsilon E] [--gamma G] [--low L]\n"
    "       [--high H] [--zero-bias] [--window [c,]h,w] [--stride s|sh,sw] [--masks FILE.npy]\n"
    "       [--cells S] [--p1 P] [--batch B] [--threads T] [--labels FILE] [--preprocess SPEC]\n"
    "METHOD: saliency input-x-gradient deconvnet guided-backprop integrated-gradients\n"
    "        smoothgrad gradcam guided-gradcam deeplift deeplift-shap gradient-shap lrp\n"
    "        occlusion rise cam gradcam-plus-plus xgradcam layercam hirescam scorecam\n"
    "        eigencam ablationcam";

/* "h,w" or "c,h,w" (n_max 3) / "s" or "sh,sw" (n_max 2): whole numbers
 * from 1 to 1<<20, comma-separated, into v[]; the count, or -1. */
static int parse_list(const char *s, int n_max, int *v)
{
    int n = 0;
    char buf[64];
    if (strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    for (char *tok = buf, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next) *next++ = 0;
        long x;
        if (n == n_max || cli_parse_int(tok, 1, 1L << 20, &x)) return -1;
        v[n++] = (int)x;
    }
    return n;
}

/* The value after flag argv[*i], or NULL (usage error printed). */
/* "saliency,gradcam": the methods, each once, into a->methods. */
static int parse_methods(const char *v, explain_args *a)
{
    a->n_methods = 0;
    for (const char *p = v;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        xcnn_method m;
        if (cli_method_lookup(p, len, &m))
            return cli_usage_error("unknown method '%.*s'", (int)len, p);
        for (int j = 0; j < a->n_methods; j++)
            if (a->methods[j] == m)
                return cli_usage_error("--method names '%.*s' twice", (int)len, p);
        a->methods[a->n_methods++] = m;
        if (!e) break;
        p = e + 1;
    }
    a->method = a->methods[0];
    return 0;
}


/* Whether a->methods holds `method`. */
static int uses(const explain_args *a, xcnn_method method)
{
    for (int j = 0; j < a->n_methods; j++)
        if (a->methods[j] == method) return 1;
    return 0;
}

static int parse_args(int argc, char **argv, explain_args *a)
{
    memset(a, 0, sizeof *a);
    a->steps = 50;
    a->samples = 25;
    a->batch = 0;
    a->mo.shard_n = 1;
    a->many = many_wanted(argc, argv);
    a->inputs = malloc((size_t)argc * sizeof *a->inputs);
    if (!a->inputs) return cli_error("out of memory");
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        int rc_flag;
        if (cli_input_flag(argc, argv, &i, &a->io, &rc_flag)) {
            if (rc_flag) return rc_flag;
        } else if (many_flag(argc, argv, &i, &a->mo, &rc_flag)) {
            if (rc_flag) return rc_flag;
        } else if (a->many && !strcmp(f, "--png")) {
            a->mo.png = 1; /* with --out-dir, a heatmap beside every .npy */
        } else if (!strcmp(f, "--method")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            int rc_m = parse_methods(v, a);
            if (rc_m) return rc_m;
            a->have_method = 1;
        } else if (!strcmp(f, "--ig-method")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            size_t k;
            for (k = 0; k < N_OF(ig_rules) && strcmp(ig_rules[k].name, v); k++) {}
            if (k == N_OF(ig_rules))
                return cli_usage_error("unknown --ig-method '%s' (gausslegendre, riemann_left, "
                                       "riemann_right, riemann_middle, riemann_trapezoid)", v);
            a->rule = ig_rules[k].rule;
        } else if (!strcmp(f, "--target")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            /* A number is a class index; anything else a class name. */
            if (v[0] == '-' && v[1] >= '0' && v[1] <= '9')
                return cli_usage_error("--target needs a class index >= 0 or a class name, got '%s'", v);
            if (cli_parse_int(v, 0, 1L << 30, &a->target)) a->target_name = v;
            a->have_target = 1;
        } else if (!strcmp(f, "--steps") || !strcmp(f, "--samples") || !strcmp(f, "--batch") ||
                   !strcmp(f, "--threads")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            long *dst = !strcmp(f, "--steps")     ? &a->steps
                        : !strcmp(f, "--samples") ? &a->samples
                        : !strcmp(f, "--batch")   ? &a->batch
                                                  : &a->threads;
            long hi = dst == &a->threads ? 1024 : 100000; /* xcnn_model_set_threads' range */
            if (cli_parse_int(v, 1, hi, dst))
                return cli_usage_error("%s needs a whole number from 1 to %ld, got '%s'", f, hi, v);
            if (dst == &a->samples) a->have_samples = 1;
        } else if (!strcmp(f, "--rule")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            size_t k;
            for (k = 0; k < N_OF(lrp_rules) && strcmp(lrp_rules[k].name, v); k++) {}
            if (k == N_OF(lrp_rules))
                return cli_usage_error("unknown --rule '%s' (epsilon-plus-flat, epsilon, "
                                       "epsilon-gamma-box)", v);
            a->lrp_rule = lrp_rules[k].rule;
        } else if (!strcmp(f, "--epsilon") || !strcmp(f, "--gamma") || !strcmp(f, "--low") ||
                   !strcmp(f, "--high") || !strcmp(f, "--p1")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            double *dst = !strcmp(f, "--epsilon") ? &a->epsilon
                          : !strcmp(f, "--gamma") ? &a->gamma
                          : !strcmp(f, "--low")   ? &a->low
                          : !strcmp(f, "--high")  ? &a->high
                                                  : &a->p1;
            int *have = dst == &a->epsilon ? &a->have_epsilon
                        : dst == &a->gamma ? &a->have_gamma
                        : dst == &a->low   ? &a->have_low
                        : dst == &a->high  ? &a->have_high
                                           : &a->have_p1;
            if (cli_parse_float(v, dst))
                return cli_usage_error("%s needs a number, got '%s'", f, v);
            *have = 1;
        } else if (!strcmp(f, "--window")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            int w[3], n = parse_list(v, 3, w);
            if (n < 2)
                return cli_usage_error("--window needs h,w or c,h,w (whole numbers >= 1), "
                                       "got '%s'", v);
            a->window[0] = n == 3 ? w[0] : 0;
            a->window[1] = w[n - 2];
            a->window[2] = w[n - 1];
            a->have_window = 1;
        } else if (!strcmp(f, "--stride")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            int st[2], n = parse_list(v, 2, st);
            if (n < 1)
                return cli_usage_error("--stride needs s or sh,sw (whole numbers >= 1), got '%s'",
                                       v);
            a->stride[0] = st[0];
            a->stride[1] = st[n - 1];
            a->have_stride = 1;
        } else if (!strcmp(f, "--cells")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            if (cli_parse_int(v, 1, 100000, &a->cells))
                return cli_usage_error("--cells needs a whole number from 1 to 100000, got '%s'",
                                       v);
            a->have_cells = 1;
        } else if (!strcmp(f, "--baselines")) {
            if (!(a->baselines = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--masks")) {
            if (!(a->masks = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--normalize")) {
            a->normalize = 1;
        } else if (!strcmp(f, "--zero-bias")) {
            a->zero_bias = 1;
        } else if (!strcmp(f, "--seed")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            if (cli_parse_int(v, 0, 2147483647L, &a->seed))
                return cli_usage_error("--seed needs a whole number >= 0, got '%s'", v);
        } else if (!strcmp(f, "--stdev")) {
            if (!(v = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
            if (cli_parse_float(v, &a->stdev) || a->stdev < 0)
                return cli_usage_error("--stdev needs a number >= 0, got '%s'", v);
            a->have_stdev = 1;
        } else if (!strcmp(f, "--out")) {
            if (!(a->out = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--png")) {
            if (!(a->png = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--baseline")) {
            if (!(a->baseline = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
        } else if (!strcmp(f, "--layer")) {
            if (!(a->layer = cli_flag_value(argc, argv, &i))) return CLI_EXIT_USAGE;
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
        } else {
            a->inputs[a->n_inputs++] = argv[i];
        }
    }
    if (a->n_inputs > 1) a->many = 1;
    a->input = a->n_inputs ? a->inputs[0] : NULL;
    if (a->many) {
        if (!a->model || (!a->n_inputs && !a->mo.list) || !a->have_method || !a->mo.out_dir) {
            fprintf(stderr, "%s\n", explain_usage);
            return cli_usage_error("explain with several inputs (or --list) needs MODEL, "
                                   "INPUTS or --list, --method and --out-dir");
        }
        if (a->out || a->png)
            return cli_usage_error("--out and --png FILE name one input's outputs; with "
                                   "--out-dir the names are DIR/<stem>.<method>.npy (and "
                                   ".png with --png)");
    } else {
        if (!a->model || !a->input || !a->have_method || !a->out) {
            fprintf(stderr, "%s\n", explain_usage);
            return cli_usage_error("explain needs MODEL, INPUT, --method and --out");
        }
        if (a->n_methods > 1)
            return cli_usage_error("several methods write several files: give --out-dir DIR "
                                   "instead of --out");
        if (a->mo.force || a->mo.shard_n > 1)
            return cli_usage_error("--force and --shard need --out-dir");
    }
    if (a->png && (!strcmp(a->png, a->out) || same_output(a->png, a->out)))
        return cli_usage_error("--out and --png name the same file '%s'", a->out);
    if ((a->have_low != a->have_high))
        return cli_usage_error("--low and --high go together (the z-box bounds)");
    if (uses(a, XCNN_OCCLUSION) && !a->have_window)
        return cli_usage_error("occlusion needs --window [c,]h,w");
    if ((uses(a, XCNN_DEEPLIFT_SHAP) || uses(a, XCNN_GRADIENT_SHAP)) && !a->baselines)
        return cli_usage_error("%s needs --baselines FILE.npy (N x C x H x W)",
                               uses(a, XCNN_DEEPLIFT_SHAP) ? "deeplift-shap" : "gradient-shap");
    return 0;
}

/* --baselines FILE.npy: N samples of the model's input shape (N x C x H x
 * W for an image model), into *n and a malloc'ed array; NULL: error
 * printed. */
static float *load_baselines(const xcnn_model *m, const char *path, int *n)
{
    char err[600];
    float *data = NULL;
    int ndim = 0;
    int64_t dims[XCNN_MAX_DIMS];
    if (xcnn_npy_read(path, &data, &ndim, dims, err, sizeof err) != XCNN_OK) {
        cli_error("%s", err);
        return NULL;
    }
    xcnn_tensor_view in;
    xcnn_model_input(m, &in);
    int ok = ndim == in.ndim && dims[0] >= 1 && dims[0] <= 100000;
    for (int i = 1; ok && i < in.ndim; i++) ok = dims[i] == in.dims[i];
    if (!ok) {
        char want[128], got[128];
        cli_dims_str(in.dims + 1, in.ndim - 1, want, sizeof want);
        cli_dims_str(dims, ndim, got, sizeof got);
        cli_error("--baselines %s has shape %s; it must be N x %s (N baselines, 1 to 100000)",
                  path, ndim ? got : "scalar", want);
        free(data);
        return NULL;
    }
    *n = (int)dims[0];
    return data;
}

/* --masks FILE.npy: N x 1 x H x W for the model's H x W. */
static float *load_masks(const xcnn_model *m, const char *path, int *n)
{
    char err[600];
    float *data = NULL;
    int ndim = 0;
    int64_t dims[XCNN_MAX_DIMS];
    if (xcnn_npy_read(path, &data, &ndim, dims, err, sizeof err) != XCNN_OK) {
        cli_error("%s", err);
        return NULL;
    }
    xcnn_tensor_view in;
    xcnn_model_input(m, &in);
    if (in.ndim != 4 || ndim != 4 || dims[0] < 1 || dims[0] > 1000000 || dims[1] != 1 ||
        dims[2] != in.dims[2] || dims[3] != in.dims[3]) {
        char got[128];
        cli_dims_str(dims, ndim, got, sizeof got);
        cli_error("--masks %s has shape %s; it must be N x 1 x %lld x %lld (the model's input "
                  "height and width)", path, ndim ? got : "scalar",
                  in.ndim == 4 ? (long long)in.dims[2] : 0LL,
                  in.ndim == 4 ? (long long)in.dims[3] : 0LL);
        free(data);
        return NULL;
    }
    *n = (int)dims[0];
    return data;
}

/* Inputs one pass of the method would like at once (the batch to reserve
 * before the cap of --batch or 8). */
static long method_points(xcnn_method method, const explain_args *a, int n_baselines)
{
    switch (method) {
    case XCNN_INTEGRATED_GRADIENTS: return a->steps;
    case XCNN_SMOOTHGRAD:
    case XCNN_GRADIENT_SHAP:
    case XCNN_RISE: return a->samples;
    case XCNN_DEEPLIFT: return 2;                 /* the input and its baseline */
    case XCNN_DEEPLIFT_SHAP: return 2L * n_baselines;
    case XCNN_OCCLUSION:
    case XCNN_SCORECAM:
    case XCNN_ABLATIONCAM: return 1L << 20;       /* many: the cap decides */
    default: return 1;
    }
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

/* The flags as options for `method` (what needs the model, the loaded
 * baselines and masks, is set by the caller). */
static void flag_options(const explain_args *a, xcnn_method method, xcnn_explain_options *o)
{
    xcnn_explain_options_init(o, method);
    if (a->have_target) o->target = (int)a->target;
    o->no_abs = a->no_abs;
    o->steps = (int)a->steps;
    o->ig_rule = a->rule;
    o->samples = (int)a->samples;
    if (a->have_stdev) o->stdev = (float)a->stdev;
    o->seed = (uint64_t)a->seed;
    o->layer = a->layer;
    o->no_relu = a->no_relu;
    o->upsample = a->upsample;
    o->normalize = a->normalize;
    if (method == XCNN_GRADIENT_SHAP || method == XCNN_RISE) {
        if (!a->have_samples) o->samples = method == XCNN_RISE ? 4000 : 5;
        if (method == XCNN_GRADIENT_SHAP && !a->have_stdev) o->stdev = 0;
    }
    o->lrp_rule = a->lrp_rule;
    if (a->have_epsilon) o->epsilon = (float)a->epsilon;
    if (a->have_gamma) o->gamma = (float)a->gamma;
    if (a->have_low) o->low = (float)a->low;
    if (a->have_high) o->high = (float)a->high;
    o->zero_bias = a->zero_bias;
    if (a->have_window) memcpy(o->window, a->window, sizeof o->window);
    if (a->have_stride) memcpy(o->stride, a->stride, sizeof o->stride);
    if (a->have_cells) o->cells = (int)a->cells;
    if (a->have_p1) o->p1 = (float)a->p1;
}

static int explain_one(const explain_args *ap)
{
    explain_args a = *ap;
    int rc;
    xcnn_model *m = cli_load_model(a.model, &a.io);
    if (!m) return CLI_EXIT_ERROR;
    cli_labels labels;
    int is_image = 0;
    float *x = NULL, *baseline = NULL, *baselines = NULL, *masks = NULL, *attr = NULL;
    rc = cli_labels_load(m, &a.io, &labels);
    if (!rc) x = cli_load_any_input(m, a.input, &a.io, &is_image);
    if (!x) {
        rc = CLI_EXIT_ERROR;
        goto done;
    }
    if (a.target_name && (rc = cli_label_index(&labels, a.target_name, &a.target))) goto done;
    xcnn_explain_options o;
    flag_options(&a, a.method, &o);
    if (a.baselines && !(baselines = load_baselines(m, a.baselines, &o.n_baselines))) {
        rc = CLI_EXIT_ERROR;
        goto done;
    }
    o.baselines = baselines;
    if (a.masks && !(masks = load_masks(m, a.masks, &o.n_masks))) {
        rc = CLI_EXIT_ERROR;
        goto done;
    }
    o.masks = masks;
    if (a.method == XCNN_OCCLUSION && a.baseline) {
        /* occlusion's --baseline is the value the window is set to */
        double fill;
        if (cli_parse_float(a.baseline, &fill)) {
            rc = cli_usage_error("occlusion's --baseline needs a number (the value the window "
                                 "is set to), got '%s'", a.baseline);
            goto done;
        }
        o.fill = (float)fill;
    } else if (a.baseline && strcmp(a.baseline, "zero") != 0) {
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
    long points = method_points(a.method, &a, o.n_baselines);
    long batch = a.batch ? a.batch : 8;
    if (batch > points) batch = points;
    /* DeepLIFT runs the input beside its baseline: a pair at least */
    if ((a.method == XCNN_DEEPLIFT || a.method == XCNN_DEEPLIFT_SHAP) && batch < 2) batch = 2;
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
    if (a.method == XCNN_INTEGRATED_GRADIENTS || a.method == XCNN_DEEPLIFT)
        printf("convergence delta %.6g (sum of attributions minus f(x) - f(baseline))\n",
               res.delta);
    if (a.method == XCNN_DEEPLIFT_SHAP)
        printf("convergence delta %.6g (sum of attributions minus f(x) - mean f(baselines))\n",
               res.delta);
    if (a.method == XCNN_LRP)
        printf("relevance sum %.6g (the score explained: %.6g)\n", res.total, res.score);

    rc = write_outputs(&a, m, attr, &res, is_image ? x : NULL);
done:
    cli_labels_free(&labels);
    free(attr);
    free(baseline);
    free(baselines);
    free(masks);
    free(x);
    xcnn_model_free(m);
    return rc;
}

/* --- Many inputs ------------------------------------------------------- */

typedef struct many_state {
    const explain_args *a;
    xcnn_model *m;
    cli_labels labels;
    many_list list;
    many_manifest mf;
    many_progress pr;
    xcnn_explain_options o[XCNN_METHOD_COUNT];
    size_t per[XCNN_METHOD_COUNT];   /* floats of one attribution      */
    long long bytes[XCNN_METHOD_COUNT]; /* its .npy file's size        */
    int ndim[XCNN_METHOD_COUNT];
    int64_t dims[XCNN_METHOD_COUNT][4];
    const char *names[XCNN_METHOD_COUNT];
    size_t in_n;
    int chunk;                       /* inputs loaded at a time        */
    float *x, *xk, *attr;            /* chunk inputs each, chunk attributions */
    int *is_image, *failed;
    long *slot, *todo;
    xcnn_explain_result *res;
    many_shape shape;                /* the model's input, for the loads */
    int *status;                     /* per chunk slot: a load's or a write's */
    char *msgs;                      /* per chunk slot: its message (MANY_MSG) */
} many_state;

enum { MANY_MSG = 700 };

/* One row; -1 when the manifest cannot be written (the run stops). */
static int add_row(many_state *s, long i, int k, const xcnn_explain_result *r,
                   const char *output, const char *err)
{
    const many_item *it = &s->list.items[i];
    xcnn_method method = s->a->methods[k];
    many_row row = {it->index, s->names[k], it->path, -1, NULL, 0, 0, 0, 0, output, err};
    if (r) {
        row.target = r->target;
        row.target_name = cli_label(&s->labels, r->target);
        row.score = r->score;
        row.has_score = 1;
        row.has_delta = method == XCNN_INTEGRATED_GRADIENTS || method == XCNN_DEEPLIFT ||
                        method == XCNN_DEEPLIFT_SHAP;
        row.delta = r->delta;
    }
    int rc = many_manifest_add(&s->mf, i, k, &row);
    many_progress_row(&s->pr, err == NULL);
    if (err) s->failed[i % s->chunk] = 1;
    return rc ? -1 : 0;
}

/* Input i's output name for method k: <input stem>.<method>.npy. */
static void output_name(const many_state *s, long i, int k, char *name, size_t size)
{
    snprintf(name, size, "%s.%s.npy", s->list.items[i].stem, s->names[k]);
}

/* What write_files did: its row has the result or not, a message or not. */
enum { WROTE_ALL, WROTE_NPY_ONLY, WROTE_NOTHING };

/* Input i's attribution for method k (and its heatmap) into its files,
 * msg (MANY_MSG bytes) saying what failed. Calls no function of the model
 * (s->shape instead), so the inputs of a batch are written on several
 * threads at once; their rows are added after, in order. */
static int write_files(const many_state *s, long i, int k, const float *attr, const float *x,
                       int is_image, char *msg)
{
    const xcnn_tensor_view *in = &s->shape.in;
    char name[4200], path[4200];
    output_name(s, i, k, name, sizeof name);
    if (many_path(path, sizeof path, s->a->mo.out_dir, name)) {
        snprintf(msg, MANY_MSG, "the output path is too long");
        return WROTE_NOTHING;
    }
    if (many_write_npy(path, attr, s->ndim[k], s->dims[k], msg, MANY_MSG)) return WROTE_NOTHING;
    if (s->a->mo.png) {
        memcpy(path + strlen(path) - 4, ".png", 4);
        if (in->ndim != 4 || s->ndim[k] != 4) {
            snprintf(msg, MANY_MSG, "--png needs an image-shaped (NxCxHxW) model input");
            return WROTE_NPY_ONLY;
        }
        if (xcnn_heatmap_png(path, attr, (int)s->dims[k][1], (int)s->dims[k][2],
                             (int)s->dims[k][3], is_image ? x : NULL,
                             is_image ? (int)in->dims[1] : 0, (int)in->dims[2],
                             (int)in->dims[3], msg, MANY_MSG) != XCNN_OK)
            return WROTE_NPY_ONLY;
    }
    return WROTE_ALL;
}

/* Inputs todo[from .. from + done) of method k, explained into s->attr
 * and s->res: their files on the threads, then their rows in order. */
static int write_done(many_state *s, long i0, int k, int from, int done)
{
#pragma omp parallel for schedule(dynamic) if (done > 1)
    for (int j = 0; j < done; j++) {
        long i = s->todo[from + j], c = i - i0;
        s->status[j] = write_files(s, i, k, s->attr + (size_t)j * s->per[k],
                                   s->x + (size_t)c * s->in_n, s->is_image[c],
                                   s->msgs + (size_t)j * MANY_MSG);
    }
    int rc = 0;
    for (int j = 0; j < done && !rc; j++) {
        long i = s->todo[from + j];
        char name[4200];
        output_name(s, i, k, name, sizeof name);
        int st = s->status[j];
        rc = add_row(s, i, k, st == WROTE_NOTHING ? NULL : &s->res[j],
                     st == WROTE_NOTHING ? "" : name,
                     st == WROTE_ALL ? NULL : s->msgs + (size_t)j * MANY_MSG);
    }
    return rc;
}

/* Inputs todo[0 .. n) of the chunk from i0, read on the threads into
 * their slots (slot[c] = c), those that fail given their rows. */
static int load_inputs(many_state *s, long i0, int n)
{
    const explain_args *a = s->a;
#pragma omp parallel for schedule(dynamic) if (n > 1)
    for (int j = 0; j < n; j++) {
        long c = s->todo[j] - i0;
        s->status[c] = many_load_shaped(&s->shape, s->list.items[i0 + c].path, &a->io,
                                        s->x + (size_t)c * s->in_n, &s->is_image[c],
                                        s->msgs + (size_t)c * MANY_MSG, MANY_MSG);
    }
    int rc = 0;
    for (int j = 0; j < n && !rc; j++) {
        long i = s->todo[j], c = i - i0;
        if (!s->status[c]) {
            s->slot[c] = c;
            continue;
        }
        for (int k = 0; k < a->n_methods && !rc; k++)
            if (a->mo.force || !many_manifest_done(&s->mf, i, k, s->bytes[k], a->mo.png))
                rc = add_row(s, i, k, NULL, "", s->msgs + (size_t)c * MANY_MSG);
    }
    return rc;
}

/* Inputs [i0, i1) of the list: load those with work left, then each
 * method over them in one xcnn_explain_batch call (which batches what it
 * can). */
static int run_chunk(many_state *s, long i0, long i1)
{
    const explain_args *a = s->a;
    int force = a->mo.force;
    char err[MANY_MSG];
    int rc = 0, n_load = 0;
    for (long i = i0; i < i1 && !rc; i++) {
        long c = i - i0;
        s->failed[c] = 0;
        s->slot[c] = -1; /* not loaded */
        int left = 0;
        for (int k = 0; k < a->n_methods; k++)
            left |= force || !many_manifest_done(&s->mf, i, k, s->bytes[k], a->mo.png);
        if (!left) continue;
        const many_item *it = &s->list.items[i];
        if (!it->bad) {
            s->todo[n_load++] = i;
            continue;
        }
        snprintf(err, sizeof err, "%s: %s", it->path, it->bad);
        for (int k = 0; k < a->n_methods && !rc; k++)
            if (force || !many_manifest_done(&s->mf, i, k, s->bytes[k], a->mo.png))
                rc = add_row(s, i, k, NULL, "", err);
    }
    if (!rc) rc = load_inputs(s, i0, n_load);
    for (int k = 0; k < a->n_methods && !rc && !many_stopping(); k++) {
        /* this method's inputs, side by side */
        int n = 0;
        for (long i = i0; i < i1; i++) {
            long c = i - i0;
            if (s->slot[c] < 0 ||
                (!force && many_manifest_done(&s->mf, i, k, s->bytes[k], a->mo.png)))
                continue;
            memcpy(s->xk + (size_t)n * s->in_n, s->x + (size_t)c * s->in_n,
                   s->in_n * sizeof(float));
            s->todo[n++] = i;
        }
        for (int from = 0; from < n && !rc;) {
            int done = 0;
            xcnn_status st = xcnn_explain_batch(s->m, s->xk + (size_t)from * s->in_n, n - from,
                                                &s->o[k], s->attr, (size_t)s->chunk * s->per[k],
                                                s->res, &done);
            rc = write_done(s, i0, k, from, done);
            if (!st || rc) break;
            /* input from + done failed: its row, then on with the rest */
            long i = s->todo[from + done];
            const char *msg = xcnn_model_error(s->m), *colon = strstr(msg, ": ");
            snprintf(err, sizeof err, "%s: %s", s->list.items[i].path,
                     !strncmp(msg, "input ", 6) && colon ? colon + 2 : msg);
            rc = add_row(s, i, k, NULL, "", err);
            from += done + 1;
        }
    }
    if (!many_stopping())
        for (long i = i0; i < i1; i++) {
            long c = i - i0;
            int skipped = s->slot[c] < 0 && !s->failed[c] && !s->list.items[i].bad;
            if (skipped) s->pr.skipped++;
            many_progress_input(&s->pr, s->failed[c]);
        }
    return rc;
}

static int explain_many(const explain_args *a)
{
    many_state s;
    memset(&s, 0, sizeof s);
    s.a = a;
    s.mf.fd = -1;
    float *baseline = NULL, *baselines = NULL, *masks = NULL;
    int n_baselines = 0, n_masks = 0;
    int rc = many_list_build(&s.list, &a->mo, a->inputs, a->n_inputs);
    if (rc) return rc;
    if (!(s.m = cli_load_model(a->model, &a->io))) {
        many_list_free(&s.list);
        return CLI_EXIT_ERROR;
    }
    rc = cli_labels_load(s.m, &a->io, &s.labels);
    long target = a->target;
    if (!rc && a->target_name) rc = cli_label_index(&s.labels, a->target_name, &target);
    if (!rc && a->baselines && !(baselines = load_baselines(s.m, a->baselines, &n_baselines)))
        rc = CLI_EXIT_ERROR;
    if (!rc && a->masks && !(masks = load_masks(s.m, a->masks, &n_masks))) rc = CLI_EXIT_ERROR;
    /* --baseline: a number for occlusion (the fill), an input-shaped .npy
     * for the others */
    int other_baseline = 0;
    for (int k = 0; k < a->n_methods; k++) other_baseline |= a->methods[k] != XCNN_OCCLUSION;
    if (!rc && a->baseline && strcmp(a->baseline, "zero") && other_baseline &&
        !(baseline = cli_load_input(s.m, a->baseline)))
        rc = CLI_EXIT_ERROR;
    if (!rc && a->threads && xcnn_model_set_threads(s.m, (int)a->threads) != XCNN_OK)
        rc = cli_error("--threads: %s", xcnn_model_error(s.m));
    long want = 1;
    for (int k = 0; !rc && k < a->n_methods; k++) {
        xcnn_method method = a->methods[k];
        xcnn_explain_options *o = &s.o[k];
        flag_options(a, method, o);
        if (a->have_target) o->target = (int)target;
        o->baselines = baselines;
        o->n_baselines = n_baselines;
        o->masks = masks;
        o->n_masks = n_masks;
        if (method == XCNN_OCCLUSION && a->baseline) {
            double fill;
            if (cli_parse_float(a->baseline, &fill))
                rc = cli_usage_error("occlusion's --baseline needs a number (the value the "
                                     "window is set to), got '%s'", a->baseline);
            o->fill = (float)fill;
        } else {
            o->baseline = baseline;
        }
        s.names[k] = cli_method_name(method);
        /* the gradient methods and Grad-CAM batch across inputs: 32 at
         * most by default; the others as one input alone would */
        int across = method == XCNN_SALIENCY || method == XCNN_INPUT_X_GRADIENT ||
                     method == XCNN_DECONVNET || method == XCNN_GUIDED_BACKPROP ||
                     method == XCNN_GRADCAM;
        /* across inputs: no more than there are (a batch's memory is all
         * touched by its first pass where huge pages are used:
         * base/pages.h) */
        long points = !across ? method_points(method, a, n_baselines)
                      : s.list.n_items < 32 ? (s.list.n_items > 0 ? s.list.n_items : 1)
                                            : 32;
        long cap = a->batch ? a->batch : points <= 32 && points != 1 ? points : 8;
        if (points > cap) points = cap;
        if ((method == XCNN_DEEPLIFT || method == XCNN_DEEPLIFT_SHAP) && points < 2) points = 2;
        if (points > want) want = points;
    }
    int reserved = rc ? 0 : many_reserve(s.m, (int)want);
    if (!rc && !reserved) rc = CLI_EXIT_ERROR;
    for (int k = 0; !rc && k < a->n_methods; k++) {
        if (xcnn_explain_shape(s.m, &s.o[k], &s.ndim[k], s.dims[k]) != XCNN_OK) {
            rc = cli_error("%s: %s", s.names[k], xcnn_model_error(s.m));
            break;
        }
        s.per[k] = 1;
        for (int d = 0; d < s.ndim[k]; d++) s.per[k] *= (size_t)s.dims[k][d];
        s.bytes[k] = many_npy_bytes(s.ndim[k], s.dims[k]);
    }
    if (rc) goto done;
    xcnn_tensor_view in;
    xcnn_model_input(s.m, &in);
    s.in_n = in.numel / (size_t)in.dims[0];
    s.chunk = reserved < 8 ? 8 : reserved; /* loads amortise over the methods */
    size_t max_per = 1;
    for (int k = 0; k < a->n_methods; k++)
        if (s.per[k] > max_per) max_per = s.per[k];
    s.x = malloc((size_t)s.chunk * s.in_n * sizeof(float));
    s.xk = malloc((size_t)s.chunk * s.in_n * sizeof(float));
    s.attr = malloc((size_t)s.chunk * max_per * sizeof(float));
    s.is_image = calloc((size_t)s.chunk, sizeof(int));
    s.failed = calloc((size_t)s.chunk, sizeof(int));
    s.slot = malloc((size_t)s.chunk * sizeof(long));
    s.todo = malloc((size_t)s.chunk * sizeof(long));
    s.res = malloc((size_t)s.chunk * sizeof *s.res);
    s.status = calloc((size_t)s.chunk, sizeof(int));
    s.msgs = calloc((size_t)s.chunk, MANY_MSG);
    many_shape_of(s.m, &s.shape);
    if (!s.x || !s.xk || !s.attr || !s.is_image || !s.failed || !s.slot || !s.todo || !s.res ||
        !s.status || !s.msgs) {
        rc = cli_error("out of memory");
        goto done;
    }
    if ((rc = many_manifest_open(&s.mf, &a->mo, &s.list, s.names, a->n_methods))) goto done;
    many_progress_start(&s.pr, s.list.n_items);
    for (long i0 = 0; i0 < s.list.n_items && !rc && !many_stopping(); i0 += s.chunk) {
        long i1 = i0 + s.chunk < s.list.n_items ? i0 + s.chunk : s.list.n_items;
        rc = run_chunk(&s, i0, i1);
        if (!rc && many_manifest_sync(&s.mf)) rc = -1;
    }
    if (rc) rc = CLI_EXIT_ERROR;
    int rc2 = many_manifest_close(&s.mf);
    if (!rc) rc = rc2;
    if (!rc) rc = many_progress_end(&s.pr, "explain");
done:
    if (s.mf.fd >= 0) many_manifest_close(&s.mf);
    cli_labels_free(&s.labels);
    free(s.x);
    free(s.xk);
    free(s.attr);
    free(s.is_image);
    free(s.failed);
    free(s.slot);
    free(s.todo);
    free(s.res);
    free(s.status);
    free(s.msgs);
    free(baseline);
    free(baselines);
    free(masks);
    xcnn_model_free(s.m);
    many_list_free(&s.list);
    return rc;
}

int cli_explain(int argc, char **argv)
{
    explain_args a;
    int rc = parse_args(argc, argv, &a);
    if (!rc) rc = a.many ? explain_many(&a) : explain_one(&a);
    free(a.inputs);
    return rc;
}
