/*
 * The stem convolution (see conv_stem.h): blocks of output channels summed
 * along the flat index of the input's phase planes, band of output rows
 * by band.
 */
#include <limits.h>
#include "conv_stem.h"
#include "depthwise.h"
#include "../base/cpu.h"

/* Most floats of one band's flat index: 5 rows of ResNet's 115-float
 * pitch, so that a block's band (8 x 576 floats) and the input rows its
 * taps read stay in L1 and L2 while the terms run. */
#define STEM_BAND_FLOATS 640

int xcnn_conv_stem_fits(const xcnn_window2d *w, int channels)
{
    return channels >= 1 && channels <= XCNN_STEM_MAX_CHANNELS &&
           w->k_h * w->k_w <= XCNN_STEM_MAX_TAPS && w->out_w >= 16 && xcnn_depthwise_fits(w) &&
           /* every channel's phases, indexed as size_t but sized as ints */
           (double)xcnn_conv_stem_phase_floats(w, channels) < (double)INT_MAX;
}

int xcnn_conv_stem_simd(void)
{
    return xcnn_depthwise_simd();
}

size_t xcnn_conv_stem_packed_floats(int channels, int taps, int c_out)
{
    size_t blocks = ((size_t)c_out + XCNN_STEM_BLOCK - 1) / XCNN_STEM_BLOCK;
    return blocks * XCNN_STEM_BLOCK * (size_t)channels * (size_t)taps;
}

void xcnn_conv_stem_pack(const float *w, int c_out, int channels, int taps, float *packed)
{
    int blocks = (c_out + XCNN_STEM_BLOCK - 1) / XCNN_STEM_BLOCK, k_rows = channels * taps;
    for (int b = 0; b < blocks; b++)
        for (int k = 0; k < k_rows; k++)
            for (int j = 0; j < XCNN_STEM_BLOCK; j++) {
                int m = b * XCNN_STEM_BLOCK + j;
                packed[((size_t)b * k_rows + k) * XCNN_STEM_BLOCK + j] =
                    m < c_out ? w[(size_t)m * k_rows + k] : 0.0f;
            }
}

/* One channel's phase planes, all sh x sw of them. */
static size_t channel_floats(const xcnn_dw_geom *g)
{
    return (size_t)g->sh * g->sw * g->phase_floats;
}

size_t xcnn_conv_stem_phase_floats(const xcnn_window2d *w, int channels)
{
    xcnn_dw_geom g = xcnn_dw_geometry(w);
    return (size_t)channels * channel_floats(&g);
}

int xcnn_conv_stem_fill_pieces(const xcnn_window2d *w, int channels)
{
    return channels * w->stride_h;
}

void xcnn_conv_stem_fill(const xcnn_window2d *w, int piece, const float *x, float *phases,
                         int simd)
{
    xcnn_dw_geom g = xcnn_dw_geometry(w);
    int c = piece / g.sh, a = piece % g.sh;
    xcnn_dw_fill_phases(w, &g, x + (size_t)c * w->in_h * w->in_w, a, 0, g.rows, 0.0f,
                        phases + (size_t)c * channel_floats(&g), simd);
}

/* The floats of a band of `rows` output rows' flat index, rounded up to
 * whole vectors of 16. */
static int band_width(const xcnn_window2d *w, const xcnn_dw_geom *g, int rows)
{
    return ((rows - 1) * g->pitch + w->out_w + 15) / 16 * 16;
}

/* Output rows per band: of the counts whose flat index fits in
 * STEM_BAND_FLOATS, the one with the least work per output, where a
 * 16-wide end (8 accumulators: half the multiply-add units idle) costs
 * twice a 48-wide block per float. ResNet's 115-float pitch: 5 rows (576
 * floats, 12 x 48) rather than 4 (464: 9 x 48 + 16). */
static int band_rows(const xcnn_window2d *w, const xcnn_dw_geom *g)
{
    int best = 1;
    double best_cost = 0;
    for (int rows = 1; rows <= w->out_h; rows++) {
        if (rows > 1 && (rows - 1) * g->pitch + w->out_w > STEM_BAND_FLOATS) break;
        int n = band_width(w, g, rows);
        double cost = (double)(n / 48 * 48 + 2 * (n % 48)) / ((double)rows * w->out_w);
        if (rows == 1 || cost < best_cost) {
            best = rows;
            best_cost = cost;
        }
    }
    return best;
}

size_t xcnn_conv_stem_band_floats(const xcnn_window2d *w)
{
    xcnn_dw_geom g = xcnn_dw_geometry(w);
    return (size_t)XCNN_STEM_BLOCK * (size_t)band_width(w, &g, band_rows(w, &g));
}

/* The plain sums of n outputs (16 or 48) from q: out[m][i] = the terms k
 * in order, w_k[m] * src[koff[k] + i], from 0, rounded term by term. */
static void sum_plain(const float *src, const size_t *koff, int terms, const float *wk, int n,
                      float *out, size_t ld)
{
    for (int m = 0; m < XCNN_STEM_BLOCK; m++)
        for (int i = 0; i < n; i++) out[m * ld + i] = 0.0f;
    for (int k = 0; k < terms; k++, wk += XCNN_STEM_BLOCK) {
        const float *s = src + koff[k];
        for (int m = 0; m < XCNN_STEM_BLOCK; m++) {
            float *o = out + m * ld, wm = wk[m];
            for (int i = 0; i < n; i++) o[i] += wm * s[i];
        }
    }
}

/* y = act(band + bias) over one output row, in one pass: as a copy
 * then xcnn_gemm_activate (relu, then clip), with the same bits. Two
 * passes took a fifth of ResNet's stem. */
XCNN_VECTOR_CLONES
static void finish_row(float *y, const float *band, int n, float bias,
                       const xcnn_gemm_epilogue *ep)
{
    int relu = ep->relu, clip = ep->clip;
    float lo = ep->lo, hi = ep->hi;
    for (int j = 0; j < n; j++) {
        float v = band[j] + bias;
        if (relu) v = v > 0 ? v : 0.0f;
        if (clip) {
            v = v < lo ? lo : v;
            v = v > hi ? hi : v;
        }
        y[j] = v;
    }
}

void xcnn_conv_stem(const xcnn_window2d *w, int channels, int c_out, const float *phases,
                    const float *packed, const xcnn_gemm_epilogue *ep, float *y, float *band,
                    int part, int parts, int simd)
{
    if (parts < 1 || part < 0 || part >= parts) return;
    xcnn_dw_geom g = xcnn_dw_geometry(w);
    int taps = w->k_h * w->k_w, terms = channels * taps;
    /* where term (channel, ki, kj) reads, from q: its channel's planes,
     * phase (ki % sh, kj % sw), row ki / sh, column kj / sw */
    size_t koff[XCNN_STEM_MAX_CHANNELS * XCNN_STEM_MAX_TAPS];
    for (int c = 0; c < channels; c++)
        for (int ki = 0; ki < w->k_h; ki++)
            for (int kj = 0; kj < w->k_w; kj++)
                koff[(c * w->k_h + ki) * w->k_w + kj] =
                    (size_t)c * channel_floats(&g) +
                    (size_t)((ki % g.sh) * g.sw + kj % g.sw) * g.phase_floats +
                    (size_t)(ki / g.sh) * g.pitch + (size_t)(kj / g.sw);
    int rows = band_rows(w, &g), bands = (w->out_h + rows - 1) / rows;
    int blocks = (c_out + XCNN_STEM_BLOCK - 1) / XCNN_STEM_BLOCK;
    size_t ld = (size_t)band_width(w, &g, rows), npix = (size_t)w->out_h * w->out_w;
    long units = (long)bands * blocks;
    long u0 = units * part / parts, u1 = units * (part + 1) / parts;
    for (long u = u0; u < u1; u++) {
        int oh0 = (int)(u / blocks) * rows, b = (int)(u % blocks);
        int nr = w->out_h - oh0 < rows ? w->out_h - oh0 : rows, n = band_width(w, &g, nr);
        int m0 = b * XCNN_STEM_BLOCK;
        int nm = c_out - m0 < XCNN_STEM_BLOCK ? c_out - m0 : XCNN_STEM_BLOCK;
        const float *wk = packed + (size_t)b * terms * XCNN_STEM_BLOCK;
        const float *src = phases + (size_t)oh0 * g.pitch;
        int i = 0;
#ifdef XCNN_DW_X86
        if (simd) {
            for (; i + 48 <= n; i += 48)
                xcnn_conv_stem_sum_avx512(src + i, koff, terms, wk, 3, band + i, ld);
            for (; i < n; i += 16)
                xcnn_conv_stem_sum_avx512(src + i, koff, terms, wk, 1, band + i, ld);
        }
#else
        (void)simd;
#endif
        for (; i + 48 <= n; i += 48) sum_plain(src + i, koff, terms, wk, 48, band + i, ld);
        for (; i < n; i += 16) sum_plain(src + i, koff, terms, wk, 16, band + i, ld);
        /* out: each band row's first out_w floats plus the bias, then the
         * activation */
        for (int m = 0; m < nm; m++) {
            float bias = ep->bias ? ep->bias[m0 + m] : 0.0f;
            for (int r = 0; r < nr; r++)
                finish_row(y + (size_t)(m0 + m) * npix + (size_t)(oh0 + r) * w->out_w,
                           band + (size_t)m * ld + (size_t)r * g.pitch, w->out_w, bias, ep);
        }
    }
}
