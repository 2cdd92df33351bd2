/*
 * Every op libxcnn runs, one xcnn_op_def each (see graph.h for the contract).
 * Each is defined in the file named after its family.
 */
#ifndef XCNN_OPS_H
#define XCNN_OPS_H

#include "../graph/graph.h"
#include "../kernels/im2col.h" /* xcnn_window2d */

/* conv.c */
extern const xcnn_op_def xcnn_op_conv;
/* For an inference-only model, after fusion (its weights are final): a
 * conv that runs on converted weights (Winograd's U, the packed W^T of
 * the few-pixels path) converts them now and frees the originals, which
 * nothing will read again; a weight shared with another node is kept.
 * Their tensor views then have data NULL. */
xcnn_status xcnn_conv_prepare_inference(xcnn_graph *g, xcnn_node *n, xcnn_err *err);
/* Whether this conv, set up, can take an Add folded into it (fuse.c,
 * graph.h's fused_add): every path it may run adds the residual to its
 * finished sums before the activation. */
int xcnn_conv_takes_residual(const xcnn_node *n);
/* Whether this conv, set up, takes the MaxPool node `pool` (set up, the
 * only reader of its output) folded into it (fuse.c, graph.h's
 * fused_pool): 1 only for the stem form (kernels/conv_stem.h), which then
 * runs with it. Its reference is the conv and the pool unfused. */
int xcnn_conv_takes_pool(xcnn_node *n, const xcnn_node *pool);
/* batchnorm.c */
extern const xcnn_op_def xcnn_op_batchnorm;
/* pool.c */
extern const xcnn_op_def xcnn_op_maxpool, xcnn_op_averagepool, xcnn_op_globalaveragepool;
/* A MaxPool node's window, once set up (0 for any other node). */
int xcnn_maxpool_window(const xcnn_node *n, xcnn_window2d *w);
/* activation.c */
extern const xcnn_op_def xcnn_op_relu, xcnn_op_leakyrelu, xcnn_op_clip, xcnn_op_sigmoid,
    xcnn_op_hardsigmoid, xcnn_op_hardswish, xcnn_op_identity, xcnn_op_dropout;
/* binary.c */
extern const xcnn_op_def xcnn_op_add, xcnn_op_sub, xcnn_op_mul, xcnn_op_div;
/* matmul.c */
extern const xcnn_op_def xcnn_op_gemm, xcnn_op_matmul;
/* reshape.c */
extern const xcnn_op_def xcnn_op_flatten, xcnn_op_reshape;
/* pad.c */
extern const xcnn_op_def xcnn_op_pad;
/* concat.c */
extern const xcnn_op_def xcnn_op_concat;
/* softmax.c */
extern const xcnn_op_def xcnn_op_softmax;
/* elementwise.c */
extern const xcnn_op_def xcnn_op_erf, xcnn_op_sqrt, xcnn_op_pow, xcnn_op_gelu;
/* y = f(x) and f'(x) in double for node n (an op of elementwise.c), for
 * DeepLIFT's Rescale rule; 0 for a node of another op. */
int xcnn_elementwise_eval(const xcnn_graph *g, const xcnn_node *n, double x, double *y,
                          double *slope);
/* layernorm.c */
extern const xcnn_op_def xcnn_op_layernorm;
/* transpose.c */
extern const xcnn_op_def xcnn_op_transpose;
/* reduce.c */
extern const xcnn_op_def xcnn_op_reducemean;
/* slice.c */
extern const xcnn_op_def xcnn_op_slice;

#endif
