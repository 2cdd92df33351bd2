/*
 * Winograd F(4x4, 3x3): the transforms of the larger tile (winograd.h has
 * the method; winograd.c runs the GEMMs between them). A 6x6 input patch
 * d gives a 4x4 output tile, with the interpolation points 0, 1, -1, 2,
 * -2 and infinity (Lavin and Gray's F(4x4, 3x3)):
 *
 *   B^T = | 4  0 -5  0  1  0 |   G = |  1/4    0     0   |   A^T = | 1 1  1 1  1 0 |
 *         | 0 -4 -4  1  1  0 |       | -1/6 -1/6  -1/6  |         | 0 1 -1 2 -2 0 |
 *         | 0  4 -4 -1  1  0 |       | -1/6  1/6  -1/6  |         | 0 1  1 4  4 0 |
 *         | 0 -2 -1  2  1  0 |       | 1/24 1/12   1/6  |         | 0 1 -1 8 -8 1 |
 *         | 0  2 -1 -2  1  0 |       | 1/24 -1/12  1/6  |
 *         | 0  4  0 -5  0  1 |       |   0    0     1   |
 *
 * 36 products per 16 outputs instead of F(2x2, 3x3)'s 16 per 4: 1.8x
 * fewer multiply-adds again, for larger transforms and slightly larger
 * rounding errors (still ~1e-6 relative on ResNet-18, tested).
 *
 * As in winograd.c, every transform walks a tile row at a time with unit
 * stride: a padded input row is split into its four column phases
 * (column 4k + p in phase p), so tile tx reads phase p at k = tx and tx+1.
 */
#include "../base/cpu.h"
#include "winograd.h"

enum { XI4 = 36 };

void xcnn_winograd4_weights(const float *w, int c_out, int c_in, float *u, size_t s_xi,
                            size_t s_o, size_t s_c)
{
    size_t plane = (size_t)c_out * c_in;
    for (size_t mc = 0; mc < plane; mc++) {
        const float *g = w + mc * 9;
        float *dst = u + (mc / (size_t)c_in) * s_o + (mc % (size_t)c_in) * s_c;
        double gg[6][3], ggt[6][6];
        for (int j = 0; j < 3; j++) { /* G g, column j */
            double g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
            gg[0][j] = g0 / 4;
            gg[1][j] = -(g0 + g1 + g2) / 6;
            gg[2][j] = -(g0 - g1 + g2) / 6;
            gg[3][j] = g0 / 24 + g1 / 12 + g2 / 6;
            gg[4][j] = g0 / 24 - g1 / 12 + g2 / 6;
            gg[5][j] = g2;
        }
        for (int a = 0; a < 6; a++) { /* (G g) G^T, row a */
            double g0 = gg[a][0], g1 = gg[a][1], g2 = gg[a][2];
            ggt[a][0] = g0 / 4;
            ggt[a][1] = -(g0 + g1 + g2) / 6;
            ggt[a][2] = -(g0 - g1 + g2) / 6;
            ggt[a][3] = g0 / 24 + g1 / 12 + g2 / 6;
            ggt[a][4] = g0 / 24 - g1 / 12 + g2 / 6;
            ggt[a][5] = g2;
        }
        for (int xi = 0; xi < XI4; xi++) dst[xi * s_xi] = (float)ggt[xi / 6][xi % 6];
    }
}

/* Tile rows are transformed up to XCNN_WINOGRAD4_CHUNK_TILES tiles at a
 * time (base/config.h: at most some 60 KB of stack by default; a whole
 * plane of ResNet's layer1 and layer2), every loop below over all the
 * tiles of the chunk (as in winograd.c's F(2x2) transforms, which say
 * why, and how rows too wide for the buffers go in pieces). */
enum { BUF4 = XCNN_WINOGRAD4_CHUNK_TILES + XCNN_WINOGRAD4_ROW_TILES };

/* The clones are static, reached through the plain functions at the end:
 * Clang 14 emits no dispatcher for an external target_clones function that
 * another file calls.
 *
 * Input transform of one plane's tile rows [ty0, ty1). Tile (ty, tx) reads
 * padded rows 4ty .. 4ty+5 and padded columns 4tx .. 4tx+5: its taps 0..5.
 * A chunk of tc tile rows of cw tiles (cw = tw, or a piece of one row)
 * reads its 4 tc + 2 input rows, each split once into its six taps (cw
 * values each), stored by row residue: input row j of the chunk in
 * q[tap][j % 4] at (j / 4) * cw. Rows 0..3 of tile row t are then
 * q[tap][i] at t * cw, rows 4 and 5 are q[tap][0] and q[tap][1] one tile
 * row further (+ cw): B^T goes down the columns for every tile of the
 * chunk in one loop per tap, then B across the taps gives the chunk's
 * tiles in V's order. */
XCNN_VECTOR_CLONES
static void input_plane(const xcnn_winograd_geom *geo, const float *plane, int ty0, int ty1,
                        float *v, size_t v_stride)
{
    xcnn_winograd_chunks ch = xcnn_winograd_chunking(
        (geo->out_w + 3) / 4, XCNN_WINOGRAD4_CHUNK_TILES, XCNN_WINOGRAD4_ROW_TILES);
    int tw = ch.tw;
    float q[6][4][BUF4], d[6][BUF4];
    for (int tyc = ty0; tyc < ty1; tyc += ch.tc_max)
        for (int tx0 = 0; tx0 < tw; tx0 += ch.cw_max) {
            int tc = ty1 - tyc < ch.tc_max ? ty1 - tyc : ch.tc_max;
            int cw = tw - tx0 < ch.cw_max ? tw - tx0 : ch.cw_max, len = tc * cw;
            for (int j = 0; j < 4 * tc + 2; j++) {
                float *const taps[6] = {q[0][j % 4] + (j / 4) * cw, q[1][j % 4] + (j / 4) * cw,
                                        q[2][j % 4] + (j / 4) * cw, q[3][j % 4] + (j / 4) * cw,
                                        q[4][j % 4] + (j / 4) * cw, q[5][j % 4] + (j / 4) * cw};
                xcnn_winograd_row_taps(geo, plane, 4 * tyc - geo->pad_top + j, tx0, cw, 4, 6,
                                       taps);
            }
            for (int a = 0; a < 6; a++) {
                /* Row a of B^T d, tap by tap (down the columns). */
                for (int j = 0; j < 6; j++) {
                    const float *r0 = q[j][0], *r1 = q[j][1], *r2 = q[j][2], *r3 = q[j][3];
                    const float *r4 = q[j][0] + cw, *r5 = q[j][1] + cw;
                    float *o = d[j];
                    switch (a) {
                    case 0: for (int f = 0; f < len; f++) o[f] = 4 * r0[f] - 5 * r2[f] + r4[f]; break;
                    case 1: for (int f = 0; f < len; f++) o[f] = -4 * r1[f] - 4 * r2[f] + r3[f] + r4[f]; break;
                    case 2: for (int f = 0; f < len; f++) o[f] = 4 * r1[f] - 4 * r2[f] - r3[f] + r4[f]; break;
                    case 3: for (int f = 0; f < len; f++) o[f] = -2 * r1[f] - r2[f] + 2 * r3[f] + r4[f]; break;
                    case 4: for (int f = 0; f < len; f++) o[f] = 2 * r1[f] - r2[f] - 2 * r3[f] + r4[f]; break;
                    default: for (int f = 0; f < len; f++) o[f] = 4 * r1[f] - 5 * r3[f] + r5[f]; break;
                    }
                }
                /* (B^T d) B across the taps, one loop per position (several
                 * stores to V in one loop could overlap as far as gcc knows). */
                const float *c0 = d[0], *c1 = d[1], *c2 = d[2], *c3 = d[3], *c4 = d[4], *c5 = d[5];
                float *o = v + (size_t)(6 * a) * v_stride + (size_t)(tyc - ty0) * tw + tx0;
                for (int f = 0; f < len; f++) o[f] = 4 * c0[f] - 5 * c2[f] + c4[f];
                o += v_stride;
                for (int f = 0; f < len; f++) o[f] = -4 * c1[f] - 4 * c2[f] + c3[f] + c4[f];
                o += v_stride;
                for (int f = 0; f < len; f++) o[f] = 4 * c1[f] - 4 * c2[f] - c3[f] + c4[f];
                o += v_stride;
                for (int f = 0; f < len; f++) o[f] = -2 * c1[f] - c2[f] + 2 * c3[f] + c4[f];
                o += v_stride;
                for (int f = 0; f < len; f++) o[f] = 2 * c1[f] - c2[f] - 2 * c3[f] + c4[f];
                o += v_stride;
                for (int f = 0; f < len; f++) o[f] = 4 * c1[f] - 5 * c3[f] + c5[f];
            }
        }
}

/* Output transform of one plane's tile rows [ty0, ty1), a chunk of tiles
 * at a time as the input transform: A^T down the columns (s[i][b]: row i,
 * column b of every tile's A^T M), then for each output row i, A across
 * (o[c]: its column c in every tile), one loop each over the whole chunk;
 * then each output row's four columns per tile are interleaved into the
 * plane, clipped at its right and bottom edges. */
XCNN_VECTOR_CLONES
static void output_plane(const xcnn_winograd_geom *geo, const float *m, size_t m_stride,
                         int ty0, int ty1, float bias, int accumulate, int relu,
                         const float *res, float *y)
{
    xcnn_winograd_chunks ch = xcnn_winograd_chunking(
        (geo->out_w + 3) / 4, XCNN_WINOGRAD4_CHUNK_TILES, XCNN_WINOGRAD4_ROW_TILES);
    int tw = ch.tw;
    float s[4][6][BUF4], o[4][BUF4], line[2 * BUF4]; /* cw <= BUF4 / 2 */
    for (int tyc = ty0; tyc < ty1; tyc += ch.tc_max)
        for (int tx0 = 0; tx0 < tw; tx0 += ch.cw_max) {
            int tc = ty1 - tyc < ch.tc_max ? ty1 - tyc : ch.tc_max;
            int cw = tw - tx0 < ch.cw_max ? tw - tx0 : ch.cw_max, len = tc * cw;
            /* this piece's columns of the plane */
            int xn = geo->out_w - 4 * tx0 < 4 * cw ? geo->out_w - 4 * tx0 : 4 * cw;
            const float *row = m + (size_t)(tyc - ty0) * tw + tx0;
            for (int b = 0; b < 6; b++) { /* A^T M, down column b */
                const float *m0 = row + (size_t)b * m_stride, *m1 = m0 + 6 * m_stride;
                const float *m2 = m1 + 6 * m_stride, *m3 = m2 + 6 * m_stride;
                const float *m4 = m3 + 6 * m_stride, *m5 = m4 + 6 * m_stride;
                for (int f = 0; f < len; f++) {
                    s[0][b][f] = m0[f] + m1[f] + m2[f] + m3[f] + m4[f];
                    s[1][b][f] = m1[f] - m2[f] + 2 * m3[f] - 2 * m4[f];
                    s[2][b][f] = m1[f] + m2[f] + 4 * m3[f] + 4 * m4[f];
                    s[3][b][f] = m1[f] - m2[f] + 8 * m3[f] - 8 * m4[f] + m5[f];
                }
            }
            for (int i = 0; i < 4; i++) {
                const float *s0 = s[i][0], *s1 = s[i][1], *s2 = s[i][2], *s3 = s[i][3];
                const float *s4 = s[i][4], *s5 = s[i][5];
                for (int f = 0; f < len; f++) { /* (A^T M) A, across */
                    o[0][f] = s0[f] + s1[f] + s2[f] + s3[f] + s4[f];
                    o[1][f] = s1[f] - s2[f] + 2 * s3[f] - 2 * s4[f];
                    o[2][f] = s1[f] + s2[f] + 4 * s3[f] + 4 * s4[f];
                    o[3][f] = s1[f] - s2[f] + 8 * s3[f] - 8 * s4[f] + s5[f];
                }
                for (int t = 0; t < tc && 4 * (tyc + t) + i < geo->out_h; t++) {
                    const float *o0 = o[0] + t * cw, *o1 = o[1] + t * cw;
                    const float *o2 = o[2] + t * cw, *o3 = o[3] + t * cw;
                    for (int tx = 0; tx < cw; tx++) { /* the four columns, interleaved */
                        line[4 * tx] = o0[tx];
                        line[4 * tx + 1] = o1[tx];
                        line[4 * tx + 2] = o2[tx];
                        line[4 * tx + 3] = o3[tx];
                    }
                    float *yr = y + (size_t)(4 * (tyc + t) + i) * geo->out_w + 4 * tx0;
                    if (accumulate) {
                        for (int x = 0; x < xn; x++) yr[x] += line[x];
                    } else {
                        for (int x = 0; x < xn; x++) yr[x] = line[x] + bias;
                        if (res) { /* a fused Add's residual, laid out as y */
                            const float *rr = res + (yr - y);
                            for (int x = 0; x < xn; x++) yr[x] += rr[x];
                        }
                        if (relu) /* NaN -> 0 as the Relu op */
                            for (int x = 0; x < xn; x++) yr[x] = yr[x] > 0 ? yr[x] : 0.0f;
                    }
                }
            }
        }
}

void xcnn_winograd4_input_plane(const xcnn_winograd_geom *geo, const float *plane, int ty0,
                                int ty1, float *v, size_t v_stride)
{
    input_plane(geo, plane, ty0, ty1, v, v_stride);
}

void xcnn_winograd4_output_plane(const xcnn_winograd_geom *geo, const float *m,
                                 size_t m_stride, int ty0, int ty1, float bias, int accumulate,
                                 int relu, const float *res, float *y)
{
    output_plane(geo, m, m_stride, ty0, ty1, bias, accumulate, relu, res, y);
}
