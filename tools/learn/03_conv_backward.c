/*
 * Lesson 03: the backward pass of a convolution, checked by finite
 * differences.
 *
 * Training and explaining both need gradients: how much a number L at the
 * end of the network changes when an input pixel or a weight moves. Say
 * the layers above our convolution hand us G = dL/dy, one number per
 * output. Here we pick G at random and define L = sum_o G[o] * y[o], so
 * that dL/dy is exactly G.
 *
 * The forward pass adds products  y[m][oh][ow] += W[m][c][i][j] * x[c][ih][iw]
 * (lesson 01). The chain rule sends the gradient of each sum back through
 * each product to both its factors:
 *
 *   dL/dx[c][ih][iw]   += G[m][oh][ow] * W[m][c][i][j]
 *   dL/dW[m][c][i][j]  += G[m][oh][ow] * x[c][ih][iw]
 *   dL/dB[m]           += G[m][oh][ow]
 *
 * So the backward runs the forward's loops once more and scatters. (The
 * dx part is the "transposed convolution" of G with the filters.)
 *
 * How do we know it is right? Finite differences: nudge one number by h
 * each way and watch L,
 *     dL/dv  ~  (L(v + h) - L(v - h)) / (2h)
 * needing nothing but forward passes. A convolution is linear in x and in
 * W, so this is exact save for float rounding (which h = 1e-2 divides by
 * 2h: about 1e-5 here). It is slow (two passes per number) but it cannot
 * share a mistake with the backward code it checks.
 */
#include <stdlib.h>
#include "lesson.h"
#include "tiny_onnx.h"

enum { C = 2, H = 5, W = 5, M = 3, K = 3, P = 1, S = 2 };
enum { OH = (H + 2 * P - K) / S + 1, OW = (W + 2 * P - K) / S + 1 };
enum { NX = C * H * W, NW = M * C * K * K, NY = M * OH * OW };

static xcnn_model *conv_model(const float *w, const float *b)
{
    tiny_buf g = {0};
    tiny_weight(&g, "W", 4, (int64_t[]){M, C, K, K}, w);
    tiny_weight(&g, "B", 1, (int64_t[]){M}, b);
    tiny_conv(&g, "x", "W", "B", "y", P, S);
    tiny_io(&g, 11, "x", 4, (int64_t[]){1, C, H, W});
    tiny_io(&g, 12, "y", 0, NULL);
    return tiny_load(&g);
}

/* L = sum G * y, with y from libxcnn's forward (a fresh model each time,
 * since the weights are among the numbers we nudge). */
static double loss(const float *x, const float *w, const float *b, const float *G)
{
    float y[NY];
    xcnn_model *m = conv_model(w, b);
    if (!m || xcnn_forward(m, x, 1, y) != XCNN_OK) {
        xcnn_model_free(m);
        return NAN; /* fails every check below */
    }
    xcnn_model_free(m);
    double L = 0;
    for (int o = 0; o < NY; o++) L += (double)G[o] * y[o];
    return L;
}

/* Central difference for every element of v (v is x, w or b). */
static void finite_diff(float *v, int n, const float *x, const float *w, const float *b,
                        const float *G, double *out)
{
    const float h = 1e-2f;
    for (int k = 0; k < n; k++) {
        float keep = v[k];
        v[k] = keep + h;
        double up = loss(x, w, b, G);
        v[k] = keep - h;
        double down = loss(x, w, b, G);
        v[k] = keep;
        out[k] = (up - down) / (2.0 * h);
    }
}

/* The backward by hand: the forward's loops, scattering G back. */
static void backward_by_hand(const float *x, const float *w, const float *G, double *dx,
                             double *dw, double *db)
{
    for (int k = 0; k < NX; k++) dx[k] = 0;
    for (int k = 0; k < NW; k++) dw[k] = 0;
    for (int m = 0; m < M; m++) {
        db[m] = 0;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double g = G[(m * OH + oh) * OW + ow];
                db[m] += g;
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < K; i++)
                        for (int j = 0; j < K; j++) {
                            int ih = oh * S + i - P, iw = ow * S + j - P;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue; /* padding */
                            int xi = (c * H + ih) * W + iw, wi = ((m * C + c) * K + i) * K + j;
                            dx[xi] += g * w[wi];
                            dw[wi] += g * x[xi];
                        }
            }
    }
}

static void print_row(const char *title, const float *f, const double *d, int n)
{
    printf("    %-16s", title);
    for (int k = 0; k < n; k++) printf(" %7.4f", f ? f[k] : d[k]);
    printf("\n");
}

int main(void)
{
    lesson L = {"03", 0, 0};
    uint64_t seed = 3;
    float x[NX], w[NW], b[M], G[NY];
    lesson_fill(x, NX, 1.0f, &seed);
    lesson_fill(w, NW, 0.5f, &seed);
    lesson_fill(b, M, 0.1f, &seed);
    lesson_fill(G, NY, 1.0f, &seed);
    printf("lesson 03: the backward of a convolution\n");
    printf("  x %dx%dx%d, W %dx%dx%dx%d, padding %d, stride %d, y %dx%dx%d; L = sum G*y\n", C, H,
           W, M, C, K, K, P, S, M, OH, OW);

    /* The library: weight gradients are off by default (explanations only
     * need dL/dx), so ask for them; then forward, and backward seeded with
     * G, the gradient arriving at the output. */
    xcnn_model *model = conv_model(w, b);
    if (!model) return 1;
    xcnn_tensor_view vx, vw, vb; /* views: their .grad point into the model */
    if (xcnn_model_enable_param_grads(model) != XCNN_OK || xcnn_forward(model, x, 1, NULL) ||
        xcnn_backward(model, NULL, G, NULL) || xcnn_model_input(model, &vx) ||
        xcnn_model_tensor(model, "W", &vw) || xcnn_model_tensor(model, "B", &vb)) {
        printf("lesson 03: FAIL (%s)\n", xcnn_model_error(model));
        xcnn_model_free(model);
        return 1;
    }

    static double dx[NX], dw[NW], db[M], fd_x[NX], fd_w[NW], fd_b[M];
    backward_by_hand(x, w, G, dx, dw, db);
    finite_diff(x, NX, x, w, b, G, fd_x);
    finite_diff(w, NW, x, w, b, G, fd_w);
    finite_diff(b, M, x, w, b, G, fd_b);

    printf("  dL/dx, channel 0, first row (%d pixels):\n", W);
    print_row("xcnn_backward", vx.grad, NULL, W);
    print_row("by hand", NULL, dx, W);
    print_row("finite diff.", NULL, fd_x, W);
    printf("  dL/dW, filter 0, channel 0 (%d weights):\n", K * K);
    print_row("xcnn_backward", vw.grad, NULL, K * K);
    print_row("by hand", NULL, dw, K * K);
    print_row("finite diff.", NULL, fd_w, K * K);
    printf("  dL/dB = sum of G over each output channel:\n");
    print_row("xcnn_backward", vb.grad, NULL, M);
    print_row("finite diff.", NULL, fd_b, M);

    /* The library against the formula (float rounding only) ... */
    lesson_check(&L, "dL/dx: xcnn_backward = by hand", rel_err(vx.grad, dx, NX), 1e-5);
    lesson_check(&L, "dL/dW: xcnn_backward = by hand", rel_err(vw.grad, dw, NW), 1e-5);
    lesson_check(&L, "dL/dB: xcnn_backward = by hand", rel_err(vb.grad, db, M), 1e-5);
    /* ... and against finite differences (rounding / 2h, as said above). */
    lesson_check(&L, "dL/dx: xcnn_backward = finite differences", rel_err(vx.grad, fd_x, NX),
                 1e-3);
    lesson_check(&L, "dL/dW: xcnn_backward = finite differences", rel_err(vw.grad, fd_w, NW),
                 1e-3);
    lesson_check(&L, "dL/dB: xcnn_backward = finite differences", rel_err(vb.grad, fd_b, M),
                 1e-3);
    xcnn_model_free(model);
    return lesson_end(&L);
}
