/*
 * Winograd F(2x2, 3x3): a 3x3, stride-1 convolution with 2.25 times fewer
 * multiplications than im2col + GEMM (Lavin and Gray, "Fast Algorithms
 * for Convolutional Neural Networks", 2015).
 *
 * The output is cut into 2x2 tiles; each reads a 4x4 patch d of the
 * (zero-padded) input. For one input channel c and output channel m:
 *
 *     Y_tile = A^T [ (G g G^T) .* (B^T d B) ] A
 *
 * with g = W[m, c] (3x3) and
 *     B^T = | 1  0 -1  0 |     G = | 1    0    0   |    A^T = | 1 1  1  0 |
 *           | 0  1  1  0 |         | 1/2  1/2  1/2 |          | 0 1 -1 -1 |
 *           | 0 -1  1  0 |         | 1/2 -1/2  1/2 |
 *           | 0  1  0 -1 |         | 0    0    1   |
 *
 * Summing over c, each of the 16 positions xi of the 4x4 transformed
 * tile is an independent matrix product over channels:
 *     M[xi] (c_out x tiles) = U[xi] (c_out x c_in) * V[xi] (c_in x tiles)
 * with U = G g G^T (the weights, transformed once) and V = B^T d B (the
 * input, per call). Each of the 16 GEMMs has a quarter of im2col's columns
 * (one per 2x2 tile, not one per pixel) and a ninth of its depth (c_in,
 * not 9 c_in): 16 / 36, 2.25x fewer multiply-adds in all.
 *
 * The input gradient of a stride-1 conv is itself a stride-1 conv: of dY
 * with the weights turned 180 degrees and in/out channels swapped, padded
 * by 2 - pad. Turning g by 180 degrees reverses the rows of G g, which
 * swaps rows 0 and 3 of it and keeps 1 and 2; so the transformed weights
 * of the turned kernel are U itself, read transposed, at position
 * (q(a), q(b)) with q = (3, 1, 2, 0). No second copy of the weights.
 *
 * Forward and dX must equal xcnn_conv_reference_forward / _backward
 * (ops/conv.c, the convolution's plain loops) to rounding: the transforms
 * add and scale values that a direct sum would not, so the last bits
 * differ (tests/test_conv_paths.c and tests/test_reference_paths.c allow
 * 1e-5 of the largest output). The packed U^T and the bands must give
 * the plain U's bits.
 */
#ifndef XCNN_WINOGRAD_H
#define XCNN_WINOGRAD_H

#include <stddef.h>
#include <string.h>
#include "gemm.h"
#include "../base/config.h"

/* Largest output width (and input width + padding) a conv runs by
 * Winograd. The transforms' row buffers (on the stack, sized in
 * base/config.h) take rows wider than they hold in pieces. */
#define XCNN_WINOGRAD_MAX_W 1024

/* Geometry of one call: a plane in_h x in_w padded by pad_top / pad_left
 * (and as much as needed at the bottom / right) gives out_h x out_w, in
 * output tiles of m x m: m = 2 for F(2x2, 3x3), 4 for F(4x4, 3x3)
 * (winograd_f4.c: 4x4 tiles from 6x6 patches, 36 GEMMs, 1.8x fewer
 * multiply-adds again, for planes large enough to fill the wider tiles). */
typedef struct xcnn_winograd_geom {
    int in_h, in_w, pad_top, pad_left, out_h, out_w;
    int m;
} xcnn_winograd_geom;

/* Positions of a transformed tile: (m + 2)^2, 16 or 36. */
int xcnn_winograd_positions(int m);

/* U[positions][c_out][c_in] from W[c_out][c_in][3][3] for tile size m
 * (computed in double). */
void xcnn_winograd_weights(const float *w, int c_out, int c_in, int m, float *u);

/* The same U, each position's U^T packed for xcnn_sgemm_packed (panels of
 * nr outputs, zero-padded: the caller gives zeroed memory), position xi
 * at packed + xi * xcnn_gemm_packed_floats(c_in, c_out, nr). For calls
 * whose tiles are few (7x7 of them: 49 = 7 x 7 rows of the transposed
 * product), see xcnn_winograd_conv. xcnn_winograd_packed_floats is the
 * size of all positions. */
size_t xcnn_winograd_packed_floats(int m, int c_in, int c_out, int nr);
void xcnn_winograd_weights_packed(const float *w, int c_out, int c_in, int m, int nr,
                                  float *packed);

/* Output tiles of one sample: ceil(out_h / m) * ceil(out_w / m). */
size_t xcnn_winograd_tiles(const xcnn_winograd_geom *geo);

/* Scratch floats for `samples` samples at once:
 * positions * (c_in + c_out) * tiles. */
size_t xcnn_winograd_scratch(const xcnn_winograd_geom *geo, int c_in, int c_out, int samples);

/* The weights of one call, in one of two forms:
 *   u: U from xcnn_winograd_weights; `turned` (m = 2 only) reads it as
 *      the 180-degree-turned, channel-swapped kernel (the input gradient:
 *      then U was made with c_out and c_in swapped relative to the call);
 *   packed (u NULL): U^T from xcnn_winograd_weights_packed for `kind`'s
 *      panel width. Each position's product then runs transposed,
 *      M^T = V^T U^T, the tiles being its rows: 49 tiles (a 14x14 plane
 *      in 2x2 tiles, 28x28 in 4x4) are 7 whole rows of 7 for the few-rows
 *      kernel, where the plain product wastes a quarter of its 32-column
 *      tiles. M^T is turned back before the output transform. Every
 *      output is the same sum in the same order: the same bits. */
typedef struct xcnn_winograd_u {
    const float *u;
    int turned;
    const float *packed;
    xcnn_gemm_kind kind;
} xcnn_winograd_u;

/* Largest c_out a packed call takes (its turned-back rows sit on the
 * stack: at least 7 tiles of c_out floats in XCNN_WINOGRAD_BACK_FLOATS,
 * 32 KiB by default). */
#define XCNN_WINOGRAD_PACKED_MAX_COUT (XCNN_WINOGRAD_BACK_FLOATS / 8)

/*
 * Convolve `samples` samples: x holds c_in planes per sample (samples
 * x_stride floats apart), y gets c_out planes per sample (y_stride
 * apart), with the weights wu. accumulate = 0: y = conv + bias (bias may
 * be NULL), plus residual (a fused Add's, laid out as y; or NULL), then
 * max(y, 0) if relu (a fused Relu); 1: y += conv.
 * scratch holds scratch_floats, at least xcnn_winograd_scratch(geo, c_in,
 * c_out, samples). Large planes with small U run in bands of tile rows,
 * each band's V and M in one thread's cache, when the scratch has room
 * for a band per thread (xcnn_winograd_band_scratch). Bits depend on
 * neither the thread count nor the schedule: every output is the same sum.
 */
void xcnn_winograd_conv(const xcnn_winograd_geom *geo, int c_in, int c_out, int samples,
                        const float *x, size_t x_stride, const xcnn_winograd_u *wu,
                        const float *bias, int accumulate, int relu, const float *residual,
                        float *y, size_t y_stride, float *scratch, size_t scratch_floats);

/* Scratch floats for bands on `threads` threads, or 0 when this shape
 * runs whole (see xcnn_winograd_conv). */
size_t xcnn_winograd_band_scratch(const xcnn_winograd_geom *geo, int c_in, int c_out,
                                  int threads);

/* Input row r of the plane seen through the padding, as `taps` arrays of
 * tw values for the tiles tx0 .. tx0 + tw - 1: out[j][k] is padded column
 * step * (tx0 + k) + j (input column step * (tx0 + k) + j - pad_left, zero
 * outside the input), the j-th column of tile tx0 + k (tiles start every
 * `step` columns). Both tile sizes' input transforms start from these
 * (F(2x2): step 2, 4 taps; F(4x4): step 4, 6 taps): with every tap of a
 * tile at the same index k, each later step is a plain loop over the tiles
 * of several tile rows at once (winograd.c), or of a piece of one row when
 * the row is wider than the buffers (tx0 > 0). Read straight from the row:
 * a padded copy of it first cost three library calls per row, a third of
 * the transform of a 14x14 plane. */
static inline void xcnn_winograd_row_taps(const xcnn_winograd_geom *geo, const float *plane,
                                          int r, int tx0, int tw, int step, int taps,
                                          float *const *out)
{
    int pl = geo->pad_left, in_w = geo->in_w;
    for (int j = 0; j < taps; j++) {
        float *dst = out[j];
        if (r < 0 || r >= geo->in_h) {
            memset(dst, 0, (size_t)tw * sizeof(float));
            continue;
        }
        /* tiles [lo, hi) of the piece read inside the row */
        int lo = (pl - j > 0 ? (pl - j + step - 1) / step : 0) - tx0;
        int hi = (in_w + pl - j + step - 1) / step - tx0;
        if (lo < 0) lo = 0;
        if (hi > tw) hi = tw;
        if (hi < 0) hi = 0;
        if (lo > hi) lo = hi;
        const float *src = plane + (size_t)r * in_w + j - pl + step * tx0;
        for (int k = 0; k < lo; k++) dst[k] = 0.0f;
        for (int k = lo; k < hi; k++) dst[k] = src[step * k];
        for (int k = hi; k < tw; k++) dst[k] = 0.0f;
    }
}

/* How the transforms cut a plane's tile rows (tw tiles each) for row
 * buffers of buf tiles (base/config.h: chunk_tiles + the widest row held
 * whole): tc_max tile rows at a time, up to chunk_tiles tiles (at least
 * one row), whole, when the chunk's input rows fit the buffers ((tc + 1)
 * tile rows: the patches overlap by one); else one row at a time, in
 * pieces of cw_max = buf / 2 tiles. So a chunk never holds more than
 * buf / 2 tiles of one row. */
typedef struct xcnn_winograd_chunks {
    int tw, tc_max, cw_max;
} xcnn_winograd_chunks;

static inline xcnn_winograd_chunks xcnn_winograd_chunking(int tw, int chunk_tiles, int row_tiles)
{
    int buf = chunk_tiles + row_tiles;
    xcnn_winograd_chunks c = {tw, chunk_tiles / tw > 0 ? chunk_tiles / tw : 1, tw};
    if (tw > row_tiles || 2 * tw > buf) {
        c.tc_max = 1;
        c.cw_max = buf / 2;
    }
    return c;
}

/* winograd_f4.c: F(4x4, 3x3)'s weight, input and output transforms (the
 * same contracts as winograd.c's F(2x2, 3x3) ones; the weights with U's
 * element (xi, o, c) at u[xi*s_xi + o*s_o + c*s_c]; the planes' tile rows
 * [ty0, ty1) only, tile (ty, tx) at index (ty - ty0) * tiles_w + tx). */
void xcnn_winograd4_weights(const float *w, int c_out, int c_in, float *u, size_t s_xi,
                            size_t s_o, size_t s_c);
void xcnn_winograd4_input_plane(const xcnn_winograd_geom *geo, const float *plane, int ty0,
                                int ty1, float *v, size_t v_stride);
void xcnn_winograd4_output_plane(const xcnn_winograd_geom *geo, const float *m,
                                 size_t m_stride, int ty0, int ty1, float bias, int accumulate,
                                 int relu, const float *res, float *y);

#endif
