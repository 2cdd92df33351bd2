/*
 * ONNX ModelProto -> xcnn_graph, with our own protobuf decoder (protobuf.h).
 *
 * The result holds: every initializer and Constant node as an XCNN_T_CONST
 * tensor (float32 in data, int64/int32 in idata as int64); the graph input
 * (the first graph.input that is not an initializer) as XCNN_T_INPUT with
 * its shape, batch dimension set to 1; every other node in topological
 * order with its raw attributes; g->input and g->output set. Nothing is
 * planned or shape-checked beyond the file's own structure.
 */
#ifndef XCNN_ONNX_H
#define XCNN_ONNX_H

#include <stddef.h>
#include <stdint.h>
#include "graph.h"

xcnn_status xcnn_onnx_parse(const uint8_t *data, size_t size, const xcnn_load_options *opts,
                            xcnn_graph **out, xcnn_err *err);

#endif
