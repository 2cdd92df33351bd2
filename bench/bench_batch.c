/*
 * Images per second of many inputs already in memory, through the C API:
 * the library's side of bench/throughput.py's comparison with PyTorch,
 * whose inputs are tensors in memory too and which writes nothing (the
 * xcnn CLI's row there also starts a process, loads the model, reads the
 * images and writes the files).
 *
 *   build/bench/bench_batch MODEL INPUTS.npy [--method M] [--batch B]
 *       [--threads T] [--rounds R] [--steps S]
 *
 * INPUTS.npy holds N inputs (N x the model's input). M: predict (xcnn_forward
 * in batches of B), or saliency, gradcam, ig (xcnn_explain_batch, B inputs
 * a call; ig with S Gauss-Legendre steps, default 16). One round over all N
 * inputs warms up (it touches the memory of a batch for the first time);
 * then R rounds (default 5) are timed by the wall clock. Prints each
 * round's rate and `median_per_s=`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../include/xcnn.h"

static double wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct run {
    xcnn_model *m;
    const float *x;
    int n, batch, predict;
    size_t in_n, per;
    xcnn_explain_options o;
    float *out;
    xcnn_explain_result *res;
} run;

/* All n inputs once; 0, or -1 with the model's message printed. */
static int one_round(const run *r)
{
    for (int i = 0; i < r->n; i += r->batch) {
        int b = r->n - i < r->batch ? r->n - i : r->batch, done = 0;
        const float *xi = r->x + (size_t)i * r->in_n;
        xcnn_status st = r->predict ? xcnn_forward(r->m, xi, b, r->out)
                                    : xcnn_explain_batch(r->m, xi, b, &r->o, r->out,
                                                         (size_t)b * r->per, r->res, &done);
        if (st != XCNN_OK) {
            fprintf(stderr, "bench_batch: %s\n", xcnn_model_error(r->m));
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_batch MODEL INPUTS.npy [--method predict|saliency|gradcam|ig]"
                        " [--batch B] [--threads T] [--rounds R] [--steps S]\n");
        return 2;
    }
    const char *method = "predict";
    int batch = 32, threads = 0, rounds = 5, steps = 16;
    for (int i = 3; i < argc; i++) {
        int more = i + 1 < argc;
        if (!strcmp(argv[i], "--method") && more) method = argv[++i];
        else if (!strcmp(argv[i], "--batch") && more) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && more) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && more) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && more) steps = atoi(argv[++i]);
        else {
            fprintf(stderr, "bench_batch: unknown or incomplete option '%s'\n", argv[i]);
            return 2;
        }
    }
    xcnn_method m_id = XCNN_SALIENCY;
    int predict = !strcmp(method, "predict");
    if (!strcmp(method, "gradcam")) m_id = XCNN_GRADCAM;
    else if (!strcmp(method, "ig")) m_id = XCNN_INTEGRATED_GRADIENTS;
    else if (!predict && strcmp(method, "saliency")) {
        fprintf(stderr, "bench_batch: --method predict, saliency, gradcam or ig\n");
        return 2;
    }
    if (batch < 1 || rounds < 1 || steps < 1 || threads < 0) {
        fprintf(stderr, "bench_batch: --batch, --rounds and --steps must be at least 1\n");
        return 2;
    }
    char err[512];
    float *x = NULL;
    int ndim = 0;
    int64_t dims[XCNN_MAX_DIMS];
    run r;
    memset(&r, 0, sizeof r);
    if (xcnn_npy_read(argv[2], &x, &ndim, dims, err, sizeof err) != XCNN_OK ||
        xcnn_model_load(argv[1], NULL, &r.m, err, sizeof err) != XCNN_OK) {
        fprintf(stderr, "bench_batch: %s\n", err);
        free(x);
        return 1;
    }
    int rc = 1;
    xcnn_tensor_view in, outv;
    xcnn_model_input(r.m, &in);
    xcnn_model_output(r.m, &outv);
    r.in_n = in.numel / (size_t)in.dims[0];
    size_t total = 1;
    for (int d = 0; d < ndim; d++) total *= (size_t)dims[d];
    if (ndim < 1 || total % r.in_n || total / r.in_n < 1) {
        fprintf(stderr, "bench_batch: %s does not hold whole inputs of %zu floats\n", argv[2],
                r.in_n);
        goto done;
    }
    r.x = x;
    r.n = (int)(total / r.in_n);
    r.batch = batch;
    r.predict = predict;
    if ((threads && xcnn_model_set_threads(r.m, threads) != XCNN_OK) ||
        xcnn_model_reserve(r.m, m_id == XCNN_INTEGRATED_GRADIENTS ? 32 : batch) != XCNN_OK) {
        fprintf(stderr, "bench_batch: %s\n", xcnn_model_error(r.m));
        goto done;
    }
    xcnn_explain_options_init(&r.o, m_id);
    r.o.steps = steps;
    int ex_ndim;
    int64_t ex_dims[4];
    r.per = outv.numel / (size_t)outv.dims[0];
    if (!predict) {
        if (xcnn_explain_shape(r.m, &r.o, &ex_ndim, ex_dims) != XCNN_OK) {
            fprintf(stderr, "bench_batch: %s\n", xcnn_model_error(r.m));
            goto done;
        }
        r.per = 1;
        for (int d = 0; d < ex_ndim; d++) r.per *= (size_t)ex_dims[d];
    }
    r.out = malloc((size_t)batch * r.per * sizeof(float));
    r.res = malloc((size_t)batch * sizeof *r.res);
    double *rate = malloc((size_t)rounds * sizeof(double));
    if (!r.out || !r.res || !rate) {
        fprintf(stderr, "bench_batch: out of memory\n");
        free(rate);
        goto done;
    }
    if (one_round(&r) == 0) { /* the warm-up */
        rc = 0;
        for (int k = 0; k < rounds && !rc; k++) {
            double t0 = wall();
            rc = one_round(&r);
            rate[k] = (double)r.n / (wall() - t0);
            if (!rc) printf("round %d: %.1f %s per second\n", k + 1, rate[k], method);
        }
        if (!rc) {
            qsort(rate, (size_t)rounds, sizeof *rate, by_value);
            printf("%s, %d inputs, batches of %d: median_per_s=%.1f\n", method, r.n, batch,
                   rate[rounds / 2]);
        }
    }
    free(rate);
done:
    free(r.out);
    free(r.res);
    free(x);
    xcnn_model_free(r.m);
    return rc;
}
