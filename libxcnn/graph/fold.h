/*
 * Load-time evaluation of shape-only subgraphs (Shape -> Gather ->
 * Unsqueeze -> Concat -> Reshape, as torch.onnx.export writes for
 * x.view(x.size(0), -1)) and of any node whose inputs are all constants.
 */
#ifndef XCNN_FOLD_H
#define XCNN_FOLD_H

#include "graph.h"

/* Evaluate node n now if it can be: a Shape node whose input shape is
 * known, or a foldable op (Gather, Unsqueeze, Squeeze, Concat, Cast, Slice,
 * ConstantOfShape, Add/Sub/Mul/Div on integers, ...) whose inputs are all
 * constants. On success its outputs become XCNN_T_CONST tensors with their
 * values and *folded is 1; *folded is 0 when the node must run as a
 * compute op. Errors name the node. */
xcnn_status xcnn_fold_node(xcnn_graph *g, xcnn_node *n, int *folded, xcnn_err *err);

/* The attributes (xcnn_attr_spec list) of an op only the folder runs
 * (Shape, Gather, Slice, ...); NULL for any other op: the registry's
 * xcnn_op_def.attrs covers the ops it runs, the folder's shared ones
 * (Concat, Reshape, Add ...) included. */
const xcnn_attr_spec *xcnn_fold_attrs(const char *op_type);

/* The window Slice node n takes of x, after ONNX's clamping: along axis j
 * the elements first[j], first[j] + step[j], ... (dims[j] of them). Its
 * bounds come from the attributes (opset < 10) or inputs 1 to 4, which
 * must hold int64 values. Shared by the folder and the Slice op (ops/),
 * so both read and refuse the same bounds; errors name the node. */
xcnn_status xcnn_slice_window(xcnn_graph *g, const xcnn_node *n, const xcnn_tensor *x,
                              int64_t first[XCNN_MAX_DIMS], int64_t step[XCNN_MAX_DIMS],
                              int64_t dims[XCNN_MAX_DIMS], xcnn_err *err);

#endif
