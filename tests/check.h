/*
 * The smallest test framework that does the job: each check prints one
 * line, and check_summary() prints "N passed, N failed" (plus skipped) and
 * gives the exit code. Every test program in tests/ ends with
 *     return check_summary();
 * tests/run_all.sh adds the programs' counts into the final line.
 */
#ifndef XCNN_TEST_CHECK_H
#define XCNN_TEST_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>

static int check_n_passed, check_n_failed, check_n_skipped;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static inline int check(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (ok) check_n_passed++;
    else check_n_failed++;
    fflush(stdout);
    return ok;
}

/* A comparison with its measured error and tolerance on the line. */
static inline int check_close(const char *what, double err, double tol)
{
    return check(err <= tol && !isnan(err), "%s (error %.3g, tolerance %.3g)", what, err, tol);
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static inline void check_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("SKIP ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    check_n_skipped++;
    fflush(stdout);
}

static inline int check_summary(void)
{
    if (check_n_skipped)
        printf("%d passed, %d failed, %d skipped\n", check_n_passed, check_n_failed,
               check_n_skipped);
    else
        printf("%d passed, %d failed\n", check_n_passed, check_n_failed);
    return check_n_failed ? 1 : 0;
}

/* A scratch file name for tests: /tmp/xcnn_<pid>_<name>, so tests work
 * whatever the build directory is, and two runs never collide. */
#include <unistd.h>
static inline const char *test_tmp_path(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/xcnn_%ld_%s", (long)getpid(), name);
    return path;
}

/* max|a-b| / max|b|: the error measure used against every reference. */
static inline double max_rel_error(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > num || isnan(d)) num = isnan(d) ? INFINITY : d;
        if (fabs((double)b[i]) > den) den = fabs((double)b[i]);
    }
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return num / den;
}

/* Normalised mean squared error, mse(a, b) / mse(b, 0) (ggml's measure):
 * small when a few elements are off, large when the whole result is. */
static inline double nmse(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return isnan(num) ? INFINITY : num / den;
}

/* Deterministic random numbers for tests (xorshift64*). */
typedef struct { uint64_t s; } test_rng;
static inline uint64_t test_rng_next(test_rng *r)
{
    r->s ^= r->s >> 12; r->s ^= r->s << 25; r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}
/* Uniform in [lo, hi). */
static inline float test_rng_uniform(test_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)((test_rng_next(r) >> 40) / 16777216.0);
}
static inline int test_rng_int(test_rng *r, int lo, int hi_inclusive)
{
    return lo + (int)(test_rng_next(r) % (uint64_t)(hi_inclusive - lo + 1));
}

#endif
