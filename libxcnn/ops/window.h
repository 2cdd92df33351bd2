/*
 * The 2-D window of a Conv or a pool, read from the node's attributes.
 */
#ifndef XCNN_WINDOW_H
#define XCNN_WINDOW_H

#include "../graph/graph.h"
#include "../kernels/im2col.h"

/*
 * Fill w from node n's attributes strides, pads ([top, left, bottom,
 * right]), dilations and auto_pad (NOTSET, VALID, SAME_UPPER, SAME_LOWER),
 * for an input plane in_h x in_w and a kernel k_h x k_w that the caller
 * has already read. ceil_mode rounds the output size up as PyTorch does
 * (the last window must start inside the input or the left padding).
 * `op` names the op in messages ("conv 'layer1.0.conv1': stride is 0").
 * Returns XCNN_ERR_SHAPE for impossible geometry (stride or dilation < 1,
 * negative pads, a kernel larger than the padded input),
 * XCNN_ERR_UNSUPPORTED for an unknown auto_pad, XCNN_ERR_LIMIT for
 * values too large to index with an int.
 */
xcnn_status xcnn_window2d_setup(const xcnn_node *n, const char *op, int64_t in_h,
                                int64_t in_w, int64_t k_h, int64_t k_w, int ceil_mode,
                                xcnn_window2d *w, xcnn_err *err);

#endif
