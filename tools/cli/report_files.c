/*
 * The report's files (evaluate_report.h), in DIR:
 *   metrics.csv    one row per input and method: target, score, every
 *                  metric, the sanity check's Spearman and SSIM per layer;
 *                  empty where a metric does not apply;
 *   deletion.png,  the mean curve over the inputs per method (score
 *   insertion.png  against the fraction of pixels deleted / put back), the
 *                  legend giving each method's mean AUC;
 *   sanity.png     the mean Spearman (left, with the legend) and SSIM
 *                  (right) with the original map after randomizing the
 *                  layers from the output down, one more a step
 *                  ("original" is 1).
 * All four are written to names reserved beside them (cli_stage) and
 * renamed into place together, so a failed run leaves the old ones (or
 * nothing) and no part.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "evaluate_report.h"
#include "plot.h"
#include "../../include/xcnn_image.h"

static const char *const names[REPORT_FILES] = {"metrics.csv", "deletion.png", "insertion.png",
                                                "sanity.png"};

int report_files_begin(const char *dir, cli_stage st[REPORT_FILES], char *paths[REPORT_FILES],
                       int *made)
{
    struct stat sb;
    *made = 0;
    for (int f = 0; f < REPORT_FILES; f++) paths[f] = NULL, st[f] = (cli_stage){0};
    if (stat(dir, &sb) != 0) {
        if (errno != ENOENT || mkdir(dir, 0777) != 0)
            return cli_error("--out-dir '%s': cannot create it: %s", dir, strerror(errno));
        *made = 1;
    } else if (!S_ISDIR(sb.st_mode)) {
        return cli_error("--out-dir '%s' is not a directory", dir);
    }
    for (int f = 0; f < REPORT_FILES; f++) {
        size_t n = strlen(dir) + strlen(names[f]) + 2;
        if (!(paths[f] = malloc(n))) {
            report_files_abort(dir, st, paths, *made);
            return cli_error("out of memory");
        }
        snprintf(paths[f], n, "%s/%s", dir, names[f]);
        int rc = cli_stage_begin(&st[f], paths[f]);
        if (rc) {
            report_files_abort(dir, st, paths, *made);
            return rc;
        }
    }
    return 0;
}

void report_files_abort(const char *dir, cli_stage st[REPORT_FILES], char *paths[REPORT_FILES],
                        int made)
{
    for (int f = 0; f < REPORT_FILES; f++) {
        cli_stage_abort(&st[f]);
        free(paths[f]);
        paths[f] = NULL;
    }
    if (made) rmdir(dir); /* only if empty: never what someone else put there */
}

/* ---- metrics.csv ------------------------------------------------------ */

typedef struct text {
    char *s;
    size_t len, cap;
    int failed;
} text;

static void add(text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void add(text *t, const char *fmt, ...)
{
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)n;
        char *more = realloc(t->s, cap);
        if (!more) {
            t->failed = 1;
            return;
        }
        t->s = more, t->cap = cap;
    }
}

/* A field as RFC 4180 wants it: quoted when it holds a comma, a quote or
 * a line break, quotes doubled. */
static void field(text *t, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        add(t, "%s", s);
        return;
    }
    add(t, "\"");
    for (; *s; s++) add(t, *s == '"' ? "\"\"" : "%c", *s);
    add(t, "\"");
}

static void number(text *t, double v)
{
    if (isnan(v)) add(t, ",");
    else add(t, ",%.9g", v);
}

static void flag(text *t, int v)
{
    if (v < 0) add(t, ",");
    else add(t, ",%d", v);
}

static char *csv(const report *r)
{
    text t = {NULL, 0, 0, 0};
    add(&t, "input,method,target,label,%s,deletion_auc,insertion_auc,sanity_pass,"
            "invariance_max_rel_diff,invariance_pass,infidelity,sensitivity",
        r->logit ? "logit" : "probability");
    for (int m = 0; m < 2; m++)
        for (int s = 0; s < r->n_layers; s++) {
            char h[300];
            snprintf(h, sizeof h, "%s:%s", m ? "ssim" : "spearman", r->layers[s]);
            add(&t, ",");
            field(&t, h);
        }
    add(&t, "\n");
    for (int i = 0; i < r->n_inputs; i++)
        for (int k = 0; k < r->n_methods; k++) {
            const report_row *row = &r->rows[(size_t)i * r->n_methods + k];
            field(&t, r->inputs[i]);
            add(&t, ",%s,%d,", r->method_names[k], row->target);
            field(&t, row->target < r->n_labels && r->labels ? r->labels[row->target] : "");
            /* the score in the kind the curves use: softmax or the raw output */
            add(&t, ",%.9g", (double)row->score); /* softmax or raw, as the curves */
            number(&t, row->deletion);
            number(&t, row->insertion);
            flag(&t, row->sanity_flagged < 0 ? -1 : !row->sanity_flagged);
            number(&t, row->invariance);
            flag(&t, row->invariance_pass);
            number(&t, row->infidelity);
            number(&t, row->sensitivity);
            for (int s = 0; s < 2 * r->n_layers; s++) number(&t, row->spearman[s]);
            add(&t, "\n");
        }
    if (t.failed) {
        free(t.s);
        return NULL;
    }
    return t.s;
}

static int write_text(cli_stage *st, const char *s)
{
    errno = 0;
    FILE *f = fopen(cli_stage_path(st), "w");
    int e = f ? 0 : (errno ? errno : EIO);
    size_t n = strlen(s);
    if (f && fwrite(s, 1, n, f) != n) e = errno ? errno : EIO;
    if (f && !e && fflush(f) != 0) e = errno ? errno : EIO;
    if (f && !e && fsync(fileno(f)) != 0 && errno != EINVAL) e = errno;
    if (f && fclose(f) != 0 && !e) e = errno ? errno : EIO;
    if (e) return cli_error("cannot write '%s': %s", st->target, strerror(e));
    return 0;
}

/* ---- the plots -------------------------------------------------------- */

#define CURVE_W 720
#define CURVE_H 460
#define SANITY_W 1120
#define SANITY_H 560
#define LEGEND_W 300 /* added to a canvas whose legend goes beside the plot */

static int write_png(cli_stage *st, const plot_canvas *c)
{
    char err[600];
    xcnn_image img = {c->w, c->h, 3, c->rgb};
    if (xcnn_image_write_png(cli_stage_path(st), &img, err, sizeof err) != XCNN_OK)
        return cli_stage_error(st, err);
    return 0;
}

static double mean_auc(const report *r, int k, int insertion)
{
    double s = 0;
    int n = 0;
    for (int i = 0; i < r->n_inputs; i++) {
        const report_row *row = &r->rows[(size_t)i * r->n_methods + k];
        double v = insertion ? row->insertion : row->deletion;
        if (!isnan(v)) s += v, n++;
    }
    return n ? s / n : NAN;
}

/* Legends longer than the plot is tall get a taller plot. */
static int height_for(int base, int n_series)
{
    return n_series > 12 ? base + (n_series - 12) * 16 : base;
}

static int curves_png(const report *r, int insertion, cli_stage *st)
{
    int n = 0, rc = 0;
    for (int k = 0; k < r->n_methods; k++) n += r->curves[k] > 0;
    plot_series *series = calloc((size_t)(n ? n : 1), sizeof *series);
    double *xs = malloc((size_t)r->points * sizeof(double));
    double *ys = malloc((size_t)(n ? n : 1) * (size_t)r->points * sizeof(double));
    char(*labels)[64] = calloc((size_t)(n ? n : 1), sizeof *labels);
    /* room for the legend beside the plot when it is too tall for inside */
    plot_canvas c = {NULL, CURVE_W + (n >= 12 ? LEGEND_W : 0), height_for(CURVE_H, n)};
    c.rgb = malloc((size_t)c.w * c.h * 3);
    if (!series || !xs || !ys || !labels || !c.rgb) {
        rc = cli_error("out of memory");
        goto done;
    }
    for (int p = 0; p < r->points; p++) xs[p] = r->points > 1 ? (double)p / (r->points - 1) : 0;
    int j = 0;
    for (int k = 0; k < r->n_methods; k++) {
        if (!r->curves[k]) continue;
        const double *sum = (insertion ? r->insertion_sum : r->deletion_sum) +
                            (size_t)k * r->points;
        double *y = ys + (size_t)j * r->points;
        for (int p = 0; p < r->points; p++) y[p] = sum[p] / r->curves[k];
        snprintf(labels[j], sizeof labels[j], "%s (AUC %.3f)", r->method_names[k],
                 mean_auc(r, k, insertion));
        series[j] = (plot_series){labels[j], xs, y, r->points, 0};
        j++;
    }
    char title[160];
    snprintf(title, sizeof title, "%s: mean over %d input%s (%s AUC is better)",
             insertion ? "Insertion" : "Deletion", r->n_inputs, r->n_inputs == 1 ? "" : "s",
             insertion ? "higher" : "lower");
    plot_spec p = {title,
                   insertion ? "fraction of pixels put back into the blurred input"
                             : "fraction of pixels deleted (set to 0)",
                   r->logit ? "logit of the class" : "probability of the class",
                   series, n, 0, 1, 0, r->logit ? 0 : 1, NULL, 0}; /* logits: the data's range */
    char err[200];
    plot_clear(&c);
    if (plot_draw(&c, 0, 0, c.w, c.h, &p, NULL, err, sizeof err)) {
        rc = cli_error("%s: %s", st->target, err);
        goto done;
    }
    rc = write_png(st, &c);
done:
    free(series);
    free(xs);
    free(ys);
    free(labels);
    free(c.rgb);
    return rc;
}

/* Mean over the inputs of step s's value of method k (m 0 Spearman, 1 SSIM). */
static double sanity_mean(const report *r, int k, int m, int s)
{
    double sum = 0;
    int n = 0;
    for (int i = 0; i < r->n_inputs; i++) {
        const report_row *row = &r->rows[(size_t)i * r->n_methods + k];
        double v = (m ? row->ssim : row->spearman)[s];
        if (!isnan(v)) sum += v, n++;
    }
    return n ? sum / n : NAN;
}

static int sanity_png(const report *r, cli_stage *st)
{
    int L = r->n_layers, n = 0, rc = 0;
    int *which = calloc((size_t)r->n_methods + 1, sizeof(int));
    if (!which) return cli_error("out of memory");
    for (int k = 0; k < r->n_methods; k++)
        if (L && !isnan(sanity_mean(r, k, 0, L - 1))) which[n++] = k;
    size_t pts = (size_t)L + 1;
    plot_series *series = calloc((size_t)(n ? n : 1) * 2, sizeof *series);
    double *xs = malloc(pts * sizeof(double));
    double *ys = malloc((size_t)(n ? n : 1) * 2 * pts * sizeof(double));
    const char **xn = malloc(pts * sizeof *xn);
    int extra = n >= 12 ? LEGEND_W - 80 : 0; /* the left panel's legend, outside */
    plot_canvas c = {NULL, SANITY_W + extra, height_for(SANITY_H, n)};
    c.rgb = malloc((size_t)c.w * c.h * 3);
    if (!series || !xs || !ys || !xn || !c.rgb) {
        rc = cli_error("out of memory");
        goto done;
    }
    xn[0] = "original";
    xs[0] = 0;
    for (int s = 0; s < L; s++) xn[s + 1] = r->layers[s], xs[s + 1] = s + 1;
    double lo = 0;
    for (int m = 0; m < 2; m++)
        for (int j = 0; j < n; j++) {
            double *y = ys + ((size_t)m * n + j) * pts;
            y[0] = 1; /* the original map against itself */
            for (int s = 0; s < L; s++) {
                y[s + 1] = sanity_mean(r, which[j], m, s);
                if (y[s + 1] < lo) lo = y[s + 1];
            }
            /* one legend, in the left panel: the colours are the same in both */
            series[(size_t)m * n + j] =
                (plot_series){m ? NULL : r->method_names[which[j]], xs, y, (int)pts, 1};
        }
    plot_clear(&c);
    char err[200];
    for (int m = 0; m < 2; m++) {
        char title[160];
        snprintf(title, sizeof title, L ? "%s with the original map, mean of %d" :
                                          "%s: not available for this model",
                 m ? "SSIM" : "Spearman rank correlation (|map|)", r->n_inputs);
        plot_spec p = {title, "layers randomized, from the output down",
                       m ? "SSIM" : "Spearman", series + (size_t)m * n, n, 0, 0, lo, 1,
                       xn, L + 1};
        int half = (c.w - extra) / 2;
        if (plot_draw(&c, m ? half + extra : 0, 0, m ? c.w - half - extra : half + extra, c.h, &p,
                      NULL, err, sizeof err)) {
            rc = cli_error("%s: %s", st->target, err);
            goto done;
        }
    }
    rc = write_png(st, &c);
done:
    free(which);
    free(series);
    free(xs);
    free(ys);
    free(xn);
    free(c.rgb);
    return rc;
}

int report_files_write(const report *r, cli_stage st[REPORT_FILES], char *paths[REPORT_FILES])
{
    (void)paths;
    char *text = csv(r);
    if (!text) return cli_error("out of memory (metrics.csv)");
    int rc = write_text(&st[0], text);
    free(text);
    if (!rc) rc = curves_png(r, 0, &st[1]);
    if (!rc) rc = curves_png(r, 1, &st[2]);
    if (!rc) rc = sanity_png(r, &st[3]);
    for (int f = 0; f < REPORT_FILES && !rc; f++)
        rc = cli_stage_commit(&st[f], f ? st[f - 1].target : NULL);
    return rc;
}
