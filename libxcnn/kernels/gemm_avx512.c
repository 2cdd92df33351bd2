/*
 * AVX-512 micro-kernels, 12 x 32 and 8 x 32 (contract in gemm_kernels.h).
 *
 * Each k step loads one row of the B panel as two zmm registers (32
 * floats), broadcasts each of the 12 A values and does 24 fused
 * multiply-adds into 24 zmm accumulators: 24 + 2 + 1 of the 32 registers.
 * That is enough independent FMAs to hide their latency on every AVX-512
 * core, and only 14 loads per 24 FMAs. The rows are spelled out with a
 * macro so the accumulators are plain variables the compiler keeps in
 * registers (an array would be spilled unless fully unrolled).
 *
 * The 8-row kernel is the same code over 8 rows (10 loads per 16 FMAs),
 * for products whose rows 12-row tiles fill badly: 64 output channels
 * (ResNet's stem and layer1, MobileNet's projections) fill them only to
 * 89%, 16 to 67% (gemm.c's kernel_for chooses). Both sum each element in
 * the same order with the same fused multiply-adds: the same bits.
 *
 * Each is made with an epilogue (the _ep form, gemm_kernels.h): a row's
 * bias to start from and a ReLU or Clip, applied in the registers as the
 * tile is stored; the plain form calls it without either.
 */
#include "gemm_kernels.h"
#include "gemm.h"

#ifdef XCNN_GEMM_X86
#include <stddef.h>
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,fma")))
enum { NR = 32 };

#define ROWS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define ROWS12(X) ROWS8(X) X(8) X(9) X(10) X(11)
#define DECLARE(r) __m512 c##r##a = _mm512_setzero_ps(), c##r##b = _mm512_setzero_ps();
/* One row's two multiply-adds with A value v. */
#define FMA_ROW(r, v)                                                                    \
    {                                                                                    \
        __m512 av = _mm512_set1_ps(v);                                                   \
        c##r##a = _mm512_fmadd_ps(av, b0, c##r##a);                                      \
        c##r##b = _mm512_fmadd_ps(av, b1, c##r##b);                                      \
    }
#define UPDATE_ADJ(r) FMA_ROW(r, a[r])        /* rs == 1 */
#define UPDATE_ROW(r) FMA_ROW(r, row##r[k])   /* cs == 1 */
#define ROW_PTR(r) const float *row##r = a + (size_t)(r) * rs;
/* Where row r starts: C itself (add), its bias, or 0. */
#define START(r, at) (add ? _mm512_loadu_ps(at) : bias ? _mm512_set1_ps(bias[r]) : zero)
#define START_MASKED(r, m, at) (add ? _mm512_maskz_loadu_ps(m, at) : bias ? _mm512_set1_ps(bias[r]) : zero)
/* The fused activation, as conv_fast.c's loops: max(y, 0) is y > 0 ? y : 0
 * (NaN -> 0), max(lo, y) is y < lo ? lo : y and min(hi, y) is
 * y > hi ? hi : y (NaN stays): x86's max and min return their second
 * operand when the comparison is false. */
static inline __attribute__((target("avx512f"))) __m512
activate(__m512 v, const xcnn_gemm_epilogue *act)
{
    if (!act) return v;
    if (act->relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
    if (act->clip) v = _mm512_min_ps(_mm512_set1_ps(act->hi), _mm512_max_ps(_mm512_set1_ps(act->lo), v));
    return v;
}
/* Full tile: into C. */
#define STORE(r)                                                                         \
    {                                                                                    \
        float *row = C + (size_t)(r) * ldc;                                              \
        _mm512_storeu_ps(row, activate(_mm512_add_ps(START(r, row), c##r##a), act));     \
        _mm512_storeu_ps(row + 16,                                                       \
                         activate(_mm512_add_ps(START(r, row + 16), c##r##b), act));     \
    }
/* Edge tile: masked columns, rows below mr only. */
#define STORE_MASKED(r)                                                                  \
    if ((r) < mr) {                                                                      \
        float *row = C + (size_t)(r) * ldc;                                              \
        __m512 lo = START_MASKED(r, m0, row), hi = START_MASKED(r, m1, row + 16);         \
        _mm512_mask_storeu_ps(row, m0, activate(_mm512_add_ps(lo, c##r##a), act));       \
        _mm512_mask_storeu_ps(row + 16, m1, activate(_mm512_add_ps(hi, c##r##b), act));  \
    }

/* The same over one vector of columns (b0 only), for tiles at most 16
 * wide: a GEMM's last, ragged panel. ResNet-50's 14 x 14 convs have 196
 * columns, 6 panels of 32 and 4 more, which the full tile computed 32
 * wide: an eighth of their multiply-adds were padding. */
#define DECLARE_HALF(r) __m512 c##r##a = _mm512_setzero_ps();
#define FMA_HALF(r, v) c##r##a = _mm512_fmadd_ps(_mm512_set1_ps(v), b0, c##r##a);
#define UPDATE_ADJ_HALF(r) FMA_HALF(r, a[r])
#define UPDATE_ROW_HALF(r) FMA_HALF(r, row##r[k])
#define STORE_HALF(r)                                                                    \
    if ((r) < mr) {                                                                      \
        float *row = C + (size_t)(r) * ldc;                                              \
        __m512 lo = START_MASKED(r, m0, row);                                            \
        _mm512_mask_storeu_ps(row, m0, activate(_mm512_add_ps(lo, c##r##a), act));       \
    }
#define HALF_KERNEL(name, ROWS)                                                          \
    TARGET static void name##_half(int kc, const float *a, size_t rs, size_t cs,         \
                                   const float *pb, size_t ldp, float *C, int ldc,       \
                                   int mr, int nr, int add, const float *bias,           \
                                   const xcnn_gemm_epilogue *act)                        \
    {                                                                                    \
        ROWS(DECLARE_HALF)                                                               \
        if (rs == 1) {                                                                   \
            for (int k = 0; k < kc; k++, a += cs, pb += ldp) {                           \
                __m512 b0 = _mm512_loadu_ps(pb);                                         \
                ROWS(UPDATE_ADJ_HALF)                                                    \
            }                                                                            \
        } else {                                                                         \
            ROWS(ROW_PTR)                                                                \
            for (int k = 0; k < kc; k++, pb += ldp) {                                    \
                __m512 b0 = _mm512_loadu_ps(pb);                                         \
                ROWS(UPDATE_ROW_HALF)                                                    \
            }                                                                            \
        }                                                                                \
        __m512 zero = _mm512_setzero_ps();                                               \
        __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xffff : (1u << nr) - 1);                  \
        ROWS(STORE_HALF)                                                                 \
    }

/* The kernel for MR rows, ROWS(X) naming them: written once, made twice. */
#define KERNEL(name, MR, ROWS)                                                           \
    TARGET static void name##_ep(int kc, const float *a, size_t rs, size_t cs,           \
                                 const float *pb, size_t ldp, float *C, int ldc, int mr, \
                                 int nr, int add, const float *bias,                     \
                                 const xcnn_gemm_epilogue *act)                          \
    {                                                                                    \
        if (nr <= 16) {                                                                  \
            name##_half(kc, a, rs, cs, pb, ldp, C, ldc, mr, nr, add, bias, act);         \
            return;                                                                      \
        }                                                                                \
        ROWS(DECLARE)                                                                    \
        if (rs == 1) {                                                                   \
            for (int k = 0; k < kc; k++, a += cs, pb += ldp) {                           \
                __m512 b0 = _mm512_loadu_ps(pb), b1 = _mm512_loadu_ps(pb + 16);          \
                ROWS(UPDATE_ADJ)                                                         \
            }                                                                            \
        } else {                                                                         \
            ROWS(ROW_PTR)                                                                \
            for (int k = 0; k < kc; k++, pb += ldp) {                                    \
                __m512 b0 = _mm512_loadu_ps(pb), b1 = _mm512_loadu_ps(pb + 16);          \
                ROWS(UPDATE_ROW)                                                         \
            }                                                                            \
        }                                                                                \
        __m512 zero = _mm512_setzero_ps();                                               \
        if (mr == MR && nr == NR) {                                                      \
            ROWS(STORE)                                                                  \
        } else {                                                                         \
            __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xffff : (1u << nr) - 1);              \
            __mmask16 m1 =                                                               \
                (__mmask16)(nr >= 32 ? 0xffff : nr <= 16 ? 0 : (1u << (nr - 16)) - 1);   \
            ROWS(STORE_MASKED)                                                           \
        }                                                                                \
    }                                                                                    \
    TARGET static void name(int kc, const float *a, size_t rs, size_t cs, const float *pb, \
                            size_t ldp, float *C, int ldc, int mr, int nr, int add)      \
    {                                                                                    \
        name##_ep(kc, a, rs, cs, pb, ldp, C, ldc, mr, nr, add, NULL, NULL);              \
    }

HALF_KERNEL(avx512_12x32, ROWS12)
HALF_KERNEL(avx512_8x32, ROWS8)
KERNEL(avx512_12x32, 12, ROWS12)
KERNEL(avx512_8x32, 8, ROWS8)

const xcnn_gemm_kernel xcnn_gemm_kernel_avx512 = {"avx512", 12, NR, avx512_12x32,
                                                   avx512_12x32_ep, 0};
const xcnn_gemm_kernel xcnn_gemm_kernel_avx512_8x32 = {"avx512 8x32", 8, NR, avx512_8x32,
                                                        avx512_8x32_ep, 0};
#endif
