/*
 * Single-precision matrix multiply, row-major:
 *     C = alpha * op(A) * op(B) + beta * C
 * op(A) is M x K (A is M x K, or K x M when trans_a), op(B) is K x N (B is
 * K x N, or N x K when trans_b); lda/ldb/ldc are row strides in floats.
 * beta == 0 means C is overwritten (its old contents, even NaN, ignored).
 * Results do not depend on the thread count. Allocates nothing: packing
 * buffers live on the stack (about 350 KiB on each thread that runs it;
 * 1.5 KiB with XCNN_SMALL: base/config.h's XCNN_GEMM_KC/MC/NC).
 *
 * Every product below must equal xcnn_sgemm_reference (the plain triple
 * loop, gemm_reference.c) to rounding: they sum in float, in tiles.
 */
#ifndef XCNN_GEMM_H
#define XCNN_GEMM_H

#include <stddef.h>

/* The micro-kernels. Results differ between kernels in the last bits
 * (fused vs separate multiply-add), never between thread counts. */
typedef enum xcnn_gemm_kind {
    XCNN_GEMM_AUTO = -1,    /* the fastest one this CPU runs               */
    XCNN_GEMM_PORTABLE = 0, /* plain C, always available                   */
    XCNN_GEMM_AVX2 = 1,     /* x86-64 AVX2 + FMA                           */
    XCNN_GEMM_AVX512 = 2,   /* x86-64 AVX-512F                             */
    XCNN_GEMM_NEON = 3,     /* aarch64 NEON (every aarch64 core)           */
    XCNN_GEMM_N_KINDS = 4
} xcnn_gemm_kind;

/* The reference: the definition above as three loops, each element of C
 * one sum in double over k in order. For tests and for reading; slow. */
void xcnn_sgemm_reference(int trans_a, int trans_b, int M, int N, int K, float alpha,
                          const float *A, int lda, const float *B, int ldb, float beta,
                          float *C, int ldc);

/* With XCNN_GEMM_AUTO. The environment variable XCNN_GEMM=portable|avx2|
 * avx512|neon forces a kernel (ignored when this CPU cannot run it). */
void xcnn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
                const float *A, int lda, const float *B, int ldb, float beta,
                float *C, int ldc);

/* The same with a chosen kernel; one the CPU cannot run (or unknown)
 * falls back to what XCNN_GEMM_AUTO picks. */
void xcnn_sgemm_with(xcnn_gemm_kind kind, int trans_a, int trans_b, int M, int N, int K,
                     float alpha, const float *A, int lda, const float *B, int ldb,
                     float beta, float *C, int ldc);

/* The same on the calling thread only: for callers that already run
 * several independent products in parallel (winograd.c). The bits are
 * those of xcnn_sgemm_with. */
void xcnn_sgemm_serial(xcnn_gemm_kind kind, int trans_a, int trans_b, int M, int N, int K,
                       float alpha, const float *A, int lda, const float *B, int ldb,
                       float beta, float *C, int ldc);

/* What a convolution does to its product before storing it: a bias per
 * row of C to start from, a residual to add (a fused Add), then its fused
 * activation (fuse.c). */
typedef struct xcnn_gemm_epilogue {
    const float *bias; /* row i of C starts at bias[i] (NULL: at 0)       */
    int relu;          /* then y > 0 ? y : 0 (a NaN becomes 0)            */
    int clip;          /* then Clip's rule: y < lo ? lo : y, > hi ? hi : y */
    float lo, hi;
    /* Before the activation, y += residual[i * ldc + j]: laid out as C
     * (its first float where C's is, the same ldc). NULL: none. Added to
     * the finished sum, as an Add after the conv would. */
    const float *residual;
} xcnn_gemm_epilogue;

/* C = act(bias + A * B), A (M x K) and B (K x N) not transposed, shared
 * between threads as xcnn_sgemm shares it (xcnn_sgemm_epilogue) or on the
 * calling thread (the _serial form). Where the kernel can (AVX-512), bias and activation are
 * applied in its registers, as the tile is stored; elsewhere to each tile
 * while it is in L1. Either way the bits of filling C with the bias,
 * xcnn_sgemm_serial with beta 1, then the activation over C: three passes
 * over C that the 1x1 convs of MobileNetV2 (K = 16 to 24) spent a sixth of
 * their time in. */
/* The epilogue's activation on one value, its fields passed by value (so
 * that loops over outputs keep them in registers and vectorise): ReLU (a
 * NaN becomes 0), then Clip (a NaN stays). */
static inline float xcnn_gemm_act(float v, int relu, int clip, float lo, float hi)
{
    if (relu) v = v > 0 ? v : 0.0f;
    if (clip) {
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;
    }
    return v;
}

/* The epilogue's activation alone (its bias and residual are not read)
 * over count floats: for outputs that no GEMM stores (depthwise convs,
 * Winograd). */
void xcnn_gemm_activate(float *y, size_t count, const xcnn_gemm_epilogue *act);

/* y[i] += r[i], then the epilogue's activation, over count floats: the
 * residual step for outputs that no GEMM stores. */
void xcnn_gemm_add_activate(float *y, const float *r, size_t count,
                            const xcnn_gemm_epilogue *act);

void xcnn_sgemm_epilogue(xcnn_gemm_kind kind, int M, int N, int K, const float *A, int lda,
                         const float *B, int ldb, const xcnn_gemm_epilogue *ep, float *C,
                         int ldc);
void xcnn_sgemm_serial_epilogue(xcnn_gemm_kind kind, int M, int N, int K, const float *A,
                                int lda, const float *B, int ldb, const xcnn_gemm_epilogue *ep,
                                float *C, int ldc);

/* C = op(A) * B (C overwritten) for products whose C has few rows (up to
 * a few dozen: a small conv layer's pixels), B not transposed. The
 * threads share B's columns; on AVX-512 a 7 x 48 kernel (49 = 7 x 7
 * pixels of a 7x7 plane). Bits do not depend on the thread count. */
void xcnn_sgemm_small_m(xcnn_gemm_kind kind, int trans_a, int M, int N, int K,
                        const float *A, int lda, const float *B, int ldb, float *C, int ldc);

/* A constant op(B) (a layer's frozen weights) packed once, then used by
 * many products. The packed form is what the few-rows kernel streams:
 * panels of nr columns (xcnn_gemm_panel_width: 48 on AVX-512), each K
 * rows of nr floats, zero-padded, panel after panel. Read this way B
 * costs no copy per call and no strided walk over its rows, which is what
 * held a product with 49 rows at two thirds of the kernel's speed.
 *
 * xcnn_gemm_panel_width   nr of the kernel `kind` resolves to
 * xcnn_gemm_packed_floats size of the packed form of a K x N op(B)
 * xcnn_gemm_pack_b        pack op(B) (B is K x N, or N x K when trans_b)
 * xcnn_sgemm_packed       C = op(A) * B + beta * C, beta 0 or 1, with B
 *                         packed for this kind's panel width. The same
 *                         kernel and the same order of sums as
 *                         xcnn_sgemm_small_m, so the same bits. */
int xcnn_gemm_panel_width(xcnn_gemm_kind kind);
size_t xcnn_gemm_packed_floats(int K, int N, int nr);
void xcnn_gemm_pack_b(int trans_b, int K, int N, const float *B, int ldb, int nr,
                      float *packed);
void xcnn_sgemm_packed(xcnn_gemm_kind kind, int trans_a, int M, int N, int K,
                       const float *A, int lda, const float *packed, float beta, float *C,
                       int ldc);
/* The same on the calling thread only (see xcnn_sgemm_serial). */
void xcnn_sgemm_packed_serial(xcnn_gemm_kind kind, int trans_a, int M, int N, int K,
                              const float *A, int lda, const float *packed, float beta,
                              float *C, int ldc);

/* Can this build on this CPU run `kind`? Its name ("avx512", ...). What
 * XCNN_GEMM_AUTO resolves to right now (XCNN_GEMM included). */
int xcnn_gemm_available(xcnn_gemm_kind kind);
const char *xcnn_gemm_name(xcnn_gemm_kind kind);
xcnn_gemm_kind xcnn_gemm_selected(void);

#endif
