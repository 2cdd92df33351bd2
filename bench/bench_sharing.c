/*
 * What it costs two threads to share one buffer: both update (read, add,
 * clip, write back) half of a 300 KB buffer, the halves cut either into
 * two blocks or into alternating runs of R bytes (thread 0 the first run
 * of every 2R, thread 1 the second), as a layer's output is cut when its
 * threads take halves of every row or every channel plane. The same
 * update on one thread alone is the yardstick.
 *
 * On the 2-vCPU VM libxcnn is tuned on (2026-12-06): one thread 15.4 us,
 * two blocks 15.2, alternating runs of 128 B 29, of 768 B 37, of 3 KB 28,
 * of 12 KB 18, of 48 KB 15.5. Runs under ~4 KB cost about twice the
 * blocks, and two threads in blocks are no faster than one alone on this
 * memory-bound loop: cores that touch alternate runs of one region pull
 * each other's cache lines back and forth (prefetchers running past a
 * run's end included), at ~450 ns a transfer here. This is why
 * ops/conv_fast.c's pixel-major 1x1 convs share whole ranges of pixels.
 * Prints the median of --reps updates each.
 *
 *   build/bench/bench_sharing [--reps R]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { FLOATS = 75264 }; /* 196 pixels x 384 channels: a 14 x 14 expansion */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* y[i] = min(y[i] + 1, 6) over [i0, i1) */
static void update(float *y, size_t i0, size_t i1)
{
    for (size_t i = i0; i < i1; i++) {
        float v = y[i] + 1.0f;
        y[i] = v > 6.0f ? 6.0f : v;
    }
}

/* Thread t of 2's share: runs of `run` floats, every other one (run 0:
 * one block, the first or second half). */
static void share(float *y, int t, size_t run)
{
    if (!run) {
        update(y, t * (size_t)FLOATS / 2, (t + 1) * (size_t)FLOATS / 2);
        return;
    }
    for (size_t i = t * run; i < FLOATS; i += 2 * run)
        update(y, i, i + run < FLOATS ? i + run : FLOATS);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median microseconds of one update: threads 1 (all of it on one
 * thread) or 2 (shared by `run`). */
static double time_update(float *y, int threads, size_t run, int reps, double *times)
{
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        if (threads == 1) {
            update(y, 0, FLOATS);
        } else {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(2)
#endif
            for (int t = 0; t < 2; t++) share(y, t, run);
        }
        times[r] = (now_s() - t0) * 1e6;
        for (size_t i = 0; i < FLOATS; i += 4096) y[i] = 0.0f; /* keep values moving */
    }
    qsort(times, (size_t)reps, sizeof *times, by_value);
    return times[reps / 2];
}

int main(int argc, char **argv)
{
    int reps = 2000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc && atoi(argv[i + 1]) > 0) {
            reps = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--reps R]\n", argv[0]);
            return 2;
        }
    }
    float *y = calloc(FLOATS, sizeof *y);
    double *times = malloc((size_t)reps * sizeof *times);
    if (!y || !times) {
        fprintf(stderr, "bench_sharing: out of memory\n");
        return 1;
    }
    printf("one 300 KB update (%d floats), median of %d\n", FLOATS, reps);
    printf("%-44s %10s\n", "how it is shared", "us");
    printf("%-44s %10.2f\n", "one thread, all of it", time_update(y, 1, 0, reps, times));
#ifdef _OPENMP
    printf("%-44s %10.2f\n", "two threads, a block each", time_update(y, 2, 0, reps, times));
    static const size_t runs[] = {32, 192, 768, 3072, 12288};
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        char what[64];
        snprintf(what, sizeof what, "two threads, alternating runs of %zu B", runs[k] * 4);
        printf("%-44s %10.2f\n", what, time_update(y, 2, runs[k], reps, times));
    }
#else
    printf("(built without OpenMP: no two-thread rows)\n");
#endif
    free(y);
    free(times);
    return 0;
}
