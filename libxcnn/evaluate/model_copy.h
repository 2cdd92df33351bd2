/* Copies of a model to change and run (evaluate/: the sanity check's
 * randomized models, input invariance's shifted one). The caller's model
 * is only read. */
#ifndef XCNN_EVAL_MODEL_COPY_H
#define XCNN_EVAL_MODEL_COPY_H

#include "../core/model.h"

/* m's graph as it runs (the compute nodes, every constant they read)
 * encoded to ONNX in memory and parsed again: a graph of its own, on the
 * heap, to change (free with xcnn_graph_free). m must be held. */
xcnn_status xcnn_copy_graph(const xcnn_model *m, xcnn_graph **out, xcnn_err *err);

/* A model loaded from g (encoded to ONNX in memory), with like's limits,
 * batch and thread count. Free with xcnn_model_free. */
xcnn_status xcnn_copy_load(const xcnn_graph *g, const xcnn_model *like, xcnn_model **out,
                           xcnn_err *err);

#endif
