/*
 * One depthwise plane's forward over phase planes (see depthwise.h).
 */
#include <limits.h>
#include <math.h>
#include <string.h>
#include "depthwise.h"
#include "../base/cpu.h"

/* Outputs summed at a time: whole rows of the flat index, about this many
 * floats (2 KB: the block and the rows its taps read stay in L1). */
#define DW_BLOCK_FLOATS 512

xcnn_dw_geom xcnn_dw_geometry(const xcnn_window2d *w)
{
    xcnn_dw_geom g;
    g.sh = w->stride_h;
    g.sw = w->stride_w;
    g.rows = w->out_h + (w->k_h - 1) / g.sh;
    g.pitch = w->out_w + (w->k_w - 1) / g.sw;
    g.phase_floats = (size_t)g.rows * g.pitch + XCNN_DW_LANES;
    g.block_rows = DW_BLOCK_FLOATS / g.pitch;
    if (g.block_rows < 1) g.block_rows = 1;
    if (g.block_rows > w->out_h) g.block_rows = w->out_h;
    return g;
}

int xcnn_depthwise_fits(const xcnn_window2d *w)
{
    if (w->dil_h != 1 || w->dil_w != 1 || w->stride_h < 1 || w->stride_w < 1 ||
        w->out_h < 1 || w->out_w < 1)
        return 0;
    /* every flat index, over all phases and the block, fits an int */
    long long rows = w->out_h + (w->k_h - 1) / w->stride_h;
    long long pitch = w->out_w + (w->k_w - 1) / w->stride_w;
    long long phases = (long long)w->stride_h * w->stride_w;
    return rows * pitch < INT_MAX / 4 && phases * (rows * pitch + XCNN_DW_LANES) < INT_MAX / 4;
}

size_t xcnn_depthwise_scratch(const xcnn_window2d *w)
{
    xcnn_dw_geom g = xcnn_dw_geometry(w);
    return (size_t)g.sh * g.sw * g.phase_floats + (size_t)g.block_rows * g.pitch + XCNN_DW_LANES;
}

int xcnn_depthwise_simd(void)
{
#ifdef XCNN_DW_X86
    return xcnn_cpu_has_avx512f();
#else
    return 0;
#endif
}

/* Phase (a, b) of the padded input (0 for a conv, -inf for MaxPool): row i, column j holds padded
 * row i * sh + a, column j * sw + b (input row i * sh + a - pad_top).
 * Plain loops, no memcpy or memset: rows of 9 to 114 floats, where a
 * library call per row cost as much as the copy. */
static inline void fill_phase(const xcnn_window2d *w, const xcnn_dw_geom *g, const float *x,
                              int a, int b, int i_lo, int i_hi, float pad, float *ph)
{
    int j_lo, j_hi; /* the columns that fall inside the input */
    xcnn_window_tap_range(w->in_w, g->pitch, g->sw, w->pad_left, b, &j_lo, &j_hi);
    int shift = b - w->pad_left; /* column j reads input column j * sw + shift */
    for (int i = i_lo; i < i_hi; i++) {
        float *row = ph + (size_t)i * g->pitch;
        int ir = i * g->sh + a - w->pad_top;
        if (ir < 0 || ir >= w->in_h) {
            for (int j = 0; j < g->pitch; j++) row[j] = pad;
            continue;
        }
        const float *xr = x + (size_t)ir * w->in_w;
        for (int j = 0; j < j_lo; j++) row[j] = pad;
        if (g->sw == 1)
            for (int j = j_lo; j < j_hi; j++) row[j] = xr[j + shift];
        else if (g->sw == 2) /* a constant stride: vectorised with shuffles */
            for (int j = j_lo; j < j_hi; j++) row[j] = xr[2 * j + shift];
        else
            for (int j = j_lo; j < j_hi; j++) row[j] = xr[j * g->sw + shift];
        for (int j = j_hi; j < g->pitch; j++) row[j] = pad;
    }
    for (int j = 0; j < XCNN_DW_LANES; j++) ph[(size_t)g->rows * g->pitch + j] = pad;
}

/* Cloned (base/cpu.h) for the plain copies: AVX2 machines run them.
 * Static: clang does not export a cloned function under its own name. */
XCNN_VECTOR_CLONES
static void fill_phases_plain(const xcnn_window2d *w, const xcnn_dw_geom *g, const float *x,
                              int a, int i_lo, int i_hi, float pad, float *phases)
{
    for (int b = 0; b < g->sw; b++)
        fill_phase(w, g, x, a, b, i_lo, i_hi, pad,
                   phases + (size_t)(a * g->sw + b) * g->phase_floats);
}

void xcnn_dw_fill_phases(const xcnn_window2d *w, const xcnn_dw_geom *g, const float *x, int a,
                         int i_lo, int i_hi, float pad, float *phases, int simd)
{
#ifdef XCNN_DW_X86
    if (simd) {
        xcnn_dw_fill_phases_avx512(w, g, x, a, i_lo, i_hi, pad, phases);
        return;
    }
#else
    (void)simd;
#endif
    fill_phases_plain(w, g, x, a, i_lo, i_hi, pad, phases);
}

/* Where tap (ki, kj) reads, from the first phase plane: phase
 * (ki % sh, kj % sw), row ki / sh, column kj / sw. */
static size_t tap_offset(const xcnn_dw_geom *g, int ki, int kj)
{
    return (size_t)((ki % g->sh) * g->sw + kj % g->sw) * g->phase_floats +
           (size_t)(ki / g->sh) * g->pitch + (size_t)(kj / g->sw);
}


/* The plain block: acc[0:n] = bias, then each tap added over the whole
 * block (acc stays in L1). n is a multiple of XCNN_DW_LANES, so the inner
 * loop has no scalar remainder for the compiler to add. Cloned (base/cpu.h)
 * for the vector widths of x86. */
XCNN_VECTOR_CLONES
static void sum_block_plain(const xcnn_window2d *w, const xcnn_dw_geom *g, const float *phases,
                            const float *k, float bias, size_t q0, int n, float *restrict acc)
{
    for (int i = 0; i < n; i++) acc[i] = bias;
    for (int ki = 0; ki < w->k_h; ki++)
        for (int kj = 0; kj < w->k_w; kj++) {
            const float *restrict src = phases + tap_offset(g, ki, kj) + q0;
            float kv = k[ki * w->k_w + kj];
            for (int i = 0; i < n; i += 16)
                for (int l = 0; l < 16; l++) acc[i + l] += kv * src[i + l];
        }
}

/* The plain max block: acc[0:n] = the max over the taps by MaxPool's
 * rule (a later tap wins only if it is larger, or NaN; the padding is
 * -inf, which never wins): the bits of its scan, tap by tap in (ki, kj)
 * order. */
XCNN_VECTOR_CLONES
static void max_block_plain(const xcnn_window2d *w, const xcnn_dw_geom *g, const float *phases,
                            size_t q0, int n, float *restrict acc)
{
    for (int i = 0; i < n; i++) acc[i] = -INFINITY;
    for (int ki = 0; ki < w->k_h; ki++)
        for (int kj = 0; kj < w->k_w; kj++) {
            const float *restrict src = phases + tap_offset(g, ki, kj) + q0;
            for (int i = 0; i < n; i += 16)
                for (int l = 0; l < 16; l++) {
                    float v = src[i + l];
                    acc[i + l] = ((v > acc[i + l]) | (v != v)) ? v : acc[i + l]; /* v != v: NaN */
                }
        }
}

/* Cloned (base/cpu.h) for its copies in and out. k NULL: MaxPool. */
XCNN_VECTOR_CLONES
static void window_rows(const xcnn_window2d *w, const float *x, const float *k, float bias,
                        int oh_lo, int oh_hi, float *y, float *scratch, int simd)
{
    xcnn_dw_geom g = xcnn_dw_geometry(w);
    if (oh_lo < 0) oh_lo = 0;
    if (oh_hi > w->out_h) oh_hi = w->out_h;
    if (oh_lo >= oh_hi) return;
#ifdef XCNN_DW_X86
    if (simd && w->k_h * w->k_w <= XCNN_DW_MAX_TAPS) {
        xcnn_depthwise_rows_avx512(w, &g, x, k, bias, oh_lo, oh_hi, y, scratch);
        return;
    }
#else
    (void)simd;
#endif
    /* the phase rows these output rows read (the rest are never read
     * but by outputs that are dropped) */
    for (int a = 0; a < g.sh; a++)
        xcnn_dw_fill_phases(w, &g, x, a, oh_lo, oh_hi + (w->k_h - 1) / g.sh,
                            k ? 0.0f : -INFINITY, scratch, 0);
    float *acc = scratch + (size_t)g.sh * g.sw * g.phase_floats;
    for (int oh0 = oh_lo; oh0 < oh_hi; oh0 += g.block_rows) {
        int rows = oh_hi - oh0 < g.block_rows ? oh_hi - oh0 : g.block_rows;
        /* q from oh0 * pitch; the last row ends at its out_w-th column, so
         * no tap reads past its phase plane but for the rounding up to
         * XCNN_DW_LANES, which reads the zeros after it */
        int n = (rows - 1) * g.pitch + w->out_w;
        n = (n + XCNN_DW_LANES - 1) / XCNN_DW_LANES * XCNN_DW_LANES;
        if (k)
            sum_block_plain(w, &g, scratch, k, bias, (size_t)oh0 * g.pitch, n, acc);
        else
            max_block_plain(w, &g, scratch, (size_t)oh0 * g.pitch, n, acc);
        for (int r = 0; r < rows; r++) {
            float *yr = y + (size_t)(oh0 + r) * w->out_w;
            const float *ar = acc + (size_t)r * g.pitch;
            for (int j = 0; j < w->out_w; j++) yr[j] = ar[j];
        }
    }
}

void xcnn_depthwise_rows(const xcnn_window2d *w, const float *x, const float *k, float bias,
                         int oh_lo, int oh_hi, float *y, float *scratch, int simd)
{
    window_rows(w, x, k, bias, oh_lo, oh_hi, y, scratch, simd);
}

void xcnn_depthwise_plane(const xcnn_window2d *w, const float *x, const float *k, float bias,
                          float *y, float *scratch, int simd)
{
    window_rows(w, x, k, bias, 0, w->out_h, y, scratch, simd);
}

void xcnn_maxpool_rows(const xcnn_window2d *w, const float *x, int oh_lo, int oh_hi, float *y,
                       float *scratch, int simd)
{
    window_rows(w, x, NULL, 0.0f, oh_lo, oh_hi, y, scratch, simd);
}
