/* xcnn predict MODEL INPUT [--top K] [--out FILE.npy] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

int cli_predict(int argc, char **argv)
{
    const char *model_path = NULL, *input_path = NULL, *out_path = NULL;
    long top = 5;
    cli_input_opts io = {0};
    for (int i = 1; i < argc; i++) {
        int rc_flag;
        if (cli_input_flag(argc, argv, &i, &io, &rc_flag)) {
            if (rc_flag) return rc_flag;
        } else if (!strcmp(argv[i], "--top")) {
            if (++i >= argc || cli_parse_int(argv[i], 1, 1000000, &top))
                return cli_usage_error("--top needs a positive whole number");
        } else if (!strcmp(argv[i], "--out")) {
            if (++i >= argc) return cli_usage_error("--out needs a file name");
            out_path = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("predict: unknown option '%s'", argv[i]);
        } else if (!model_path) {
            model_path = argv[i];
        } else if (!input_path) {
            input_path = argv[i];
        } else {
            return cli_usage_error("predict: unexpected argument '%s'", argv[i]);
        }
    }
    if (!model_path || !input_path)
        return cli_usage_error("usage: xcnn predict MODEL INPUT [--top K] [--out FILE.npy] "
                               "[--labels FILE] [--preprocess SPEC]");

    io.load.inference_only = 1; /* no gradient buffers: half the memory */
    xcnn_model *m = cli_load_model(model_path, &io);
    if (!m) return CLI_EXIT_ERROR;
    cli_labels labels;
    int is_image, rc = cli_labels_load(m, &io, &labels);
    float *x = rc ? NULL : cli_load_any_input(m, input_path, &io, &is_image);
    if (!x) {
        cli_labels_free(&labels);
        xcnn_model_free(m);
        return CLI_EXIT_ERROR;
    }
    xcnn_tensor_view out;
    xcnn_model_output(m, &out);
    size_t k = out.numel; /* batch 1 */
    float *y = malloc(k * sizeof(float));
    int *order = malloc(k * sizeof(int));
    if (!y || !order) {
        rc = cli_error("out of memory");
        goto done;
    }
    if (xcnn_forward(m, x, 1, y) != XCNN_OK) {
        rc = cli_error("%s", xcnn_model_error(m));
        goto done;
    }
    /* Partial selection sort: K is small and the output rarely large. */
    for (size_t i = 0; i < k; i++) order[i] = (int)i;
    size_t shown = (size_t)top < k ? (size_t)top : k;
    for (size_t i = 0; i < shown; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < k; j++)
            if (y[order[j]] > y[order[best]]) best = j;
        int t = order[i]; order[i] = order[best]; order[best] = t;
        const char *name = cli_label(&labels, order[i]);
        if (name) printf("%d\t%.6g\t%s\n", order[i], y[order[i]], name);
        else printf("%d\t%.6g\n", order[i], y[order[i]]);
    }
    if (out_path) {
        char err[600];
        int64_t dims[2] = {1, (int64_t)k};
        if (xcnn_npy_write(out_path, y, 2, dims, err, sizeof err) != XCNN_OK)
            rc = cli_error("%s", err);
    }
done:
    cli_labels_free(&labels);
    free(y);
    free(order);
    free(x);
    xcnn_model_free(m);
    return rc;
}
