/*
 * Lesson 02: im2col + GEMM, the same numbers as the convolution.
 *
 * Lesson 01 computed each output as a dot product of a filter with a patch
 * of the input. Computers are fastest at one thing: multiplying matrices
 * (GEMM, "general matrix multiply"), whose kernels reach close to the
 * machine's peak. So we rearrange the convolution into one matrix product:
 *
 *  1. im2col ("image to columns"): copy every patch the filter visits into
 *     one column of a matrix X of  C*K*K rows  by  OH*OW columns:
 *        X[(c*K + i)*K + j][oh*OW + ow] = x[c][oh*S + i - P][ow*S + j - P]
 *     (0 where that pixel is padding).
 *  2. The weights W[M][C][K][K] already are, in memory, a matrix of M rows
 *     by C*K*K columns: row m is filter m, flattened in the same order.
 *  3. GEMM:  Y = W . X  is M x (OH*OW): entry (m, p) is filter m dotted
 *     with patch p, which is exactly y[m][oh][ow] (plus the bias B[m]).
 *
 * The price is memory: X holds each input pixel up to K*K times. libxcnn
 * convolves this way (in blocks, so X stays small), and uses Winograd's
 * algorithm for 3x3 filters where it pays.
 */
#include <stdlib.h>
#include "lesson.h"
#include "tiny_onnx.h"

enum { C = 2, H = 5, W = 5, M = 4, K = 3, P = 1, S = 2 };
enum { OH = (H + 2 * P - K) / S + 1, OW = (W + 2 * P - K) / S + 1 };
enum { ROWS = C * K * K, COLS = OH * OW }; /* the im2col matrix */

/* Step 1: the patches, one per column. */
static void im2col(const float *x, float *X)
{
    for (int c = 0; c < C; c++)
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++)
                for (int oh = 0; oh < OH; oh++)
                    for (int ow = 0; ow < OW; ow++) {
                        int ih = oh * S + i - P, iw = ow * S + j - P;
                        int inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
                        X[((c * K + i) * K + j) * COLS + oh * OW + ow] =
                            inside ? x[(c * H + ih) * W + iw] : 0.0f;
                    }
}

/* Step 3: Y[M][COLS] = A[M][ROWS] . X[ROWS][COLS] + bias, the textbook
 * triple loop (in double, to serve as a reference). */
static void gemm_bias(const float *A, const float *X, const float *bias, double *Y)
{
    for (int m = 0; m < M; m++)
        for (int p = 0; p < COLS; p++) {
            double sum = bias[m];
            for (int r = 0; r < ROWS; r++) sum += (double)A[m * ROWS + r] * X[r * COLS + p];
            Y[m * COLS + p] = sum;
        }
}

/* Lesson 01's direct loops, to show both give the same numbers. */
static void conv_direct(const float *x, const float *w, const float *b, double *y)
{
    for (int m = 0; m < M; m++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double sum = b[m];
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < K; i++)
                        for (int j = 0; j < K; j++) {
                            int ih = oh * S + i - P, iw = ow * S + j - P;
                            if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                sum += (double)w[((m * C + c) * K + i) * K + j] *
                                       x[(c * H + ih) * W + iw];
                        }
                y[(m * OH + oh) * OW + ow] = sum;
            }
}

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

int main(void)
{
    lesson L = {"02", 0, 0};
    uint64_t seed = 2;
    float x[C * H * W], w[M * C * K * K], b[M], X[ROWS * COLS], y[M * COLS];
    double y_gemm[M * COLS], y_direct[M * COLS];
    lesson_fill(x, C * H * W, 1.0f, &seed);
    lesson_fill(w, M * C * K * K, 0.5f, &seed);
    lesson_fill(b, M, 0.1f, &seed);

    printf("lesson 02: im2col + GEMM\n");
    printf("  x is %dx%dx%d, %d filters %dx%dx%d, padding %d, stride %d -> y is %dx%dx%d\n", C, H,
           W, M, C, K, K, P, S, M, OH, OW);

    im2col(x, X);
    printf("  im2col matrix X: %d rows (c,i,j) x %d columns (one per output pixel)\n", ROWS,
           COLS);
    printf("  (%d floats from an input of %d: each pixel copied up to %d times)\n",
           ROWS * COLS, C * H * W, K * K);
    for (int r = 0; r < ROWS; r++) {
        printf("    (%d,%d,%d)", r / (K * K), r / K % K, r % K);
        for (int p = 0; p < COLS; p++) printf(" %6.3f", X[r * COLS + p]);
        printf("\n");
    }
    /* w, as it lies in memory, IS the M x ROWS matrix: no copy needed. */
    gemm_bias(w, X, b, y_gemm);
    conv_direct(x, w, b, y_direct);

    xcnn_model *model = conv_model(w, b);
    if (!model) return 1;
    if (xcnn_forward(model, x, 1, y) != XCNN_OK) {
        printf("lesson 02: FAIL (forward: %s)\n", xcnn_model_error(model));
        xcnn_model_free(model);
        return 1;
    }
    printf("  Y = W . X + B, row 0 (filter 0):   ");
    for (int p = 0; p < COLS; p++) printf(" %7.4f", y_gemm[p]);
    printf("\n  direct loops, output channel 0:    ");
    for (int p = 0; p < COLS; p++) printf(" %7.4f", y_direct[p]);
    printf("\n  xcnn_forward, output channel 0:    ");
    for (int p = 0; p < COLS; p++) printf(" %7.4f", y[p]);
    printf("\n");

    /* The GEMM adds the same products as the loops (padding adds zeros), in
     * the same order: in double the two agree to the last bit or so. */
    lesson_check(&L, "im2col + GEMM = direct loops (both in double)",
                 rel_err_d(y_gemm, y_direct, M * COLS), 1e-12);
    lesson_check(&L, "xcnn_forward = im2col + GEMM", rel_err(y, y_gemm, M * COLS), 1e-5);
    xcnn_model_free(model);
    return lesson_end(&L);
}
