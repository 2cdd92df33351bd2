/*
 * NEON micro-kernel for aarch64, 12 x 8 (contract in gemm_kernels.h).
 *
 * aarch64 has 32 vector registers of 4 floats. Each k step loads one row
 * of the B panel as two registers (8 floats) and the 12 A values of that
 * k as three, and does 24 fused multiply-adds by lane (FMLA v.4s, v.s[i]:
 * the A value is taken from its lane, no broadcast instruction) into 24
 * accumulators: 24 + 2 + 3 = 29 registers, 5 loads per 24 FMAs. 24
 * independent accumulators cover the FMA latency (4 cycles) on cores with
 * two or four FMA pipes (Cortex-A76/A78, Neoverse N1/N2/V1/V2).
 *
 * 12 x 8 rather than 8 x 12: gemm.c's blocks (96 rows, 256 columns) and
 * the 48 columns conv_fast.c pads packed weights to are multiples of 12
 * rows and 8 columns, so no block ends in a ragged tile.
 *
 * When A is read in place by rows (cs == 1), the 12 values of one k are a
 * row apart each: 12 scalar loads (each FMA then takes lane 0), 2 + 12
 * loads per 24 FMAs, about 24 + 2 + 2 registers. (Two k per 64-bit row
 * load would halve the loads, but gcc 12 splits it into two scalar loads
 * again, and runs out of registers.) Both layouts add each element's k
 * terms in the same order: the same bits (tests/test_gemm.c checks it).
 */
#include "gemm_kernels.h"

#ifdef XCNN_GEMM_ARM64
#include <stddef.h>
#include <arm_neon.h>

enum { MR = 12, NR = 8 };

/* Row r of the tile: its accumulators, and where its A value sits when
 * the 12 values of one k are adjacent (register a0, a1 or a2, lane). */
#define ROWS(X)                                                                          \
    X(0, a0, 0) X(1, a0, 1) X(2, a0, 2) X(3, a0, 3) X(4, a1, 0) X(5, a1, 1) X(6, a1, 2)  \
    X(7, a1, 3) X(8, a2, 0) X(9, a2, 1) X(10, a2, 2) X(11, a2, 3)
#define DECLARE(r, v, l) float32x4_t c##r##a = vdupq_n_f32(0.0f), c##r##b = c##r##a;
/* rs == 1: the A value of row r is lane l of v. */
#define UPDATE_ADJ(r, v, l)                                                              \
    c##r##a = vfmaq_laneq_f32(c##r##a, b0, v, l);                                        \
    c##r##b = vfmaq_laneq_f32(c##r##b, b1, v, l);
/* cs == 1: row r's own pointer, its value for k. */
#define ROW_PTR(r, v, l) const float *row##r = a + (size_t)(r) * rs;
#define UPDATE_ROW(r, v, l)                                                              \
    c##r##a = vfmaq_n_f32(c##r##a, b0, row##r[k]);                                       \
    c##r##b = vfmaq_n_f32(c##r##b, b1, row##r[k]);
/* Full tile: add straight into C (0 + sum without add, as the other
 * kernels: a sum of -0 stores +0). */
#define STORE(r, v, l)                                                                   \
    {                                                                                    \
        float *row = C + (size_t)(r) * ldc;                                              \
        vst1q_f32(row, vaddq_f32(add ? vld1q_f32(row) : zero, c##r##a));                 \
        vst1q_f32(row + 4, vaddq_f32(add ? vld1q_f32(row + 4) : zero, c##r##b));         \
    }
#define SPILL(r, v, l)                                                                   \
    vst1q_f32(tile + (r) * NR, c##r##a);                                                 \
    vst1q_f32(tile + (r) * NR + 4, c##r##b);

/* gcc schedules before allocating registers and, in the cs == 1 loop,
 * issues all 12 A loads first: 12 + 24 + 2 registers, and 4 accumulators
 * spilled to the stack in the loop. Without that pass both loops keep
 * everything in registers (clang's scheduler counts registers itself).
 * Each A load then sits right before its two FMAs: out-of-order cores
 * (Cortex-A76 on, Neoverse) hide that; an in-order Cortex-A55 would wait
 * on it in that loop. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-schedule-insns")))
#endif
static void neon_12x8(int kc, const float *a, size_t rs, size_t cs, const float *pb,
                      size_t ldp, float *C, int ldc, int mr, int nr, int add)
{
    ROWS(DECLARE)
    if (rs == 1) {
        for (int k = 0; k < kc; k++, a += cs, pb += ldp) {
            float32x4_t b0 = vld1q_f32(pb), b1 = vld1q_f32(pb + 4);
            float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4), a2 = vld1q_f32(a + 8);
            ROWS(UPDATE_ADJ)
        }
    } else {
        ROWS(ROW_PTR)
        for (int k = 0; k < kc; k++, pb += ldp) {
            float32x4_t b0 = vld1q_f32(pb), b1 = vld1q_f32(pb + 4);
            ROWS(UPDATE_ROW)
        }
    }
    float32x4_t zero = vdupq_n_f32(0.0f);
    if (mr == MR && nr == NR) {
        ROWS(STORE)
    } else {
        /* Edge tile: through a small buffer, clipped. */
        float tile[MR * NR];
        ROWS(SPILL)
        xcnn_gemm_store_edge(C, (size_t)ldc, tile, NR, mr, nr, add);
    }
}

const xcnn_gemm_kernel xcnn_gemm_kernel_neon = {"neon", MR, NR, neon_12x8, NULL, 0};
#endif
