/*
 * AVX-512 micro-kernel for products with few rows, 7 x 48 (contract in
 * gemm_kernels.h): xcnn_sgemm_small_m uses it where C has a few dozen
 * rows, such as the 49 pixels of ResNet's last 7x7 layers, which the
 * 12 x 32 kernel would cover with a third of a tile wasted (49 = 4 x 12
 * + 1) while 7 x 7 fits exactly.
 *
 * Each k step loads one row of the B panel as three zmm registers (48
 * floats), broadcasts each of the 7 A values and does 21 fused multiply-
 * adds: 21 accumulators + 3 + 1 of the 32 registers, and 10 loads per 21
 * FMAs. It takes A at any strides (a direct convolution's pixels under one
 * tap, rs floats apart along an input row, cs a channel plane apart).
 */
#include "gemm_kernels.h"

#ifdef XCNN_GEMM_X86
#include <stddef.h>
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,fma")))
enum { MR = 7, NR = 48 };

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6)
#define DECLARE(r)                                                                       \
    __m512 c##r##a = _mm512_setzero_ps(), c##r##b = _mm512_setzero_ps(),                 \
           c##r##c = _mm512_setzero_ps();
#define FMA_ROW(r, v)                                                                    \
    {                                                                                    \
        __m512 av = _mm512_set1_ps(v);                                                   \
        c##r##a = _mm512_fmadd_ps(av, b0, c##r##a);                                      \
        c##r##b = _mm512_fmadd_ps(av, b1, c##r##b);                                      \
        c##r##c = _mm512_fmadd_ps(av, b2, c##r##c);                                      \
    }
#define UPDATE_ADJ(r) FMA_ROW(r, a[r])        /* rs == 1 */
#define UPDATE_ROW(r) FMA_ROW(r, row##r[k])   /* cs == 1 */
#define UPDATE_ANY(r) FMA_ROW(r, a[(r) * rs])  /* any other */
#define ROW_PTR(r) const float *row##r = a + (size_t)(r) * rs;
/* Masked loads and stores for every part: an edge tile clips columns
 * (nr < 48) and rows (r >= mr are skipped). Full masks cost nothing. */
#define STORE(r)                                                                         \
    if ((r) < mr) {                                                                      \
        float *row = C + (size_t)(r) * ldc;                                              \
        __m512 o0 = add ? _mm512_maskz_loadu_ps(m0, row) : zero;                          \
        __m512 o1 = add ? _mm512_maskz_loadu_ps(m1, row + 16) : zero;                     \
        __m512 o2 = add ? _mm512_maskz_loadu_ps(m2, row + 32) : zero;                     \
        _mm512_mask_storeu_ps(row, m0, _mm512_add_ps(o0, c##r##a));                      \
        _mm512_mask_storeu_ps(row + 16, m1, _mm512_add_ps(o1, c##r##b));                 \
        _mm512_mask_storeu_ps(row + 32, m2, _mm512_add_ps(o2, c##r##c));                 \
    }

static __mmask16 lanes(int nr, int first)
{
    int n = nr - first;
    return (__mmask16)(n >= 16 ? 0xffff : n <= 0 ? 0 : (1u << n) - 1);
}

TARGET static void avx512_7x48(int kc, const float *a, size_t rs, size_t cs, const float *pb,
                               size_t ldp, float *C, int ldc, int mr, int nr, int add)
{
    ROWS(DECLARE)
    if (rs == 1) {
        for (int k = 0; k < kc; k++, a += cs, pb += ldp) {
            __m512 b0 = _mm512_loadu_ps(pb), b1 = _mm512_loadu_ps(pb + 16);
            __m512 b2 = _mm512_loadu_ps(pb + 32);
            ROWS(UPDATE_ADJ)
        }
    } else if (cs != 1) {
        for (int k = 0; k < kc; k++, a += cs, pb += ldp) {
            __m512 b0 = _mm512_loadu_ps(pb), b1 = _mm512_loadu_ps(pb + 16);
            __m512 b2 = _mm512_loadu_ps(pb + 32);
            ROWS(UPDATE_ANY)
        }
    } else {
        ROWS(ROW_PTR)
        for (int k = 0; k < kc; k++, pb += ldp) {
            __m512 b0 = _mm512_loadu_ps(pb), b1 = _mm512_loadu_ps(pb + 16);
            __m512 b2 = _mm512_loadu_ps(pb + 32);
            ROWS(UPDATE_ROW)
        }
    }
    __mmask16 m0 = lanes(nr, 0), m1 = lanes(nr, 16), m2 = lanes(nr, 32);
    __m512 zero = _mm512_setzero_ps();
    ROWS(STORE)
}

const xcnn_gemm_kernel xcnn_gemm_kernel_avx512_7x48 = {"avx512-7x48", MR, NR, avx512_7x48,
                                                        NULL, 1};
#endif
