/*
 * xcnn convert MODEL OUT.xcnn [--fold-bn] [--input-shape CxHxW]
 *
 * An ONNX model (or an .xcnn one) into the .xcnn format
 * (libxcnn/graph/xcnn_format.h): the same graph, so the same plan and the
 * same bits out of every prediction and explanation. With --fold-bn
 * (alias --inference-only) each Conv+BatchNormalization pair is folded
 * into the Conv as fuse.c does for an inference_only load, the file is
 * marked inference-only, and a load of it is then inference_only whatever
 * the options ask: its predictions are those of the ONNX loaded
 * inference_only, bit for bit, and the explainers refuse it.
 *
 * The graph is read with the library's own parsers and written with its
 * writer; before anything is written the new bytes are loaded back (the
 * whole load: plan and arena), so a file that would not load is never
 * made. The output appears whole or not at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "../../libxcnn/core/model.h"
#include "../../libxcnn/graph/onnx.h"
#include "../../libxcnn/graph/xcnn_format.h"
#include "../../libxcnn/io/atomic_file.h"
#include "cli.h"

#define USAGE "usage: xcnn convert MODEL OUT.xcnn [--fold-bn] [--input-shape CxHxW]"

/* BatchNormalization nodes that run, and the bytes of the weights. */
static void count_graph(const xcnn_graph *g, int *bn, size_t *weight_bytes)
{
    *bn = 0;
    *weight_bytes = 0;
    for (int i = 0; i < g->n_nodes; i++)
        *bn += !g->nodes[i].folded && !strcmp(g->nodes[i].op_type, "BatchNormalization");
    for (int t = 0; t < g->n_tensors; t++) {
        const xcnn_tensor *x = &g->tensors[t];
        if (x->kind == XCNN_T_CONST && (x->data || x->idata))
            *weight_bytes += xcnn_tensor_numel(x) * (x->dtype == XCNN_DT_INT64 ? 8 : 4);
    }
}

int cli_convert(int argc, char **argv)
{
    const char *in_path = NULL, *out_path = NULL;
    int fold_bn = 0;
    cli_input_opts io = {0};
    for (int i = 1; i < argc; i++) {
        int rc;
        if (!strcmp(argv[i], "--fold-bn") || !strcmp(argv[i], "--inference-only")) {
            fold_bn = 1;
        } else if (!strcmp(argv[i], "--input-shape")) {
            cli_input_flag(argc, argv, &i, &io, &rc);
            if (rc) return rc;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("convert: unknown option '%s'", argv[i]);
        } else if (!in_path) {
            in_path = argv[i];
        } else if (!out_path) {
            out_path = argv[i];
        } else {
            return cli_usage_error("convert: unexpected argument '%s'", argv[i]);
        }
    }
    if (!in_path || !out_path) return cli_usage_error(USAGE);
    struct stat sb;
    if (stat(out_path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cli_error("cannot write '%s': it is a directory", out_path);

    size_t size = 0;
    unsigned char *bytes = cli_read_model_file(in_path, &size);
    if (!bytes) return CLI_EXIT_ERROR;
    xcnn_err err = {{0}};
    xcnn_graph *g = NULL;
    int from_xcnn = xcnn_format_is_image(bytes, size);
    xcnn_status st = from_xcnn ? xcnn_format_read(bytes, size, &io.load, NULL, 0, &g, &err)
                               : xcnn_onnx_parse(bytes, size, &io.load, &g, &err);
    free(bytes);
    if (st) return cli_error("%s: %s", in_path, err.msg);

    /* --fold-bn: plan and fuse as an inference_only load does, but keep the
     * weights (xcnn_conv_prepare_inference, which converts and frees them,
     * is the load's next step, not ours). */
    int bn_before, bn_after;
    size_t wb;
    count_graph(g, &bn_before, &wb);
    if (fold_bn) {
        g->inference_only = 1;
        st = xcnn_plan(g, (uint64_t)256 << 20, &err);
        if (!st) st = xcnn_fuse(g, &err);
        if (st) {
            xcnn_graph_free(g);
            return cli_error("%s: %s", in_path, err.msg);
        }
    }
    count_graph(g, &bn_after, &wb);
    unsigned char *out = NULL;
    size_t out_len = 0;
    st = xcnn_format_encode(g, &out, &out_len, &err);
    int inference_only = g->inference_only;
    xcnn_graph_free(g);
    if (st) return cli_error("%s: %s", in_path, err.msg);

    /* The new file must load (everything is checked there: every op, shape
     * and size), as it will be loaded. */
    char lerr[600];
    xcnn_model *m = NULL;
    xcnn_load_options lo = io.load;
    lo.inference_only = inference_only;
    if (xcnn_model_load_memory(out, out_len, &lo, &m, lerr, sizeof lerr) != XCNN_OK) {
        free(out);
        return cli_error("%s: the converted model does not load, nothing written: %s",
                         in_path, lerr);
    }
    int compute = xcnn_model_node_count(m);
    xcnn_model_free(m);

    st = xcnn_atomic_write_file(out_path, out, out_len, &err);
    free(out);
    if (st) return cli_error("%s", err.msg);
    printf("%s: %zu bytes (%s %zu bytes), %d compute nodes, %.2f MB of weights, each "
           "64-byte aligned\n", out_path, out_len, from_xcnn ? ".xcnn" : "ONNX", size, compute,
           wb / 1048576.0);
    if (fold_bn)
        printf("BatchNormalization folded into the Conv before it: %d of %d (inference only: "
               "explainers refuse this file)\n", bn_before - bn_after, bn_before);
    else if (inference_only)
        printf("inference only (the input was): explainers refuse this file\n");
    return 0;
}
