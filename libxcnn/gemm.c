/* placeholder: a naive, correct GEMM; replaced by the blocked one. */
#include "gemm.h"

void xcnn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
                const float *A, int lda, const float *B, int ldb, float beta,
                float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float acc = 0;
            for (int k = 0; k < K; k++) {
                float a = trans_a ? A[(long)k * lda + i] : A[(long)i * lda + k];
                float b = trans_b ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                acc += a * b;
            }
            C[(long)i * ldc + j] = alpha * acc + (beta == 0 ? 0 : beta * C[(long)i * ldc + j]);
        }
}
