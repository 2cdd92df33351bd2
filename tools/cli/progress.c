/*
 * The many-input mode's progress line, its summary and its ending: a
 * Ctrl-C (SIGINT) or SIGTERM asks the run to stop after the batch in hand,
 * whose outputs and rows are then complete; a second one ends the process
 * at once (the default action), which loses nothing either: every output
 * is renamed into place whole and every row is one write.
 *
 * XCNN_MANY_STOP_AFTER=k (for tests) ends the process with _exit(3) right
 * after the k-th row of the run, as a kill -9 would: no cleanup, so a
 * test can check that a rerun finishes the job exactly.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "many.h"

/* The only state a signal handler may touch: set once, read by the loop. */
static volatile sig_atomic_t stop_asked;

static void on_signal(int sig)
{
    (void)sig;
    stop_asked = 1;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void many_progress_start(many_progress *p, long total)
{
    memset(p, 0, sizeof *p);
    p->total = total;
    p->start = p->last_print = now();
    p->tty = isatty(2);
    const char *s = getenv("XCNN_MANY_STOP_AFTER");
    long k;
    p->stop_after = s && !cli_parse_int(s, 1, 1L << 40, &k) ? k : 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* the second signal: the default, at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int many_stopping(void)
{
    return stop_asked != 0;
}

static void show(many_progress *p)
{
    double t = now(), el = t - p->start;
    if (!p->tty || t - p->last_print < 0.25) return;
    p->last_print = t;
    long ran = p->done - p->skipped;
    double rate = el > 0 ? (double)ran / el : 0;
    long left = p->total - p->done;
    char eta[32] = "?";
    if (rate > 0) {
        double s = (double)left / rate;
        if (s < 120) snprintf(eta, sizeof eta, "%.0f s", s);
        else if (s < 7200) snprintf(eta, sizeof eta, "%.0f min", s / 60);
        else snprintf(eta, sizeof eta, "%.1f h", s / 3600);
    }
    fprintf(stderr, "\r%ld/%ld inputs, %.1f/s, %s left, %ld failed   ", p->done, p->total, rate,
            eta, p->failed_inputs);
    fflush(stderr);
}

void many_progress_row(many_progress *p, int ok)
{
    p->rows++;
    if (ok) p->written++;
    else p->failed_rows++;
    if (p->stop_after && p->rows >= p->stop_after) _exit(3);
}

void many_progress_input(many_progress *p, int failed)
{
    p->done++;
    if (failed) p->failed_inputs++;
    show(p);
}

int many_progress_end(many_progress *p, const char *what)
{
    double el = now() - p->start;
    long ran = p->done - p->skipped;
    if (p->tty) fputc('\r', stderr);
    fprintf(stderr, "xcnn: %s: %ld of %ld inputs done (%ld already done before), %ld outputs "
            "written, %ld inputs failed; %.2f s, %.1f inputs/s%s\n", what, p->done, p->total,
            p->skipped, p->written, p->failed_inputs, el, el > 0 ? (double)ran / el : 0.0,
            stop_asked ? "; interrupted: run it again to finish" : "");
    if (stop_asked) return MANY_EXIT_INTERRUPTED;
    if (p->failed_inputs)
        return MANY_EXIT_FAILED + (int)(p->failed_inputs < 100 ? p->failed_inputs : 100);
    return 0;
}
