/*
 * Sliding-window geometry from a node's attributes (shared by Conv and the
 * pools), for the im2col kernels in kernels/im2col.c.
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
#include <stdint.h>
#include <string.h>
#include "window.h"

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
