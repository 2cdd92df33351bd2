/*
 * A model copied through our own ONNX writer and reader. Changing weights
 * in place in a loaded model would leave the forms its ops make from them
 * at first use (Winograd's transformed weights, packed W^T) stale, so a
 * changed model is always loaded afresh: graph -> ONNX bytes -> model. The
 * bytes are those xcnn_model_save_onnx writes, so the copy runs exactly as
 * the saved file would.
 */
#include <stdlib.h>
#include <string.h>
#include "model_copy.h"
#include "../base/error.h"
#include "../graph/onnx.h"
#include "../graph/onnx_write.h"

static void copy_limits(const xcnn_model *m, xcnn_load_options *lo)
{
    memset(lo, 0, sizeof *lo);
    lo->max_tensor_elems = m->max_elems;
    lo->max_arena_bytes = m->max_arena_bytes;
    lo->max_file_bytes = (uint64_t)1 << 40; /* our own bytes: no file limit applies */
}

xcnn_status xcnn_copy_graph(const xcnn_model *m, xcnn_graph **out, xcnn_err *err)
{
    *out = NULL;
    if (m->inference_only)
        return xcnn_fail(err, XCNN_ERR_ARG, "the model was loaded for inference only, which "
                         "frees the weights it converts: load it without to copy it");
    unsigned char *bytes = NULL;
    size_t len = 0;
    xcnn_status st = xcnn_onnx_encode(m->g, NULL, NULL, 0, &bytes, &len, err);
    if (st) return st;
    xcnn_load_options lo;
    copy_limits(m, &lo);
    st = xcnn_onnx_parse(bytes, len, &lo, out, err);
    free(bytes);
    return st;
}

xcnn_status xcnn_copy_load(const xcnn_graph *g, const xcnn_model *like, xcnn_model **out,
                           xcnn_err *err)
{
    *out = NULL;
    unsigned char *bytes = NULL;
    size_t len = 0;
    xcnn_status st = xcnn_onnx_encode(g, NULL, NULL, 0, &bytes, &len, err);
    if (st) return st;
    xcnn_load_options lo;
    copy_limits(like, &lo);
    lo.max_batch = like->max_batch;
    st = xcnn_model_load_memory(bytes, len, &lo, out, err->msg, sizeof err->msg);
    free(bytes);
    if (st) return st;
    st = xcnn_model_set_threads(*out, like->threads);
    if (st) {
        xcnn_fail(err, st, "%s", xcnn_model_error(*out));
        xcnn_model_free(*out);
        *out = NULL;
    }
    return st;
}
