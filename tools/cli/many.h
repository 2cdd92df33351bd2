/*
 * Many inputs in one run of `xcnn predict` / `xcnn explain` (README: Many
 * images). The commands load the model once and walk the inputs in
 * batches; this is what they share:
 *   many.c      the options (--list --out-dir --shard --force --png), the
 *               input list and this shard's slice of it, the output names,
 *               loading an input with its error kept, the batch to reserve
 *   manifest.c  DIR/manifest.csv: what is done, one row per input and
 *               method appended as it lands, compacted at the end
 *   progress.c  the progress line, Ctrl-C, the summary and exit status
 */
#ifndef XCNN_CLI_MANY_H
#define XCNN_CLI_MANY_H

#include <signal.h>
#include <stdio.h>
#include "cli.h"

/* Exit statuses of a many-input run besides 0, 1 and 2: 10 + k when k
 * inputs failed (k capped at 100), 130 when interrupted. */
#define MANY_EXIT_FAILED 10
#define MANY_EXIT_INTERRUPTED 130

typedef struct many_opts {
    const char *list;    /* --list FILE ("-": stdin), or NULL      */
    const char *out_dir; /* --out-dir DIR, or NULL                 */
    long shard_i, shard_n; /* --shard i/n (0/1 when not given)      */
    int force;           /* --force: redo what the manifest has    */
    int png;             /* explain --png (no value) in this mode  */
    int n_args;          /* INPUT arguments seen                   */
} many_opts;

/* Whether argv asks for the many-input mode: --list or --out-dir given
 * (so that --png is then a flag, not a file name). */
int many_wanted(int argc, char **argv);
/* If argv[*i] is --list, --out-dir, --shard or --force, take it (and its
 * value) and return 1; *rc is then non-zero on a usage error. */
int many_flag(int argc, char **argv, int *i, many_opts *o, int *rc);

/* One input of this shard. */
typedef struct many_item {
    long index;       /* position in the whole list (every shard's) */
    const char *path;
    char *stem;       /* its file name less the extension           */
    char *bad;        /* why it cannot be run (found before loading), or NULL */
} many_item;

/* The inputs (argument paths first, then --list's lines) and this shard's
 * slice: items i/n, i+n, ... of the whole list. */
typedef struct many_list {
    char **owned;     /* strings read from --list                   */
    char *text;       /* --list's contents                          */
    many_item *items;
    long n_items, n_total;
} many_list;
/* 0 or an exit code (printed). */
int many_list_build(many_list *l, const many_opts *o, char **args, int n_args);
void many_list_free(many_list *l);

/* Read an input (.npy or image, as cli_load_any_input) into x
 * (the model's input size); 0, or -1 with the message in err. */
int many_load(const xcnn_model *m, const char *path, const cli_input_opts *io, float *x,
              int *is_image, char *err, size_t err_size);
/* What many_load reads of the model, read once: many_load_shaped calls no
 * function of the model (each such call holds it: two at once would find it
 * busy), so inputs can be read on several threads at once. */
typedef struct many_shape {
    xcnn_tensor_view in;
    const char *preprocess; /* the model's xcnn.preprocess metadata, or NULL */
} many_shape;
void many_shape_of(const xcnn_model *m, many_shape *shape);
int many_load_shaped(const many_shape *shape, const char *path, const cli_input_opts *io,
                     float *x, int *is_image, char *err, size_t err_size);

/* Reserve a batch of up to `want` inputs, fewer where activations would
 * pass about 96 MB (the rule the library's batched passes follow):
 * the batch reserved, or 0 (error printed). */
int many_reserve(xcnn_model *m, int want);

/* DIR/name into buf; 0, or -1 when too long. */
int many_path(char *buf, size_t size, const char *dir, const char *name);
/* The bytes xcnn_npy_write writes for this shape. */
long long many_npy_bytes(int ndim, const int64_t *dims);
/* The file xcnn_npy_write writes, byte for byte, also written whole and
 * renamed into place, but not fsynced: that costs tens of milliseconds an
 * output on some disks, more than explaining a small model's input. The
 * run syncs the manifest once a batch (many_manifest_sync). 0, or -1 with
 * the message in err. */
int many_write_npy(const char *path, const float *data, int ndim, const int64_t *dims,
                   char *err, size_t err_size);

/* --- manifest.c -------------------------------------------------------- */
typedef struct many_row {
    long index;
    const char *method, *input;
    int target;           /* -1: none                   */
    const char *target_name;
    double score;
    int has_score, has_delta;
    double delta;
    const char *output;   /* file name inside DIR, or "" */
    const char *error;    /* NULL: ok                    */
} many_row;

typedef struct many_manifest {
    char *path;           /* DIR/manifest.csv (or the shard's)      */
    const char *dir;
    int fd;               /* open for appending                     */
    const many_list *list;
    const char *const *methods;
    int n_methods;
    char **rows;          /* n_items x n_methods: the latest line   */
    char **other;         /* rows of other inputs or methods, kept  */
    long n_other, cap_other;
    double synced;        /* when it was last fsynced (monotonic s) */
} many_manifest;
/* Open (create) the manifest, read what is there. 0 or an exit code. */
int many_manifest_open(many_manifest *mf, const many_opts *o, const many_list *l,
                       const char *const *methods, int n_methods);
/* Whether item i's method k is done: its row says ok, and its output
 * exists with `bytes` bytes (and its .png exists when png). */
int many_manifest_done(const many_manifest *mf, long i, int k, long long bytes, int png);
/* Append one row (one write). 0 or -1 (printed). */
int many_manifest_add(many_manifest *mf, long i, int k, const many_row *r);
/* The manifest to disk (the end of a batch; at most once a second).
 * 0 or -1 (printed). */
int many_manifest_sync(many_manifest *mf);
/* Rewrite the manifest in order (input, then method), one row each,
 * atomically; close. 0 or an exit code (printed). */
int many_manifest_close(many_manifest *mf);

/* --- progress.c -------------------------------------------------------- */
typedef struct many_progress {
    long total, done, failed_inputs, written, skipped, failed_rows;
    double start, last_print;
    int tty;
    long stop_after;      /* XCNN_MANY_STOP_AFTER (tests): _exit(3) after so many rows */
    long rows;
} many_progress;
/* Catch SIGINT/SIGTERM (stop after the current batch) and start timing. */
void many_progress_start(many_progress *p, long total);
/* Whether a stop was asked for. */
int many_stopping(void);
/* One row landed (ok or not). */
void many_progress_row(many_progress *p, int ok);
/* One input finished (all its methods); failed: any of them failed. */
void many_progress_input(many_progress *p, int failed);
/* The summary line on stderr; the exit status of the run. */
int many_progress_end(many_progress *p, const char *what);

#endif
