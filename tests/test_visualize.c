/*
 * Feature visualisation (libxcnn/evaluate/visualize.c and fft.c; METHODS.md,
 * "Feature visualisation"):
 *  - irfft2 against a direct double sum of its definition (any h, w) and
 *    against numpy.fft.irfft2(norm="ortho") (tools/references/visualize.py);
 *    its adjoint by the dot-product test;
 *  - the gradient of sum(r * image(S)) with respect to S (sigmoid,
 *    decorrelation, irfft2, scale) against central differences, gray and
 *    colour;
 *  - against float64 torch references of the definition
 *    (tools/references/visualize.py, the same draws: it reproduces base/rng.h):
 *    the spectrum as drawn, dJ/dS of the first step (through the model), the
 *    first Adam step, the objectives of three steps and the final image;
 *  - the objective rising over 20 steps; determinism (same seed: same bits,
 *    also on 2 threads; another seed: other bits); model_input; refusals.
 * Error measure against the references: max|ours - ref| / max|ref|; the
 * tolerances are on each line.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
/* Maxima by comparison, not x = fmax(x, ...): gcc 12.2 for aarch64 crashes
 * vectorising an fmax reduction of values that come from float. */
#include "fixture.h"
#include "onnx_builder.h"
#include "../include/xcnn_eval.h"
#include "../libxcnn/evaluate/fft.h"
#include "../libxcnn/evaluate/visualize.h"
#include "../libxcnn/base/rng.h"

#define PLAIN "tests/fixtures/plaincnn"
#define COLOR "tests/fixtures/rescnn_bn"

/* The cases of tools/references/visualize.py. */
static const struct {
    const char *case_name, *dir, *layer;
    int channel;
    uint64_t seed;
    int steps;
    float mean[3], std[3];
} cases[] = {
    {"plain", PLAIN, "/relu2/Relu_output_0", 1, 7, 3, {0.5f}, {0.25f}},
    {"color", COLOR, "/se/Mul_output_0", -1, 3, 3, {0.485f, 0.456f, 0.406f},
     {0.229f, 0.224f, 0.225f}},
};

static xcnn_model *load(const char *dir, int threads)
{
    xcnn_model *m = fixture_model(dir);
    if (m) xcnn_model_set_threads(m, threads);
    return m;
}

static double max_rel_d(const double *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (d > num) num = d;
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return den > 0 ? num / den : num;
}

static double max_rel_df(const double *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - (double)b[i]);
        if (d > num) num = d;
        if (fabs((double)b[i]) > den) den = fabs((double)b[i]);
    }
    return den > 0 ? num / den : num;
}

/* ---- irfft2 ------------------------------------------------------------ */

/* The definition as one double sum over the half spectrum:
 * x[y][n] = sum_p sum_q a_q Re(X[p][q] e^{2 pi i (p y / h + q n / w)}) / sqrt(h w). */
static void irfft2_direct(int h, int w, const double *X, double *x)
{
    int k = w / 2 + 1;
    for (int y = 0; y < h; y++)
        for (int n = 0; n < w; n++) {
            double acc = 0;
            for (int p = 0; p < h; p++)
                for (int q = 0; q < k; q++) {
                    double a = (q == 0 || 2 * q == w) ? 1 : 2;
                    double th = 6.283185307179586 * ((double)p * y / h + (double)q * n / w);
                    acc += a * (X[(p * k + q) * 2] * cos(th) - X[(p * k + q) * 2 + 1] * sin(th));
                }
            x[y * w + n] = acc / sqrt((double)h * w);
        }
}

static void test_irfft2(void)
{
    static const int sizes[][2] = {{1, 1}, {1, 2}, {4, 1}, {5, 7}, {6, 8}, {3, 10}, {9, 4}};
    uint64_t s = 99;
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        int h = sizes[c][0], w = sizes[c][1], k = w / 2 + 1;
        size_t nX = (size_t)h * k * 2, nx = (size_t)h * w;
        double *X = malloc(nX * sizeof *X), *gX = malloc(nX * sizeof *gX);
        double *x = malloc(nx * sizeof *x), *ref = malloc(nx * sizeof *ref);
        double *gx = malloc(nx * sizeof *gx);
        double *work = malloc(xcnn_irfft2_work(h, w) * sizeof *work);
        for (size_t i = 0; i < nX; i++) X[i] = xcnn_rng_normal(&s);
        for (size_t i = 0; i < nx; i++) gx[i] = xcnn_rng_normal(&s);
        xcnn_irfft2(h, w, X, x, work);
        irfft2_direct(h, w, X, ref);
        char what[128];
        snprintf(what, sizeof what, "irfft2 %dx%d = the direct double sum", h, w);
        check_close(what, max_rel_d(x, ref, nx), 1e-12);
        /* <gx, irfft2(X)> = <adjoint(gx), X> */
        xcnn_irfft2_adjoint(h, w, gx, gX, work);
        double lhs = 0, rhs = 0, scale = 0;
        for (size_t i = 0; i < nx; i++) lhs += gx[i] * x[i], scale += fabs(gx[i] * x[i]);
        for (size_t i = 0; i < nX; i++) rhs += gX[i] * X[i];
        snprintf(what, sizeof what, "irfft2 %dx%d: adjoint by the dot-product test", h, w);
        check_close(what, fabs(lhs - rhs) / scale, 1e-13);
        free(X), free(gX), free(x), free(ref), free(gx), free(work);
    }
    /* numpy's C2R: the imaginary parts of columns 0 and w/2 are dropped */
    static const char *const np_cases[][3] = {
        {"5x7", "visualize_irfft_5x7_X.npy", "visualize_irfft_5x7_x.npy"},
        {"6x8", "visualize_irfft_6x8_X.npy", "visualize_irfft_6x8_x.npy"}};
    for (int c = 0; c < 2; c++) {
        int h = np_cases[c][0][0] - '0', w = np_cases[c][0][2] - '0';
        size_t nX = 0, nx = 0;
        float *Xf = fixture_npy(PLAIN, np_cases[c][1], &nX), *xf = fixture_npy(PLAIN, np_cases[c][2], &nx);
        if (!Xf || !xf || nX != (size_t)h * (w / 2 + 1) * 2 || nx != (size_t)h * w) {
            check(0, "numpy irfft2 fixture %s", np_cases[c][0]);
        } else {
            double *X = malloc(nX * sizeof *X), *x = malloc(nx * sizeof *x);
            double *work = malloc(xcnn_irfft2_work(h, w) * sizeof *work);
            for (size_t i = 0; i < nX; i++) X[i] = Xf[i];
            xcnn_irfft2(h, w, X, x, work);
            char what[128];
            snprintf(what, sizeof what, "irfft2 %s = numpy.fft.irfft2(norm=\"ortho\")",
                     np_cases[c][0]);
            check_close(what, max_rel_df(x, xf, nx), 1e-6);
            free(X), free(x), free(work);
        }
        free(Xf), free(xf);
    }
}

/* ---- the image's gradient by finite differences --------------------------- */

static void test_image_gradient(const char *dir, const char *layer)
{
    xcnn_model *m = load(dir, 1);
    if (!m) {
        check(0, "%s loads", dir);
        return;
    }
    xcnn_visualize_options o;
    xcnn_visualize_options_init(&o);
    o.layer = layer;
    o.seed = 5;
    xcnn_vis v;
    xcnn_err err = {{0}};
    if (xcnn_vis_begin(m, &o, NULL, NULL, &v, &err) != XCNN_OK) {
        check(0, "%s: vis_begin: %s", dir, err.msg);
        xcnn_model_free(m);
        return;
    }
    /* a larger S than the draw, so that the sigmoid is not near-linear */
    for (size_t i = 0; i < v.n_spec; i++) v.S[i] *= 30;
    size_t pix = (size_t)v.C * v.H * v.W;
    double *r = malloc(pix * sizeof *r), *gimg = malloc(pix * sizeof *gimg);
    double *gS = malloc(v.n_spec * sizeof *gS), *S = malloc(v.n_spec * sizeof *S);
    uint64_t s = 11;
    for (size_t i = 0; i < pix; i++) r[i] = xcnn_rng_normal(&s);
    xcnn_vis_image(&v, v.S);
    memcpy(gimg, r, pix * sizeof *r);
    xcnn_vis_image_grad(&v, gimg, gS);
    double gmax = 0;
    for (size_t i = 0; i < v.n_spec; i++) {
        double e_ = fabs(gS[i]);
        if (e_ > gmax) gmax = e_;
    }
    /* every 7th element, the DC terms and the last one included */
    double worst = 0, h = 1e-5;
    int n = 0;
    for (size_t i = 0; i < v.n_spec; i += (i < 4 ? 1 : 7), n++) {
        double f[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            memcpy(S, v.S, v.n_spec * sizeof *S);
            S[i] += sgn ? -h : h;
            xcnn_vis_image(&v, S);
            double acc = 0;
            for (size_t j = 0; j < pix; j++) acc += r[j] * v.img[j];
            f[sgn] = acc;
        }
        {
            double e_ = fabs((f[0] - f[1]) / (2 * h) - gS[i]);
            if (e_ > worst) worst = e_;
        }
    }
    char what[160];
    snprintf(what, sizeof what, "%s (C=%d): d sum(r * image)/dS = central differences at %d "
             "elements (|g| up to %.3g)", dir, v.C, n, gmax);
    check(gmax > 1e-3, "%s: the image's gradient is not zero", dir);
    check_close(what, worst / gmax, 1e-7);
    free(r), free(gimg), free(gS), free(S);
    xcnn_vis_end(&v);
    xcnn_model_free(m);
}

/* ---- against the torch references ---------------------------------------- */

static void test_reference(int ci)
{
    const char *dir = cases[ci].dir, *name = cases[ci].case_name;
    xcnn_model *m = load(dir, 1);
    char file[128];
    size_t n_s0 = 0, n_g = 0, n_s1 = 0, n_obj = 0, n_img = 0;
#define REF(var, stem, count)                                                  \
    snprintf(file, sizeof file, "visualize_%s_%s.npy", name, stem);            \
    float *var = fixture_npy(dir, file, &count)
    REF(s0, "s0", n_s0);
    REF(g1, "grad1", n_g);
    REF(s1, "s1", n_s1);
    REF(obj, "objective", n_obj);
    REF(img_ref, "image", n_img);
#undef REF
    xcnn_visualize_options o;
    xcnn_visualize_options_init(&o);
    o.layer = cases[ci].layer;
    o.channel = cases[ci].channel;
    o.seed = cases[ci].seed;
    o.steps = cases[ci].steps;
    xcnn_vis v;
    xcnn_err err = {{0}};
    if (!m || !s0 || !g1 || !s1 || !obj || !img_ref ||
        xcnn_vis_begin(m, &o, cases[ci].mean, cases[ci].std, &v, &err) != XCNN_OK) {
        check(0, "%s: model, references and vis_begin (%s)", name, err.msg);
        goto done;
    }
    if (!check(n_s0 == v.n_spec && n_g == v.n_spec && n_s1 == v.n_spec &&
               n_obj == (size_t)o.steps && n_img == (size_t)v.C * v.H * v.W,
               "%s: reference sizes", name)) {
        xcnn_vis_end(&v);
        goto done;
    }
    char what[200];
    snprintf(what, sizeof what, "%s: S as drawn = the reference's draws (float32 storage)", name);
    check_close(what, max_rel_df(v.S, s0, v.n_spec), 1e-7);

    double *S0 = malloc(v.n_spec * sizeof *S0);
    memcpy(S0, v.S, v.n_spec * sizeof *S0);
    double obj_err = 0;
    for (int step = 0; step < o.steps; step++) {
        xcnn_status st = xcnn_vis_step(m, &v, &err);
        if (!check(st == XCNN_OK, "%s: step %d (%s)", name, step + 1, err.msg)) break;
        {
            double e_ = fabs(v.objective - obj[step]) / fabs((double)obj[step]);
            if (e_ > obj_err) obj_err = e_;
        }
        if (step == 0) {
            snprintf(what, sizeof what, "%s: dJ/dS at step 1 = torch float64 autograd", name);
            check_close(what, max_rel_df(v.grad, g1, v.n_spec), 5e-4);
            /* torch's first Adam step is S + lr g / (|g| + eps): ours to rounding */
            double worst = 0;
            for (size_t i = 0; i < v.n_spec; i++) {
                double want = S0[i] + v.lr * v.grad[i] / (fabs(v.grad[i]) + 1e-8);
                {
                    double e_ = fabs(v.S[i] - want);
                    if (e_ > worst) worst = e_;
                }
            }
            snprintf(what, sizeof what, "%s: step 1 is Adam's S + lr g/(|g| + eps) "
                     "(absolute error)", name);
            check_close(what, worst, 1e-15);
            /* against torch's step, where the gradient is well above the
             * float32 model's rounding (elsewhere g/|g| is the sign of noise) */
            double gmax = 0, err1 = 0;
            size_t used = 0;
            for (size_t i = 0; i < v.n_spec; i++) {
                double e_ = fabs((double)g1[i]);
                if (e_ > gmax) gmax = e_;
            }
            for (size_t i = 0; i < v.n_spec; i++)
                if (fabs((double)g1[i]) > 1e-2 * gmax) {
                    {
                        double e_ = fabs(v.S[i] - s1[i]);
                        if (e_ > err1) err1 = e_;
                    }
                    used++;
                }
            snprintf(what, sizeof what, "%s: S after step 1 = torch.optim.Adam's, at the %zu "
                     "of %zu elements with |g| > 1e-2 max|g| (absolute error)", name, used,
                     v.n_spec);
            check_close(what, err1, 1e-6);
        }
    }
    snprintf(what, sizeof what, "%s: the objectives of %d steps = the reference's (relative)",
             name, o.steps);
    check_close(what, obj_err, 1e-4);
    xcnn_vis_end(&v);
    free(S0);

    /* the public call: the final image after the same steps */
    size_t pix = n_img;
    float *img = malloc(pix * sizeof *img), *in = malloc(pix * sizeof *in);
    double J = 0;
    xcnn_status st = xcnn_visualize(m, &o, cases[ci].mean, cases[ci].std, img, in, &J);
    if (check(st == XCNN_OK, "%s: xcnn_visualize (%s)", name, xcnn_model_error(m))) {
        snprintf(what, sizeof what, "%s: the final image after %d steps = the reference's",
                 name, o.steps);
        check_close(what, max_rel_error(img, img_ref, pix), 1e-3);
        check_close("  and *objective = the last step's", fabs(J - obj[o.steps - 1]) /
                    fabs((double)obj[o.steps - 1]), 1e-4);
        double worst = 0;
        size_t plane = pix / (size_t)(cases[ci].channel < 0 ? 3 : 1);
        for (size_t i = 0; i < pix; i++) {
            size_t c = i / plane;
            double want = ((double)img[i] - cases[ci].mean[c]) / cases[ci].std[c];
            {
                double e_ = fabs(in[i] - want);
                if (e_ > worst) worst = e_;
            }
        }
        check_close("  model_input = (image - mean) / std", worst, 1e-5);
    }
    free(img), free(in);
done:
    free(s0), free(g1), free(s1), free(obj), free(img_ref);
    xcnn_model_free(m);
}

/* ---- behaviour ---------------------------------------------------------- */

typedef struct trace {
    int calls;
    double first, last;
} trace;

static void on_step(int step, int steps, double objective, void *user)
{
    trace *t = user;
    (void)steps;
    if (step == 1) t->first = objective;
    t->last = objective;
    t->calls++;
}

static void test_rises_and_determinism(void)
{
    xcnn_model *m = load(PLAIN, 1);
    if (!m) {
        check(0, "plaincnn loads");
        return;
    }
    enum { PIX = 28 * 28 };
    float a[PIX], b[PIX], c[PIX];
    double ja, jb, jc;
    xcnn_visualize_options o;
    xcnn_visualize_options_init(&o);
    check(o.channel == -1 && o.steps == 512 && o.lr == 0.05f && o.seed == 0 && !o.progress,
          "options_init: channel -1, 512 steps, lr 0.05, seed 0");
    o.layer = "/relu2/Relu_output_0";
    o.channel = 1;
    o.steps = 20;
    const float *mean = cases[0].mean, *std = cases[0].std;
    o.seed = 1;
    trace t = {0, 0, 0};
    o.progress = on_step;
    o.progress_user = &t;
    xcnn_status st = xcnn_visualize(m, &o, mean, std, a, NULL, &ja);
    check(st == XCNN_OK && t.calls == 20, "20 steps, the callback called 20 times (%s)",
          st ? xcnn_model_error(m) : "ok");
    check(t.last > t.first && t.last > 1.5 * t.first && t.last == ja,
          "the objective rises: step 1 %.4f, step 20 %.4f", t.first, t.last);
    o.progress = NULL;
    st = xcnn_visualize(m, &o, mean, std, b, NULL, &jb);
    check(st == XCNN_OK && !memcmp(a, b, sizeof a) && ja == jb, "the same seed: the same bits");
    xcnn_model *m2 = load(PLAIN, 2);
    if (m2) {
        st = xcnn_visualize(m2, &o, mean, std, b, NULL, &jb);
        check(st == XCNN_OK && !memcmp(a, b, sizeof a) && ja == jb,
              "2 threads: the same bits as 1");
        xcnn_model_free(m2);
    }
    o.seed = 2;
    st = xcnn_visualize(m, &o, mean, std, c, NULL, &jc);
    check(st == XCNN_OK && memcmp(a, c, sizeof a) && ja != jc, "another seed: other bits");
    int in01 = 1;
    for (int i = 0; i < PIX; i++) in01 &= a[i] >= 0 && a[i] <= 1;
    check(in01, "the image is in [0, 1]");
    xcnn_model_free(m);
}

static xcnn_model *flat_model(void)
{
    /* input 1x4, Gemm: not an image */
    float wt[8] = {1, 2, 3, 4, 5, 6, 7, 8}, bias[2] = {0, 0};
    ob_buf g = ob_new();
    ob_graph_init(&g, ob_tensor_f("w", 2, (int64_t[]){2, 4}, wt));
    ob_graph_init(&g, ob_tensor_f("b", 1, (int64_t[]){2}, bias));
    ob_buf ga[] = {ob_attr_int("transB", 1)};
    ob_graph_node(&g, ob_node("Gemm", "fc", IN("x", "w", "b"), OUT("y"), ga, 1));
    ob_graph_input(&g, ob_value_info("x", OB_FLOAT, 2, (int64_t[]){1, 4}));
    ob_graph_output(&g, ob_value_info("y", OB_FLOAT, 2, (int64_t[]){1, 2}));
    ob_buf b = ob_model(13, &g);
    xcnn_model *m = NULL;
    char err[512] = "";
    if (xcnn_model_load_memory(b.p, b.n, NULL, &m, err, sizeof err) != XCNN_OK)
        check(0, "the built model loads: %s", err);
    ob_free(&b);
    return m;
}

static void refused(xcnn_model *m, const xcnn_visualize_options *o, const float *std,
                    xcnn_status want, const char *word, const char *what)
{
    float img[3 * 32 * 32];
    xcnn_status st = xcnn_visualize(m, o, NULL, std, img, NULL, NULL);
    const char *msg = xcnn_model_error(m);
    check(st == want && strstr(msg, word) != NULL, "refused: %s (%d: %s)", what, (int)st, msg);
}

static void test_refusals(void)
{
    xcnn_model *m = load(PLAIN, 1);
    if (!m) {
        check(0, "plaincnn loads");
        return;
    }
    xcnn_visualize_options o;
    xcnn_visualize_options_init(&o);
    o.steps = 1;
    refused(m, &o, NULL, XCNN_ERR_ARG, "layer", "no layer");
    o.layer = "no_such_layer";
    refused(m, &o, NULL, XCNN_ERR_NOT_FOUND, "no_such_layer", "an unknown layer");
    o.layer = "input";
    refused(m, &o, NULL, XCNN_ERR_ARG, "input", "the model's input as the layer");
    o.layer = "/relu2/Relu_output_0";
    xcnn_tensor_view lv;
    xcnn_model_tensor(m, o.layer, &lv);
    o.channel = (int)lv.dims[1];
    refused(m, &o, NULL, XCNN_ERR_ARG, "out of range", "channel = the layer's channel count");
    o.channel = -2;
    refused(m, &o, NULL, XCNN_ERR_ARG, "out of range", "channel -2");
    o.channel = 0;
    o.steps = 0;
    refused(m, &o, NULL, XCNN_ERR_ARG, "steps", "steps 0");
    o.steps = 1;
    o.lr = NAN;
    refused(m, &o, NULL, XCNN_ERR_ARG, "learning rate", "lr NaN");
    o.lr = INFINITY;
    refused(m, &o, NULL, XCNN_ERR_ARG, "learning rate", "lr inf");
    o.lr = 0;
    refused(m, &o, NULL, XCNN_ERR_ARG, "learning rate", "lr 0");
    o.lr = 0.05f;
    float zero = 0;
    refused(m, &o, &zero, XCNN_ERR_ARG, "std", "std 0");
    refused(m, NULL, NULL, XCNN_ERR_ARG, "options", "NULL options");
    check(xcnn_visualize(m, &o, NULL, NULL, NULL, NULL, NULL) == XCNN_ERR_ARG &&
              strstr(xcnn_model_error(m), "image"), "refused: NULL image");
    check(xcnn_visualize(NULL, &o, NULL, NULL, NULL, NULL, NULL) == XCNN_ERR_ARG,
          "refused: NULL model");
    xcnn_model_free(m);

    xcnn_model *f = flat_model();
    if (f) {
        o.layer = "y";
        refused(f, &o, NULL, XCNN_ERR_SHAPE, "image", "a model whose input is not an image");
        xcnn_model_free(f);
    }
    xcnn_load_options lo;
    memset(&lo, 0, sizeof lo);
    lo.inference_only = 1;
    xcnn_model *mi = NULL;
    char err[512];
    if (xcnn_model_load(PLAIN "/model.onnx", &lo, &mi, err, sizeof err) == XCNN_OK) {
        o.layer = "/relu2/Relu_output_0";
        refused(mi, &o, NULL, XCNN_ERR_ARG, "inference only", "an inference-only model");
        xcnn_model_free(mi);
    }
}

int main(void)
{
    test_irfft2();
    test_image_gradient(PLAIN, "/relu2/Relu_output_0");
    test_image_gradient(COLOR, "/se/Mul_output_0");
    for (int c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++) test_reference(c);
    test_rises_and_determinism();
    test_refusals();
    return check_summary();
}
