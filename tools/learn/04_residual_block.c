/*
 * Lesson 04: a residual block, forward and backward: where gradients add.
 *
 * ResNet's building block adds its input back to what two convolutions
 * made of it:
 *
 *     a = conv1(x)      r = relu(a)      z = conv2(r)      y = z + x
 *
 * The "+ x" (the skip connection) lets the block learn a small change to
 * x rather than a whole new map, and in the backward it gives the gradient
 * a road straight through. With G = dL/dy arriving from above:
 *
 *     dL/dz = G                     (Add passes the gradient to both
 *     skip  = G                      of its inputs unchanged)
 *     dL/dr = conv2^T(G)            (lesson 03's transposed convolution)
 *     dL/da = dL/dr * [a > 0]       (ReLU lets the gradient through where
 *                                    its input was positive)
 *     path  = conv1^T(dL/da)
 *     dL/dx = skip + path           <- x feeds two branches: their
 *                                      gradients ADD (the chain rule sums
 *                                      over every path from x to L)
 *
 * Even if the convolutions' gradients are tiny, dL/dx keeps G: this is why
 * very deep ResNets still train.
 */
#include <stdlib.h>
#include <string.h>
#include "lesson.h"
#include "tiny_onnx.h"

/* Both convs map C channels to C (3x3, padding 1), so y and x match. */
enum { C = 4, H = 6, W = 6, K = 3, N = C * H * W, NW = C * C * K * K };

/* out = conv(in, w) + b, 3x3, padding 1, stride 1, in double. */
static void conv(const double *in, const float *w, const float *b, double *out)
{
    for (int m = 0; m < C; m++)
        for (int oh = 0; oh < H; oh++)
            for (int ow = 0; ow < W; ow++) {
                double sum = b[m];
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < K; i++)
                        for (int j = 0; j < K; j++) {
                            int ih = oh + i - 1, iw = ow + j - 1;
                            if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                sum += w[((m * C + c) * K + i) * K + j] * in[(c * H + ih) * W + iw];
                        }
                out[(m * H + oh) * W + ow] = sum;
            }
}

/* d_in = conv^T(g): lesson 03's scatter, input gradient only. */
static void conv_backward(const double *g, const float *w, double *d_in)
{
    for (int k = 0; k < N; k++) d_in[k] = 0;
    for (int m = 0; m < C; m++)
        for (int oh = 0; oh < H; oh++)
            for (int ow = 0; ow < W; ow++)
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < K; i++)
                        for (int j = 0; j < K; j++) {
                            int ih = oh + i - 1, iw = ow + j - 1;
                            if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                d_in[(c * H + ih) * W + iw] +=
                                    g[(m * H + oh) * W + ow] * w[((m * C + c) * K + i) * K + j];
                        }
}

/* The forward by hand; keeps a (the ReLU's input) for the backward. */
static void block_forward(const float *x, const float *w1, const float *b1, const float *w2,
                          const float *b2, double *a, double *y)
{
    double xd[N], r[N];
    for (int k = 0; k < N; k++) xd[k] = x[k];
    conv(xd, w1, b1, a);
    for (int k = 0; k < N; k++) r[k] = a[k] > 0 ? a[k] : 0;
    conv(r, w2, b2, y);                     /* y = z ...   */
    for (int k = 0; k < N; k++) y[k] += x[k]; /* ... + x     */
}

/* The backward by hand, as in the comment at the top. */
static void block_backward(const double *a, const float *G, const float *w1, const float *w2,
                           double *dr, double *path)
{
    double g[N], da[N];
    for (int k = 0; k < N; k++) g[k] = G[k];
    conv_backward(g, w2, dr);
    for (int k = 0; k < N; k++) da[k] = a[k] > 0 ? dr[k] : 0;
    conv_backward(da, w1, path);
}

static xcnn_model *block_model(const float *w1, const float *b1, const float *w2, const float *b2)
{
    tiny_buf g = {0};
    tiny_weight(&g, "W1", 4, (int64_t[]){C, C, K, K}, w1);
    tiny_weight(&g, "B1", 1, (int64_t[]){C}, b1);
    tiny_weight(&g, "W2", 4, (int64_t[]){C, C, K, K}, w2);
    tiny_weight(&g, "B2", 1, (int64_t[]){C}, b2);
    tiny_conv(&g, "x", "W1", "B1", "a", 1, 1);
    tiny_node(&g, "Relu", "a", NULL, NULL, "r", NULL, 0);
    tiny_conv(&g, "r", "W2", "B2", "z", 1, 1);
    tiny_node(&g, "Add", "z", "x", NULL, "y", NULL, 0);
    tiny_io(&g, 11, "x", 4, (int64_t[]){1, C, H, W});
    tiny_io(&g, 12, "y", 0, NULL);
    return tiny_load(&g);
}

static double norm(const double *v)
{
    double s = 0;
    for (int k = 0; k < N; k++) s += v[k] * v[k];
    return sqrt(s);
}

int main(void)
{
    lesson L = {"04", 0, 0};
    uint64_t seed = 4;
    static float x[N], w1[NW], b1[C], w2[NW], b2[C], G[N], y[N];
    lesson_fill(x, N, 1.0f, &seed);
    lesson_fill(w1, NW, 0.3f, &seed);
    lesson_fill(b1, C, 0.1f, &seed);
    lesson_fill(w2, NW, 0.3f, &seed);
    lesson_fill(b2, C, 0.1f, &seed);
    lesson_fill(G, N, 1.0f, &seed);
    printf("lesson 04: a residual block  y = conv2(relu(conv1(x))) + x,  x and y %dx%dx%d\n", C,
           H, W);

    xcnn_model *model = block_model(w1, b1, w2, b2);
    if (!model) return 1;
    xcnn_tensor_view vx, vr;
    if (xcnn_forward(model, x, 1, y) != XCNN_OK ||
        xcnn_backward(model, NULL, G, NULL) != XCNN_OK || xcnn_model_input(model, &vx) ||
        xcnn_model_tensor(model, "r", &vr)) {
        printf("lesson 04: FAIL (%s)\n", xcnn_model_error(model));
        xcnn_model_free(model);
        return 1;
    }
    /* Copy the gradients out: the forwards below reuse the model. */
    static float gx[N], gr[N];
    memcpy(gx, vx.grad, sizeof gx);
    memcpy(gr, vr.grad, sizeof gr);
    static double a[N], y_ref[N], dr[N], path[N], dx[N], skip[N];
    block_forward(x, w1, b1, w2, b2, a, y_ref);
    block_backward(a, G, w1, w2, dr, path);
    int active = 0;
    for (int k = 0; k < N; k++) {
        skip[k] = G[k];
        dx[k] = skip[k] + path[k]; /* the two roads from x to L, added */
        active += a[k] > 0;
    }
    printf("  relu passes %d of %d values (the gradient too)\n", active, N);
    printf("  dL/dx at the first 6 pixels of channel 0:\n    skip (= G)    ");
    for (int k = 0; k < 6; k++) printf(" %8.4f", skip[k]);
    printf("\n    + conv path   ");
    for (int k = 0; k < 6; k++) printf(" %8.4f", path[k]);
    printf("\n    = by hand     ");
    for (int k = 0; k < 6; k++) printf(" %8.4f", dx[k]);
    printf("\n    xcnn_backward ");
    for (int k = 0; k < 6; k++) printf(" %8.4f", gx[k]);
    printf("\n  sizes |skip| %.3f  |path| %.3f  |dL/dx| %.3f\n", norm(skip), norm(path), norm(dx));

    /* Finite differences on every x, through the library's forward. A
     * ReLU is not smooth at 0: if nudging x by h moves some a across 0,
     * the difference mixes the two slopes. We find those pixels with the
     * forward by hand and leave them out (h small: few of them). */
    const float h = 3e-3f;
    static double fd_kept[N], a_up[N], a_down[N], tmp[N];
    static float lib_kept[N];
    int kept = 0;
    for (int k = 0; k < N; k++) {
        double Lud[2];
        float keep = x[k];
        for (int s = 0; s < 2; s++) {
            x[k] = keep + (s ? -h : h);
            xcnn_forward(model, x, 1, y);
            Lud[s] = 0;
            for (int o = 0; o < N; o++) Lud[s] += (double)G[o] * y[o];
            block_forward(x, w1, b1, w2, b2, s ? a_down : a_up, tmp);
        }
        x[k] = keep;
        int kink = 0;
        for (int o = 0; o < N; o++) kink |= (a_up[o] > 0) != (a_down[o] > 0);
        if (!kink) {
            lib_kept[kept] = gx[k];
            fd_kept[kept++] = (Lud[0] - Lud[1]) / (2.0 * h);
        }
    }
    printf("  finite differences (h = %g): %d pixels, %d left out at a ReLU kink\n", h, kept,
           N - kept);

    xcnn_forward(model, x, 1, y); /* the unnudged forward again */
    lesson_check(&L, "forward: xcnn_forward = by hand", rel_err(y, y_ref, N), 1e-5);
    lesson_check(&L, "dL/dr (at the ReLU output) = conv2^T(G)", rel_err(gr, dr, N),
                 1e-5);
    lesson_check(&L, "dL/dx: xcnn_backward = skip + conv path", rel_err(gx, dx, N), 1e-5);
    lesson_check(&L, "dL/dx: xcnn_backward = finite differences", rel_err(lib_kept, fd_kept, kept),
                 1e-3);
    lesson_require(&L, "the skip path alone is not the gradient (the paths add)",
                   rel_err(gx, skip, N) > 1e-2);
    xcnn_model_free(model);
    return lesson_end(&L);
}
