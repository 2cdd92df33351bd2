/*
 * xcnn bench MODEL [--method M] [--iters N] [--threads T] [--batch B]
 *                  [--steps N] [--samples N] [--layer NAME]
 *
 * Times one kind of run on a random (seeded) input of the model's input
 * shape: a forward pass, forward + backward to the input, or one
 * explanation (any `xcnn explain` method). Prints the machine, min /
 * median / max milliseconds per run, GFLOP/s where the work is known
 * (forward: the sum of the nodes' FLOPs) and the peak resident memory,
 * and ends with exactly one line  median_ms=<ms> peak_rss_mb=<MB>
 * for scripts.
 */
#define _XOPEN_SOURCE 700 /* getrusage */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "cli.h"

static const struct {
    const char *name;
    int method; /* an xcnn_method, or one of the two below */
} kinds[] = {
    {"forward", -1},
    {"forward-backward", -2},
    {"saliency", XCNN_SALIENCY},
    {"input-x-gradient", XCNN_INPUT_X_GRADIENT},
    {"deconvnet", XCNN_DECONVNET},
    {"guided-backprop", XCNN_GUIDED_BACKPROP},
    {"integrated-gradients", XCNN_INTEGRATED_GRADIENTS},
    {"smoothgrad", XCNN_SMOOTHGRAD},
    {"gradcam", XCNN_GRADCAM},
    {"guided-gradcam", XCNN_GUIDED_GRADCAM},
    /* the second round that needs no file (baselines, masks) */
    {"deeplift", XCNN_DEEPLIFT},
    {"lrp", XCNN_LRP},
    {"occlusion", XCNN_OCCLUSION},
    {"rise", XCNN_RISE},
    {"cam", XCNN_CAM},
    {"gradcam-plus-plus", XCNN_GRADCAM_PLUS_PLUS},
    {"xgradcam", XCNN_XGRADCAM},
    {"layercam", XCNN_LAYERCAM},
    {"hirescam", XCNN_HIRESCAM},
    {"scorecam", XCNN_SCORECAM},
    {"eigencam", XCNN_EIGENCAM},
    {"ablationcam", XCNN_ABLATIONCAM},
};
enum { RUN_FORWARD = -1, RUN_FORWARD_BACKWARD = -2 };
#define N_KINDS (sizeof kinds / sizeof kinds[0])

static const char *bench_usage =
    "usage: xcnn bench MODEL [--method M] [--iters N] [--threads T] [--batch B]\n"
    "       [--steps N] [--samples N] [--layer NAME] [--max-arena-mb N]\n"
    "M: forward (default) forward-backward saliency input-x-gradient deconvnet\n"
    "   guided-backprop integrated-gradients smoothgrad gradcam guided-gradcam\n"
    "   deeplift lrp occlusion (window 15x15, stride 8) rise cam gradcam-plus-plus\n"
    "   xgradcam layercam hirescam scorecam eigencam ablationcam";

typedef struct bench_args {
    const char *model, *layer;
    int method;
    long iters, threads, batch, steps, samples, max_arena_mb;
} bench_args;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int parse_args(int argc, char **argv, bench_args *a)
{
    memset(a, 0, sizeof *a);
    a->method = RUN_FORWARD;
    a->iters = 10;
    a->steps = 50;
    a->samples = 25;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--method")) {
            if (++i >= argc) return cli_usage_error("--method needs a value");
            size_t k;
            for (k = 0; k < N_KINDS && strcmp(kinds[k].name, argv[i]); k++) {}
            if (k == N_KINDS) {
                fprintf(stderr, "%s\n", bench_usage);
                return cli_usage_error("unknown method '%s'", argv[i]);
            }
            a->method = kinds[k].method;
        } else if (!strcmp(f, "--layer")) {
            if (++i >= argc) return cli_usage_error("--layer needs a value");
            a->layer = argv[i];
        } else if (!strcmp(f, "--iters") || !strcmp(f, "--threads") || !strcmp(f, "--batch") ||
                   !strcmp(f, "--steps") || !strcmp(f, "--samples")) {
            long *dst = !strcmp(f, "--iters")     ? &a->iters
                        : !strcmp(f, "--threads") ? &a->threads
                        : !strcmp(f, "--batch")   ? &a->batch
                        : !strcmp(f, "--steps")   ? &a->steps
                                                  : &a->samples;
            long hi = dst == &a->threads ? 1024 : 100000; /* xcnn_model_set_threads' range */
            if (++i >= argc || cli_parse_int(argv[i], 1, hi, dst))
                return cli_usage_error("%s needs a whole number from 1 to %ld", f, hi);
        } else if (!strcmp(f, "--max-arena-mb")) {
            if (++i >= argc || cli_parse_int(argv[i], 1, 1L << 20, &a->max_arena_mb))
                return cli_usage_error("--max-arena-mb needs a whole number of MiB from 1 to "
                                       "1048576");
        } else if (f[0] == '-' && f[1]) {
            return cli_usage_error("bench: unknown option '%s'", f);
        } else if (!a->model) {
            a->model = f;
        } else {
            return cli_usage_error("bench: unexpected argument '%s'", f);
        }
    }
    if (!a->model) {
        fprintf(stderr, "%s\n", bench_usage);
        return cli_usage_error("bench needs MODEL");
    }
    return 0;
}

/* "model name" from /proc/cpuinfo, or "unknown". */
static void cpu_model(char *out, size_t size)
{
    snprintf(out, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon) continue;
        colon += 1 + (colon[1] == ' ');
        colon[strcspn(colon, "\n")] = 0;
        snprintf(out, size, "%s", colon);
        break;
    }
    fclose(f);
}

/* Peak resident memory of this program. VmHWM (Linux) belongs to this
 * process image only; getrusage's ru_maxrss can include the RSS of the
 * parent that forked us (a Python harness with torch loaded), so it is
 * only the fallback. */
static double peak_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        long kb = -1;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
        fclose(f);
        if (kb >= 0) return (double)kb / 1024.0;
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One timed run of the chosen work. */
static xcnn_status run_once(xcnn_model *m, const bench_args *a, const float *x, int batch,
                            const int *targets, const xcnn_explain_options *o, float *attr,
                            size_t attr_len)
{
    if (a->method == RUN_FORWARD) return xcnn_forward(m, x, batch, NULL);
    if (a->method == RUN_FORWARD_BACKWARD) {
        xcnn_status st = xcnn_forward(m, x, batch, NULL);
        return st ? st : xcnn_backward(m, targets, NULL, NULL);
    }
    return xcnn_explain(m, x, o, attr, attr_len, NULL);
}

/* Time a->iters runs after one warm-up; times[] gets milliseconds. */
static int time_runs(xcnn_model *m, const bench_args *a, const float *x, int batch,
                     const int *targets, const xcnn_explain_options *o, float *attr,
                     size_t attr_len, double *times)
{
    for (long i = -1; i < a->iters; i++) {
        double t = now_s();
        if (run_once(m, a, x, batch, targets, o, attr, attr_len) != XCNN_OK)
            return cli_error("%s", xcnn_model_error(m));
        if (i >= 0) times[i] = (now_s() - t) * 1e3;
    }
    return 0;
}

int cli_bench(int argc, char **argv)
{
    bench_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    double t_load = now_s();
    /* Plain forward is measured as deployed: loaded inference_only, so with
     * Conv+BN and Conv+Relu (or Clip) fused and no gradient buffers. */
    cli_input_opts io = {0};
    io.load.inference_only = a.method == RUN_FORWARD;
    io.load.max_arena_bytes = (uint64_t)a.max_arena_mb << 20; /* 0: the default */
    xcnn_model *m = cli_load_model(a.model, &io);
    if (!m) return CLI_EXIT_ERROR;
    t_load = now_s() - t_load;
    if (a.threads && xcnn_model_set_threads(m, (int)a.threads) != XCNN_OK) {
        rc = cli_error("--threads: %s", xcnn_model_error(m));
        xcnn_model_free(m);
        return rc;
    }

    int explain = a.method >= 0;
    int many = a.method == XCNN_OCCLUSION || a.method == XCNN_SCORECAM ||
               a.method == XCNN_ABLATIONCAM;
    long points = a.method == XCNN_INTEGRATED_GRADIENTS                      ? a.steps
                  : a.method == XCNN_SMOOTHGRAD || a.method == XCNN_RISE    ? a.samples
                  : a.method == XCNN_DEEPLIFT                               ? 2
                  : many                                                    ? 1L << 20
                                                                            : 1;
    /* forward / forward-backward run `batch` inputs at once; explainers
     * one input, with path points batched (8 by default, as xcnn explain). */
    long batch = a.batch ? a.batch : explain ? 8 : 1;
    if (explain && batch > points) batch = points;
    float *x = NULL, *attr = NULL;
    int *targets = NULL;
    double *times = NULL;
    size_t attr_len = 0;
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, explain ? (xcnn_method)a.method : XCNN_SALIENCY);
    o.steps = (int)a.steps;
    o.samples = (int)a.samples;
    o.layer = a.layer;
    o.window[1] = o.window[2] = 15; /* occlusion: the 15x15, stride 8 */
    o.stride[0] = o.stride[1] = 8;
    if (xcnn_model_reserve(m, (int)batch) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(m));
        goto done;
    }

    xcnn_tensor_view in;
    xcnn_model_input(m, &in);
    int in_batch = explain ? 1 : (int)batch;
    size_t n = in.numel / (size_t)(in.dims[0] > 0 ? in.dims[0] : 1) * (size_t)in_batch;
    x = malloc(n * sizeof(float));
    targets = calloc((size_t)batch, sizeof(int));
    times = malloc((size_t)a.iters * sizeof(double));
    if (explain) {
        int ndim;
        int64_t dims[4];
        if (xcnn_explain_shape(m, &o, &ndim, dims) != XCNN_OK) {
            rc = cli_error("%s", xcnn_model_error(m));
            goto done;
        }
        attr_len = 1;
        for (int i = 0; i < ndim; i++) attr_len *= (size_t)dims[i];
        attr = malloc(attr_len * sizeof(float));
    }
    if (!x || !targets || !times || (explain && !attr)) {
        rc = cli_error("out of memory");
        goto done;
    }
    uint64_t s = 0x9e3779b97f4a7c15ULL; /* fixed seed: same input every run */
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
    }
    if ((rc = time_runs(m, &a, x, in_batch, targets, &o, attr, attr_len, times))) goto done;
    qsort(times, (size_t)a.iters, sizeof(double), cmp_double);
    double median = a.iters % 2 ? times[a.iters / 2]
                                : 0.5 * (times[a.iters / 2 - 1] + times[a.iters / 2]);

    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    int threads = (int)a.threads;
#ifdef _OPENMP
    if (!threads) threads = omp_get_max_threads();
#else
    threads = 1;
#endif
    double flops = 0;
    for (int i = 0; i < xcnn_model_node_count(m); i++) {
        xcnn_node_info info;
        if (xcnn_model_node(m, i, &info) == XCNN_OK) flops += info.flops;
    }
    const char *name = "forward";
    for (size_t k = 0; k < N_KINDS; k++)
        if (kinds[k].method == a.method) name = kinds[k].name;
    printf("model: %s (loaded in %.1f ms)\n", a.model, t_load * 1e3);
    printf("cpu: %s\nthreads: %d\n", cpu, threads);
    printf("method: %s, batch %ld", name, batch);
    if (a.method == XCNN_INTEGRATED_GRADIENTS) printf(", %ld steps", a.steps);
    if (a.method == XCNN_SMOOTHGRAD) printf(", %ld samples", a.samples);
    printf(", %ld runs after 1 warm-up\n", a.iters);
    printf("ms per run: min %.3f  median %.3f  max %.3f\n", times[0], median,
           times[a.iters - 1]);
    if (a.method == RUN_FORWARD && flops > 0)
        printf("forward: %.3f GFLOP per run, %.1f GFLOP/s at the median\n",
               flops * (double)batch * 1e-9, flops * (double)batch / (median * 1e-3) * 1e-9);
    printf("median_ms=%.3f peak_rss_mb=%.1f\n", median, peak_rss_mb());
done:
    free(x);
    free(attr);
    free(targets);
    free(times);
    xcnn_model_free(m);
    return rc;
}
