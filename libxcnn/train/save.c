/* Saving a model as ONNX: the public wrappers around onnx_write.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "../../include/xcnn_train.h"
#include "../core/model.h"
#include "../graph/onnx_write.h"
#include "../io/atomic_file.h"
#include "../base/format.h"

xcnn_status xcnn_model_save_onnx_memory(const xcnn_model *m, const char *const *keys,
                                        const char *const *values, int n_meta,
                                        unsigned char **data, size_t *size, char *err,
                                        size_t err_size)
{
    xcnn_err e = {{0}};
    xcnn_status st = XCNN_OK;
    if (data) *data = NULL;
    if (size) *size = 0;
    if (!m || !data || !size)
        st = xcnn_fail(&e, XCNN_ERR_ARG, "save: model, data and size must not be NULL");
    else if (n_meta < 0)
        st = xcnn_fail(&e, XCNN_ERR_ARG, "save: n_meta is %d", n_meta);
    else if (n_meta > 0 && (!keys || !values))
        st = xcnn_fail(&e, XCNN_ERR_ARG, "save: %d metadata entries but %s is NULL", n_meta,
                       keys ? "values" : "keys");
    else if (m->inference_only) /* its Convs' weights were converted and freed at load */
        st = xcnn_fail(&e, XCNN_ERR_ARG, "save: the model was loaded with inference_only, which "
                       "frees the weights it converts; load it without inference_only to save it");
    for (int k = 0; !st && k < n_meta; k++)
        if (!keys[k] || !values[k])
            st = xcnn_fail(&e, XCNN_ERR_ARG, "save: metadata %s %d is NULL",
                           keys[k] ? "value" : "key", k);
    /* The weights are read whole: held, so that no train step in another
     * thread updates them halfway through the file. */
    if (!st && !xcnn_model_enter(m))
        st = xcnn_fail(&e, XCNN_ERR_BUSY, "%s", xcnn_status_name(XCNN_ERR_BUSY));
    else if (!st) {
        /* The loader refuses a non-finite weight (plan.c): a diverged
         * training's weights would make a file that cannot be loaded. */
        for (int i = 0; !st && i < m->g->n_tensors; i++) {
            const xcnn_tensor *t = &m->g->tensors[i];
            if (t->kind != XCNN_T_CONST || t->dtype != XCNN_DT_FLOAT || !t->data) continue;
            for (size_t k = 0, c = xcnn_tensor_numel(t); !st && k < c; k++)
                if (!isfinite(t->data[k]))
                    st = xcnn_fail(&e, XCNN_ERR_NUMERIC, "save: weight '%s' element %zu is %s "
                                   "(the loader would refuse the file)", t->name, k,
                                   isnan(t->data[k]) ? "NaN" : "infinite");
        }
        if (!st) st = xcnn_onnx_encode(m->g, keys, values, n_meta, data, size, &e);
        xcnn_model_leave(m);
    }
    if (st && err && err_size) xcnn_format(err, err_size, "%s", e.msg);
    return st;
}

xcnn_status xcnn_model_save_onnx(const xcnn_model *m, const char *path, const char *const *keys,
                                 const char *const *values, int n_meta, char *err,
                                 size_t err_size)
{
    if (!path) {
        if (err && err_size) xcnn_format(err, err_size, "save: path is NULL");
        return XCNN_ERR_ARG;
    }
    unsigned char *bytes = NULL;
    size_t len = 0;
    xcnn_status st = xcnn_model_save_onnx_memory(m, keys, values, n_meta, &bytes, &len, err,
                                                 err_size);
    if (st) return st;
    /* Whole or not at all: a failed save keeps the earlier model file. */
    xcnn_err e = {{0}};
    st = xcnn_atomic_write_file(path, bytes, len, &e);
    free(bytes);
    if (st && err && err_size) xcnn_format(err, err_size, "%s", e.msg);
    return st;
}
