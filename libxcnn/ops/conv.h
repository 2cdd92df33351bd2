/*
 * Conv in two files:
 *
 *   conv.c       the maths, the checks of shapes and attributes, the
 *                reference (the maths as plain loops) and the dispatch.
 *                Read this one first.
 *   conv_fast.c  the fast paths: im2col + GEMM (whole, several samples
 *                side by side, piece by piece, in bands), the direct
 *                depthwise loops, Winograd F(2x2) and F(4x4), W^T and U^T
 *                packed once. Each must equal the reference to rounding.
 *
 * conv.c calls conv_fast.c, never the other way round (tools/check_layers.sh).
 */
#ifndef XCNN_CONV_H
#define XCNN_CONV_H

#include "../graph/graph.h"
#include "../kernels/im2col.h"

/* What the reference needs of a Conv node, and the first member of
 * every Conv node's params (conv_fast.c's included): read by conv.c in
 * either case. */
typedef struct xcnn_conv_shape {
    xcnn_window2d win;     /* one plane: kernel, strides, pads, dilations */
    int c_in, c_out, group;
    int fast;              /* 1: the params are conv_fast.c's (set up with
                              g->reference 0), so the fast paths may run */
} xcnn_conv_shape;

/* ---- the reference (conv.c) ----
 * Plain loops over the maths in conv.c's opening comment, every output a
 * sum in double in a fixed order: no scratch, no threads needed to get
 * the same bits. x is [batch, c_in, in_h, in_w], w [c_out, c_in / group,
 * k_h, k_w], b [c_out] or NULL, y and dy [batch, c_out, out_h, out_w].
 * The forward overwrites y; the backward ADDS into dx, dw and db (each
 * skipped when NULL), as every op's backward does. */
void xcnn_conv_reference_forward(const xcnn_conv_shape *s, int batch, const float *x,
                                 const float *w, const float *b, float *y);
void xcnn_conv_reference_backward(const xcnn_conv_shape *s, int batch, const float *x,
                                  const float *w, const float *dy, float *dx, float *dw,
                                  float *db);

/* ---- the fast paths (conv_fast.c) ----
 * setup: n->params (starting with *s, fast = 1) and n->scratch_floats
 * for the node whose shape conv.c has checked; forward and backward as
 * an xcnn_op_def's, on those params; prepare_inference as
 * xcnn_conv_prepare_inference (ops.h). */
xcnn_status xcnn_conv_fast_setup(xcnn_graph *g, xcnn_node *n, const xcnn_conv_shape *s,
                                 xcnn_err *err);
void xcnn_conv_fast_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch);
void xcnn_conv_fast_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch);
xcnn_status xcnn_conv_fast_prepare_inference(xcnn_graph *g, xcnn_node *n, xcnn_err *err);
int xcnn_conv_fast_takes_residual(const xcnn_node *n);
/* As xcnn_conv_takes_pool, for the max pool window `pool`. */
int xcnn_conv_fast_takes_pool(xcnn_node *n, const xcnn_window2d *pool);
/* For tests: 1 when this conv writes its output pixel-major for the
 * depthwise conv after it, 2 when it is that depthwise conv, else 0. */
int xcnn_conv_fast_pixel_major(const xcnn_node *n);
/* For tests: 1 when this conv's forward runs direct, with no col
 * (kernels/conv_direct.h), on the weights and kernel it has now. */
int xcnn_conv_fast_direct(xcnn_graph *g, const xcnn_node *n);
/* For tests: 1 when it runs in the stem form (kernels/conv_stem.h). */
int xcnn_conv_fast_stem(xcnn_graph *g, const xcnn_node *n);

#endif
