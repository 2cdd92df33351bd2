/*
 * AVX2 + FMA micro-kernel, 6 x 16 (contract in gemm_kernels.h).
 *
 * Each k step loads one row of the B panel as two ymm registers (16
 * floats), broadcasts each of the 6 A values and does 12 fused
 * multiply-adds into 12 ymm accumulators: 12 + 2 + 1 of the 16 registers.
 * Rows are spelled out with a macro so the accumulators stay in registers.
 */
#include "gemm_kernels.h"

#ifdef XCNN_GEMM_X86
#include <stddef.h>
#include <immintrin.h>

#define TARGET __attribute__((target("avx2,fma")))
enum { MR = 6, NR = 16 };

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define DECLARE(r) __m256 c##r##a = _mm256_setzero_ps(), c##r##b = _mm256_setzero_ps();
/* One row's two multiply-adds with A value v. */
#define FMA_ROW(r, v)                                                                    \
    {                                                                                    \
        __m256 av = _mm256_set1_ps(v);                                                   \
        c##r##a = _mm256_fmadd_ps(av, b0, c##r##a);                                      \
        c##r##b = _mm256_fmadd_ps(av, b1, c##r##b);                                      \
    }
#define UPDATE_ADJ(r) FMA_ROW(r, a[r])        /* rs == 1 */
#define UPDATE_ROW(r) FMA_ROW(r, row##r[k])   /* cs == 1 */
#define ROW_PTR(r) const float *row##r = a + (size_t)(r) * rs;
#define STORE(r)                                                                         \
    {                                                                                    \
        float *row = C + (size_t)(r) * ldc;                                              \
        _mm256_storeu_ps(row, _mm256_add_ps(add ? _mm256_loadu_ps(row) : zero, c##r##a)); \
        _mm256_storeu_ps(row + 8,                                                        \
                         _mm256_add_ps(add ? _mm256_loadu_ps(row + 8) : zero, c##r##b));  \
    }
#define SPILL(r)                                                                         \
    _mm256_storeu_ps(tile + (r) * NR, c##r##a);                                          \
    _mm256_storeu_ps(tile + (r) * NR + 8, c##r##b);

TARGET static void avx2_6x16(int kc, const float *a, size_t rs, size_t cs,
                             const float *pb, size_t ldp, float *C, int ldc, int mr, int nr,
                             int add)
{
    ROWS(DECLARE)
    if (rs == 1) {
        for (int k = 0; k < kc; k++, a += cs, pb += ldp) {
            __m256 b0 = _mm256_loadu_ps(pb), b1 = _mm256_loadu_ps(pb + 8);
            ROWS(UPDATE_ADJ)
        }
    } else {
        ROWS(ROW_PTR)
        for (int k = 0; k < kc; k++, pb += ldp) {
            __m256 b0 = _mm256_loadu_ps(pb), b1 = _mm256_loadu_ps(pb + 8);
            ROWS(UPDATE_ROW)
        }
    }
    __m256 zero = _mm256_setzero_ps();
    if (mr == MR && nr == NR) {
        ROWS(STORE)
    } else {
        /* Edge tile: through a small buffer, clipped. */
        float tile[MR * NR];
        ROWS(SPILL)
        xcnn_gemm_store_edge(C, (size_t)ldc, tile, NR, mr, nr, add);
    }
}

const xcnn_gemm_kernel xcnn_gemm_kernel_avx2 = {"avx2", MR, NR, avx2_6x16, NULL, 0};
#endif
