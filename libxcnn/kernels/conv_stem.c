/*
 * The stem convolution (see conv_stem.h): blocks of output channels summed
 * along the flat index of the input's phase planes, band of output rows
 * by band.
 */
#include <limits.h>
#include <math.h>
#include <string.h>
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
    for (int j = 0; j < n; j++) y[j] = xcnn_gemm_act(band[j] + bias, relu, clip, lo, hi);
}

/* What every band of one call shares: the planes' geometry, where each
 * term reads (from q: its channel's planes, phase (ki % sh, kj % sw),
 * row ki / sh, column kj / sw), the band's rows and its floats' pitch. */
typedef struct stem_plan {
    xcnn_dw_geom g;
    int terms, rows;
    size_t ld;
    size_t koff[XCNN_STEM_MAX_CHANNELS * XCNN_STEM_MAX_TAPS];
} stem_plan;

static void plan_stem(const xcnn_window2d *w, int channels, stem_plan *sp)
{
    sp->g = xcnn_dw_geometry(w);
    const xcnn_dw_geom *g = &sp->g;
    sp->terms = channels * w->k_h * w->k_w;
    for (int c = 0; c < channels; c++)
        for (int ki = 0; ki < w->k_h; ki++)
            for (int kj = 0; kj < w->k_w; kj++)
                sp->koff[(c * w->k_h + ki) * w->k_w + kj] =
                    (size_t)c * channel_floats(g) +
                    (size_t)((ki % g->sh) * g->sw + kj % g->sw) * g->phase_floats +
                    (size_t)(ki / g->sh) * g->pitch + (size_t)(kj / g->sw);
    sp->rows = band_rows(w, g);
    sp->ld = (size_t)band_width(w, g, sp->rows);
}

/* The sums of block b's channels over output rows oh0 .. oh0 + nr - 1
 * (nr <= sp->rows) into band: channel m's row r at band[m * ld + r *
 * pitch], its first out_w floats the outputs. */
static void band_sums(const xcnn_window2d *w, const stem_plan *sp, const float *phases,
                      const float *packed, int b, int oh0, int nr, float *band, int simd)
{
    int n = band_width(w, &sp->g, nr), i = 0;
    const float *wk = packed + (size_t)b * sp->terms * XCNN_STEM_BLOCK;
    const float *src = phases + (size_t)oh0 * sp->g.pitch;
#ifdef XCNN_DW_X86
    if (simd) {
        for (; i + 48 <= n; i += 48)
            xcnn_conv_stem_sum_avx512(src + i, sp->koff, sp->terms, wk, 3, band + i, sp->ld);
        for (; i < n; i += 16)
            xcnn_conv_stem_sum_avx512(src + i, sp->koff, sp->terms, wk, 1, band + i, sp->ld);
    }
#else
    (void)simd;
#endif
    for (; i + 48 <= n; i += 48) sum_plain(src + i, sp->koff, sp->terms, wk, 48, band + i, sp->ld);
    for (; i < n; i += 16) sum_plain(src + i, sp->koff, sp->terms, wk, 16, band + i, sp->ld);
}

/* Output rows oh0 .. oh0 + nr - 1 of block b's channels (the first nm of
 * its XCNN_STEM_BLOCK) from the band: + bias, then the activation, into
 * planes of `pitch` floats a row, `plane` floats apart, from out. */
static void band_out(const xcnn_window2d *w, const stem_plan *sp, const float *band,
                     const xcnn_gemm_epilogue *ep, int b, int nm, int nr, float *out,
                     size_t plane)
{
    int m0 = b * XCNN_STEM_BLOCK;
    for (int m = 0; m < nm; m++) {
        float bias = ep->bias ? ep->bias[m0 + m] : 0.0f;
        for (int r = 0; r < nr; r++)
            finish_row(out + (size_t)m * plane + (size_t)r * w->out_w,
                       band + (size_t)m * sp->ld + (size_t)r * sp->g.pitch, w->out_w, bias, ep);
    }
}

/* Block b's channels that exist (the last block may be short). */
static int block_channels(int c_out, int b)
{
    int m0 = b * XCNN_STEM_BLOCK;
    return c_out - m0 < XCNN_STEM_BLOCK ? c_out - m0 : XCNN_STEM_BLOCK;
}

void xcnn_conv_stem(const xcnn_window2d *w, int channels, int c_out, const float *phases,
                    const float *packed, const xcnn_gemm_epilogue *ep, float *y, float *band,
                    int part, int parts, int simd)
{
    if (parts < 1 || part < 0 || part >= parts) return;
    stem_plan sp;
    plan_stem(w, channels, &sp);
    int bands = (w->out_h + sp.rows - 1) / sp.rows;
    int blocks = (c_out + XCNN_STEM_BLOCK - 1) / XCNN_STEM_BLOCK;
    size_t npix = (size_t)w->out_h * w->out_w;
    long units = (long)bands * blocks;
    long u0 = units * part / parts, u1 = units * (part + 1) / parts;
    for (long u = u0; u < u1; u++) {
        int oh0 = (int)(u / blocks) * sp.rows, b = (int)(u % blocks);
        int nr = w->out_h - oh0 < sp.rows ? w->out_h - oh0 : sp.rows;
        band_sums(w, &sp, phases, packed, b, oh0, nr, band, simd);
        band_out(w, &sp, band, ep, b, block_channels(c_out, b), nr,
                 y + (size_t)b * XCNN_STEM_BLOCK * npix + (size_t)oh0 * w->out_w, npix);
    }
}

/* ---- with the max pool after it ----------------------------------------- */

/* Pooled output rows per unit: with ResNet's pool (3x3, stride 2) 8 conv
 * rows and the one before them, 56 / 4 = 14 units per block, so 16
 * threads still get whole units of 112. */
#define POOL_GROUP 4

int xcnn_conv_stem_pool_fits(const xcnn_window2d *w, const xcnn_window2d *pool)
{
    return pool->in_h == w->out_h && pool->in_w == w->out_w && pool->dil_h == 1 &&
           pool->dil_w == 1 && pool->stride_h >= 1 && pool->k_h >= 1 &&
           pool->pad_top < pool->k_h && pool->out_h >= 1 && pool->out_w >= 1;
}

/* Conv rows one unit's buffer holds: those of POOL_GROUP pooled rows. */
static int pool_rows_held(const xcnn_window2d *pool)
{
    return (POOL_GROUP - 1) * pool->stride_h + pool->k_h;
}

size_t xcnn_conv_stem_pool_floats(const xcnn_window2d *w, const xcnn_window2d *pool)
{
    return xcnn_conv_stem_band_floats(w) +
           (size_t)XCNN_STEM_BLOCK * (size_t)pool_rows_held(pool) * (size_t)w->out_w;
}

/* MaxPool's rule over pooled rows [0, oh_hi) of one plane held as pool's
 * in_h x in_w (ops/pool.c's reference): each window's taps in scan order,
 * the padding skipped, a later value kept only if larger or NaN. */
static void pool_rows_plain(const xcnn_window2d *pool, const float *x, int oh_hi, float *y)
{
    for (int oh = 0; oh < oh_hi; oh++)
        for (int ow = 0; ow < pool->out_w; ow++) {
            int r0 = oh * pool->stride_h - pool->pad_top, c0 = ow * pool->stride_w - pool->pad_left;
            float m = 0.0f;
            int first = 1;
            for (int r = r0; r < r0 + pool->k_h; r++)
                for (int c = c0; c < c0 + pool->k_w; c++) {
                    if (r < 0 || r >= pool->in_h || c < 0 || c >= pool->in_w) continue;
                    float v = x[(size_t)r * pool->in_w + c];
                    if (first || v > m || isnan(v)) m = v;
                    first = 0;
                }
            y[(size_t)oh * pool->out_w + ow] = m;
        }
}

void xcnn_conv_stem_pooled(const xcnn_window2d *w, int channels, int c_out,
                           const float *phases, const float *packed,
                           const xcnn_gemm_epilogue *ep, const xcnn_window2d *pool, float *y,
                           float *scratch, int part, int parts, int simd)
{
    if (parts < 1 || part < 0 || part >= parts) return;
    stem_plan sp;
    plan_stem(w, channels, &sp);
    float *band = scratch, *held = scratch + xcnn_conv_stem_band_floats(w);
    size_t plane = (size_t)pool_rows_held(pool) * w->out_w; /* one channel's rows held */
    size_t pooled = (size_t)pool->out_h * pool->out_w;
    int groups = (pool->out_h + POOL_GROUP - 1) / POOL_GROUP;
    int blocks = (c_out + XCNN_STEM_BLOCK - 1) / XCNN_STEM_BLOCK;
    long units = (long)groups * blocks;
    long u0 = units * part / parts, u1 = units * (part + 1) / parts;
    int last_b = -1, last_hi = 0, last_lo = 0; /* the rows held from the unit before */
    for (long u = u0; u < u1; u++) {
        /* block-major, so that a part's next unit is mostly the rows
         * below its last, of the same channels */
        int b = (int)(u / groups), p0 = (int)(u % groups) * POOL_GROUP, nm = block_channels(c_out, b);
        int p1 = p0 + POOL_GROUP < pool->out_h ? p0 + POOL_GROUP : pool->out_h;
        int lo = p0 * pool->stride_h - pool->pad_top, hi = (p1 - 1) * pool->stride_h -
                                                          pool->pad_top + pool->k_h;
        if (lo < 0) lo = 0;
        if (hi > w->out_h) hi = w->out_h;
        /* the conv rows this unit shares with the one before (a 3x3
         * stride-2 pool: one) are moved up, not summed again */
        int from = lo;
        if (b == last_b && last_lo <= lo && lo < last_hi && last_hi <= hi) {
            for (int m = 0; m < nm; m++)
                memmove(held + m * plane, held + m * plane + (size_t)(lo - last_lo) * w->out_w,
                        (size_t)(last_hi - lo) * w->out_w * sizeof(float));
            from = last_hi;
        }
        for (int oh0 = from; oh0 < hi; oh0 += sp.rows) {
            int nr = hi - oh0 < sp.rows ? hi - oh0 : sp.rows;
            band_sums(w, &sp, phases, packed, b, oh0, nr, band, simd);
            band_out(w, &sp, band, ep, b, nm, nr, held + (size_t)(oh0 - lo) * w->out_w, plane);
        }
        /* the pool over the held rows: its window moved up by lo rows */
        xcnn_window2d held_pool = *pool;
        held_pool.in_h = hi - lo;
        held_pool.out_h = p1 - p0;
        held_pool.pad_top = pool->pad_top + lo - p0 * pool->stride_h;
        for (int m = 0; m < nm; m++) {
            float *ym = y + (size_t)(b * XCNN_STEM_BLOCK + m) * pooled + (size_t)p0 * pool->out_w;
#ifdef XCNN_DW_X86
            if (simd && xcnn_maxpool_3x3s2_fits(&held_pool)) {
                /* after a ReLU (and no clip) nothing is NaN or -0 */
                if (ep->relu && !ep->clip)
                    xcnn_maxpool_3x3s2_rows_relu(&held_pool, held + m * plane, 0, p1 - p0, ym);
                else
                    xcnn_maxpool_3x3s2_rows(&held_pool, held + m * plane, 0, p1 - p0, ym);
                continue;
            }
#endif
            pool_rows_plain(&held_pool, held + m * plane, p1 - p0, ym);
        }
        last_b = b;
        last_lo = lo;
        last_hi = hi;
    }
}
