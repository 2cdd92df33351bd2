/*
 * xcnn evaluate's report mode (evaluate_report.c runs it, report_files.c
 * writes what it found): every metric of METHODS.md for every method on
 * every input.
 */
#ifndef XCNN_CLI_EVALUATE_REPORT_H
#define XCNN_CLI_EVALUATE_REPORT_H

#include "../../include/xcnn_eval.h"
#include "cli.h"

/* One input x one method. A metric that does not apply (the library
 * answered XCNN_ERR_UNSUPPORTED) is NaN, or -1 for the flags. */
typedef struct report_row {
    int target;
    float score;                /* softmax(f(x))[target], or f(x)[target] with logits */
    double deletion, insertion; /* AUCs */
    int sanity_flagged;         /* 1: the map survived randomization */
    double *spearman, *ssim;    /* n_layers each (NULL when n/a), step k = k + 1 layers */
    double invariance;          /* max|a1 - a2| / max|a1| */
    int invariance_pass;
    double infidelity, sensitivity;
} report_row;

typedef struct report {
    const char *model;
    char *const *inputs;
    int n_inputs;
    const char **method_names;
    int n_methods;
    int logit;                  /* scores are logits, not probabilities */
    int shift_baselines, pad_with_shift; /* input invariance's options */
    int points;                 /* of each curve */
    double *deletion_sum, *insertion_sum; /* n_methods x points: sums over inputs */
    int *curves;                /* n_methods: inputs summed */
    int n_layers;               /* of the sanity check (0: n/a) */
    char (*layers)[256];        /* from the output layer down */
    report_row *rows;           /* n_inputs x n_methods, input-major */
    const char *const *labels;  /* class names or NULL, per target */
    int n_labels;
} report;

/* The table on stdout. */
void report_print_table(const report *r);

/* The files of the report, in dir: metrics.csv, deletion.png,
 * insertion.png, sanity.png. */
#define REPORT_FILES 4

/* Before the run: make dir if it is missing (its parent must exist; *made
 * says so, for report_files_abort to remove it) and reserve a temporary
 * file beside each output, so that an unwritable dir is found before the
 * work, not after. 0, or an exit code (printed; nothing left behind). */
int report_files_begin(const char *dir, cli_stage st[REPORT_FILES], char *paths[REPORT_FILES],
                       int *made);

/* After it: write every file to its reserved name, then rename them all
 * into place. 0, or an exit code (printed; then report_files_abort
 * removes what is left). The paths stay the caller's to free. */
int report_files_write(const report *r, cli_stage st[REPORT_FILES], char *paths[REPORT_FILES]);

/* Give up: remove the reserved files (and dir, if begin made it and it is
 * empty), free the paths. */
void report_files_abort(const char *dir, cli_stage st[REPORT_FILES], char *paths[REPORT_FILES],
                        int made);

#endif
