/*
 * Compile-time settings of the library, in one place. Every setting is a
 * macro with a default here; a -D on the command line overrides it.
 *
 * Two switches pick other defaults for whole groups of settings:
 *
 *   XCNN_SMALL        small cores (Cortex-M4 class, <= 256 KiB of RAM, no
 *                     OS): small stack arrays (every function's frame
 *                     under 2 KiB, `make stack-usage`), one conv's scratch
 *                     capped at XCNN_CONV_SCRATCH_FLOATS, and no second
 *                     copy of a conv's weights (Winograd's U, packed W^T).
 *                     Results equal the default build's to rounding, not
 *                     to the bit: the GEMM splits each sum into slices of
 *                     XCNN_GEMM_KC (16, not 256) terms, a capped conv's
 *                     weight and input gradients add piece by piece, and
 *                     convs the default build runs by Winograd run im2col
 *                     + GEMM (the reference's values to rounding, as
 *                     everywhere; tests/test_mcu.sh measures 4e-7).
 *   XCNN_FLOAT_ACCUM  float accumulators (xcnn_acc below) where the
 *                     default sums in double (pooling, softmax, batch
 *                     norm, every gradient reduction): a single-precision
 *                     FPU runs double in software. Sums are compensated
 *                     (Kahan), so they stay within the 5e-4 of the PyTorch
 *                     fixtures; `make FLOAT_ACCUM=1 test` checks it.
 *
 * The Cortex-M4 build uses both (tools/stack_usage.mk).
 */
#ifndef XCNN_CONFIG_H
#define XCNN_CONFIG_H

/* ---- GEMM blocking (kernels/gemm.c) -----------------------------------
 *
 * A product runs in blocks (GotoBLAS): KC steps of k per pass of the
 * micro-kernel over C, MC rows of A and NC columns of B packed at a time
 * into buffers on the stack of each thread that runs it: (MC + NC) x KC
 * floats. The defaults are the ones the x86 build was tuned with (352
 * KiB: B's block in L2). XCNN_SMALL: 1.5 KiB, for cores with no cache to
 * block for (C is then read and written every 16 steps of k).
 * MC and NC are cut down to whole tiles of the kernel that runs and grown
 * to at least one tile of the largest kernel built (a host build with
 * XCNN_SMALL keeps AVX-512's 12 x 32 tiles), so any value >= 1 works.
 * KC decides how each sum is split into partial sums, so it changes the
 * last bits of a product (not its accuracy); MC and NC change no bit. */
#ifndef XCNN_GEMM_KC
#ifdef XCNN_SMALL
#define XCNN_GEMM_KC 16
#else
#define XCNN_GEMM_KC 256
#endif
#endif
#ifndef XCNN_GEMM_MC
#ifdef XCNN_SMALL
#define XCNN_GEMM_MC 8
#else
#define XCNN_GEMM_MC 96
#endif
#endif
#ifndef XCNN_GEMM_NC
#ifdef XCNN_SMALL
#define XCNN_GEMM_NC 16
#else
#define XCNN_GEMM_NC 256
#endif
#endif

/* ---- stack and scratch (kernels/winograd*.c, ops/conv_fast.c, ops/pool.c)
 *
 * Default / XCNN_SMALL. The default values are the ones the x86 build was
 * tuned with; the small ones keep each frame under 2 KiB. */

/* Winograd transforms (winograd.c: F(2x2, 3x3); winograd_f4.c: F(4x4,
 * 3x3)) run over up to CHUNK_TILES tiles at a time, in whole tile rows
 * when their buffers of CHUNK + ROW tiles hold one row more (wider rows go
 * in pieces: xcnn_winograd_chunking, winograd.h); the same bits either
 * way. The buffers are on the stack: F(2x2) 12 x (CHUNK + ROW) floats per
 * transform (49 KB by default, 1.5 KB small), F(4x4) 30 x (CHUNK + ROW)
 * (62 KB, 1.4 KB). */
#ifndef XCNN_WINOGRAD_CHUNK_TILES
#ifdef XCNN_SMALL
#define XCNN_WINOGRAD_CHUNK_TILES 16
#else
#define XCNN_WINOGRAD_CHUNK_TILES 512
#endif
#endif
#ifndef XCNN_WINOGRAD_ROW_TILES
#ifdef XCNN_SMALL
#define XCNN_WINOGRAD_ROW_TILES 16
#else
#define XCNN_WINOGRAD_ROW_TILES 514 /* every row of a plane up to 1024 wide */
#endif
#endif
#ifndef XCNN_WINOGRAD4_CHUNK_TILES
#ifdef XCNN_SMALL
#define XCNN_WINOGRAD4_CHUNK_TILES 6
#else
#define XCNN_WINOGRAD4_CHUNK_TILES 256
#endif
#endif
#ifndef XCNN_WINOGRAD4_ROW_TILES
#ifdef XCNN_SMALL
#define XCNN_WINOGRAD4_ROW_TILES 6
#else
#define XCNN_WINOGRAD4_ROW_TILES 259
#endif
#endif
/* Floats of a packed Winograd product's rows turned back at a time (on
 * the stack); the packed form is used up to c_out = this / 8. */
#ifndef XCNN_WINOGRAD_BACK_FLOATS
#ifdef XCNN_SMALL
#define XCNN_WINOGRAD_BACK_FLOATS 448
#else
#define XCNN_WINOGRAD_BACK_FLOATS 8192
#endif
#endif

/* MaxPool: outputs of a row whose argmax is found together (two arrays
 * of this many on the stack). */
#ifndef XCNN_MAXPOOL_SEGMENT
#ifdef XCNN_SMALL
#define XCNN_MAXPOOL_SEGMENT 64
#else
#define XCNN_MAXPOOL_SEGMENT 256
#endif
#endif

/* Conv (ops/conv_fast.c). XCNN_CONV_SCRATCH_FLOATS > 0 caps one conv's
 * scratch: im2col + GEMM then runs over pieces of at most this many
 * floats of col (a piece is at least one pixel, kcol = C/group*kh*kw
 * floats, so a conv's scratch is max(cap, kcol)); the same bits as the
 * whole plane. 0: no cap (col is kcol x pixels). XCNN_CONV_WINOGRAD and
 * XCNN_CONV_PACKED allow the paths that keep a second, converted copy of
 * the weights (Winograd's U: 16 to 88 floats per 9 weights; W^T packed
 * for the few-pixels path); Winograd's scratch is not capped by the
 * above, so XCNN_SMALL turns both off. */
#ifndef XCNN_CONV_SCRATCH_FLOATS
#ifdef XCNN_SMALL
#define XCNN_CONV_SCRATCH_FLOATS 8192 /* 32 KiB */
#else
#define XCNN_CONV_SCRATCH_FLOATS 0
#endif
#endif
#ifndef XCNN_CONV_WINOGRAD
#ifdef XCNN_SMALL
#define XCNN_CONV_WINOGRAD 0
#else
#define XCNN_CONV_WINOGRAD 1
#endif
#endif
#ifndef XCNN_CONV_PACKED
#ifdef XCNN_SMALL
#define XCNN_CONV_PACKED 0
#else
#define XCNN_CONV_PACKED 1
#endif
#endif

/* ---- accumulators ------------------------------------------------------
 *
 * xcnn_acc: the type the ops sum in where a float sum would round too
 * much (means, variances, softmax's denominator, every gradient summed
 * over a batch or a broadcast). double by default, which is what the
 * tests' exact bits were made with; float under XCNN_FLOAT_ACCUM.
 *
 * xcnn_sum: a running sum of xcnn_acc terms. By default exactly `s += v`
 * (the same bits as a plain double sum); under XCNN_FLOAT_ACCUM Kahan's
 * compensated sum, whose error does not grow with the number of terms
 * (a plain float sum of n terms can be off by n x 6e-8: 2e-4 relative
 * over a 56 x 56 plane, too close to the fixtures' 5e-4). It needs
 * exact IEEE float: no -ffast-math, no reassociation (we never use either).
 */
/* xcnn_acc_sqrt: sqrt in xcnn_acc (needs <math.h>). */
#ifdef XCNN_FLOAT_ACCUM
typedef float xcnn_acc;
#define xcnn_acc_sqrt sqrtf
typedef struct xcnn_sum {
    float s, c; /* the sum, and what rounding took off it */
} xcnn_sum;
#define XCNN_SUM_ZERO {0.0f, 0.0f}
static inline void xcnn_sum_add(xcnn_sum *k, float v)
{
    float y = v - k->c, t = k->s + y;
    k->c = (t - k->s) - y;
    k->s = t;
}
#else
typedef double xcnn_acc;
#define xcnn_acc_sqrt sqrt
typedef struct xcnn_sum {
    double s;
} xcnn_sum;
#define XCNN_SUM_ZERO {0.0}
static inline void xcnn_sum_add(xcnn_sum *k, double v)
{
    k->s += v;
}
#endif
/* The sum so far. */
static inline xcnn_acc xcnn_sum_get(const xcnn_sum *k)
{
    return k->s;
}

/* ---- Which explainers xcnn_explain links (explain/explain.c) ---------
 *
 * XCNN_EXPLAIN_CORE: only the first eight methods (the gradients, Grad-CAM
 * and guided Grad-CAM). xcnn_explain reaches every method through one
 * table, so a program that calls it links all twenty-two; a firmware
 * whose flash is counted defines this to leave out the second round
 * (DeepLIFT, SHAP, LRP, occlusion, RISE, the CAM family: about 41 KB of
 * Cortex-M4 code), which such a build then refuses as XCNN_ERR_UNSUPPORTED
 * with a message saying why. The M4 firmware sets it (tools/mcu/mcu.mk). */

#endif /* XCNN_CONFIG_H */
