/*
 * Per-layer timing: where a forward and a backward pass spend their time,
 * node by node, so the layers far from the GEMM peak (bench_gemm) show.
 *
 *   build/bench/bench_layers MODEL [--threads T] [--iters N] [--batch B]
 *                            [--input-shape CxHxW] [--param-grads | --inference]
 *
 * The model is loaded for gradients (no Conv+BN fusion), reserved for B
 * inputs and run once forward and once backward (true ReLU gradient, from
 * output 0 of each input, full pass) on a seeded random input, so every
 * activation and every grad_on flag is as in a real pass. Then each compute
 * node's forward() and backward() are called alone: one warm-up call, then
 * the median of N calls: thread CPU time on one thread (steady when the
 * VM lends the core away), wall clock (CLOCK_MONOTONIC) on several. backward() adds into
 * the gradients each call: the values drift, the work is the same. Nodes
 * the full backward skipped (nothing downstream reaches the output) are
 * not timed backward. --param-grads also computes weight gradients, as
 * training does; without it backward is what the explainers run.
 *
 * GFLOP/s = node FLOPs (forward, batch 1, multiply-add = 2) * B / time.
 * A conv run by Winograd counts the FLOPs of the direct conv it replaces,
 * so its figure is an effective rate and can pass the hardware's peak.
 * "in pass" is the node's forward inside N whole passes (median; timed by
 * xcnn_model_set_profiling, wall clock): above the node alone when its
 * weights and input come from memory or from the other core's cache, as
 * in a real pass, instead of from its own warm caches.
 * At the end: totals per op type, and the sum of the node medians next to
 * the sum of the in-pass medians and the median of N whole passes
 * (xcnn_exec_forward / xcnn_exec_backward), whose difference is the
 * executor's own cost (input check, clearing the gradients, the loop).
 *
 * --inference loads the model as `xcnn predict` does (inference_only:
 * Conv+BN+ReLU (or Clip) fused, Winograd F(4x4), converted weights, activations
 * sharing memory by lifetime) and times the forward only. A node called
 * again reads inputs that later nodes may have overwritten: the values
 * differ from a real pass, the work does not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "../libxcnn/base/cpu.h"
#include "../libxcnn/core/model.h"

typedef struct op_total {
    const char *op;
    int count;
    double fwd, bwd;
} op_total;

/* One thread is timed in its CPU time (steady when the VM lends the core
 * to someone else), several in wall time; set once in main. */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(bench_clock, &t);
    return (double)t.tv_sec * 1e3 + 1e-6 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Median ms of `iters` calls of one node's forward (bwd = 0) or backward,
 * after one warm-up call. */
static double time_node(xcnn_model *m, const xcnn_node *n, int bwd, int iters, double *t)
{
    xcnn_graph *g = m->g;
    xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, NULL, NULL};
    for (int i = -1; i < iters; i++) {
        double t0 = now_ms();
        if (bwd) n->def->backward(g, n, g->batch, m->scratch, &ctx);
        else n->def->forward(g, n, g->batch, m->scratch);
        if (i >= 0) t[i] = now_ms() - t0;
    }
    return median(t, iters);
}

/* Median ms of `iters` whole passes (forward, or backward after one forward). */
static double time_pass(xcnn_model *m, const float *x, int batch, const int *targets, int bwd,
                        int iters, double *t, xcnn_err *err)
{
    for (int i = -1; i < iters; i++) {
        double t0 = now_ms();
        xcnn_status st = bwd ? xcnn_exec_backward(m, targets, NULL, XCNN_RELU_GRADIENT, -1, err)
                             : xcnn_exec_forward(m, x, batch, err);
        if (st != XCNN_OK) return -1;
        if (i >= 0) t[i] = now_ms() - t0;
    }
    return median(t, iters);
}

/* Each compute node's median ms inside `iters` whole forward passes (after
 * one warm-up pass), timed by the executor's profiling; t holds iters * nc. */
static int time_in_pass(xcnn_model *m, const float *x, int batch, int iters, double *t,
                        double *in_pass, xcnn_err *err)
{
    int nc = m->n_compute;
    if (xcnn_model_set_profiling(m, 1) != XCNN_OK) return -1;
    for (int i = -1; i < iters; i++) {
        if (xcnn_exec_forward(m, x, batch, err) != XCNN_OK) return -1;
        for (int k = 0; k < nc && i >= 0; k++) t[(size_t)k * iters + i] = 1e3 * m->prof_seconds[k];
    }
    for (int k = 0; k < nc; k++) in_pass[k] = median(t + (size_t)k * iters, iters);
    return xcnn_model_set_profiling(m, 0) == XCNN_OK ? 0 : -1;
}

/* "1x3x224x224" or "3,224,224" into o->input_dims[1..]; -1 if malformed. */
static int parse_shape(const char *s, xcnn_load_options *o)
{
    int nd = 1;
    while (*s && nd < XCNN_MAX_DIMS) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 1000000 || (*end && *end != 'x' && *end != ',')) return -1;
        o->input_dims[nd++] = v;
        s = *end ? end + 1 : end;
    }
    return *s || nd < 2 ? -1 : 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int threads = 0, iters = 10, batch = 1, param_grads = 0, inference = 0;
    xcnn_load_options lo = {0};
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        int *dst = !strcmp(f, "--threads") ? &threads
                   : !strcmp(f, "--iters") ? &iters
                   : !strcmp(f, "--batch") ? &batch
                                           : NULL;
        if (dst && i + 1 < argc && (*dst = atoi(argv[++i])) >= 1 && *dst <= 100000) continue;
        if (!strcmp(f, "--input-shape") && i + 1 < argc && !parse_shape(argv[++i], &lo)) continue;
        if (!strcmp(f, "--param-grads")) { param_grads = 1; continue; }
        if (!strcmp(f, "--inference")) { inference = lo.inference_only = 1; continue; }
        if (f[0] != '-' && !path && !dst) { path = f; continue; }
        path = NULL; /* a bad argument: print the usage */
        break;
    }
    if (!path || (param_grads && inference)) {
        fprintf(stderr, "usage: bench_layers MODEL [--threads T] [--iters N] [--batch B] "
                        "[--input-shape CxHxW] [--param-grads | --inference]\n");
        return 2;
    }

    char msg[600];
    xcnn_model *m = NULL;
    if (xcnn_model_load(path, &lo, &m, msg, sizeof msg) != XCNN_OK) {
        fprintf(stderr, "bench_layers: %s: %s\n", path, msg);
        return 1;
    }
    xcnn_model_set_threads(m, threads);
#ifdef _OPENMP
    /* As exec.c does, so the nodes we call directly use T threads too. */
    if (threads > 0) omp_set_num_threads(threads);
    else threads = omp_get_max_threads();
#else
    threads = 1;
#endif
    if (threads == 1) bench_clock = CLOCK_THREAD_CPUTIME_ID;
    xcnn_graph *g = m->g;
    int nc = m->n_compute;
    size_t in_n = xcnn_tensor_sample_numel(&g->tensors[g->input]) * (size_t)batch;
    float *x = malloc(in_n * sizeof *x);
    int *targets = calloc((size_t)batch, sizeof *targets);
    double *t = malloc((size_t)iters * sizeof *t);
    double *fwd = calloc((size_t)nc, sizeof *fwd), *bwd = calloc((size_t)nc, sizeof *bwd);
    double *in_pass = calloc((size_t)nc, sizeof *in_pass);
    double *t_pass = malloc((size_t)iters * (size_t)nc * sizeof *t_pass);
    op_total *ops = calloc((size_t)nc + 1, sizeof *ops);
    xcnn_err err = {{0}};
    int rc = 1;
    if (!x || !targets || !t || !fwd || !bwd || !ops || !in_pass || !t_pass) {
        fprintf(stderr, "bench_layers: out of memory\n");
        goto done;
    }
    if (xcnn_model_reserve(m, batch) != XCNN_OK ||
        (param_grads && xcnn_model_enable_param_grads(m) != XCNN_OK)) {
        fprintf(stderr, "bench_layers: %s\n", xcnn_model_error(m));
        goto done;
    }
    uint64_t s = 0x9e3779b97f4a7c15ULL; /* fixed seed: the same input every run */
    for (size_t i = 0; i < in_n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
    }

    /* One real pass each way sets activations, grad_on flags and reached[]. */
    if (xcnn_exec_forward(m, x, batch, &err) != XCNN_OK ||
        (!inference &&
         xcnn_exec_backward(m, targets, NULL, XCNN_RELU_GRADIENT, -1, &err) != XCNN_OK)) {
        fprintf(stderr, "bench_layers: %s\n", err.msg);
        goto done;
    }
    double sum_f = 0, sum_b = 0, sum_flops = 0;
    int n_ops = 0, name_w = 4;
    for (int i = 0; i < nc; i++) {
        const xcnn_node *n = &g->nodes[m->compute[i]];
        int ran_bwd = 0; /* did the full backward run this node? (as exec.c decides) */
        for (int o = 0; o < n->n_out && !inference; o++) ran_bwd |= m->reached[n->out[o]];
        fwd[i] = time_node(m, n, 0, iters, t);
        bwd[i] = ran_bwd ? time_node(m, n, 1, iters, t) : -1;
        sum_f += fwd[i];
        sum_b += ran_bwd ? bwd[i] : 0;
        sum_flops += n->flops * batch;
        int k = 0;
        while (k < n_ops && strcmp(ops[k].op, n->op_type)) k++;
        if (k == n_ops) ops[n_ops++].op = n->op_type;
        ops[k].count++;
        ops[k].fwd += fwd[i];
        ops[k].bwd += ran_bwd ? bwd[i] : 0;
        int len = (int)strlen(n->name);
        if (len > name_w) name_w = len > 40 ? 40 : len;
    }

    if (time_in_pass(m, x, batch, iters, t_pass, in_pass, &err) != 0) {
        fprintf(stderr, "bench_layers: %s\n", err.msg[0] ? err.msg : "profiling failed");
        goto done;
    }
    double sum_in_pass = 0;
    for (int i = 0; i < nc; i++) sum_in_pass += in_pass[i];

    xcnn_cpu_info cpu;
    xcnn_cpu_detect(&cpu);
    printf("model: %s\ncpu: %s\nthreads: %d, batch %d, median of %d calls per node%s, %s\n\n",
           path, cpu.brand[0] ? cpu.brand : "unknown", threads, batch, iters,
           param_grads ? ", weight gradients on" : inference ? ", inference only (fused)" : "",
           threads == 1 ? "thread CPU time" : "wall time");
    printf("%-*s %-18s %-16s %9s %8s %8s %9s %6s %6s\n", name_w, "node", "op", "output",
           "fwd ms", "GFLOP/s", "in pass", "bwd ms", "%fwd", "%bwd");
    for (int i = 0; i < nc; i++) {
        const xcnn_node *n = &g->nodes[m->compute[i]];
        const xcnn_tensor *o = &g->tensors[n->out[0]];
        char shape[96];
        int used = snprintf(shape, sizeof shape, "%d", batch); /* dims[0] is 1 in the plan */
        for (int d = 1; d < o->ndim && used > 0 && (size_t)used < sizeof shape; d++)
            used += snprintf(shape + used, sizeof shape - (size_t)used, "x%lld",
                             (long long)o->dims[d]);
        int len = (int)strlen(n->name); /* keep the end of long names: it says the most */
        if (len > name_w) printf("...%s", n->name + len - (name_w - 3));
        else printf("%-*s", name_w, n->name);
        printf(" %-18.18s %-16s %9.3f ", n->op_type, shape, fwd[i]);
        if (n->flops > 0) printf("%8.1f ", n->flops * batch / (fwd[i] * 1e6));
        else printf("%8s ", "-");
        printf("%8.3f ", in_pass[i]);
        if (bwd[i] >= 0) printf("%9.3f ", bwd[i]);
        else printf("%9s ", "-");
        printf("%5.1f%% ", 100 * fwd[i] / sum_f);
        if (bwd[i] >= 0) printf("%5.1f%%\n", sum_b > 0 ? 100 * bwd[i] / sum_b : 0);
        else printf("%6s\n", "-");
    }
    printf("%-*s %-18s %-16s %9.3f %8.1f %8.3f %9.3f\n\n", name_w, "total", "", "", sum_f,
           sum_flops / (sum_f * 1e6), sum_in_pass, sum_b);

    printf("%-18s %5s %9s %6s %9s %6s\n", "op type", "nodes", "fwd ms", "%fwd", "bwd ms", "%bwd");
    for (int k = 0; k < n_ops; k++)
        printf("%-18.18s %5d %9.3f %5.1f%% %9.3f %5.1f%%\n", ops[k].op, ops[k].count, ops[k].fwd,
               100 * ops[k].fwd / sum_f, ops[k].bwd, sum_b > 0 ? 100 * ops[k].bwd / sum_b : 0);

    double pass_f = time_pass(m, x, batch, targets, 0, iters, t, &err);
    double pass_b = pass_f < 0 || inference ? 0 : time_pass(m, x, batch, targets, 1, iters, t, &err);
    if (pass_f < 0 || pass_b < 0) {
        fprintf(stderr, "bench_layers: %s\n", err.msg);
        goto done;
    }
    printf("\n%-30s %9s %9s\n", "", "forward", "backward");
    printf("%-30s %9.3f %9.3f\n", "sum of node medians, ms", sum_f, sum_b);
    printf("%-30s %9.3f %9s\n", "sum of in-pass medians, ms", sum_in_pass, "-");
    printf("%-30s %9.3f %9.3f\n", "whole pass (median), ms", pass_f, pass_b);
    printf("%-30s %8.1f%% %8.1f%%\n", "overhead", 100 * (pass_f - sum_f) / pass_f,
           pass_b > 0 ? 100 * (pass_b - sum_b) / pass_b : 0.0);
    rc = 0;
done:
    free(x);
    free(targets);
    free(t);
    free(t_pass);
    free(in_pass);
    free(fwd);
    free(bwd);
    free(ops);
    xcnn_model_free(m);
    return rc;
}
