/*
 * xcnn_depthwise_rows with AVX-512 (see depthwise.h): the plain C's
 * three steps, each in vectors of 16 floats.
 *
 *   copy in   each phase row in vectors: plain loads inside the row and,
 *             at its ends, a masked load that takes the columns inside
 *             the input and leaves the padding's lanes 0 (masked-off lanes
 *             are never read, so it may start before the row or end past
 *             it; it is kept to the ends as it is slow: masked loads
 *             everywhere took a third of a 112 x 112 plane's time);
 *             stride 2 loads 32 input floats and keeps every other one
 *             with one permute;
 *   sum       64 outputs at a time in four zmm accumulators, one fused
 *             multiply-add per tap and vector. Each output's sum is a
 *             chain of dependent adds, 4 cycles each; four independent
 *             chains keep the FMA unit busy where one waited on its adds;
 *   copy out  each output row in stores, the last one masked.
 *
 * Sums in tap order as the plain C, but fused: equal to it to rounding.
 */
#include "depthwise.h"

#ifdef XCNN_DW_X86
#include <math.h>
#include <stdint.h>
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,fma")))

/* Lanes whose input column base + lane * step lies in [0, in_w). */
TARGET static inline __mmask16 inside(int base, int step, int in_w)
{
    __m512i col = _mm512_add_epi32(_mm512_set1_epi32(base),
                                   _mm512_mullo_epi32(_mm512_set1_epi32(step),
                                                      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8,
                                                                        9, 10, 11, 12, 13, 14,
                                                                        15)));
    return _mm512_cmpge_epi32_mask(col, _mm512_setzero_si512()) &
           _mm512_cmplt_epi32_mask(col, _mm512_set1_epi32(in_w));
}

/* Phase (a, b): row i, column j = input row i * sh + a - pad_top, column
 * j * sw + b - pad_left, 0 outside the input. Whole vectors are stored,
 * up to 15 floats past a row's end: the next row overwrites them, and
 * the last row's land in the zeros after the plane, written last. For
 * stride 1, and strides over 2 (a gather); stride 2 is fill_phase_pair. */
TARGET static void fill_phase(const xcnn_window2d *w, const xcnn_dw_geom *g, const float *x,
                              int a, int b, int i_lo, int i_hi, float pad, float *ph)
{
    const __m512 padv = _mm512_set1_ps(pad);
    int shift = b - w->pad_left;
    for (int i = i_lo; i < i_hi; i++) {
        float *row = ph + (size_t)i * g->pitch;
        int ir = i * g->sh + a - w->pad_top;
        if (ir < 0 || ir >= w->in_h) {
            for (int j = 0; j < g->pitch; j += 16) _mm512_storeu_ps(row + j, padv);
            continue;
        }
        const float *xr = x + (size_t)ir * w->in_w;
        for (int j = 0; j < g->pitch; j += 16) {
            int c = j * g->sw + shift; /* input column of lane 0 */
            __m512 v;
            if (g->sw == 1 && c >= 0 && c + 16 <= w->in_w) {
                v = _mm512_loadu_ps(xr + c); /* the row's inside: no mask */
            } else if (g->sw == 1) {
                v = _mm512_mask_loadu_ps(padv, inside(c, 1, w->in_w), xcnn_dw_at(xr, c));
            } else {
                __m512i idx = _mm512_mullo_epi32(_mm512_set1_epi32(g->sw),
                                                 _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                                                   10, 11, 12, 13, 14, 15));
                v = _mm512_mask_i32gather_ps(padv, inside(c, g->sw, w->in_w), idx,
                                             xcnn_dw_at(xr, c), 4);
            }
            _mm512_storeu_ps(row + j, v);
        }
    }
    float *tail = ph + (size_t)g->rows * g->pitch;
    for (int j = 0; j < XCNN_DW_LANES; j += 16) _mm512_storeu_ps(tail + j, padv);
}

/* Stride 2: phases (a, 0) and (a, 1) from one pass over each input row:
 * 32 input floats from column 2j - pad_left hold phase 0's columns j to
 * j + 15 at their even places and phase 1's at their odd places. Rows
 * and the zeros after the planes as fill_phase. */
TARGET static void fill_phase_pair(const xcnn_window2d *w, const xcnn_dw_geom *g, const float *x,
                                   int a, int i_lo, int i_hi, float pad, float *ph0, float *ph1)
{
    const __m512 padv = _mm512_set1_ps(pad);
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                            28, 30);
    const __m512i odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
    for (int i = i_lo; i < i_hi; i++) {
        float *row0 = ph0 + (size_t)i * g->pitch, *row1 = ph1 + (size_t)i * g->pitch;
        int ir = i * g->sh + a - w->pad_top;
        if (ir < 0 || ir >= w->in_h) {
            for (int j = 0; j < g->pitch; j += 16) {
                _mm512_storeu_ps(row0 + j, padv);
                _mm512_storeu_ps(row1 + j, padv);
            }
            continue;
        }
        const float *xr = x + (size_t)ir * w->in_w;
        for (int j = 0; j < g->pitch; j += 16) {
            int c = 2 * j - w->pad_left; /* input column of lane 0's pair */
            __m512 lo, hi;
            if (c >= 0 && c + 32 <= w->in_w) {
                lo = _mm512_loadu_ps(xr + c);
                hi = _mm512_loadu_ps(xr + c + 16);
            } else {
                lo = _mm512_mask_loadu_ps(padv, inside(c, 1, w->in_w), xcnn_dw_at(xr, c));
                hi = _mm512_mask_loadu_ps(padv, inside(c + 16, 1, w->in_w), xcnn_dw_at(xr, c + 16));
            }
            _mm512_storeu_ps(row0 + j, _mm512_permutex2var_ps(lo, evens, hi));
            _mm512_storeu_ps(row1 + j, _mm512_permutex2var_ps(lo, odds, hi));
        }
    }
    for (int j = 0; j < XCNN_DW_LANES; j += 16) {
        _mm512_storeu_ps(ph0 + (size_t)g->rows * g->pitch + j, padv);
        _mm512_storeu_ps(ph1 + (size_t)g->rows * g->pitch + j, padv);
    }
}

/* acc[0:n] = bias + sum over taps t of k[t] * phases[off[t] + q0 + i],
 * n a multiple of XCNN_DW_LANES (64). */
TARGET static void sum_block(const float *phases, const size_t *off, const float *k, int taps,
                             float bias, size_t q0, int n, float *acc)
{
    for (int i = 0; i < n; i += XCNN_DW_LANES) {
        __m512 a0 = _mm512_set1_ps(bias), a1 = a0, a2 = a0, a3 = a0;
        const float *base = phases + q0 + i;
        for (int t = 0; t < taps; t++) {
            const float *s = base + off[t];
            __m512 kv = _mm512_set1_ps(k[t]);
            a0 = _mm512_fmadd_ps(kv, _mm512_loadu_ps(s), a0);
            a1 = _mm512_fmadd_ps(kv, _mm512_loadu_ps(s + 16), a1);
            a2 = _mm512_fmadd_ps(kv, _mm512_loadu_ps(s + 32), a2);
            a3 = _mm512_fmadd_ps(kv, _mm512_loadu_ps(s + 48), a3);
        }
        _mm512_storeu_ps(acc + i, a0);
        _mm512_storeu_ps(acc + i + 16, a1);
        _mm512_storeu_ps(acc + i + 32, a2);
        _mm512_storeu_ps(acc + i + 48, a3);
    }
}

/* acc[0:n] = the max over taps t of phases[off[t] + q0 + i] by MaxPool's
 * rule: a later tap wins only if it is larger, or NaN (the padding is
 * -inf, which never wins). The same taps in the same order as the plain
 * C, and no arithmetic: the same bits. */
TARGET static void max_block(const float *phases, const size_t *off, int taps, size_t q0, int n,
                             float *acc)
{
    for (int i = 0; i < n; i += XCNN_DW_LANES) {
        __m512 m[4];
        for (int v = 0; v < 4; v++) m[v] = _mm512_set1_ps(-INFINITY);
        const float *base = phases + q0 + i;
        for (int t = 0; t < taps; t++)
            for (int v = 0; v < 4; v++) {
                __m512 x = _mm512_loadu_ps(base + off[t] + 16 * v);
                __mmask16 take = _mm512_cmp_ps_mask(x, m[v], _CMP_GT_OQ) |
                                 _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
                m[v] = _mm512_mask_mov_ps(m[v], take, x);
            }
        for (int v = 0; v < 4; v++) _mm512_storeu_ps(acc + i + 16 * v, m[v]);
    }
}

TARGET void xcnn_dw_fill_phases_avx512(const xcnn_window2d *w, const xcnn_dw_geom *g,
                                       const float *x, int a, int i_lo, int i_hi, float pad,
                                       float *phases)
{
    float *row_a = phases + (size_t)a * g->sw * g->phase_floats; /* phase (a, 0) */
    if (g->sw == 2) {
        fill_phase_pair(w, g, x, a, i_lo, i_hi, pad, row_a, row_a + g->phase_floats);
        return;
    }
    for (int b = 0; b < g->sw; b++)
        fill_phase(w, g, x, a, b, i_lo, i_hi, pad, row_a + (size_t)b * g->phase_floats);
}

TARGET void xcnn_depthwise_rows_avx512(const xcnn_window2d *w, const xcnn_dw_geom *g,
                                       const float *x, const float *k, float bias, int oh_lo,
                                       int oh_hi, float *y, float *scratch)
{
    float pad = k ? 0.0f : -INFINITY; /* k NULL: MaxPool */
    /* the phase rows these outputs read */
    for (int a = 0; a < g->sh; a++)
        xcnn_dw_fill_phases_avx512(w, g, x, a, oh_lo, oh_hi + (w->k_h - 1) / g->sh, pad, scratch);
    /* where tap (ki, kj) reads: phase (ki % sh, kj % sw), row ki / sh,
     * column kj / sw, kept as counters rather than divided out */
    size_t off[XCNN_DW_MAX_TAPS];
    for (int ki = 0, a = 0, r = 0; ki < w->k_h; ki++) {
        for (int kj = 0, b = 0, c = 0; kj < w->k_w; kj++) {
            off[ki * w->k_w + kj] =
                (size_t)(a * g->sw + b) * g->phase_floats + (size_t)r * g->pitch + (size_t)c;
            if (++b == g->sw) b = 0, c++;
        }
        if (++a == g->sh) a = 0, r++;
    }
    int taps = w->k_h * w->k_w;
    float *acc = scratch + (size_t)g->sh * g->sw * g->phase_floats;
    for (int oh0 = oh_lo; oh0 < oh_hi; oh0 += g->block_rows) {
        int rows = oh_hi - oh0 < g->block_rows ? oh_hi - oh0 : g->block_rows;
        int n = (rows - 1) * g->pitch + w->out_w;
        n = (n + XCNN_DW_LANES - 1) / XCNN_DW_LANES * XCNN_DW_LANES;
        if (k)
            sum_block(scratch, off, k, taps, bias, (size_t)oh0 * g->pitch, n, acc);
        else
            max_block(scratch, off, taps, (size_t)oh0 * g->pitch, n, acc);
        for (int r = 0; r < rows; r++) {
            float *yr = y + (size_t)(oh0 + r) * w->out_w;
            const float *ar = acc + (size_t)r * g->pitch;
            int j = 0;
            for (; j + 16 <= w->out_w; j += 16) _mm512_storeu_ps(yr + j, _mm512_loadu_ps(ar + j));
            if (j < w->out_w)
                _mm512_mask_storeu_ps(yr + j, xcnn_dw_first_lanes(w->out_w - j), _mm512_loadu_ps(ar + j));
        }
    }
}
#endif
