/* xcnn: the command-line face of libxcnn. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "xcnn " XCNN_VERSION_STRING " - CNN inference and explanations\n"
            "usage:\n"
            "  xcnn info MODEL                       every node: op, name, shape, params, FLOPs\n"
            "  xcnn info --trace MODEL INPUT [--target T]  a forward and a backward, node by\n"
            "                                        node: values, gradients, times, memory\n"
            "  xcnn predict MODEL INPUT [--top K] [--out FILE.npy] [--threads T]\n"
            "  xcnn explain MODEL INPUT --method M --out ATTR.npy [options]\n"
            "  xcnn predict MODEL INPUTS... [--list FILE] [--out-dir DIR] [--batch B]\n"
            "  xcnn explain MODEL INPUTS... [--list FILE] --method M[,M2...] --out-dir DIR\n"
            "                [--png] [options]   many inputs, one model load, batched:\n"
            "                DIR/<stem>.<method>.npy and DIR/manifest.csv; a rerun skips what\n"
            "                is done (--force redoes it); --shard i/n takes every n-th input;\n"
            "                exit 10 + the inputs that failed, 130 if interrupted\n"
            "  xcnn convert MODEL OUT.xcnn [--fold-bn]  the .xcnn format: compact, checksummed,\n"
            "                                        weights 64-byte aligned for use in place\n"
            "  xcnn train [--epochs N] [--out MODEL.onnx] ...  train a small ResNet on Fashion-MNIST\n"
            "  xcnn bench MODEL [--method M] [--iters N] [--threads T] [--batch B]\n"
            "  xcnn evaluate MODEL INPUT --attribution A.npy --metric deletion|insertion\n"
            "                [--target T] [--step P] [--score probability|logit]\n"
            "                [--out CURVE.npy] [--batch B] [--threads T]\n"
            "  xcnn evaluate MODEL INPUT... [--methods a,b,c|all] [--out-dir DIR] [--seed K]\n"
            "                every metric for every method: a table; in DIR metrics.csv and\n"
            "                plots (deletion.png, insertion.png, sanity.png)\n"
            "  xcnn visualize MODEL --layer L [--channel c] [--steps N] [--lr R] [--seed K]\n"
            "                --out IMG.png [--npy IMG.npy] [--threads T]\n"
            "  xcnn help                             this text\n"
            "  xcnn --version                        the version of libxcnn linked in\n"
            "common options: --labels FILE  --preprocess SPEC  --input-shape CxHxW (sizes for\n"
            "  input dimensions the model leaves symbolic)  --max-arena-mb N (the memory cap\n"
            "  for activations and gradients, default 4096)\n"
            "MODEL is an ONNX or .xcnn file (told apart by their first bytes); INPUT a float32\n"
            ".npy of shape (C,H,W) or (1,C,H,W), or an image (PNG, PPM, PGM) preprocessed as\n"
            "the model's metadata or --preprocess says.\n"
            "Errors print one line on stderr and exit 1; usage errors exit 2.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        if (argc > 2) return cli_usage_error("%s takes no arguments", cmd);
        printf("xcnn %s\n", xcnn_version());
        return 0;
    }
    if (!strcmp(cmd, "info")) return cli_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "predict")) return cli_predict(argc - 1, argv + 1);
    if (!strcmp(cmd, "explain")) return cli_explain(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return cli_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cli_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "convert")) return cli_convert(argc - 1, argv + 1);
    if (!strcmp(cmd, "evaluate"))
        return cli_evaluate_is_report(argc - 1, argv + 1) ? cli_evaluate_report(argc - 1, argv + 1)
                                                          : cli_evaluate(argc - 1, argv + 1);
    if (!strcmp(cmd, "visualize")) return cli_visualize(argc - 1, argv + 1);
    return cli_usage_error("unknown command '%s'", cmd);
}
