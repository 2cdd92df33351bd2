/*
 * Sliding-window geometry and im2col / col2im (see im2col.h).
 *
 * Output size along one axis, with e = (k - 1) * dilation + 1 the span of
 * the dilated kernel:
 *     out = floor((in + pad_begin + pad_end - e) / stride) + 1
 * ceil_mode takes the ceiling instead, then drops the last window if it
 * would start past the input and the left padding (PyTorch's rule:
 * if (out - 1) * stride >= in + pad_begin then out--).
 * auto_pad SAME_* picks out = ceil(in / stride) and splits the padding
 * that needs, the extra odd pixel at the end (UPPER) or beginning (LOWER).
 */
#include <string.h>
#include "cpu.h"
#include "im2col.h"

/* Largest plane size, kernel, stride, pad or dilation we accept: far past
 * any real CNN, and small enough that products of two stay in an int64
 * and indices within one plane stay in an int. */
#define WIN_MAX (1 << 20)

static int64_t ceil_div64(int64_t a, int64_t b)
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

/* Read an INTS attribute of exactly `count` values into out (or leave
 * the defaults when absent). */
static xcnn_status read_ints(const xcnn_node *n, const char *op, const char *name, int count,
                             int64_t *out, xcnn_err *err)
{
    int have = 0;
    const int64_t *v = xcnn_attr_ints(n, name, &have);
    if (!v) {
        if (xcnn_attr_get(n, name))
            return xcnn_fail(err, XCNN_ERR_FORMAT, "%s '%s': attribute %s is not a list of ints",
                             op, n->name, name);
        return XCNN_OK;
    }
    if (have != count)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED,
                         "%s '%s': %s has %d values, expected %d (only 2-D windows are "
                         "supported)", op, n->name, name, have, count);
    memcpy(out, v, (size_t)count * sizeof *out);
    return XCNN_OK;
}

/* One axis: output size and final pads from the kernel and attributes. */
static xcnn_status axis_size(const xcnn_node *n, const char *op, const char *axis,
                             const char *auto_pad, int64_t in, int64_t k, int64_t s,
                             int64_t d, int64_t *pb, int64_t *pe, int ceil_mode, int64_t *out,
                             xcnn_err *err)
{
    int64_t e = (k - 1) * d + 1;
    if (strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0) {
        *out = ceil_div64(in, s);
        int64_t total = (*out - 1) * s + e - in;
        if (total < 0) total = 0;
        int upper = strcmp(auto_pad, "SAME_UPPER") == 0;
        *pb = upper ? total / 2 : total - total / 2;
        *pe = total - *pb;
        return XCNN_OK;
    }
    if (strcmp(auto_pad, "VALID") == 0) {
        *pb = 0;
        *pe = 0;
    }
    int64_t span = in + *pb + *pe - e;
    if (span < 0)
        return xcnn_fail(err, XCNN_ERR_SHAPE,
                         "%s '%s': kernel %s %lld (%lld with dilation) is larger than the "
                         "padded input %s %lld", op, n->name, axis, (long long)k, (long long)e,
                         axis, (long long)(in + *pb + *pe));
    if (ceil_mode && strcmp(auto_pad, "NOTSET") == 0) {
        *out = ceil_div64(span, s) + 1;
        if ((*out - 1) * s >= in + *pb) (*out)--;
    } else {
        *out = span / s + 1;
    }
    return XCNN_OK;
}

static xcnn_status check_range(const xcnn_node *n, const char *op, const char *what,
                               int64_t v, int64_t lo, xcnn_err *err)
{
    if (v < lo)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "%s '%s': %s is %lld (must be at least %lld)",
                         op, n->name, what, (long long)v, (long long)lo);
    if (v > WIN_MAX)
        return xcnn_fail(err, XCNN_ERR_LIMIT, "%s '%s': %s is %lld (at most %d supported)",
                         op, n->name, what, (long long)v, WIN_MAX);
    return XCNN_OK;
}

xcnn_status xcnn_window2d_setup(const xcnn_node *n, const char *op, int64_t in_h,
                                int64_t in_w, int64_t k_h, int64_t k_w, int ceil_mode,
                                xcnn_window2d *w, xcnn_err *err)
{
    int64_t strides[2] = {1, 1}, dil[2] = {1, 1}, pads[4] = {0, 0, 0, 0};
    xcnn_status st;
    if ((st = read_ints(n, op, "strides", 2, strides, err))) return st;
    if ((st = read_ints(n, op, "dilations", 2, dil, err))) return st;
    if ((st = read_ints(n, op, "pads", 4, pads, err))) return st;

    const char *auto_pad = xcnn_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(auto_pad, "NOTSET") != 0 && strcmp(auto_pad, "VALID") != 0 &&
        strcmp(auto_pad, "SAME_UPPER") != 0 && strcmp(auto_pad, "SAME_LOWER") != 0)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "%s '%s': unknown auto_pad '%s'", op,
                         n->name, auto_pad);
    if (strcmp(auto_pad, "NOTSET") != 0 && (pads[0] || pads[1] || pads[2] || pads[3]))
        return xcnn_fail(err, XCNN_ERR_FORMAT,
                         "%s '%s': pads and auto_pad=%s cannot be used together", op,
                         n->name, auto_pad);

    if ((st = check_range(n, op, "input height", in_h, 1, err))) return st;
    if ((st = check_range(n, op, "input width", in_w, 1, err))) return st;
    if ((st = check_range(n, op, "kernel height", k_h, 1, err))) return st;
    if ((st = check_range(n, op, "kernel width", k_w, 1, err))) return st;
    if ((st = check_range(n, op, "stride", strides[0], 1, err))) return st;
    if ((st = check_range(n, op, "stride", strides[1], 1, err))) return st;
    if ((st = check_range(n, op, "dilation", dil[0], 1, err))) return st;
    if ((st = check_range(n, op, "dilation", dil[1], 1, err))) return st;
    for (int i = 0; i < 4; i++)
        if ((st = check_range(n, op, "pad", pads[i], 0, err))) return st;

    int64_t oh, ow;
    if ((st = axis_size(n, op, "height", auto_pad, in_h, k_h, strides[0], dil[0], &pads[0],
                        &pads[2], ceil_mode, &oh, err)))
        return st;
    if ((st = axis_size(n, op, "width", auto_pad, in_w, k_w, strides[1], dil[1], &pads[1],
                        &pads[3], ceil_mode, &ow, err)))
        return st;
    if (oh < 1 || ow < 1)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "%s '%s': output size would be %lldx%lld", op,
                         n->name, (long long)oh, (long long)ow);

    w->in_h = (int)in_h;
    w->in_w = (int)in_w;
    w->k_h = (int)k_h;
    w->k_w = (int)k_w;
    w->stride_h = (int)strides[0];
    w->stride_w = (int)strides[1];
    w->dil_h = (int)dil[0];
    w->dil_w = (int)dil[1];
    w->pad_top = (int)pads[0];
    w->pad_left = (int)pads[1];
    w->pad_bottom = (int)pads[2];
    w->pad_right = (int)pads[3];
    w->out_h = (int)oh;
    w->out_w = (int)ow;
    return XCNN_OK;
}

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void xcnn_window_tap_range(int in, int out, int stride, int pad, int kd, int *lo, int *hi)
{
    /* o * stride >= pad - kd   and   o * stride < in + pad - kd */
    *lo = clamp((int)ceil_div64((int64_t)pad - kd, stride), 0, out);
    *hi = clamp((int)ceil_div64((int64_t)in + pad - kd, stride), *lo, out);
}

/* One row of col (channel plane `im`, tap (ki, kj)): copy or, when
 * accumulate, add back. Kept as one function so the two directions read
 * the very same elements. Pixel p of the row is row[p * ps]: ps is 1,
 * except when col2im reads a transposed col (xcnn_col2im_transposed). */
XCNN_VECTOR_CLONES
static void col_row(const xcnn_window2d *w, int ki, int kj, float *im, float *row, size_t ps,
                    int to_image)
{
    int oh_lo, oh_hi, ow_lo, ow_hi;
    int kdh = ki * w->dil_h, kdw = kj * w->dil_w;
    xcnn_window_tap_range(w->in_h, w->out_h, w->stride_h, w->pad_top, kdh, &oh_lo, &oh_hi);
    xcnn_window_tap_range(w->in_w, w->out_w, w->stride_w, w->pad_left, kdw, &ow_lo, &ow_hi);
    int iw0 = kdw - w->pad_left, sw = w->stride_w;
    for (int oh = 0; oh < w->out_h; oh++) {
        float *r = row + (size_t)oh * w->out_w * ps;
        if (oh < oh_lo || oh >= oh_hi) {
            if (!to_image) memset(r, 0, (size_t)w->out_w * sizeof(float));
            continue;
        }
        float *src = im + (size_t)(oh * w->stride_h - w->pad_top + kdh) * w->in_w;
        if (to_image && sw == 1 && ps == 1) { /* the common case: contiguous, vectorises */
            float *d = src + iw0;
            for (int ow = ow_lo; ow < ow_hi; ow++) d[ow] += r[ow];
        } else if (to_image) {
            for (int ow = ow_lo; ow < ow_hi; ow++) src[ow * sw + iw0] += r[ow * ps];
        } else {
            for (int ow = 0; ow < ow_lo; ow++) r[ow] = 0;
            if (sw == 1 && ow_hi > ow_lo)
                memcpy(r + ow_lo, src + ow_lo + iw0, (size_t)(ow_hi - ow_lo) * sizeof(float));
            else
                for (int ow = ow_lo; ow < ow_hi; ow++) r[ow] = src[ow * sw + iw0];
            for (int ow = ow_hi; ow < w->out_w; ow++) r[ow] = 0;
        }
    }
}

/* Sample s of `samples` reads/writes the image at im + s * im_stride and
 * the columns s * npix onward of col (rows ldcol apart). im2col splits
 * the work by (sample, channel, tap): every row of col is independent,
 * and a 3-channel stem needs more than 3 pieces to keep threads busy.
 * col2im splits it by (sample, channel) only: one channel's taps add into
 * the same plane, so one thread does them, in order, and the sums do not
 * depend on the thread count. */
static void walk(const xcnn_window2d *w, int channels, int samples, float *im,
                 size_t im_stride, float *col, size_t ldcol, size_t ps, int to_image)
{
    size_t plane = (size_t)w->in_h * w->in_w, npix = (size_t)w->out_h * w->out_w;
    int taps = w->k_h * w->k_w, per_job = to_image ? taps : 1;
    int jobs = channels * samples * (taps / per_job);
    double work = (double)channels * samples * taps * (double)npix;
    (void)work;
#pragma omp parallel for schedule(dynamic) if (jobs > 1 && work > XCNN_PARALLEL_MIN)
    for (int j = 0; j < jobs; j++) {
        int t0 = (j % (taps / per_job)) * per_job, sc = j / (taps / per_job);
        int s = sc / channels, c = sc % channels;
        float *image = im + s * im_stride + c * plane, *cols = col + s * npix * ps;
        for (int t = t0; t < t0 + per_job; t++)
            col_row(w, t / w->k_w, t % w->k_w, image, cols + ((size_t)c * taps + t) * ldcol, ps,
                    to_image);
    }
}

void xcnn_im2col(const xcnn_window2d *w, int channels, const float *im, float *col,
                 size_t ldcol)
{
    /* col_row only reads im when filling col. */
    walk(w, channels, 1, (float *)im, 0, col, ldcol, 1, 0);
}

void xcnn_col2im(const xcnn_window2d *w, int channels, const float *col, size_t ldcol,
                 float *im)
{
    /* ... and only reads col when adding into im. */
    walk(w, channels, 1, im, 0, (float *)col, ldcol, 1, 1);
}

void xcnn_im2col_samples(const xcnn_window2d *w, int channels, int samples, const float *im,
                         size_t im_stride, float *col, size_t ldcol)
{
    walk(w, channels, samples, (float *)im, im_stride, col, ldcol, 1, 0);
}

void xcnn_col2im_samples(const xcnn_window2d *w, int channels, int samples, const float *col,
                         size_t ldcol, float *im, size_t im_stride)
{
    walk(w, channels, samples, im, im_stride, (float *)col, ldcol, 1, 1);
}

void xcnn_col2im_transposed(const xcnn_window2d *w, int channels, int samples,
                            const float *col_t, float *im, size_t im_stride)
{
    /* Row r of col is column r of col_t: rows 1 float apart, pixels
     * channels * taps floats apart. */
    size_t rows = (size_t)channels * w->k_h * w->k_w;
    walk(w, channels, samples, im, im_stride, (float *)col_t, 1, rows, 1);
}
