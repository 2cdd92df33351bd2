/*
 * 2-D sliding windows: their geometry (shared by Conv and the pools) and
 * the im2col / col2im pair that turns a convolution into one GEMM.
 *
 * Along one axis, output position o with kernel tap k reads input
 *     i = o * stride - pad_begin + k * dilation
 * and taps with i outside [0, in) read the (zero or -inf) padding.
 *
 * A conv run as W * im2col(X) (and dX as col2im(W^T dY)) must equal
 * xcnn_conv_reference_forward / _backward (ops/conv.c, the convolution's
 * plain loops) to rounding: the products sum in float, in another order.
 */
#ifndef XCNN_IM2COL_H
#define XCNN_IM2COL_H

#include <stddef.h>

typedef struct xcnn_window2d {
    int in_h, in_w;         /* one input plane                           */
    int k_h, k_w;           /* kernel taps                               */
    int stride_h, stride_w;
    int dil_h, dil_w;
    int pad_top, pad_left, pad_bottom, pad_right;
    int out_h, out_w;       /* one output plane                          */
} xcnn_window2d;

/* Output positions o in [*lo, *hi) along one axis for which tap offset
 * kd = k * dilation reads inside the input (0 <= o*stride - pad + kd < in). */
void xcnn_window_tap_range(int in, int out, int stride, int pad, int kd, int *lo, int *hi);

/* Where tap (ki, kj) reads: outputs [oh_lo, oh_hi) x [ow_lo, ow_hi) see
 * the input, at row oh * stride_h + ih0 and column ow * stride_w + iw0;
 * all other outputs see the padding. */
typedef struct xcnn_tap_span {
    int oh_lo, oh_hi, ow_lo, ow_hi, ih0, iw0;
} xcnn_tap_span;
xcnn_tap_span xcnn_window_tap_span(const xcnn_window2d *w, int ki, int kj);

/*
 * im2col for one group of one sample: `channels` input planes of
 * in_h x in_w become col, a (channels * k_h * k_w) x (out_h * out_w)
 * row-major matrix whose rows are ldcol floats apart (ldcol >= out_h *
 * out_w; more leaves room for other samples' columns beside them).
 * Row (c * k_h + i) * k_w + j holds, for every output pixel, the input
 * value under tap (i, j) of channel c (0 in the padding). So for weights
 * W [M, channels, k_h, k_w], Y = W * col.
 */
void xcnn_im2col(const xcnn_window2d *w, int channels, const float *im, float *col,
                 size_t ldcol);

/* Only the output pixels [p0, p1) (in row-major order over the output
 * plane): col gets channels * k_h * k_w rows of p1 - p0 values, ldcol
 * apart. On the calling thread: for callers that run several pixel
 * ranges in parallel (a conv whose col would not fit in cache). */
void xcnn_im2col_pixels(const xcnn_window2d *w, int channels, const float *im, int p0, int p1,
                        float *col, size_t ldcol);

/* col2im of output rows [oh0, oh1) only: col holds their pixels
 * ((oh1 - oh0) * out_w columns, rows ldcol apart), added into the input
 * rows those windows read, channel by channel, tap by tap. On the calling
 * thread (a conv's backward runs bands of rows in parallel). */
void xcnn_col2im_rows(const xcnn_window2d *w, int channels, const float *col, size_t ldcol,
                      int oh0, int oh1, float *im);

/* col2im of output pixels [p0, p1) only (any range, as
 * xcnn_im2col_pixels): col holds their p1 - p0 columns, rows ldcol apart.
 * On the calling thread (a conv whose scratch is capped, base/config.h). */
void xcnn_col2im_pixels(const xcnn_window2d *w, int channels, const float *col, size_t ldcol,
                        int p0, int p1, float *im);

/* The adjoint of im2col: ADDS every col entry into the input element it
 * was read from (padding entries are dropped). im must hold channels
 * planes of in_h x in_w. */
void xcnn_col2im(const xcnn_window2d *w, int channels, const float *col, size_t ldcol,
                 float *im);

/* The same for `samples` samples at once (one parallel loop over all
 * their channels): sample s is read from (added into) im + s * im_stride
 * and fills (is read from) columns s * out_h * out_w onward of col, so
 * the samples sit side by side, ldcol >= samples * out_h * out_w. */
void xcnn_im2col_samples(const xcnn_window2d *w, int channels, int samples, const float *im,
                         size_t im_stride, float *col, size_t ldcol);
/* col2im from col transposed, for `samples` samples: col_t holds
 * samples * out_h * out_w rows of channels * k_h * k_w values (what W^T dY
 * comes out as when computed as dY^T W, xcnn_sgemm_small_m); sample s
 * adds into im + s * im_stride. */
void xcnn_col2im_transposed(const xcnn_window2d *w, int channels, int samples,
                            const float *col_t, float *im, size_t im_stride);
void xcnn_col2im_samples(const xcnn_window2d *w, int channels, int samples, const float *col,
                         size_t ldcol, float *im, size_t im_stride);

#endif
