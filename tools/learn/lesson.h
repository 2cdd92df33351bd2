/*
 * lesson.h: the few things every lesson shares.
 *
 *  - lesson_rand: reproducible "random" numbers (splitmix64), so every run
 *    of a lesson prints the same numbers on every machine;
 *  - rel_err: how far our numbers are from a reference, as one figure:
 *        max_i |ours_i - ref_i| / max_i |ref_i|
 *    (dividing by the largest reference value, not each one, so that a
 *    value near zero does not make a tiny difference look huge);
 *  - lesson_check / lesson_end: print each check, then the last line
 *        lesson NN: ok (max relative error E)     exit status 0
 *        lesson NN: FAIL (...)                    exit status 1
 */
#ifndef LESSON_H
#define LESSON_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

/* A uniform number in [-1, 1) from the generator state *s. */
static inline float lesson_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) / 4503599627370496.0 - 1.0); /* 2^52 */
}

static inline void lesson_fill(float *v, size_t n, float scale, uint64_t *s)
{
    for (size_t i = 0; i < n; i++) v[i] = scale * lesson_rand(s);
}

static inline double rel_err_d(const double *ours, const double *ref, size_t n)
{
    double diff = 0, big = 0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs(ours[i] - ref[i]));
        big = fmax(big, fabs(ref[i]));
    }
    return big > 0 ? diff / big : diff;
}

static inline double rel_err(const float *ours, const double *ref, size_t n)
{
    double diff = 0, big = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)ours[i] - ref[i]); /* not fmax: gcc 12.2 for aarch64 */
        if (e > diff) diff = e;                     /* crashes vectorising it at -O3  */
        big = fmax(big, fabs(ref[i]));
    }
    return big > 0 ? diff / big : diff;
}

typedef struct lesson {
    const char *id; /* "01" */
    int failed;
    double worst;   /* the largest relative error checked */
} lesson;

/* One check: err must be at most tol (a NaN fails too). */
static inline void lesson_check(lesson *L, const char *what, double err, double tol)
{
    int ok = err <= tol;
    printf("  check: %-52s %.1e <= %.0e  %s\n", what, err, tol, ok ? "ok" : "FAIL");
    if (!ok) L->failed++;
    if (err > L->worst || err != err) L->worst = err;
}

/* A yes/no fact (the loss fell, the delta shrank ...). */
static inline void lesson_require(lesson *L, const char *what, int ok)
{
    printf("  check: %-64s %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) L->failed++;
}

static inline int lesson_end(const lesson *L)
{
    if (L->failed) {
        printf("lesson %s: FAIL (%d check%s failed)\n", L->id, L->failed,
               L->failed == 1 ? "" : "s");
        return 1;
    }
    printf("lesson %s: ok (max relative error %.1e)\n", L->id, L->worst);
    return 0;
}

#endif
