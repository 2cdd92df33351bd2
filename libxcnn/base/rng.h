/* splitmix64: a tiny, well-mixed generator whose whole state is one
 * uint64_t the caller keeps (no global state). Used for weight
 * initialisation and shuffling so that a seed fixes the whole run. */
#ifndef XCNN_BASE_RNG_H
#define XCNN_BASE_RNG_H

#include <math.h>
#include <stdint.h>

static inline uint64_t xcnn_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double xcnn_rng_uniform(uint64_t *s)
{
    return (double)(xcnn_rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box-Muller; one value per call, the second is dropped
 * so that the stream does not depend on call parity). */
static inline double xcnn_rng_normal(uint64_t *s)
{
    double u1 = 1.0 - xcnn_rng_uniform(s); /* (0, 1]: log is finite */
    double u2 = xcnn_rng_uniform(s);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Uniform integer in [0, n) without modulo bias worth worrying about for
 * n far below 2^64 (the shuffle's n is at most a few million). */
static inline uint64_t xcnn_rng_below(uint64_t *s, uint64_t n)
{
    return (uint64_t)(xcnn_rng_uniform(s) * (double)n) % n;
}

#endif
