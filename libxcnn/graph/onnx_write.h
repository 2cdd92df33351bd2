/* Writing a graph as an ONNX file (our own protobuf encoder; the reader is
 * onnx.c). Internal: the public face is xcnn_model_save_onnx in
 * include/xcnn_train.h. */
#ifndef XCNN_ONNX_WRITE_H
#define XCNN_ONNX_WRITE_H

#include <stddef.h>
#include "graph.h"

/* Encode g as an ONNX ModelProto (ir_version 8, opset 13 or the graph's
 * own when later): the compute nodes with their attributes, every
 * constant they read as an initializer (folded values too), the graph input and output with their shapes at
 * batch 1 (the output's shape is left out while it is unknown, i.e. before
 * planning), and metadata_props: the graph's own entries, then
 * keys/values (n_meta of them; an extra key replaces a graph entry of the
 * same name). *out is malloc'ed, owned by the caller (free()). The bytes
 * depend only on the graph: the same graph gives the same file. */
xcnn_status xcnn_onnx_encode(const xcnn_graph *g, const char *const *keys,
                             const char *const *values, int n_meta, unsigned char **out,
                             size_t *out_len, xcnn_err *err);

#endif
