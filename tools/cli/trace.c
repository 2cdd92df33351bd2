/*
 * xcnn info --trace MODEL INPUT [--target T]: a network at work, layer by
 * layer. One forward and one backward, then
 *   - per node in forward order: op, name, output shape, the output's
 *     min / mean / max and fraction of exact zeros (what a ReLU kills),
 *     its FLOPs and its time;
 *   - per node going back: the gradient of the target score with respect
 *     to that node's output (min / mean / max, L2 norm, zeros), the time
 *     of its backward, and last the input's gradient;
 *   - the arena: where each tensor's values and gradient live in this
 *     load (for explanations: every tensor has its own slice), and where
 *     they would live in an inference-only load of the same model, whose
 *     layer outputs share memory by lifetime.
 * Only the public API: the times come from xcnn_model_set_profiling, the
 * layout from xcnn_tensor_view's arena offsets.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"

/* Timed passes after one warm-up pass (the ops make some weight forms on
 * first use); each node's time is its fastest. */
#define TIMED_PASSES 5

static const char trace_usage[] =
    "usage: xcnn info --trace MODEL INPUT [--target T] [--threads T] [--labels FILE]\n"
    "       [--preprocess SPEC] [--input-shape CxHxW]";

typedef struct trace_args {
    const char *model, *input, *target_name;
    long target, threads;
    int have_target;
    cli_input_opts io;
} trace_args;

static int parse_args(int argc, char **argv, trace_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        int rc;
        if (cli_input_flag(argc, argv, &i, &a->io, &rc)) {
            if (rc) return rc;
        } else if (!strcmp(f, "--trace")) {
            /* the switch that brought us here */
        } else if (!strcmp(f, "--target")) {
            if (++i >= argc) return cli_usage_error("--target needs a class index or name");
            /* A number is a class index; anything else a class name. */
            if (argv[i][0] == '-' && argv[i][1] >= '0' && argv[i][1] <= '9')
                return cli_usage_error("--target needs a class index >= 0 or a class name, "
                                       "got '%s'", argv[i]);
            if (cli_parse_int(argv[i], 0, 1L << 30, &a->target)) a->target_name = argv[i];
            a->have_target = 1;
        } else if (!strcmp(f, "--threads")) {
            if (++i >= argc || cli_parse_int(argv[i], 1, 1024, &a->threads))
                return cli_usage_error("--threads needs a whole number from 1 to 1024");
        } else if (f[0] == '-' && f[1]) {
            return cli_usage_error("info --trace: unknown option '%s'", f);
        } else if (!a->model) {
            a->model = f;
        } else if (!a->input) {
            a->input = f;
        } else {
            return cli_usage_error("info --trace: unexpected argument '%s'", f);
        }
    }
    if (!a->model || !a->input) {
        fprintf(stderr, "%s\n", trace_usage);
        return cli_usage_error("info --trace needs MODEL and INPUT");
    }
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- formatting: fixed-width columns ------------------------------------ */

/* s in at most `width` characters: long names keep their end (the most
 * specific part), marked with a leading '~'. */
static const char *fit(const char *s, int width, char *buf, size_t size)
{
    size_t n = strlen(s);
    if (n <= (size_t)width || width < 2) return s;
    snprintf(buf, size, "~%s", s + n - (size_t)(width - 1));
    return buf;
}

static const char *short_op(const char *op)
{
    static const char *const names[][2] = {
        {"BatchNormalization", "BatchNorm"},   {"GlobalAveragePool", "GlobAvgPool"},
        {"GlobalMaxPool", "GlobMaxPool"},      {"LayerNormalization", "LayerNorm"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(op, names[i][0])) return names[i][1];
    return op;
}

/* A number in at most 8 characters, 3 significant digits where they fit. */
static const char *num8(double v, char *buf, size_t size)
{
    static const char *const fmts[] = {"%.3g", "%.2g", "%.1g", "%.0e"};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        snprintf(buf, size, fmts[i], v);
        if (strlen(buf) <= 8) break;
    }
    return buf;
}

static const char *flops_str(double f, char *buf, size_t size)
{
    if (f >= 1e9) snprintf(buf, size, "%.2fG", f / 1e9);
    else if (f >= 1e6) snprintf(buf, size, "%.2fM", f / 1e6);
    else if (f >= 1e3) snprintf(buf, size, "%.1fK", f / 1e3);
    else snprintf(buf, size, "%.0f", f);
    return buf;
}

typedef struct stats {
    double min, mean, max, norm, zeros; /* zeros: a fraction */
} stats;

static stats stats_of(const float *x, size_t n)
{
    stats s = {0, 0, 0, 0, 0};
    if (!n) return s;
    double sum = 0, sq = 0;
    size_t zeros = 0;
    s.min = s.max = x[0];
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        if (v < s.min) s.min = v;
        if (v > s.max) s.max = v;
        sum += v;
        sq += v * v;
        zeros += x[i] == 0.0f;
    }
    s.mean = sum / (double)n;
    s.norm = sqrt(sq);
    s.zeros = (double)zeros / (double)n;
    return s;
}

/* ---- the tables --------------------------------------------------------- */

/* A node's name in `width` characters. Exporters often end a name with
 * "/<op>" (torch: "/layer1/layer1.0/relu/Relu"), which the op column
 * already shows: a name too long drops it, then loses its front. */
static const char *node_name(const char *name, const char *op, int width, char *buf,
                             size_t size)
{
    size_t n = strlen(name), k = strlen(op);
    if (n > (size_t)width && n > k + 1 && !strcmp(name + n - k, op) && name[n - k - 1] == '/')
        n -= k + 1;
    if (n <= (size_t)width || width < 2) {
        snprintf(buf, size, "%.*s", (int)n, name);
        return buf;
    }
    /* Cut whole leading path components where that fits ("~/layer1.0/conv1"),
     * else characters. */
    size_t from = n - (size_t)(width - 1);
    for (size_t p = 1; p < n; p++)
        if (name[p] == '/' && n - p <= (size_t)(width - 1)) {
            from = p;
            break;
        }
    snprintf(buf, size, "~%.*s", (int)(n - from), name + from);
    return buf;
}

/* The trace's view of node i: its info and its first output. */
static int node_view(xcnn_model *m, int i, xcnn_node_info *ni, xcnn_tensor_view *v)
{
    return xcnn_model_node(m, i, ni) == XCNN_OK && xcnn_model_tensor(m, ni->output, v) == XCNN_OK;
}

static void print_forward(xcnn_model *m, const double *fwd, double wall)
{
    char b[8][64];
    int n = xcnn_model_node_count(m);
    double flops = 0, in_nodes = 0;
    printf("forward: each node's output; zeros = fraction of exact zeros (what a ReLU kills);\n"
           "ms = the node's fastest of %d passes\n", TIMED_PASSES);
    printf("%3s %-11s %-19s %-12s %8s %8s %8s %6s %7s %7s\n", "#", "op", "name", "output", "min",
           "mean", "max", "zeros", "FLOPs", "ms");
    for (int i = 0; i < n; i++) {
        xcnn_node_info ni;
        xcnn_tensor_view v;
        if (!node_view(m, i, &ni, &v)) continue;
        cli_shape_str(&v, b[0], sizeof b[0]);
        flops += ni.flops;
        in_nodes += fwd[i];
        /* The batch is 1: a shape too wide ("1x512x112x112") drops it. */
        const char *shape = strlen(b[0]) > 12 && !strncmp(b[0], "1x", 2) ? b[0] + 2 : b[0];
        printf("%3d %-11s %-19s %-12s ", i, fit(short_op(ni.op_type), 11, b[1], sizeof b[1]),
               node_name(ni.name, ni.op_type, 19, b[2], sizeof b[2]),
               fit(shape, 12, b[3], sizeof b[3]));
        if (v.data) {
            stats s = stats_of(v.data, v.numel);
            printf("%8s %8s %8s %5.1f%% ", num8(s.min, b[4], sizeof b[4]),
                   num8(s.mean, b[5], sizeof b[5]), num8(s.max, b[6], sizeof b[6]),
                   100 * s.zeros);
        } else {
            printf("%8s %8s %8s %6s ", "-", "-", "-", "-"); /* integer values */
        }
        printf("%7s %7.3f\n", flops_str(ni.flops, b[7], sizeof b[7]), fwd[i] * 1e3);
    }
    printf("total: %d nodes, %s FLOPs; forward %.3f ms, %.3f ms of it in the nodes (%.2f "
           "GFLOP/s)\n\n", n, flops_str(flops, b[0], sizeof b[0]), wall * 1e3, in_nodes * 1e3,
           wall > 0 ? flops / wall / 1e9 : 0.0);
}

static void print_grad_row(const char *idx, const char *op, const char *name,
                           const xcnn_tensor_view *v, double seconds, int timed)
{
    char b[7][64];
    printf("%3s %-11s %-19s ", idx, fit(short_op(op), 11, b[0], sizeof b[0]),
           node_name(name, op, 19, b[1], sizeof b[1]));
    if (v->grad) {
        stats s = stats_of(v->grad, v->numel);
        printf("%8s %8s %8s %8s %5.1f%%%s", num8(s.min, b[2], sizeof b[2]),
               num8(s.mean, b[3], sizeof b[3]), num8(s.max, b[4], sizeof b[4]),
               num8(s.norm, b[5], sizeof b[5]), 100 * s.zeros, timed ? " " : "");
    } else {
        printf("%8s %8s %8s %8s %6s%s", "-", "-", "-", "-", "-", timed ? " " : "");
    }
    if (timed) printf("%7.3f\n", seconds * 1e3);
    else printf("\n");
}

static void print_backward(xcnn_model *m, const double *bwd, double wall, int target,
                           const char *tname)
{
    int n = xcnn_model_node_count(m);
    double in_nodes = 0;
    printf("backward: d score[%d%s%s] / d (each node's output), from the output back;\n"
           "norm = L2 norm; ms = the node's backward, fastest of %d passes\n", target,
           tname ? " " : "", tname ? tname : "", TIMED_PASSES);
    printf("%3s %-11s %-19s %8s %8s %8s %8s %6s %7s\n", "#", "op", "name", "min", "mean", "max",
           "norm", "zeros", "ms");
    for (int i = n - 1; i >= 0; i--) {
        xcnn_node_info ni;
        xcnn_tensor_view v;
        char idx[16];
        if (!node_view(m, i, &ni, &v)) continue;
        snprintf(idx, sizeof idx, "%d", i);
        in_nodes += bwd[i];
        print_grad_row(idx, ni.op_type, ni.name, &v, bwd[i], 1);
    }
    xcnn_tensor_view in;
    xcnn_model_input(m, &in);
    print_grad_row("in", "(input)", in.name, &in, 0, 0);
    printf("total: backward %.3f ms, %.3f ms of it in the nodes\n\n", wall * 1e3,
           in_nodes * 1e3);
}

/* ---- the arena ------------------------------------------------------------ */

/* One row of the layout: the input or a node's output, placed in this
 * load (off, goff) and in an inference-only load (ioff, ibytes). */
typedef struct layout_row {
    char label[12];
    const char *name, *op; /* the node's (or the input's) name and op */
    const char *tensor;
    int64_t off, goff, ioff;
    size_t bytes, ibytes;
} layout_row;

static int overlap(int64_t a, size_t an, int64_t b, size_t bn)
{
    return a >= 0 && b >= 0 && a < b + (int64_t)bn && b < a + (int64_t)an;
}

static const char *kb(int64_t bytes, char *buf, size_t size)
{
    if (bytes < 0) snprintf(buf, size, "-");
    else snprintf(buf, size, "%.1f", (double)bytes / 1024);
    return buf;
}

static void print_layout(xcnn_model *m, xcnn_model *mi, const char *mi_error)
{
    int n = xcnn_model_node_count(m);
    layout_row *rows = calloc((size_t)n + 1, sizeof *rows);
    if (!rows) {
        printf("arena: (out of memory for the layout)\n");
        return;
    }
    int nr = 0;
    for (int i = -1; i < n; i++) {
        xcnn_node_info ni;
        xcnn_tensor_view v;
        layout_row *r = &rows[nr];
        if (i < 0) {
            xcnn_model_input(m, &v);
            snprintf(r->label, sizeof r->label, "in");
            r->name = v.name;
            r->op = "";
        } else {
            if (!node_view(m, i, &ni, &v)) continue;
            snprintf(r->label, sizeof r->label, "%d", i);
            r->name = ni.name;
            r->op = ni.op_type;
        }
        r->tensor = v.name;
        r->off = v.arena_offset;
        r->goff = v.grad_offset;
        r->bytes = v.arena_bytes;
        r->ioff = -1;
        xcnn_tensor_view iv;
        if (mi && xcnn_model_tensor(mi, v.name, &iv) == XCNN_OK) {
            r->ioff = iv.arena_offset;
            r->ibytes = iv.arena_bytes;
        }
        nr++;
    }
    /* In this load nothing may overlap: checked, not assumed. */
    int clashes = 0;
    size_t values = 0;
    for (int a = 0; a < nr; a++) {
        values += rows[a].bytes;
        for (int b = a + 1; b < nr; b++)
            clashes += overlap(rows[a].off, rows[a].bytes, rows[b].off, rows[b].bytes) +
                       overlap(rows[a].goff, rows[a].bytes, rows[b].goff, rows[b].bytes) +
                       overlap(rows[a].off, rows[a].bytes, rows[b].goff, rows[b].bytes) +
                       overlap(rows[a].goff, rows[a].bytes, rows[b].off, rows[b].bytes);
    }
    char b[6][64];
    printf("arena of this load (for explanations): %s KB; every tensor has its own slice, its\n"
           "values then its gradient (%s KB of values, as much of gradients, the rest is the\n"
           "ops' scratch); overlapping slices: %d\n",
           kb((int64_t)xcnn_model_arena_bytes(m), b[0], sizeof b[0]),
           kb((int64_t)values, b[1], sizeof b[1]), clashes);
    if (mi) {
        printf("an inference-only load of the same model (as xcnn predict's): %s KB; layer\n"
               "outputs share memory by lifetime (infer@KB, and who shares it), and a Conv\n"
               "absorbs a BatchNorm, Relu, Clip or Add (with its Relu) after it, the stem\n"
               "Conv its MaxPool, and an Add a Relu, whose input is then never made (fused)\n",
               kb((int64_t)xcnn_model_arena_bytes(mi), b[0], sizeof b[0]));
    } else {
        printf("(no inference-only layout: %s)\n", mi_error);
    }
    printf("%3s %-19s %8s %10s %10s | %9s%s\n", "#", "output of", "KB", "value@KB", "grad@KB",
           mi ? "infer@KB" : "", mi ? "  shares memory with" : "");
    int shared_pairs = 0;
    for (int a = 0; a < nr; a++) {
        const layout_row *r = &rows[a];
        char list[40] = "";
        size_t used = 0;
        for (int q = 0; mi && q < nr; q++) {
            if (q == a || !overlap(r->ioff, r->ibytes, rows[q].ioff, rows[q].ibytes)) continue;
            shared_pairs += q > a;
            if (used + strlen(rows[q].label) + 1 >= 28) {
                if (used < sizeof list - 4) snprintf(list + used, sizeof list - used, "...");
                used = sizeof list;
                continue;
            }
            if (used < sizeof list)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                         used ? " " : "", rows[q].label);
        }
        printf("%3s %-19s %8s %10s %10s | %9s%s%s\n", r->label,
               node_name(r->name, r->op, 19, b[0], sizeof b[0]), kb((int64_t)r->bytes, b[1], sizeof b[1]),
               kb(r->off, b[2], sizeof b[2]), kb(r->goff, b[3], sizeof b[3]),
               !mi ? "" : r->ioff >= 0 ? kb(r->ioff, b[4], sizeof b[4]) : "fused",
               list[0] ? "  " : "", list);
    }
    if (mi)
        printf("inference-only: %d pairs of tensors share memory\n", shared_pairs);
    free(rows);
}

/* ---- the command ------------------------------------------------------------ */

int cli_trace(int argc, char **argv)
{
    trace_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    xcnn_model *m = cli_load_model(a.model, &a.io);
    if (!m) return CLI_EXIT_ERROR;
    xcnn_model *mi = NULL;
    cli_labels labels;
    int is_image = 0, n = xcnn_model_node_count(m);
    float *x = NULL, *y = NULL;
    double *fwd = calloc((size_t)n + 1, sizeof *fwd), *bwd = calloc((size_t)n + 1, sizeof *bwd);
    rc = cli_labels_load(m, &a.io, &labels);
    if (!rc) x = cli_load_any_input(m, a.input, &a.io, &is_image);
    if (!x) {
        rc = CLI_EXIT_ERROR;
        goto done;
    }
    if (a.target_name && (rc = cli_label_index(&labels, a.target_name, &a.target))) goto done;
    xcnn_tensor_view in, out;
    xcnn_model_input(m, &in);
    xcnn_model_output(m, &out);
    y = malloc(out.numel * sizeof *y);
    if (!y || !fwd || !bwd || xcnn_model_set_profiling(m, 1) != XCNN_OK) {
        rc = cli_error("out of memory");
        goto done;
    }
    if (a.threads && xcnn_model_set_threads(m, (int)a.threads) != XCNN_OK) {
        rc = cli_error("--threads: %s", xcnn_model_error(m));
        goto done;
    }

    /* Pass 0 warms up (and finds the arg-max); each node keeps its
     * fastest time over the timed passes, as do the whole passes. */
    int target = (int)a.target;
    double fwd_wall = 0, bwd_wall = 0;
    for (int pass = 0; pass <= TIMED_PASSES; pass++) {
        double t0 = now_seconds();
        if (xcnn_forward(m, x, 1, y) != XCNN_OK) {
            rc = cli_error("%s", xcnn_model_error(m));
            goto done;
        }
        double t1 = now_seconds();
        if (!a.have_target) {
            target = 0;
            for (size_t k = 1; k < out.numel; k++)
                if (y[k] > y[target]) target = (int)k;
        }
        if (xcnn_backward(m, &target, NULL, NULL) != XCNN_OK) {
            rc = cli_error("%s", xcnn_model_error(m));
            goto done;
        }
        double t2 = now_seconds();
        if (pass == 0) continue;
        if (pass == 1 || t1 - t0 < fwd_wall) fwd_wall = t1 - t0;
        if (pass == 1 || t2 - t1 < bwd_wall) bwd_wall = t2 - t1;
        for (int i = 0; i < n; i++) {
            xcnn_node_info ni;
            if (xcnn_model_node(m, i, &ni) != XCNN_OK) continue;
            if (pass == 1 || ni.forward_seconds < fwd[i]) fwd[i] = ni.forward_seconds;
            if (pass == 1 || ni.backward_seconds < bwd[i]) bwd[i] = ni.backward_seconds;
        }
    }

    char shape[128], oshape[128];
    cli_shape_str(&in, shape, sizeof shape);
    const char *tname = cli_label(&labels, target);
    size_t best = 0;
    for (size_t k = 1; k < out.numel; k++)
        if (y[k] > y[best]) best = k;
    const char *bname = cli_label(&labels, (int)best);
    printf("model  %s\ninput  %s (%s) -> %s\n", a.model, a.input,
           is_image ? "image, preprocessed" : ".npy", shape);
    cli_shape_str(&out, oshape, sizeof oshape);
    printf("output %s, arg-max class %zu%s%s%s, score %.6g\n", oshape, best, bname ? " (" : "",
           bname ? bname : "", bname ? ")" : "", (double)y[best]);
    printf("target class %d%s%s%s, score %.6g: the backward starts from d score / d score = 1"
           "\n\n", target, tname ? " (" : "", tname ? tname : "", tname ? ")" : "",
           (double)y[target]);
    print_forward(m, fwd, fwd_wall);
    print_backward(m, bwd, bwd_wall, target, tname);

    char err[600] = "";
    xcnn_load_options lo = a.io.load;
    lo.inference_only = 1;
    if (xcnn_model_load(a.model, &lo, &mi, err, sizeof err) != XCNN_OK) mi = NULL;
    print_layout(m, mi, err);
done:
    cli_labels_free(&labels);
    free(fwd);
    free(bwd);
    free(x);
    free(y);
    xcnn_model_free(mi);
    xcnn_model_free(m);
    return rc;
}
