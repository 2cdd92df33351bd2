/*
 * The portable micro-kernel (contract in gemm_kernels.h): an 8 x 8 tile of
 * accumulators whose inner j-loop of fixed length the compiler can
 * vectorise with whatever the target has. It is the reference the SIMD
 * kernels are tested against, and what `make SIMD=0` builds alone. It
 * reads A at any strides.
 */
#include <stddef.h>
#include "gemm_kernels.h"

enum { MR = 8, NR = 8 };

static void portable_8x8(int kc, const float *a, size_t rs, size_t cs, const float *pb,
                         size_t ldp, float *C, int ldc, int mr, int nr, int add)
{
    float acc[MR][NR] = {{0}};
    for (int k = 0; k < kc; k++) {
        for (int r = 0; r < MR; r++) {
            float av = a[r * rs + (size_t)k * cs];
            for (int c = 0; c < NR; c++) acc[r][c] += av * pb[c];
        }
        pb += ldp;
    }
    for (int r = 0; r < mr; r++)
        for (int c = 0; c < nr; c++)
            C[(size_t)r * ldc + c] = (add ? C[(size_t)r * ldc + c] : 0.0f) + acc[r][c];
}

const xcnn_gemm_kernel xcnn_gemm_kernel_portable = {"portable", MR, NR, portable_8x8, NULL, 1};
