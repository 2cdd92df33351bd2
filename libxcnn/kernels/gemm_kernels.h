/*
 * GEMM micro-kernels: the innermost piece of xcnn_sgemm (gemm.c).
 *
 * A micro-kernel computes one MR x NR tile of C from MR rows of op(A) and
 * a packed panel of B:
 *     C[0:mr, 0:nr] += sum_k a[r*rs + k*cs] * pb[k*NR + c]
 * The MR rows of A are read in place, in one of two layouts:
 *   rs == 1: the MR values of one k are adjacent, the next k is cs further
 *            on (a packed panel, cs = MR; or op(A) = A^T read directly);
 *   cs == 1: each row is contiguous in k, rows rs apart (A read directly).
 * Kernels whose `strided` flag is set also take any other rs and cs
 * (a direct convolution reads A, the input pixels under one tap, straight
 * from the image: rs the stride along a row, cs a channel plane;
 * conv_direct.c). All MR rows must be readable (the driver packs ragged
 * edge rows, zero-padded, into a small buffer). pb holds kc rows of NR
 * values (NR columns of op(B)), ldp floats apart: a packed, zero-padded
 * panel (ldp = NR) or B itself when it is not transposed and the panel is
 * whole (ldp = ldb).
 * The kernel always computes a full tile and only clips the store to
 * mr <= MR rows and nr <= NR columns. With add = 0 it stores 0 + the sum
 * without reading C (the first K slice of a product with beta = 0: no
 * pass to clear C first, and the same bits as adding to a cleared C).
 * Every element of the tile is summed over k in increasing order, one
 * multiply-add per k, so the result depends on the kernel but never on
 * how tiles are shared out between threads. Each kernel, driven by
 * xcnn_sgemm, must equal xcnn_sgemm_reference (gemm_reference.c) to
 * rounding.
 */
#ifndef XCNN_GEMM_KERNELS_H
#define XCNN_GEMM_KERNELS_H

#include <stddef.h>
#include "gemm.h"

typedef void (*xcnn_ukernel_fn)(int kc, const float *a, size_t rs, size_t cs,
                                const float *pb, size_t ldp, float *c, int ldc, int mr,
                                int nr, int add);

/* The same with an epilogue (gemm.h's xcnn_gemm_epilogue): without add,
 * row r starts at bias[r] (bias NULL: at 0) instead of 0; with act, its
 * activation is applied before the store. */
struct xcnn_gemm_epilogue;
typedef void (*xcnn_ukernel_ep_fn)(int kc, const float *a, size_t rs, size_t cs,
                                   const float *pb, size_t ldp, float *c, int ldc, int mr,
                                   int nr, int add, const float *bias,
                                   const struct xcnn_gemm_epilogue *act);

typedef struct xcnn_gemm_kernel {
    const char *name;
    int mr, nr;         /* register tile                                    */
    xcnn_ukernel_fn run;
    xcnn_ukernel_ep_fn run_ep; /* NULL: gemm.c applies the epilogue itself  */
    int strided;        /* 1: run takes A at any rs and cs (see above)      */
} xcnn_gemm_kernel;

/* The few-rows kernel of `kind` (the one xcnn_sgemm_small_m runs) if it is
 * strided, else NULL (gemm.c). */
const xcnn_gemm_kernel *xcnn_gemm_strided_kernel(xcnn_gemm_kind kind);

/* gemm_portable.c: plain C, always built. */
extern const xcnn_gemm_kernel xcnn_gemm_kernel_portable;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(XCNN_NO_SIMD)
#define XCNN_GEMM_X86 1
/* gemm_avx2.c (AVX2 + FMA, 6 x 16) and gemm_avx512.c (AVX-512F, 12 x 32);
 * compiled for their instruction sets with target attributes, run only
 * when cpu.c says the CPU and OS support them. */
extern const xcnn_gemm_kernel xcnn_gemm_kernel_avx2;
extern const xcnn_gemm_kernel xcnn_gemm_kernel_avx512;
/* gemm_avx512.c too: 8 x 32, for products whose rows fill 8-row tiles
 * better than 12-row ones (64 rows: 100% against 89%). */
extern const xcnn_gemm_kernel xcnn_gemm_kernel_avx512_8x32;
/* gemm_avx512_7x48.c: for products with few rows (xcnn_sgemm_small_m). */
extern const xcnn_gemm_kernel xcnn_gemm_kernel_avx512_7x48;
#endif
#if defined(__aarch64__) && !defined(XCNN_NO_SIMD)
#define XCNN_GEMM_ARM64 1
/* gemm_neon.c (NEON, 12 x 8): NEON is part of every aarch64 core, so it
 * is built with the baseline flags and always runs there. */
extern const xcnn_gemm_kernel xcnn_gemm_kernel_neon;
#endif

/* The largest tile of any kernel this build has: gemm.c sizes its stack
 * buffers and rounds its blocks with them. */
#if defined(XCNN_GEMM_X86)
#define XCNN_GEMM_MAX_MR 12 /* avx512 12 x 32 */
#define XCNN_GEMM_MAX_NR 48 /* avx512 7 x 48  */
#elif defined(XCNN_GEMM_ARM64)
#define XCNN_GEMM_MAX_MR 12 /* neon 12 x 8    */
#define XCNN_GEMM_MAX_NR 8
#else
#define XCNN_GEMM_MAX_MR 8  /* portable 8 x 8 */
#define XCNN_GEMM_MAX_NR 8
#endif

/* A kernel's edge tile, spilled to `tile` (rows NR floats apart), stored
 * clipped to mr x nr: 0 + the sum, or C + the sum with add (the same
 * addition the whole-tile store makes, so the bits do not depend on where
 * a tile falls). For kernels without masked stores (AVX2, NEON). */
static inline void xcnn_gemm_store_edge(float *C, size_t ldc, const float *tile, int NR, int mr,
                                        int nr, int add)
{
    for (int r = 0; r < mr; r++)
        for (int c = 0; c < nr; c++)
            C[(size_t)r * ldc + c] = (add ? C[(size_t)r * ldc + c] : 0.0f) + tile[r * NR + c];
}

#endif
