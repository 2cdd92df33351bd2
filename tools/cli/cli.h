/* Shared pieces of the xcnn command-line tool. */
#ifndef XCNN_CLI_H
#define XCNN_CLI_H

#include <stdint.h>
#include "../../include/xcnn.h"

/* Exit codes: 0 ok, 1 an error with the inputs or the run, 2 usage. */
#define CLI_EXIT_ERROR 1
#define CLI_EXIT_USAGE 2

/* One line on stderr, "xcnn: ...", returns CLI_EXIT_ERROR. */
int cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* The same for usage mistakes: returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Parse a whole decimal integer / float; 0 on success. */
int cli_parse_int(const char *s, long lo, long hi, long *out);
int cli_parse_float(const char *s, double *out);
/* The value after the flag at argv[*i] (and *i moved onto it), or NULL
 * after a usage message when the flag is the last argument. */
const char *cli_flag_value(int argc, char **argv, int *i);

/* METHODS.md's CLI names of the explanation methods ("saliency", ...),
 * one table for every command (methods.c). cli_method_name: the name of
 * m ("?" for a value outside xcnn_method); cli_method_lookup: the method
 * whose name is the len bytes at name, 0, or -1 when none is. */
const char *cli_method_name(xcnn_method m);
int cli_method_lookup(const char *name, size_t len, xcnn_method *m);

struct cli_input_opts;
/* "1x3x224x224" into buf. */
void cli_dims_str(const int64_t *dims, int ndim, char *buf, size_t size);
void cli_shape_str(const xcnn_tensor_view *v, char *buf, size_t size);

/* Load a model (with --input-shape from o, which may be NULL), printing
 * the error; NULL on failure. */
xcnn_model *cli_load_model(const char *path, const struct cli_input_opts *o);
/* A model file's bytes (at most 1 GiB, the loader's default limit),
 * 64-byte aligned, free() them; NULL: error printed. */
unsigned char *cli_read_model_file(const char *path, size_t *size);

/* Read INPUT (a float32 .npy of shape (C,H,W) or (1,C,H,W)) and check it
 * against the model input. Returns a malloc'ed sample or NULL (error
 * printed). */
float *cli_load_input(const xcnn_model *m, const char *path);

/* Options every command that reads an INPUT takes. */
typedef struct cli_input_opts {
    const char *preprocess;  /* --preprocess SPEC (overrides the model's)   */
    const char *labels_path; /* --labels FILE (overrides the model's)       */
    xcnn_load_options load;  /* --input-shape CxHxW fills input_dims        */
} cli_input_opts;

/* If argv[*i] is --preprocess, --labels, --input-shape or --max-arena-mb,
 * take it (and its value) and return 1; *rc is then non-zero on a usage
 * error. */
int cli_input_flag(int argc, char **argv, int *i, cli_input_opts *o, int *rc);

/* INPUT as a .npy or an image (PNG/PPM/PGM, preprocessed). */
float *cli_load_any_input(const xcnn_model *m, const char *path, const cli_input_opts *o,
                          int *is_image);

/* Class names, one per output, from --labels or the model's metadata. */
typedef struct cli_labels {
    char *text;
    char **names;
    int count;
} cli_labels;
/* 0 if fine (possibly no labels at all), else an exit code (printed). */
int cli_labels_load(const xcnn_model *m, const cli_input_opts *o, cli_labels *l);
const char *cli_label(const cli_labels *l, int index); /* NULL if none */
/* --target NAME: its class index, or an error (printed; CLI_EXIT_ERROR). */
int cli_label_index(const cli_labels *l, const char *name, long *index);
void cli_labels_free(cli_labels *l);

/* Output files written together or not at all (output.c). Every library
 * writer replaces its file in one step, so one file needs nothing more. For
 * several: cli_stage_begin each (reserves "<target>.tmp.XXXXXX" beside it),
 * let the library write to cli_stage_path(), then cli_stage_commit each
 * (renames into place); on any failure cli_stage_abort all (removes the
 * temporary files; the targets keep their old contents). A target that is
 * a device or FIFO is written directly (cli_stage_path is the target). */
typedef struct cli_stage {
    const char *target; /* the path as the user gave it   */
    char *dest;         /* what is replaced (links followed) */
    char *tmp;          /* the reserved temporary file, or NULL */
} cli_stage;
/* 0, or an exit code (message printed). */
int cli_stage_begin(cli_stage *s, const char *target);
const char *cli_stage_path(const cli_stage *s);
/* Print msg (a library error about cli_stage_path) naming the target. */
int cli_stage_error(const cli_stage *s, const char *msg);
/* Rename into place; 0 or an exit code (printed; `already`, if not NULL,
 * is a target renamed just before, named in the message). Frees s. */
int cli_stage_commit(cli_stage *s, const char *already);
void cli_stage_abort(cli_stage *s);
/* text as the file path, whole or not at all. 0 or an exit code. */
int cli_write_text(const char *path, const char *text);

/* Commands. argv[0] is the command name. */
int cli_info(int argc, char **argv);
int cli_trace(int argc, char **argv);   /* trace.c: xcnn info --trace */
int cli_predict(int argc, char **argv);
int cli_explain(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_bench(int argc, char **argv);   /* bench.c */
int cli_convert(int argc, char **argv); /* convert.c: ONNX -> .xcnn */
int cli_evaluate(int argc, char **argv);  /* evaluate.c: metrics of explanations */
int cli_visualize(int argc, char **argv); /* visualize.c: activation maximisation */
/* evaluate_report.c: the report form of evaluate (--out-dir; or, without
 * --metric and --attribution, --methods or several inputs), which main.c
 * sends there instead. */
int cli_evaluate_is_report(int argc, char **argv);
int cli_evaluate_report(int argc, char **argv);

#endif
