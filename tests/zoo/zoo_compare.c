/*
 * One model of the torchvision zoo against PyTorch (tests/zoo/test_zoo.sh
 * runs it for each; tools/references/zoo.py writes the directory).
 *
 *   zoo_compare DIR [expect-unsupported | strict]
 *
 * Loads DIR/model.onnx, runs DIR/input.npy forward and backward from the
 * output DIR/meta.txt names, and compares:
 *   predict    max|ours - out64| / max|out64|          (<= 1e-4)
 *   saliency   max|ours - grad64| / max|grad64|, next to PyTorch float32's
 *              own (grad32 against grad64); ours must be within
 *              GRAD_FACTOR times PyTorch's, or under GRAD_FLOOR. Except:
 *              where meta.txt's near_kinks says some activation input lies
 *              (in float64) within float32's rounding of a ReLU-like kink,
 *              a float32 forward may put it on the other side, and all the
 *              gradient downstream of that unit changes (ResNet-18: one
 *              ReLU input of 3e-8 does, in ours and not in PyTorch's; the
 *              float64 gradient with that one unit flipped is ours to
 *              4e-6). Such a model is held to GRAD_KINK_TOL, which still
 *              catches a wrong backward, with a NOTE saying so; `strict`
 *              (the models issue #19 asks this of: MnasNet, ShuffleNetV2,
 *              ConvNeXt) keeps the PyTorch bound regardless.
 * Prints one line per check ("ok"/"FAIL"), then the README table row
 * ("| model | ops | ... |"), timing the forward and the forward+backward
 * (best of 3, the thread count PyTorch was timed with).
 * expect-unsupported: a model whose ops are not all in libxcnn yet; a
 * refusal at load is then expected ("xfail" line) and a load that works
 * is reported and checked like any other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../check.h"
#include "../../include/xcnn.h"

#define PREDICT_TOL 1e-4
#define GRAD_FACTOR 4.0
#define GRAD_FLOOR 1e-4
#define GRAD_KINK_TOL 5e-2

typedef struct meta {
    int target, threads, near_kinks; /* near_kinks: -1 when not given */
    double torch_fwd_ms, torch_sal_ms;
    char ops[4096];
} meta;

static int read_meta(const char *path, meta *m)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[8192];
    int got = 0;
    memset(m, 0, sizeof *m);
    m->near_kinks = -1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (sscanf(line, "target %d", &m->target) == 1) got |= 1;
        else if (sscanf(line, "threads %d", &m->threads) == 1) got |= 2;
        else if (sscanf(line, "near_kinks %d", &m->near_kinks) == 1) continue;
        else if (sscanf(line, "torch_forward_ms %lf", &m->torch_fwd_ms) == 1) got |= 4;
        else if (sscanf(line, "torch_saliency_ms %lf", &m->torch_sal_ms) == 1) got |= 8;
        else if (!strncmp(line, "ops ", 4)) {
            snprintf(m->ops, sizeof m->ops, "%.4000s", line + 4);
            got |= 16;
        }
    }
    fclose(f);
    return got == 31;
}

static float *load_npy(const char *dir, const char *name, size_t *count)
{
    char path[4096], err[256];
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    float *data = NULL;
    int ndim = 0;
    int64_t dims[XCNN_MAX_DIMS];
    if (xcnn_npy_read(path, &data, &ndim, dims, err, sizeof err) != XCNN_OK) {
        check(0, "read %s: %s", path, err);
        return NULL;
    }
    *count = 1;
    for (int i = 0; i < ndim; i++) *count *= (size_t)dims[i];
    return data;
}

/* max|a - ref| / max|ref| over n values. */
static double rel_err(const float *a, const float *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - ref[i]), r = fabs((double)ref[i]);
        if (d > num || d != d) num = d;
        if (r > den) den = r;
    }
    return den > 0 ? num / den : num;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* "Conv:52,Relu:35,..." as "Conv, Relu, ..." (no Constant). */
static void op_names(const char *ops, char *out, size_t size)
{
    size_t at = 0;
    out[0] = 0;
    while (*ops && at + 1 < size) {
        size_t len = strcspn(ops, ":,");
        if (!(len == 8 && !strncmp(ops, "Constant", 8)))
            at += (size_t)snprintf(out + at, size - at, "%s%.*s", at ? ", " : "", (int)len, ops);
        ops += strcspn(ops, ",");
        if (*ops == ',') ops++;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: zoo_compare DIR [expect-unsupported | strict]\n");
        return 2;
    }
    const char *dir = argv[1], *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    int xfail = argc > 2 && !strcmp(argv[2], "expect-unsupported");
    int strict = argc > 2 && !strcmp(argv[2], "strict");
    char path[4096], err[1024];
    meta mt;
    snprintf(path, sizeof path, "%s/meta.txt", dir);
    if (!read_meta(path, &mt)) {
        check_skip("%s: no complete export in %s (tools/make_fixtures.py --zoo; the heavy "
                   "models with XCNN_ZOO_ALL=1)", name, dir);
        return check_summary();
    }
    char ops[4096];
    op_names(mt.ops, ops, sizeof ops);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    xcnn_model *m = NULL;
    xcnn_status st = xcnn_model_load(path, NULL, &m, err, sizeof err);
    if (st != XCNN_OK) {
        if (xfail) {
            check_skip("%s: expected unsupported, refused at load: %s", name, err);
            printf("| %s | %s | unsupported | | | | |\n", name, ops);
        } else {
            check(0, "%s: load: %s", name, err);
        }
        return check_summary();
    }
    if (xfail) printf("NOTE %s: expected unsupported, but it loads: checking it\n", name);
    if (mt.threads > 0) xcnn_model_set_threads(m, mt.threads);
    size_t nin = 0, n32 = 0, n64 = 0, ng32 = 0, ng64 = 0;
    float *x = load_npy(dir, "input", &nin), *o32 = load_npy(dir, "out32", &n32);
    float *o64 = load_npy(dir, "out64", &n64), *g32 = load_npy(dir, "grad32", &ng32);
    float *g64 = load_npy(dir, "grad64", &ng64);
    xcnn_tensor_view in, out;
    int ok = x && o32 && o64 && g32 && g64 && xcnn_model_input(m, &in) == XCNN_OK &&
             xcnn_model_output(m, &out) == XCNN_OK;
    ok = check(ok && in.numel == nin && out.numel == n64 && n32 == n64 && ng32 == nin &&
               ng64 == nin && mt.target >= 0 && (size_t)mt.target < n64,
               "%s: reference files and the model agree in size (input %zu, output %zu)",
               name, nin, n64);
    if (ok) {
        float *y = malloc(n64 * sizeof *y), *grad = malloc(nin * sizeof *grad);
        double fwd = 1e30, sal = 1e30;
        for (int rep = 0; rep < 3 && ok; rep++) {
            double t0 = now();
            st = xcnn_forward(m, x, 1, y);
            double t1 = now();
            if (!st) st = xcnn_forward(m, x, 1, y);
            if (!st) st = xcnn_backward(m, &mt.target, NULL, NULL);
            double t2 = now();
            ok = st == XCNN_OK;
            if (t1 - t0 < fwd) fwd = t1 - t0;
            if (t2 - t1 < sal) sal = t2 - t1;
        }
        ok = check(ok, "%s: forward and backward run (%s)", name, ok ? "ok" : xcnn_model_error(m));
        double pe = 0, pe32 = 0, ge = 0, ge32 = 0;
        if (ok) {
            xcnn_model_input(m, &in);
            memcpy(grad, in.grad, nin * sizeof *grad);
            pe = rel_err(y, o64, n64);
            pe32 = rel_err(o32, o64, n64);
            ge = rel_err(grad, g64, nin);
            ge32 = rel_err(g32, g64, nin);
            check(pe <= PREDICT_TOL && pe == pe, "%s: predict within %.0e of float64 "
                  "(error %.2e; PyTorch float32's %.2e)", name, PREDICT_TOL, pe, pe32);
            double tol = GRAD_FACTOR * ge32 > GRAD_FLOOR ? GRAD_FACTOR * ge32 : GRAD_FLOOR;
            if (ge > tol && !strict && mt.near_kinks > 0 && ge <= GRAD_KINK_TOL) {
                printf("NOTE %s: saliency error %.2e is over %.0fx PyTorch float32's: %d "
                       "activation input(s) lie within float32 rounding of a kink, so a "
                       "float32 forward may put one on the other side; held to %.0e\n",
                       name, ge, GRAD_FACTOR, mt.near_kinks, GRAD_KINK_TOL);
                tol = GRAD_KINK_TOL;
            }
            check(ge <= tol && ge == ge, "%s: saliency within %.2e of float64 (error %.2e; "
                  "PyTorch float32's %.2e)", name, tol, ge, ge32);
            char kinks[32] = "?";
            if (mt.near_kinks >= 0) snprintf(kinks, sizeof kinks, "%d", mt.near_kinks);
            printf("| %s | %s | %.1e (%.1e) | %.1e (%.1e) | %s | %.0f / %.0f | %.0f / %.0f |\n",
                   name, ops, pe, pe32, ge, ge32, kinks, fwd * 1e3, mt.torch_fwd_ms,
                   sal * 1e3, mt.torch_sal_ms);
        }
        free(y);
        free(grad);
    }
    free(x);
    free(o32);
    free(o64);
    free(g32);
    free(g64);
    xcnn_model_free(m);
    return check_summary();
}
