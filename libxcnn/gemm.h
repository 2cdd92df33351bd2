/*
 * Single-precision matrix multiply, row-major:
 *     C = alpha * op(A) * op(B) + beta * C
 * op(A) is M x K (A is M x K, or K x M when trans_a), op(B) is K x N (B is
 * K x N, or N x K when trans_b); lda/ldb/ldc are row strides in floats.
 * beta == 0 means C is overwritten (its old contents, even NaN, ignored).
 * Results do not depend on the thread count.
 */
#ifndef XCNN_GEMM_H
#define XCNN_GEMM_H

void xcnn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
                const float *A, int lda, const float *B, int ldb, float beta,
                float *C, int ldc);

#endif
