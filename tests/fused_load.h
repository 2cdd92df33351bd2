/*
 * Loading the models of the fusion tests (test_fused_add.c,
 * test_fused_pool.c): ONNX bytes loaded inference_only, and the same
 * graph planned, fused, written as .xcnn (as `xcnn convert --fold-bn`
 * writes it: weights unconverted) and loaded back. Each load is a check
 * named after the case (`what`).
 */
#ifndef XCNN_TESTS_FUSED_LOAD_H
#define XCNN_TESTS_FUSED_LOAD_H

#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "onnx_builder.h"
#include "../include/xcnn.h"
#include "../libxcnn/core/model.h"
#include "../libxcnn/graph/onnx.h"
#include "../libxcnn/graph/xcnn_format.h"

static inline xcnn_model *fused_load_bytes(const char *what, const void *p, size_t n,
                                           const char *how)
{
    xcnn_load_options o = {.inference_only = 1, .max_batch = 3};
    xcnn_model *m = NULL;
    char err[512] = "";
    xcnn_status st = xcnn_model_load_memory(p, n, &o, &m, err, sizeof err);
    check(st == XCNN_OK, "%s: loads %s (%s)", what, how, err);
    return st == XCNN_OK ? m : NULL;
}

/* The model in `bytes` (freed here), loaded inference_only. */
static inline xcnn_model *fused_load(const char *what, ob_buf bytes, const char *how)
{
    xcnn_model *m = fused_load_bytes(what, bytes.p, bytes.n, how);
    ob_free(&bytes);
    return m;
}

/* The model in `bytes` (freed here), fused, written as .xcnn and loaded
 * from it. */
static inline xcnn_model *fused_load_via_xcnn(const char *what, ob_buf bytes)
{
    xcnn_load_options lo = {0};
    xcnn_graph *g = NULL;
    xcnn_err err = {0};
    unsigned char *out = NULL;
    size_t out_len = 0;
    xcnn_status st = xcnn_onnx_parse(bytes.p, bytes.n, &lo, &g, &err);
    ob_free(&bytes);
    if (!st) {
        g->inference_only = 1;
        st = xcnn_plan(g, (uint64_t)256 << 20, &err);
    }
    if (!st) st = xcnn_fuse(g, &err);
    if (!st) st = xcnn_format_encode(g, &out, &out_len, &err);
    xcnn_graph_free(g);
    xcnn_model *m = NULL;
    if (check(st == XCNN_OK, "%s: the fused graph is written as .xcnn (%s)", what, err.msg))
        m = fused_load_bytes(what, out, out_len, "from its .xcnn");
    free(out);
    return m;
}

/* Batch 1 and 3 of x (three samples) on 1 and 2 threads: the fused
 * model and the one loaded from .xcnn must give the bits of the unfused
 * one (`plain`, where the `op` folded into the others runs), n_out floats
 * a sample. */
static inline void fused_check_bits(const char *what, const char *op, xcnn_model *fused,
                                    xcnn_model *plain, xcnn_model *written, const float *x,
                                    size_t n_out)
{
    float *want = malloc(3 * n_out * sizeof(float)), *got = malloc(3 * n_out * sizeof(float));
    float *got2 = malloc(3 * n_out * sizeof(float));
    for (int batch = 1; batch <= 3; batch += 2)
        for (int threads = 1; threads <= 2; threads++) {
            xcnn_model_set_threads(fused, threads);
            xcnn_model_set_threads(plain, threads);
            xcnn_model_set_threads(written, threads);
            memset(got, 0xff, 3 * n_out * sizeof(float));
            memset(got2, 0xff, 3 * n_out * sizeof(float));
            xcnn_status s1 = xcnn_forward(plain, x, batch, want);
            xcnn_status s2 = xcnn_forward(fused, x, batch, got);
            xcnn_status s3 = xcnn_forward(written, x, batch, got2);
            size_t bytes = (size_t)batch * n_out * sizeof(float);
            check(s1 == XCNN_OK && s2 == XCNN_OK && !memcmp(want, got, bytes),
                  "%s, batch %d, %d thread%s: fused, the %s op's bits", what, batch, threads,
                  threads > 1 ? "s" : "", op);
            check(s3 == XCNN_OK && !memcmp(want, got2, bytes),
                  "%s, batch %d, %d thread%s: from .xcnn, the same bits", what, batch,
                  threads, threads > 1 ? "s" : "");
        }
    free(want);
    free(got);
    free(got2);
}

#endif
