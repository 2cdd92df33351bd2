/*
 * Depthwise 3x3 convolution read straight from the plane (see
 * depthwise.h): no phase planes, no channel blocks, no copy of the input.
 *
 * The two other forms copy the input into a padded scratch plane, sum
 * there, and copy the result out: three passes over the data where the
 * sums themselves are nine multiply-adds per output. On MobileNetV2's
 * large planes (32 x 112 x 112, 144 x 56 x 56, and their stride-2
 * layers) the copies are most of the time, and the layer is bound by
 * memory, not by the multiply-adds. Here each output vector (16
 * neighbouring outputs of one row) loads its taps' inputs from the plane
 * itself, one unaligned load per tap column and input row:
 *
 *   stride 1  the three loads at columns j - pad, j - pad + 1 and
 *             j - pad + 2 of an input row are the taps kj = 0, 1, 2; two
 *             output rows are summed together, so each of the four input
 *             rows they read is loaded once for both;
 *   stride 2  32 floats from column 2j - pad hold tap 0 at their even
 *             places and tap 1 at their odd ones; 32 from one column on
 *             hold tap 2 at their odd places: four loads and three
 *             permutes per input row.
 *
 * Columns and rows outside the plane are the padding: masked loads give 0
 * there (only at the ends of a row; inside it the loads are plain), and
 * a row outside the plane is a vector of zeros. Each output is bias + its
 * nine taps in (ki, kj) order, one fused multiply-add per tap, the
 * padding's taps adding k * 0: the operations of the phase planes'
 * AVX-512 sums (depthwise_avx512.c), so the same bits
 * (tests/test_depthwise.c compares them).
 *
 * On small planes (28 x 28 and less) the channel form stays faster: its
 * vector runs along 16 channels, where a row of 14 or 7 outputs fills a
 * vector badly.
 */
#include "depthwise.h"

/* Rows as wide as this take the direct form (MobileNetV2: 56 and 112). */
enum { MIN_WIDTH = 48 };

int xcnn_depthwise_direct_fits(const xcnn_window2d *w)
{
    int stride_ok = w->stride_h == w->stride_w && (w->stride_h == 1 || w->stride_h == 2);
    return w->k_h == 3 && w->k_w == 3 && stride_ok && w->dil_h == 1 && w->dil_w == 1 &&
           w->pad_top >= 0 && w->pad_top <= 2 && w->pad_left >= 0 && w->pad_left <= 2 &&
           w->in_w >= MIN_WIDTH && w->in_h >= 1 && w->out_h >= 1 && w->out_w >= 1 &&
           (long long)w->in_h * w->in_w <= (long long)1 << 30;
}

#ifdef XCNN_DW_X86
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,fma")))

/* Input columns c .. c + 15 of row xr, 0 for those outside [0, width):
 * a plain load inside the row, a masked one at its ends (masked-off lanes
 * are never read). */
TARGET static inline __m512 columns(const float *xr, int c, int width)
{
    if (c >= 0 && c + 16 <= width) return _mm512_loadu_ps(xr + c);
    __mmask16 m = (__mmask16)(xcnn_dw_first_lanes(width - c) & ~xcnn_dw_first_lanes(-c));
    return _mm512_maskz_loadu_ps(m, xcnn_dw_at(xr, c));
}

/* One input row's three tap vectors for 16 outputs: the inputs that taps
 * kj = 0, 1, 2 multiply (a row outside the plane is padding: zeros). */
typedef struct tap_row {
    __m512 l, m, r;
} tap_row;

/* The nine taps, broadcast once per plane. */
typedef struct taps9 {
    __m512 k[9];
} taps9;

TARGET static inline taps9 broadcast_taps(const float *k)
{
    taps9 t;
    for (int i = 0; i < 9; i++) t.k[i] = _mm512_set1_ps(k[i]);
    return t;
}

/* acc += taps ki (row ki of the kernel) times the row's three vectors */
TARGET static inline __m512 add_taps(__m512 acc, const taps9 *t, int ki, tap_row v)
{
    acc = _mm512_fmadd_ps(t->k[3 * ki], v.l, acc);
    acc = _mm512_fmadd_ps(t->k[3 * ki + 1], v.m, acc);
    return _mm512_fmadd_ps(t->k[3 * ki + 2], v.r, acc);
}

/* Stride 1: input row ir at columns c, c + 1, c + 2 (plain loads when
 * all 18 columns lie inside the row). */
TARGET static inline tap_row row_stride1(const xcnn_window2d *w, const float *x, int ir, int c,
                                         int inside)
{
    tap_row v;
    if (ir < 0 || ir >= w->in_h) {
        v.l = v.m = v.r = _mm512_setzero_ps();
        return v;
    }
    const float *xr = x + (size_t)ir * w->in_w;
    if (inside) {
        v.l = _mm512_loadu_ps(xr + c);
        v.m = _mm512_loadu_ps(xr + c + 1);
        v.r = _mm512_loadu_ps(xr + c + 2);
    } else {
        v.l = columns(xr, c, w->in_w);
        v.m = columns(xr, c + 1, w->in_w);
        v.r = columns(xr, c + 2, w->in_w);
    }
    return v;
}

TARGET static inline void store_row(float *yr, int j, int out_w, __m512 v)
{
    _mm512_mask_storeu_ps(yr + j, xcnn_dw_first_lanes(out_w - j), v);
}

/* Stride 1: output rows oh and oh + 1 (when `two`) from input rows
 * oh - pad_top .. oh - pad_top + 3, 16 columns at a time: row ki of the
 * kernel meets input row oh - pad_top + ki for the first output row and
 * the next input row for the second. */
TARGET static void rows_stride1(const xcnn_window2d *w, const float *x, const taps9 *t,
                                float bias, int oh, int two, float *y)
{
    int ir = oh - w->pad_top;
    float *y0 = y + (size_t)oh * w->out_w, *y1 = y0 + w->out_w;
    for (int j = 0; j < w->out_w; j += 16) {
        int c = j - w->pad_left, inside = c >= 0 && c + 18 <= w->in_w;
        __m512 a0 = _mm512_set1_ps(bias), a1 = a0;
        tap_row v = row_stride1(w, x, ir, c, inside);
        a0 = add_taps(a0, t, 0, v);
        v = row_stride1(w, x, ir + 1, c, inside);
        a0 = add_taps(a0, t, 1, v);
        a1 = add_taps(a1, t, 0, v);
        v = row_stride1(w, x, ir + 2, c, inside);
        a0 = add_taps(a0, t, 2, v);
        a1 = add_taps(a1, t, 1, v);
        store_row(y0, j, w->out_w, a0);
        if (two) {
            v = row_stride1(w, x, ir + 3, c, inside);
            a1 = add_taps(a1, t, 2, v);
            store_row(y1, j, w->out_w, a1);
        }
    }
}

/* Stride 2: input row ir for outputs whose tap 0 reads columns c + 2i:
 * 32 floats from c hold taps 0 and 1 at their even and odd places, 32
 * from c + 1 tap 2 at their odd places. */
TARGET static inline tap_row row_stride2(const xcnn_window2d *w, const float *x, int ir, int c,
                                         int inside)
{
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                            28, 30);
    const __m512i odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
    tap_row v;
    if (ir < 0 || ir >= w->in_h) {
        v.l = v.m = v.r = _mm512_setzero_ps();
        return v;
    }
    const float *xr = x + (size_t)ir * w->in_w;
    __m512 lo, hi, lo1, hi1;
    if (inside) {
        lo = _mm512_loadu_ps(xr + c);
        hi = _mm512_loadu_ps(xr + c + 16);
        lo1 = _mm512_loadu_ps(xr + c + 1);
        hi1 = _mm512_loadu_ps(xr + c + 17);
    } else {
        lo = columns(xr, c, w->in_w);
        hi = columns(xr, c + 16, w->in_w);
        lo1 = columns(xr, c + 1, w->in_w);
        hi1 = columns(xr, c + 17, w->in_w);
    }
    v.l = _mm512_permutex2var_ps(lo, evens, hi);  /* columns c + 2i     */
    v.m = _mm512_permutex2var_ps(lo, odds, hi);   /* columns c + 2i + 1 */
    v.r = _mm512_permutex2var_ps(lo1, odds, hi1); /* columns c + 2i + 2 */
    return v;
}

/* Stride 2: output row oh from input rows 2 oh - pad_top + ki. */
TARGET static void row_stride2_out(const xcnn_window2d *w, const float *x, const taps9 *t,
                                   float bias, int oh, float *y)
{
    int ir = 2 * oh - w->pad_top;
    float *yr = y + (size_t)oh * w->out_w;
    for (int j = 0; j < w->out_w; j += 16) {
        int c = 2 * j - w->pad_left, inside = c >= 0 && c + 33 <= w->in_w;
        __m512 acc = _mm512_set1_ps(bias);
        acc = add_taps(acc, t, 0, row_stride2(w, x, ir, c, inside));
        acc = add_taps(acc, t, 1, row_stride2(w, x, ir + 1, c, inside));
        acc = add_taps(acc, t, 2, row_stride2(w, x, ir + 2, c, inside));
        store_row(yr, j, w->out_w, acc);
    }
}

TARGET void xcnn_depthwise_direct_rows(const xcnn_window2d *w, const float *x, const float *k,
                                       float bias, int oh_lo, int oh_hi, float *y)
{
    if (oh_lo < 0) oh_lo = 0;
    if (oh_hi > w->out_h) oh_hi = w->out_h;
    taps9 t = broadcast_taps(k);
    if (w->stride_h == 1)
        for (int oh = oh_lo; oh < oh_hi; oh += 2)
            rows_stride1(w, x, &t, bias, oh, oh + 1 < oh_hi, y);
    else
        for (int oh = oh_lo; oh < oh_hi; oh++) row_stride2_out(w, x, &t, bias, oh, y);
}
#endif
