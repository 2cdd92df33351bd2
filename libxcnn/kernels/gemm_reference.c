/*
 * The reference SGEMM: the definition in gemm.h as three plain loops.
 *
 *     C[i][j] = alpha * sum_k op(A)[i][k] * op(B)[k][j] + beta * C[i][j]
 *
 * Each element is one sum in double, over k in increasing order, so it is
 * nearer the exact product than any float kernel. Every fast product in
 * gemm.h (xcnn_sgemm, _with, _serial, _small_m, _packed; portable, AVX2
 * and AVX-512 micro-kernels) must equal it to rounding: tests/test_gemm.c
 * and tests/test_reference_paths.c allow a few float ulps of each dot
 * product's size. Slow on purpose: nothing in the library calls it.
 */
#include "gemm.h"

void xcnn_sgemm_reference(int trans_a, int trans_b, int M, int N, int K, float alpha,
                          const float *A, int lda, const float *B, int ldb, float beta,
                          float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double sum = 0;
            for (int k = 0; k < K; k++) {
                float a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                sum += (double)a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            /* beta == 0: C's old contents are ignored, even NaN */
            *c = (float)(alpha * sum + (beta == 0.0f ? 0.0 : (double)beta * *c));
        }
}
