/*
 * xcnn predict MODEL INPUT [--top K] [--out FILE.npy] [--threads T]
 * xcnn predict MODEL INPUTS... [--list FILE] [--out-dir DIR] [--shard i/n]
 *              [--batch B] [--force] [--top K] [--threads T]
 * One input: its top K classes on stdout. Several (or --list, --out-dir):
 * the model is loaded once and the inputs run through it in batches; each
 * input's top K lines on stdout, prefixed by its path, or with --out-dir
 * its outputs as DIR/<stem>.predict.npy and a row of DIR/manifest.csv
 * (many.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "many.h"

/* The top `shown` of y[0..k) into order (a partial selection sort: K is
 * small and the output rarely large). */
static void top_k(const float *y, size_t k, size_t shown, int *order)
{
    for (size_t i = 0; i < k; i++) order[i] = (int)i;
    for (size_t i = 0; i < shown; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < k; j++)
            if (y[order[j]] > y[order[best]]) best = j;
        int t = order[i]; order[i] = order[best]; order[best] = t;
    }
}

typedef struct predict_many_args {
    many_opts mo;
    cli_input_opts io;
    long top, threads, batch;
} predict_many_args;

/* One input's result: a row of the manifest (with --out-dir) or its top
 * lines on stdout. 0 if it failed (err not NULL) or went fine; -1 when
 * the manifest cannot be written (the run stops). */
static int predict_result(const predict_many_args *a, many_manifest *mf, many_progress *pr,
                          const many_item *it, long k_item, const float *y, size_t k,
                          int *order, const cli_labels *labels, const char *err)
{
    char name[4200], path[4200];
    many_row r = {it->index, "predict", it->path, -1, NULL, 0, 0, 0, 0, "", err};
    if (!err) {
        top_k(y, k, (size_t)a->top < k ? (size_t)a->top : k, order);
        r.target = order[0];
        r.target_name = cli_label(labels, order[0]);
        r.score = y[order[0]];
        r.has_score = 1;
    }
    if (!a->mo.out_dir) {
        if (err) {
            fprintf(stderr, "xcnn: %s\n", err);
        } else {
            for (size_t i = 0; i < (size_t)a->top && i < k; i++) {
                const char *nm = cli_label(labels, order[i]);
                printf("%s\t%d\t%.6g%s%s\n", it->path, order[i], y[order[i]], nm ? "\t" : "",
                       nm ? nm : "");
            }
        }
        many_progress_row(pr, !err);
        return 0;
    }
    char msg[700];
    if (!err) {
        int64_t dims[2] = {1, (int64_t)k};
        snprintf(name, sizeof name, "%s.predict.npy", it->stem);
        if (many_path(path, sizeof path, a->mo.out_dir, name)) {
            r.error = "the output path is too long";
        } else if (many_write_npy(path, y, 2, dims, msg, sizeof msg)) {
            r.error = msg;
        } else {
            r.output = name;
        }
    }
    int rc = many_manifest_add(mf, k_item, 0, &r);
    many_progress_row(pr, !r.error);
    return rc ? -1 : 0;
}

static int predict_many(const char *model_path, char **inputs, int n_inputs,
                        predict_many_args *a)
{
    many_list list;
    int rc = many_list_build(&list, &a->mo, inputs, n_inputs);
    if (rc) return rc;
    a->io.load.inference_only = 1;
    xcnn_model *m = cli_load_model(model_path, &a->io);
    if (!m) {
        many_list_free(&list);
        return CLI_EXIT_ERROR;
    }
    cli_labels labels;
    many_manifest mf;
    memset(&mf, 0, sizeof mf);
    mf.fd = -1;
    float *x = NULL, *y = NULL;
    int *order = NULL;
    long *slot = NULL;
    rc = cli_labels_load(m, &a->io, &labels);
    if (rc) goto done;
    if (a->threads && xcnn_model_set_threads(m, (int)a->threads) != XCNN_OK) {
        rc = cli_error("--threads: %s", xcnn_model_error(m));
        goto done;
    }
    /* 32 at a time by default, or as many as there are inputs: a batch's
     * memory is all touched by its first pass where huge pages are used
     * (base/pages.h) */
    int B = many_reserve(m, a->batch              ? (int)a->batch
                            : list.n_items < 32 ? (list.n_items > 0 ? (int)list.n_items : 1)
                                                : 32);
    if (!B) {
        rc = CLI_EXIT_ERROR;
        goto done;
    }
    static const char *const methods[] = {"predict"};
    if (a->mo.out_dir && (rc = many_manifest_open(&mf, &a->mo, &list, methods, 1))) goto done;
    xcnn_tensor_view in, out;
    xcnn_model_input(m, &in);
    xcnn_model_output(m, &out);
    size_t in_n = in.numel / (size_t)in.dims[0], k = out.numel / (size_t)out.dims[0];
    int64_t odims[2] = {1, (int64_t)k};
    long long bytes = many_npy_bytes(2, odims);
    x = malloc((size_t)B * in_n * sizeof(float));
    y = malloc((size_t)B * k * sizeof(float));
    order = malloc(k * sizeof(int));
    slot = malloc((size_t)B * sizeof(long));
    if (!x || !y || !order || !slot) {
        rc = cli_error("out of memory");
        goto done;
    }
    many_progress pr;
    many_progress_start(&pr, list.n_items);
    char err[700];
    for (long i = 0; i < list.n_items && !rc && !many_stopping();) {
        /* a batch of the next inputs that load; the others answered now */
        int b = 0;
        for (; i < list.n_items && b < B && !rc; i++) {
            const many_item *it = &list.items[i];
            int is_image;
            if (a->mo.out_dir && !a->mo.force && many_manifest_done(&mf, i, 0, bytes, 0)) {
                pr.skipped++;
                many_progress_input(&pr, 0);
            } else if (it->bad || many_load(m, it->path, &a->io, x + (size_t)b * in_n,
                                            &is_image, err, sizeof err)) {
                if (it->bad) snprintf(err, sizeof err, "%s: %s", it->path, it->bad);
                rc = predict_result(a, &mf, &pr, it, i, NULL, k, order, &labels, err);
                many_progress_input(&pr, 1);
            } else {
                slot[b++] = i;
            }
        }
        if (!b || rc) continue;
        /* every sample's output is the same bits at any batch: a batch that
         * fails (an overflow inside the network) runs again one by one so
         * that the failure is the input's own */
        int whole = xcnn_forward(m, x, b, y) == XCNN_OK;
        for (int j = 0; j < b && !rc; j++) {
            const many_item *it = &list.items[slot[j]];
            const char *e = NULL;
            if (!whole && xcnn_forward(m, x + (size_t)j * in_n, 1, y + (size_t)j * k)) {
                snprintf(err, sizeof err, "%s: %s", it->path, xcnn_model_error(m));
                e = err;
            }
            rc = predict_result(a, &mf, &pr, it, slot[j], y + (size_t)j * k, k, order, &labels,
                                e);
            many_progress_input(&pr, e != NULL);
        }
        if (!rc && a->mo.out_dir && many_manifest_sync(&mf)) rc = -1;
    }
    if (rc) rc = CLI_EXIT_ERROR;
    if (a->mo.out_dir) {
        int rc2 = many_manifest_close(&mf);
        if (!rc) rc = rc2;
    }
    if (!rc) rc = many_progress_end(&pr, "predict");
done:
    if (mf.fd >= 0) many_manifest_close(&mf);
    cli_labels_free(&labels);
    free(x);
    free(y);
    free(order);
    free(slot);
    xcnn_model_free(m);
    many_list_free(&list);
    return rc;
}

int cli_predict(int argc, char **argv)
{
    const char *model_path = NULL, *input_path = NULL, *out_path = NULL;
    long top = 5, threads = 0, batch = 0;
    cli_input_opts io = {0};
    predict_many_args ma;
    memset(&ma, 0, sizeof ma);
    ma.mo.shard_n = 1;
    int many = many_wanted(argc, argv), n_inputs = 0;
    char **inputs = malloc((size_t)argc * sizeof *inputs);
    if (!inputs) return cli_error("out of memory");
    for (int i = 1; i < argc; i++) {
        int rc_flag;
        if (cli_input_flag(argc, argv, &i, &io, &rc_flag)) {
            if (rc_flag) {
                free(inputs);
                return rc_flag;
            }
        } else if (many_flag(argc, argv, &i, &ma.mo, &rc_flag)) {
            if (rc_flag) {
                free(inputs);
                return rc_flag;
            }
        } else if (!strcmp(argv[i], "--threads") || !strcmp(argv[i], "--batch")) {
            const char *f = argv[i];
            long *dst = f[2] == 't' ? &threads : &batch;
            long hi = dst == &threads ? 1024 : 100000; /* xcnn_model_set_threads' range */
            if (++i >= argc || cli_parse_int(argv[i], 1, hi, dst)) {
                free(inputs);
                return cli_usage_error("%s needs a whole number from 1 to %ld", f, hi);
            }
        } else if (!strcmp(argv[i], "--top")) {
            if (++i >= argc || cli_parse_int(argv[i], 1, 1000000, &top)) {
                free(inputs);
                return cli_usage_error("--top needs a positive whole number");
            }
        } else if (!strcmp(argv[i], "--out")) {
            if (++i >= argc) {
                free(inputs);
                return cli_usage_error("--out needs a file name");
            }
            out_path = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            free(inputs);
            return cli_usage_error("predict: unknown option '%s'", argv[i]);
        } else if (!model_path) {
            model_path = argv[i];
        } else {
            inputs[n_inputs++] = argv[i];
        }
    }
    if (n_inputs > 1) many = 1;
    input_path = n_inputs ? inputs[0] : NULL;
    if (!model_path || (!input_path && !(many && ma.mo.list))) {
        free(inputs);
        return cli_usage_error("usage: xcnn predict MODEL INPUT [--top K] [--out FILE.npy] "
                               "[--threads T] [--labels FILE] [--preprocess SPEC], or MODEL "
                               "INPUTS... [--list FILE] [--out-dir DIR] [--shard i/n] "
                               "[--batch B] [--force]");
    }
    if (many) {
        int rc = out_path ? cli_usage_error("--out names one output; with several inputs, "
                                            "--list or --out-dir use --out-dir DIR")
                 : (ma.mo.force || ma.mo.shard_n > 1) && !ma.mo.out_dir
                     ? cli_usage_error("--force and --shard need --out-dir (they are about "
                                       "its manifest)")
                     : 0;
        if (!rc) {
            ma.io = io;
            ma.top = top;
            ma.threads = threads;
            ma.batch = batch;
            rc = predict_many(model_path, inputs, n_inputs, &ma);
        }
        free(inputs);
        return rc;
    }
    free(inputs);
    if (batch) return cli_usage_error("--batch is for several inputs");

    io.load.inference_only = 1; /* no gradient buffers: half the memory */
    xcnn_model *m = cli_load_model(model_path, &io);
    if (!m) return CLI_EXIT_ERROR;
    cli_labels labels;
    int is_image, rc = cli_labels_load(m, &io, &labels);
    if (!rc && threads && xcnn_model_set_threads(m, (int)threads) != XCNN_OK)
        rc = cli_error("--threads: %s", xcnn_model_error(m));
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
    size_t shown = (size_t)top < k ? (size_t)top : k;
    top_k(y, k, shown, order);
    for (size_t i = 0; i < shown; i++) {
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
