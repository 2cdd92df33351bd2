/*
 * What the one-thread benchmarks share: a clock and their two flags.
 * One thread is timed in thread CPU time (steady when other programs share
 * the cores), several in wall time.
 */
#ifndef XCNN_BENCH_UTIL_H
#define XCNN_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct bench_opts {
    int threads, reps;
    int cpu_clock; /* 1: thread CPU time; 0: wall time */
} bench_opts;

static inline double bench_now(const bench_opts *o)
{
    struct timespec t;
    clock_gettime(o->cpu_clock ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* --threads T and --reps R (both at least 1; reps defaults to `reps`);
 * sets OpenMP's thread count. Returns 0, or 2 after printing the usage. */
static inline int bench_parse(int argc, char **argv, const char *name, int reps, bench_opts *o)
{
    o->threads = 1;
    o->reps = reps;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) o->threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) o->reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--threads T] [--reps R]\n", name);
            return 2;
        }
    }
    if (o->threads < 1) o->threads = 1;
    if (o->reps < 1) o->reps = 1;
#ifdef _OPENMP
    omp_set_num_threads(o->threads);
#else
    o->threads = 1;
#endif
    o->cpu_clock = o->threads == 1;
    return 0;
}

#endif
