/*
 * im2col / col2im (see im2col.h); the window geometry they use is set up
 * from a node's attributes in ops/window.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "../base/cpu.h"
#include "im2col.h"
#include "../base/threads.h"

static int64_t ceil_div64(int64_t a, int64_t b)
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
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

xcnn_tap_span xcnn_window_tap_span(const xcnn_window2d *w, int ki, int kj)
{
    xcnn_tap_span t;
    int kdh = ki * w->dil_h, kdw = kj * w->dil_w;
    xcnn_window_tap_range(w->in_h, w->out_h, w->stride_h, w->pad_top, kdh, &t.oh_lo, &t.oh_hi);
    xcnn_window_tap_range(w->in_w, w->out_w, w->stride_w, w->pad_left, kdw, &t.ow_lo, &t.ow_hi);
    t.ih0 = kdh - w->pad_top;
    t.iw0 = kdw - w->pad_left;
    return t;
}

/* Output columns [a, b) of one output row r: zero before lo and from hi
 * on (the padding), src[ow * sw] in between. Written per stride so that
 * the compiler vectorises each loop (a constant stride 2 becomes shuffles;
 * memcpy per output row cost more than the copy on 7-pixel rows). Inline:
 * each vector clone of its callers gets its own copy. */
static inline void copy_row(float *r, const float *src, int a, int b, int lo, int hi, int sw)
{
    if (lo < a) lo = a;
    if (hi > b) hi = b;
    if (hi < lo) hi = lo;
    for (int ow = a; ow < lo; ow++) r[ow] = 0;
    if (sw == 1)
        for (int ow = lo; ow < hi; ow++) r[ow] = src[ow];
    else if (sw == 2)
        for (int ow = lo; ow < hi; ow++) r[ow] = src[2 * ow];
    else
        for (int ow = lo; ow < hi; ow++) r[ow] = src[ow * sw];
    for (int ow = hi; ow < b; ow++) r[ow] = 0;
}

/* im2col, tap (ki, kj) of `channels` planes `plane` floats apart, into
 * their rows of col, `ldrow` floats apart. The tap's span is the same for
 * every plane, so it is computed once: on small planes (ResNet's layer4,
 * 7 x 7) a row is 49 floats, and the span and a call per row cost more
 * than the copy (0.27 ms for layer4's 4608 rows, against 0.03 ms now). */
XCNN_VECTOR_CLONES
static void im2col_tap(const xcnn_window2d *w, int ki, int kj, const float *im, size_t plane,
                       int channels, float *row, size_t ldrow)
{
    xcnn_tap_span t = xcnn_window_tap_span(w, ki, kj);
    int ow_n = w->out_w, sw = w->stride_w;
    size_t npix = (size_t)w->out_h * ow_n;
    for (int c = 0; c < channels; c++, im += plane, row += ldrow) {
        if (t.oh_lo >= t.oh_hi) { /* the tap reads only padding */
            memset(row, 0, npix * sizeof(float));
            continue;
        }
        memset(row, 0, (size_t)t.oh_lo * ow_n * sizeof(float));
        memset(row + (size_t)t.oh_hi * ow_n, 0, (size_t)(w->out_h - t.oh_hi) * ow_n * sizeof(float));
        if (w->stride_h == 1 && sw == 1 && w->in_w == ow_n) {
            /* Input and output rows are equally long: the tap's rows are
             * one run of the plane, shifted. Copy the run from the first
             * to the last pixel that sees the input, then zero the columns
             * at the left and right that wrapped into a neighbouring row. */
            size_t first = (size_t)t.oh_lo * ow_n + t.ow_lo, end = (size_t)(t.oh_hi - 1) * ow_n + t.ow_hi;
            const float *src = im + (ptrdiff_t)t.ih0 * w->in_w + t.iw0;
            for (size_t i = first; i < end; i++) row[i] = src[i];
            for (int oh = t.oh_lo; oh < t.oh_hi; oh++) {
                float *r = row + (size_t)oh * ow_n;
                for (int ow = 0; ow < t.ow_lo; ow++) r[ow] = 0;
                for (int ow = t.ow_hi; ow < ow_n; ow++) r[ow] = 0;
            }
            continue;
        }
        for (int oh = t.oh_lo; oh < t.oh_hi; oh++)
            copy_row(row + (size_t)oh * ow_n,
                     im + (size_t)(oh * w->stride_h + t.ih0) * w->in_w + t.iw0, 0, ow_n, t.ow_lo,
                     t.ow_hi, sw);
    }
}

/* im2col_row for output pixels [p0, p1) only: row[0] is pixel p0. Each
 * output row the range touches is zero where the tap reads padding and a
 * (strided) copy where it reads the input. */
XCNN_VECTOR_CLONES
static void im2col_row_pixels(const xcnn_window2d *w, int ki, int kj, const float *im, int p0,
                              int p1, float *row)
{
    xcnn_tap_span t = xcnn_window_tap_span(w, ki, kj);
    int ow_n = w->out_w, sw = w->stride_w;
    for (int oh = p0 / ow_n; oh * ow_n < p1; oh++) {
        int a = p0 > oh * ow_n ? p0 - oh * ow_n : 0;
        int b = p1 < (oh + 1) * ow_n ? p1 - oh * ow_n : ow_n;
        float *r = row + (oh * ow_n - p0);
        if (oh < t.oh_lo || oh >= t.oh_hi) {
            for (int ow = a; ow < b; ow++) r[ow] = 0;
            continue;
        }
        copy_row(r, im + (size_t)(oh * w->stride_h + t.ih0) * w->in_w + t.iw0, a, b, t.ow_lo,
                 t.ow_hi, sw);
    }
}

void xcnn_im2col_pixels(const xcnn_window2d *w, int channels, const float *im, int p0, int p1,
                        float *col, size_t ldcol)
{
    size_t plane = (size_t)w->in_h * w->in_w;
    int taps = w->k_h * w->k_w;
    for (int c = 0; c < channels; c++)
        for (int t = 0; t < taps; t++)
            im2col_row_pixels(w, t / w->k_w, t % w->k_w, im + c * plane, p0, p1,
                              col + ((size_t)c * taps + t) * ldcol);
}

/* col2im, one row of col added back into channel plane im: the same
 * elements im2col_row reads, in the same order. Pixel p of the row is
 * row[p * ps]: ps is 1, except for a transposed col (rows 1 float apart,
 * xcnn_col2im_transposed), read in place (gathering its pixels into a
 * contiguous row first measured slower). */
XCNN_VECTOR_CLONES
static void col2im_row(const xcnn_window2d *w, int ki, int kj, float *im, const float *row,
                       size_t ps)
{
    xcnn_tap_span t = xcnn_window_tap_span(w, ki, kj);
    int ow_n = w->out_w, sw = w->stride_w;
    for (int oh = t.oh_lo; oh < t.oh_hi; oh++) {
        const float *r = row + (size_t)oh * ow_n * ps;
        float *d = im + (size_t)(oh * w->stride_h + t.ih0) * w->in_w + t.iw0;
        if (ps != 1)
            for (int ow = t.ow_lo; ow < t.ow_hi; ow++) d[ow * sw] += r[ow * ps];
        else if (sw == 1)
            for (int ow = t.ow_lo; ow < t.ow_hi; ow++) d[ow] += r[ow];
        else if (sw == 2)
            for (int ow = t.ow_lo; ow < t.ow_hi; ow++) d[2 * ow] += r[ow];
        else
            for (int ow = t.ow_lo; ow < t.ow_hi; ow++) d[ow * sw] += r[ow];
    }
}

/* col2im_row for output pixels [p0, p1) only (row[0] is pixel p0): the
 * same elements im2col_row_pixels reads, added back in the same order. */
static void col2im_row_pixels(const xcnn_window2d *w, int ki, int kj, float *im, int p0, int p1,
                              const float *row)
{
    xcnn_tap_span t = xcnn_window_tap_span(w, ki, kj);
    int ow_n = w->out_w, sw = w->stride_w;
    for (int oh = p0 / ow_n; oh * ow_n < p1; oh++) {
        if (oh < t.oh_lo || oh >= t.oh_hi) continue;
        int lo = p0 > oh * ow_n ? p0 - oh * ow_n : 0;
        int hi = p1 < (oh + 1) * ow_n ? p1 - oh * ow_n : ow_n;
        if (lo < t.ow_lo) lo = t.ow_lo;
        if (hi > t.ow_hi) hi = t.ow_hi;
        const float *r = row + (oh * ow_n - p0);
        float *d = im + (size_t)(oh * w->stride_h + t.ih0) * w->in_w + t.iw0;
        for (int ow = lo; ow < hi; ow++) d[ow * sw] += r[ow];
    }
}

void xcnn_col2im_pixels(const xcnn_window2d *w, int channels, const float *col, size_t ldcol,
                        int p0, int p1, float *im)
{
    size_t plane = (size_t)w->in_h * w->in_w;
    int taps = w->k_h * w->k_w;
    for (int c = 0; c < channels; c++)
        for (int t = 0; t < taps; t++)
            col2im_row_pixels(w, t / w->k_w, t % w->k_w, im + c * plane, p0, p1,
                              col + ((size_t)c * taps + t) * ldcol);
}

void xcnn_col2im_rows(const xcnn_window2d *w, int channels, const float *col, size_t ldcol,
                      int oh0, int oh1, float *im)
{
    /* A window of the band as a plane of oh1 - oh0 output rows whose
     * first input row is oh0's: col2im_row then clips the taps to it. */
    xcnn_window2d band = *w;
    int first = oh0 * w->stride_h - w->pad_top; /* input row of oh0's tap 0 */
    band.out_h = oh1 - oh0;
    band.pad_top = first < 0 ? -first : 0;
    int row0 = first < 0 ? 0 : first;
    band.in_h = w->in_h - row0;
    size_t plane = (size_t)w->in_h * w->in_w;
    int taps = w->k_h * w->k_w;
    for (int c = 0; c < channels; c++)
        for (int t = 0; t < taps; t++)
            col2im_row(&band, t / w->k_w, t % w->k_w, im + c * plane + (size_t)row0 * w->in_w,
                       col + ((size_t)c * taps + t) * ldcol, 1);
}

/* Sample s of `samples` reads/writes the image at im + s * im_stride and
 * the columns s * npix onward of col (rows ldcol apart). im2col splits
 * the work by (sample, tap, block of IM2COL_BLOCK channels): every row of
 * col is independent, a 3-channel stem still gives 9 pieces a sample to
 * keep threads busy, and a piece is large enough that handing it out costs
 * little (one row a piece, 4608 of them for layer4, ran slower on two
 * threads than on one). col2im splits it by (sample, channel) only: one
 * channel's taps add into the same plane, so one thread does them, in
 * order, and the sums do not depend on the thread count. */
#define IM2COL_BLOCK 64

/* Job j of im2col: one tap of one block of channels of one sample. */
static void im2col_job(const xcnn_window2d *w, int channels, int taps, int blocks, int j,
                       const float *im, size_t im_stride, float *col, size_t ldcol)
{
    size_t plane = (size_t)w->in_h * w->in_w, npix = (size_t)w->out_h * w->out_w;
    int s = j / (taps * blocks), t = j / blocks % taps, c0 = j % blocks * IM2COL_BLOCK;
    int c1 = c0 + IM2COL_BLOCK < channels ? c0 + IM2COL_BLOCK : channels;
    im2col_tap(w, t / w->k_w, t % w->k_w, im + s * im_stride + c0 * plane, plane, c1 - c0,
               col + s * npix + ((size_t)c0 * taps + t) * ldcol, (size_t)taps * ldcol);
}

/* Plane sc of col2im (sample sc / channels): its taps in order. */
static void col2im_plane(const xcnn_window2d *w, int channels, int sc, float *im,
                         size_t im_stride, const float *col, size_t ldcol, size_t ps)
{
    size_t plane = (size_t)w->in_h * w->in_w, npix = (size_t)w->out_h * w->out_w;
    int taps = w->k_h * w->k_w, s = sc / channels, c = sc % channels;
    float *image = im + s * im_stride + c * plane;
    const float *cols = col + s * npix * ps;
    for (int t = 0; t < taps; t++)
        col2im_row(w, t / w->k_w, t % w->k_w, image, cols + ((size_t)c * taps + t) * ldcol, ps);
}

static void walk(const xcnn_window2d *w, int channels, int samples, float *im,
                 size_t im_stride, float *col, size_t ldcol, size_t ps, int to_image)
{
    size_t npix = (size_t)w->out_h * w->out_w;
    int taps = w->k_h * w->k_w;
    double work = (double)channels * samples * taps * (double)npix;
    if (!to_image) {
        int blocks = (channels + IM2COL_BLOCK - 1) / IM2COL_BLOCK, jobs = samples * taps * blocks;
        if (!xcnn_fork_worth(jobs > 1 && work > XCNN_PARALLEL_MIN_COPY)) {
            for (int j = 0; j < jobs; j++) im2col_job(w, channels, taps, blocks, j, im, im_stride,
                                                      col, ldcol);
            return;
        }
#pragma omp parallel for schedule(static)
        for (int j = 0; j < jobs; j++)
            im2col_job(w, channels, taps, blocks, j, im, im_stride, col, ldcol);
        return;
    }
    if (!xcnn_fork_worth(channels * samples > 1 && work > XCNN_PARALLEL_MIN_COPY)) {
        for (int sc = 0; sc < channels * samples; sc++)
            col2im_plane(w, channels, sc, im, im_stride, col, ldcol, ps);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int sc = 0; sc < channels * samples; sc++)
        col2im_plane(w, channels, sc, im, im_stride, col, ldcol, ps);
}

void xcnn_im2col(const xcnn_window2d *w, int channels, const float *im, float *col,
                 size_t ldcol)
{
    /* im2col only reads im (the cast is walk's one signature). */
    walk(w, channels, 1, (float *)im, 0, col, ldcol, 1, 0);
}

void xcnn_col2im(const xcnn_window2d *w, int channels, const float *col, size_t ldcol,
                 float *im)
{
    /* ... and col2im only reads col. */
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
