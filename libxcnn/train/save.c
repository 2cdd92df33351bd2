/* Saving a model as ONNX: the public wrappers around onnx_write.c. */
#include <stdio.h>
#include <stdlib.h>
#include "../../include/xcnn_train.h"
#include "../core/model.h"
#include "../graph/onnx_write.h"

xcnn_status xcnn_model_save_onnx_memory(const xcnn_model *m, const char *const *keys,
                                        const char *const *values, int n_meta,
                                        unsigned char **data, size_t *size, char *err,
                                        size_t err_size)
{
    if (!m || !data || !size) return XCNN_ERR_ARG;
    xcnn_err e = {{0}};
    xcnn_status st = xcnn_onnx_encode(m->g, keys, values, n_meta, data, size, &e);
    if (st && err && err_size) snprintf(err, err_size, "%s", e.msg);
    return st;
}

xcnn_status xcnn_model_save_onnx(const xcnn_model *m, const char *path, const char *const *keys,
                                 const char *const *values, int n_meta, char *err,
                                 size_t err_size)
{
    if (!path) return XCNN_ERR_ARG;
    unsigned char *bytes = NULL;
    size_t len = 0;
    xcnn_status st = xcnn_model_save_onnx_memory(m, keys, values, n_meta, &bytes, &len, err,
                                                 err_size);
    if (st) return st;
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(bytes, 1, len, f) == len;
    if (f) ok = (fclose(f) == 0) && ok;
    free(bytes);
    if (!ok) {
        if (err && err_size) snprintf(err, err_size, "cannot write '%s'", path);
        return XCNN_ERR_IO;
    }
    return XCNN_OK;
}
