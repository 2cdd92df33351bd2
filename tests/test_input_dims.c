/* xcnn_load_options.input_dims: sizes for a graph input's symbolic
 * dimensions (models exported with a dynamic height and width). */
#include <stdio.h>
#include <string.h>
#include "../include/xcnn.h"
#include "check.h"
#include "onnx_builder.h"

/* Relu on an input of shape N x 3 x H x W with N, H, W symbolic. */
static ob_buf relu_model(void)
{
    ob_buf gr = ob_new();
    ob_graph_node(&gr, ob_node("Relu", "r", IN("x"), OUT("y"), NULL, 0));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){-1, 3, -1, -1}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 0, NULL));
    return ob_model(13, &gr);
}

static xcnn_status load(const ob_buf *b, const int64_t dims[4], xcnn_model **m, char *err,
                        size_t size)
{
    xcnn_load_options o;
    memset(&o, 0, sizeof o);
    for (int i = 0; dims && i < 4; i++) o.input_dims[i] = dims[i];
    return xcnn_model_load_memory(b->p, b->n, dims ? &o : NULL, m, err, size);
}

int main(void)
{
    ob_buf b = relu_model();
    char err[512];
    xcnn_model *m = NULL;

    xcnn_status st = load(&b, NULL, &m, err, sizeof err);
    check(st == XCNN_ERR_UNSUPPORTED && !m && strstr(err, "symbolic") &&
              strstr(err, "input_dims"),
          "without input_dims a symbolic H is refused and the option named: %s", err);

    st = load(&b, (int64_t[]){0, 0, 5, 0}, &m, err, sizeof err);
    check(st == XCNN_ERR_UNSUPPORTED && strstr(err, "dimension 3"),
          "input_dims for H only: W is still refused: %s", err);

    st = load(&b, (int64_t[]){0, 4, 5, 7}, &m, err, sizeof err);
    check(st == XCNN_ERR_SHAPE && strstr(err, "dimension 1 is 3"),
          "input_dims that contradict a fixed size are refused: %s", err);

    /* dims[0] is ignored: the batch stays a run-time choice. */
    st = load(&b, (int64_t[]){9, 3, 5, 7}, &m, err, sizeof err);
    check(st == XCNN_OK && m, "input_dims 3x5x7 loads: %s", st ? err : "ok");
    if (m) {
        xcnn_tensor_view in, out;
        xcnn_model_input(m, &in);
        check(in.ndim == 4 && in.dims[0] == 1 && in.dims[1] == 3 && in.dims[2] == 5 &&
                  in.dims[3] == 7,
              "the input is 1x3x5x7");
        float x[2 * 105], y[2 * 105];
        for (int i = 0; i < 2 * 105; i++) x[i] = (float)(i % 7) - 3.0f;
        st = xcnn_model_reserve(m, 2);
        if (!st) st = xcnn_forward(m, x, 2, y);
        xcnn_model_output(m, &out);
        int good = st == XCNN_OK && out.numel == 2 * 105;
        for (int i = 0; good && i < 2 * 105; i++) good = y[i] == (x[i] > 0 ? x[i] : 0);
        check(good, "a batch of 2 runs through Relu at 3x5x7");
        xcnn_model_free(m);
    }
    ob_free(&b);
    return check_summary();
}
