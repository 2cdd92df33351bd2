/*
 * The libxcnn API in one page: load an ONNX model, run it, read a layer's
 * activation and gradient, and explain the prediction.
 *
 *   cc -Iinclude tools/example.c build/libxcnn.a -lm -fopenmp -o example
 *   ./example MODEL.onnx INPUT.npy [LAYER]
 *
 * Only include/xcnn.h is needed. Every call returns an xcnn_status; on
 * failure the model (or the load error buffer) holds a readable message.
 */
#include <stdio.h>
#include <stdlib.h>
#include "../include/xcnn.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.onnx INPUT.npy [LAYER]\n", argv[0]);
        return 2;
    }
    char err[512];

    /* 1. Load: parse, check every node and shape, plan all memory. */
    xcnn_model *model = NULL;
    if (xcnn_model_load(argv[1], NULL, &model, err, sizeof err) != XCNN_OK) {
        fprintf(stderr, "load: %s\n", err);
        return 1;
    }

    /* 2. An input: any float32 .npy holding one sample. */
    float *x = NULL;
    int ndim;
    int64_t dims[XCNN_MAX_DIMS];
    if (xcnn_npy_read(argv[2], &x, &ndim, dims, err, sizeof err) != XCNN_OK) {
        fprintf(stderr, "input: %s\n", err);
        xcnn_model_free(model);
        return 1;
    }
    xcnn_tensor_view in, out;
    xcnn_model_input(model, &in);
    xcnn_model_output(model, &out);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    if (n != in.numel) {
        fprintf(stderr, "input: %zu values, the model wants %zu\n", n, in.numel);
        free(x);
        xcnn_model_free(model);
        return 1;
    }

    /* 3. Forward. The output is copied out; every layer stays readable. */
    float *y = malloc(out.numel * sizeof(float));
    if (xcnn_forward(model, x, 1, y) != XCNN_OK) {
        fprintf(stderr, "forward: %s\n", xcnn_model_error(model));
        return 1;
    }
    int best = 0;
    for (size_t k = 1; k < out.numel; k++)
        if (y[k] > y[best]) best = (int)k;
    printf("predicted class %d (score %.4f) of %zu\n", best, y[best], out.numel);

    /* 4. Backward from that class: gradients at every tensor. */
    if (xcnn_backward(model, &best, NULL, NULL) != XCNN_OK) {
        fprintf(stderr, "backward: %s\n", xcnn_model_error(model));
        return 1;
    }

    /* 5. Any layer, by its ONNX node or tensor name (default: the layer
     *    Grad-CAM would use). */
    const char *layer = argc > 3 ? argv[3] : xcnn_model_default_cam_layer(model);
    xcnn_tensor_view v;
    if (layer && xcnn_model_tensor(model, layer, &v) == XCNN_OK) {
        double act = 0, grad = 0;
        for (size_t i = 0; i < v.numel; i++) {
            act += v.data[i] * v.data[i];
            grad += v.grad ? v.grad[i] * v.grad[i] : 0;
        }
        printf("layer %s: %d dims, %zu values, |activation| %.4g, |gradient| %.4g\n", v.name,
               v.ndim, v.numel, act, grad);
    } else if (layer) {
        fprintf(stderr, "layer: %s\n", xcnn_model_error(model));
    }

    /* 6. An explanation: integrated gradients, 32 path points run 8 at a
     *    time (reserve plans memory for batches of 8, once). */
    xcnn_model_reserve(model, 8);
    xcnn_explain_options opt;
    xcnn_explain_options_init(&opt, XCNN_INTEGRATED_GRADIENTS);
    opt.steps = 32;
    opt.target = best;
    float *attr = malloc(in.numel * sizeof(float));
    xcnn_explain_result res;
    if (xcnn_explain(model, x, &opt, attr, in.numel, &res) != XCNN_OK) {
        fprintf(stderr, "explain: %s\n", xcnn_model_error(model));
        return 1;
    }
    double total = 0;
    for (size_t i = 0; i < in.numel; i++) total += attr[i];
    printf("integrated gradients: sum %.4f, convergence delta %.2g\n", total, res.delta);

    free(attr);
    free(y);
    free(x);
    xcnn_model_free(model);
    return 0;
}
