/* xcnn info MODEL: the model as a table of nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* What one caller buffer must hold (xcnn_model_plan) for the three ways a
 * device loads a model: every explainer, Grad-CAM at the default layer
 * only, inference only. Only .xcnn images load into a buffer. */
static void print_static_plan(const char *path, const cli_input_opts *io)
{
    size_t size = 0, full = 0, cam = 0, inf = 0;
    unsigned char *bytes = cli_read_model_file(path, &size);
    if (!bytes) return;
    xcnn_load_options lo = io->load;
    char err[512];
    xcnn_status st = xcnn_model_plan(bytes, size, &lo, &full, err, sizeof err);
    if (st == XCNN_ERR_UNSUPPORTED) {
        printf("static buffer: xcnn convert makes an .xcnn image that xcnn_model_load_static "
               "runs from one buffer\n");
    } else if (!st) {
        lo.explain_layer = "";
        if (xcnn_model_plan(bytes, size, &lo, &cam, err, sizeof err)) cam = 0;
        lo.explain_layer = NULL;
        lo.inference_only = 1;
        if (xcnn_model_plan(bytes, size, &lo, &inf, err, sizeof err)) inf = 0;
        printf("static buffer (xcnn_model_plan): %zu bytes for every explainer, %zu for "
               "Grad-CAM only (explain_layer \"\"), %zu for inference only\n", full, cam, inf);
    }
    free(bytes);
}

int cli_info(int argc, char **argv)
{
    /* --trace anywhere: a forward and a backward, layer by layer (trace.c) */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--trace")) return cli_trace(argc, argv);
    const char *path = NULL;
    cli_input_opts io = {0};
    for (int i = 1; i < argc; i++) {
        int rc;
        if (cli_input_flag(argc, argv, &i, &io, &rc)) {
            if (rc) return rc;
        } else if (!strcmp(argv[i], "--target")) {
            return cli_usage_error("info: --target goes with --trace MODEL INPUT");
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("info: unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage_error("usage: xcnn info MODEL [--input-shape CxHxW]");
        }
    }
    if (!path) return cli_usage_error("usage: xcnn info MODEL [--input-shape CxHxW]");
    xcnn_model *m = cli_load_model(path, &io);
    if (!m) return CLI_EXIT_ERROR;
    xcnn_tensor_view in, out;
    char s1[128], s2[128];
    xcnn_model_input(m, &in);
    xcnn_model_output(m, &out);
    cli_shape_str(&in, s1, sizeof s1);
    cli_shape_str(&out, s2, sizeof s2);
    printf("model %s\ninput  %s  %s\noutput %s  %s\n\n", path, in.name, s1, out.name, s2);
    printf("%4s  %-20s %-44s %-16s %10s %12s\n", "#", "op", "name", "output", "params", "MFLOPs");
    int64_t params = 0;
    double flops = 0;
    for (int i = 0; i < xcnn_model_node_count(m); i++) {
        xcnn_node_info ni;
        xcnn_tensor_view v;
        xcnn_model_node(m, i, &ni);
        xcnn_model_tensor(m, ni.output, &v);
        cli_shape_str(&v, s1, sizeof s1);
        printf("%4d  %-20s %-44s %-16s %10lld %12.3f\n", i, ni.op_type, ni.name, s1,
               (long long)ni.n_params, ni.flops / 1e6);
        params += ni.n_params;
        flops += ni.flops;
    }
    printf("\ntotal: %d nodes, %lld parameters, %.3f MFLOPs per input (multiply-add = 2)\n",
           xcnn_model_node_count(m), (long long)params, flops / 1e6);
    printf("memory: weights %.2f MB, arena %.2f MB (activations + gradients + scratch, "
           "batch %d)\n",
           xcnn_model_weight_bytes(m) / 1048576.0, xcnn_model_arena_bytes(m) / 1048576.0,
           xcnn_model_max_batch(m));
    /* Attributes the load accepted but does not read (they cannot change
     * the result; any that could was refused at load). */
    print_static_plan(path, &io);
    const char *w;
    for (int i = 0; (w = xcnn_model_warning(m, i)); i++) printf("warning: %s\n", w);
    xcnn_model_free(m);
    return 0;
}
