/*
 * MaxPool 3x3, stride 2, one column of padding on the left: ResNet's stem
 * pool, straight from the NCHW plane with AVX-512 (see depthwise.h).
 *
 * The phase planes (depthwise.c) copy the whole input into scratch and
 * read it back: on ResNet's 64 x 112 x 112 input that is 3.2 MB written
 * and read again, and the pool took 0.22 ms on one thread against ONNX
 * Runtime's 0.11 (its NCHWc layout needs no copy). Here each output row
 * reads its three input rows where they are:
 *
 *   across   for 16 outputs, two loads take input columns 2 ox .. 2 ox + 31
 *            and two permutes split them into the even columns (tap 1,
 *            column 2 ox) and the odd ones (tap 2, 2 ox + 1); tap 0
 *            (2 ox - 1) is the odd columns moved up one lane, the first
 *            lane taking the column before the block (-inf at the edge);
 *   down     the rows' results in row order, down a strip of 16
 *            outputs so that the input row two output rows share is
 *            taken across once.
 *
 * MaxPool's rule (ops/pool.c) keeps, tap by tap in scan order, the later
 * value only if it is larger or NaN. Taking each row's taps in order and
 * then the rows in order gives the same bits as scanning the window: the
 * result is the last NaN in scan order if there is one, else the first
 * of the largest values (which differ in bits only as -0 and +0), and
 * both survive the grouping. Lanes outside the input hold -inf, which
 * never replaces a value, so they act as the scan's skipped padding.
 */
#include "depthwise.h"

int xcnn_maxpool_3x3s2_fits(const xcnn_window2d *w)
{
    return w->k_h == 3 && w->k_w == 3 && w->stride_h == 2 && w->stride_w == 2 &&
           w->dil_h == 1 && w->dil_w == 1 && w->pad_left == 1 && w->pad_top <= 2 &&
           w->out_w >= 1 && w->out_h >= 1;
}

#ifdef XCNN_DW_X86
#include <math.h>
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f")))

/* m, then v if v is larger or NaN: MaxPool's rule, lane by lane. Over
 * a ReLU's output (`relu`: no NaN, no -0) that is the plain maximum, one
 * instruction instead of four: v > m ? v : m. */
TARGET static inline __m512 keep_max(__m512 m, __m512 v, int relu)
{
    if (relu) return _mm512_max_ps(v, m);
    __mmask16 later = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_blend_ps(later, m, v);
}

/* Outputs ox0 .. ox0 + 15 of one input row's three taps, in tap order. */
TARGET static inline __m512 row_taps(const float *row, int in_w, int ox0, __m512i even,
                                     __m512i odd, int relu)
{
    const __m512 none = _mm512_set1_ps(-INFINITY);
    int c0 = 2 * ox0, left = in_w - c0; /* input columns from c0 on */
    __m512 lo = _mm512_mask_loadu_ps(none, xcnn_dw_first_lanes(left), row + c0);
    __m512 hi = _mm512_mask_loadu_ps(none, xcnn_dw_first_lanes(left - 16), row + c0 + 16);
    __m512 tap1 = _mm512_permutex2var_ps(lo, even, hi); /* column 2 ox     */
    __m512 tap2 = _mm512_permutex2var_ps(lo, odd, hi);  /* column 2 ox + 1 */
    /* column 2 ox - 1: tap 2 one lane up, lane 0 the column before c0 */
    __m512 before = _mm512_set1_ps(c0 > 0 && c0 - 1 < in_w ? row[c0 - 1] : -INFINITY);
    __m512 tap0 = _mm512_castsi512_ps(
        _mm512_alignr_epi32(_mm512_castps_si512(tap2), _mm512_castps_si512(before), 15));
    return keep_max(keep_max(tap0, tap1, relu), tap2, relu);
}

TARGET static inline void pool_rows(const xcnn_window2d *w, const float *x, int oh_lo,
                                    int oh_hi, float *y, int relu)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    int in_h = w->in_h, in_w = w->in_w, out_w = w->out_w;
    if (oh_lo < 0) oh_lo = 0;
    if (oh_hi > w->out_h) oh_hi = w->out_h; /* clipped to the plane */
    /* Down a strip of 16 outputs, output row by row: the last input row
     * of one output row is the first of the next, so its taps are kept
     * (carry) instead of computed twice. */
    for (int ox0 = 0; ox0 < out_w; ox0 += 16) {
        __mmask16 store = xcnn_dw_first_lanes(out_w - ox0);
        __m512 carry = _mm512_setzero_ps();
        int carry_row = -1; /* the input row whose taps carry holds */
        for (int oh = oh_lo; oh < oh_hi; oh++) {
            int r0 = 2 * oh - w->pad_top, first = 1;
            __m512 m = _mm512_setzero_ps();
            for (int r = r0 < 0 ? 0 : r0; r < r0 + 3 && r < in_h; r++) {
                __m512 h = r == carry_row
                               ? carry
                               : row_taps(x + (size_t)r * in_w, in_w, ox0, even, odd, relu);
                m = first ? h : keep_max(m, h, relu);
                first = 0;
                if (r == r0 + 2) {
                    carry = h;
                    carry_row = r;
                }
            }
            _mm512_mask_storeu_ps(y + (size_t)oh * out_w + ox0, store, m);
        }
    }
}
TARGET void xcnn_maxpool_3x3s2_rows(const xcnn_window2d *w, const float *x, int oh_lo,
                                    int oh_hi, float *y)
{
    pool_rows(w, x, oh_lo, oh_hi, y, 0);
}

TARGET void xcnn_maxpool_3x3s2_rows_relu(const xcnn_window2d *w, const float *x, int oh_lo,
                                         int oh_hi, float *y)
{
    pool_rows(w, x, oh_lo, oh_hi, y, 1);
}
#endif
