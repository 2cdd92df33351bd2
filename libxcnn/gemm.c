/*
 * Cache-blocked SGEMM in portable C (the interface is in gemm.h):
 *
 *     C = alpha * op(A) * op(B) + beta * C        (row-major)
 *
 * How it is organised (the GotoBLAS/BLIS scheme, much simplified):
 *   1. C is cut into blocks of MC x NC. Each block is one independent task,
 *      so blocks may run on different OpenMP threads; every element of C is
 *      still summed by one thread in one fixed order, so the result does not
 *      depend on the thread count.
 *   2. For a block, K is walked in chunks of KC. The slice of op(A)
 *      (MC x KC, times alpha) and of op(B) (KC x NC) is copied ("packed")
 *      into small arrays on the stack, laid out so that the micro-kernel
 *      reads both with unit stride. Packing is also where the four
 *      transpose cases become one: after it, the kernel never sees lda,
 *      ldb or a transpose flag.
 *   3. The micro-kernel computes an MR x NR tile of C from packed panels
 *      with MR*NR accumulators in registers; its inner loop is a plain
 *      j-loop of fixed length NR that the compiler vectorises.
 *   Panels are padded with zeros to whole tiles, so ragged edges take the
 *   same path; only the final store is clipped.
 *
 * Packed buffers take (MC + NC) * KC floats = 64 KiB of stack per thread.
 */
#include <stddef.h>
#include <string.h>
#include "gemm.h"

enum {
    MR = 8,   /* rows of the register tile                         */
    NR = 8,   /* columns of the register tile (vector-friendly)    */
    MC = 64,  /* rows of a C block (multiple of MR)                */
    NC = 128, /* columns of a C block (multiple of NR)             */
    KC = 128  /* depth of one packed slice                         */
};

/* op(A)[i][k] and op(B)[k][j] whatever the transpose flags. */
static inline float elem_a(const float *A, int lda, int trans, int i, int k)
{
    return trans ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
}
static inline float elem_b(const float *B, int ldb, int trans, int k, int j)
{
    return trans ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
}

/* Pack alpha * op(A)[i0:i0+mc, k0:k0+kc] as consecutive MR-row panels:
 * panel p holds, for each k, the MR values of rows p*MR .. p*MR+MR-1.
 * Rows past mc are zero. */
static void pack_a(const float *A, int lda, int trans, float alpha, int i0, int mc,
                   int k0, int kc, float *pa)
{
    for (int p = 0; p < mc; p += MR) {
        for (int k = 0; k < kc; k++) {
            for (int r = 0; r < MR; r++) {
                int i = p + r;
                pa[r] = i < mc ? alpha * elem_a(A, lda, trans, i0 + i, k0 + k) : 0.0f;
            }
            pa += MR;
        }
    }
}

/* Pack op(B)[k0:k0+kc, j0:j0+nc] as consecutive NR-column panels: panel q
 * holds, for each k, the NR values of columns q*NR .. q*NR+NR-1.
 * Columns past nc are zero. */
static void pack_b(const float *B, int ldb, int trans, int k0, int kc, int j0, int nc,
                   float *pb)
{
    for (int q = 0; q < nc; q += NR) {
        int w = nc - q < NR ? nc - q : NR;
        for (int k = 0; k < kc; k++) {
            if (!trans) {
                const float *src = B + (size_t)(k0 + k) * ldb + j0 + q;
                for (int c = 0; c < w; c++) pb[c] = src[c];
            } else {
                for (int c = 0; c < w; c++) pb[c] = elem_b(B, ldb, 1, k0 + k, j0 + q + c);
            }
            for (int c = w; c < NR; c++) pb[c] = 0.0f;
            pb += NR;
        }
    }
}

/* C[0:mr, 0:nr] += (packed A panel) * (packed B panel) over kc. */
static void micro_kernel(int kc, const float *pa, const float *pb, float *C, int ldc,
                         int mr, int nr)
{
    float acc[MR][NR] = {{0}};
    for (int k = 0; k < kc; k++) {
        for (int r = 0; r < MR; r++) {
            float a = pa[r];
            for (int c = 0; c < NR; c++) acc[r][c] += a * pb[c];
        }
        pa += MR;
        pb += NR;
    }
    for (int r = 0; r < mr; r++)
        for (int c = 0; c < nr; c++) C[(size_t)r * ldc + c] += acc[r][c];
}

/* C block = beta * C block (beta == 0 overwrites, so old NaNs vanish). */
static void scale_block(float *C, int ldc, int mc, int nc, float beta)
{
    for (int i = 0; i < mc; i++) {
        float *row = C + (size_t)i * ldc;
        if (beta == 0.0f) memset(row, 0, (size_t)nc * sizeof(float));
        else if (beta != 1.0f)
            for (int j = 0; j < nc; j++) row[j] *= beta;
    }
}

/* One MC x NC block of C, rows i0.., columns j0.. */
static void gemm_block(int trans_a, int trans_b, int mc, int nc, int K, float alpha,
                       const float *A, int lda, const float *B, int ldb, float beta,
                       float *C, int ldc, int i0, int j0)
{
    float pa[MC * KC];
    float pb[KC * NC];
    float *cblock = C + (size_t)i0 * ldc + j0;
    scale_block(cblock, ldc, mc, nc, beta);
    if (alpha == 0.0f) return;
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC;
        pack_a(A, lda, trans_a, alpha, i0, mc, k0, kc, pa);
        pack_b(B, ldb, trans_b, k0, kc, j0, nc, pb);
        for (int i = 0; i < mc; i += MR) {
            int mr = mc - i < MR ? mc - i : MR;
            for (int j = 0; j < nc; j += NR) {
                int nr = nc - j < NR ? nc - j : NR;
                micro_kernel(kc, pa + (size_t)i * kc, pb + (size_t)j * kc,
                             cblock + (size_t)i * ldc + j, ldc, mr, nr);
            }
        }
    }
}

void xcnn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
                const float *A, int lda, const float *B, int ldb, float beta,
                float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    int mblocks = (M + MC - 1) / MC;
    int nblocks = (N + NC - 1) / NC;
    int tasks = mblocks * nblocks;
    /* Threads only pay off when there is real work in several blocks. */
    double work = (double)M * N * (K > 0 ? K : 1);
    (void)work;
#pragma omp parallel for schedule(static) if (tasks > 1 && work > 262144.0)
    for (int t = 0; t < tasks; t++) {
        int i0 = (t / nblocks) * MC;
        int j0 = (t % nblocks) * NC;
        int mc = M - i0 < MC ? M - i0 : MC;
        int nc = N - j0 < NC ? N - j0 : NC;
        gemm_block(trans_a, trans_b, mc, nc, K, alpha, A, lda, B, ldb, beta, C, ldc, i0, j0);
    }
}
