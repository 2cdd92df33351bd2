/*
 * Lesson 01: a convolution by hand.
 *
 * A convolution layer slides M small filters over the input. Input x has C
 * channels of H x W pixels; filter m is a C x K x K block of weights W[m]
 * plus one bias B[m]. Output channel m at position (oh, ow) is the dot
 * product of the filter with the K x K x C patch of x under it:
 *
 *   y[m][oh][ow] = B[m] + sum_c sum_i sum_j W[m][c][i][j] * x[c][ih][iw]
 *                  with ih = oh*S + i - P,  iw = ow*S + j - P
 *
 * S is the stride (how far the filter moves per output pixel) and P the
 * padding (zeros around the border; a pixel outside the image reads 0).
 * The output has OH = (H + 2P - K) / S + 1 rows (and the same for columns).
 *
 * (Strictly this is a cross-correlation: the filter is not flipped. Every
 * deep-learning library, ONNX included, calls it a convolution.)
 *
 * We build an ONNX model with one Conv node, run it with xcnn_forward, and
 * compute the same numbers with four nested loops.
 */
#include <stdlib.h>
#include "lesson.h"
#include "tiny_onnx.h"

enum { C = 2, H = 6, W = 6, M = 3, K = 3, P = 1, S = 1 };
enum { OH = (H + 2 * P - K) / S + 1, OW = (W + 2 * P - K) / S + 1 };

/* x, laid out as ONNX does: [batch][channel][row][column], C order. */
static float at(const float *x, int c, int ih, int iw)
{
    if (ih < 0 || ih >= H || iw < 0 || iw >= W) return 0.0f; /* padding */
    return x[(c * H + ih) * W + iw];
}

/* One output value: the formula above, summed in double so that our
 * reference is more exact than the float32 library we check. */
static double conv_at(const float *x, const float *w, const float *b, int m, int oh, int ow)
{
    double sum = b[m];
    for (int c = 0; c < C; c++)
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++)
                sum += (double)w[((m * C + c) * K + i) * K + j] *
                       at(x, c, oh * S + i - P, ow * S + j - P);
    return sum;
}

static void conv_by_hand(const float *x, const float *w, const float *b, double *y)
{
    for (int m = 0; m < M; m++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++)
                y[(m * OH + oh) * OW + ow] = conv_at(x, w, b, m, oh, ow);
}

/* The model: x [1,C,H,W] -> Conv(W [M,C,K,K], B [M]) -> y [1,M,OH,OW]. */
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

static void print_plane(const char *title, const float *f, const double *d)
{
    printf("%s\n", title);
    for (int r = 0; r < OH; r++) {
        printf("   ");
        for (int col = 0; col < OW; col++)
            printf(" %8.4f", f ? f[r * OW + col] : d[r * OW + col]);
        printf("\n");
    }
}

int main(void)
{
    lesson L = {"01", 0, 0};
    uint64_t seed = 1;
    float x[C * H * W], w[M * C * K * K], b[M], y[M * OH * OW];
    double ref[M * OH * OW];
    lesson_fill(x, C * H * W, 1.0f, &seed);
    lesson_fill(w, M * C * K * K, 0.5f, &seed);
    lesson_fill(b, M, 0.1f, &seed);

    xcnn_model *model = conv_model(w, b);
    if (!model) return 1;
    printf("lesson 01: a convolution by hand\n");
    printf("  x is %dx%dx%d, %d filters of %dx%dx%d, padding %d, stride %d -> y is %dx%dx%d\n",
           C, H, W, M, C, K, K, P, S, M, OH, OW);

    /* The library: one forward pass. The output is copied into y. */
    if (xcnn_forward(model, x, 1, y) != XCNN_OK) {
        printf("lesson 01: FAIL (forward: %s)\n", xcnn_model_error(model));
        xcnn_model_free(model);
        return 1;
    }
    /* By hand. */
    conv_by_hand(x, w, b, ref);

    /* One value, term by term: the top-left output of filter 0. Its patch
     * hangs over the top and left edges, so 5 of its 9 pixels per channel
     * are padding zeros. */
    printf("  y[0][0][0] = %.3f (the bias B[0])\n", b[0]);
    for (int c = 0; c < C; c++) {
        printf("              ");
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++)
                if (i - P >= 0 && j - P >= 0) /* inside the image */
                    printf(" %+.3f*%.3f", w[(c * K + i) * K + j], at(x, c, i - P, j - P));
        printf("   (channel %d: weight*pixel)\n", c);
    }
    printf("             = %.6f (by hand)   %.6f (xcnn_forward)\n", ref[0], y[0]);

    print_plane("  output channel 0, by hand:", NULL, ref);
    print_plane("  output channel 0, xcnn_forward:", y, NULL);

    /* float32 sums of 18 products carry about 1e-7 relative rounding. */
    lesson_check(&L, "xcnn_forward = the formula (all outputs)", rel_err(y, ref, M * OH * OW),
                 1e-5);
    xcnn_model_free(model);
    return lesson_end(&L);
}
