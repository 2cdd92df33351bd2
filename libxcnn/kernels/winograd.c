/*
 * Winograd F(2x2, 3x3) convolution (the math is in winograd.h), and the
 * driver F(4x4, 3x3) shares (its transforms are in winograd_f4.c).
 *
 * One call runs three steps, each split over threads by independent
 * pieces, so the bits never depend on the thread count:
 *   1. input transform, per (sample, input channel) plane:
 *        V[xi][c][t] = (B^T d B)[xi] for every tile t
 *   2. 16 GEMMs (36 for F(4x4, 3x3)), one per position xi (one thread each):
 *        M[xi] = U[xi] * V[xi]
 *   3. output transform, per (sample, output channel) plane:
 *        y tile = A^T M[.][m][t] A (+ bias, or added into y)
 * Tiles of all samples of the call sit side by side in V and M, so a
 * batch widens the GEMMs instead of repeating small ones.
 */
#include <string.h>
#include "winograd.h"
#include "../base/cpu.h"
#include "gemm.h"
#include "../base/threads.h"

enum { XI = 16 }; /* positions of F(2x2, 3x3)'s 4x4 transformed tile */

int xcnn_winograd_positions(int m)
{
    return (m + 2) * (m + 2);
}

static void weights_f2(const float *w, int c_out, int c_in, float *u, size_t s_xi,
                       size_t s_o, size_t s_c)
{
    size_t plane = (size_t)c_out * c_in;
    for (size_t mc = 0; mc < plane; mc++) {
        const float *g = w + mc * 9;
        float *dst = u + (mc / (size_t)c_in) * s_o + (mc % (size_t)c_in) * s_c;
        double gg[4][3], ggt[4][4];
        for (int j = 0; j < 3; j++) { /* G g: rows of the 4x3 result */
            double g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
            gg[0][j] = g0;
            gg[1][j] = 0.5 * (g0 + g1 + g2);
            gg[2][j] = 0.5 * (g0 - g1 + g2);
            gg[3][j] = g2;
        }
        for (int a = 0; a < 4; a++) { /* (G g) G^T */
            double g0 = gg[a][0], g1 = gg[a][1], g2 = gg[a][2];
            ggt[a][0] = g0;
            ggt[a][1] = 0.5 * (g0 + g1 + g2);
            ggt[a][2] = 0.5 * (g0 - g1 + g2);
            ggt[a][3] = g2;
        }
        for (int xi = 0; xi < XI; xi++) dst[xi * s_xi] = (float)ggt[xi / 4][xi % 4];
    }
}

/* U's element (position xi, output o, input c) at u[xi*s_xi + o*s_o + c*s_c]. */
static void weights_strided(const float *w, int c_out, int c_in, int m, float *u, size_t s_xi,
                            size_t s_o, size_t s_c)
{
    if (m == 4) xcnn_winograd4_weights(w, c_out, c_in, u, s_xi, s_o, s_c);
    else weights_f2(w, c_out, c_in, u, s_xi, s_o, s_c);
}

void xcnn_winograd_weights(const float *w, int c_out, int c_in, int m, float *u)
{
    weights_strided(w, c_out, c_in, m, u, (size_t)c_out * c_in, (size_t)c_in, 1);
}

size_t xcnn_winograd_packed_floats(int m, int c_in, int c_out, int nr)
{
    return (size_t)xcnn_winograd_positions(m) * xcnn_gemm_packed_floats(c_in, c_out, nr);
}

/* Panel q of position xi holds U[xi]^T's columns (outputs) q*nr ..., for
 * each input c a row of nr outputs: (c, o) at c*nr + o - q*nr. So each
 * panel's outputs are written with output stride 1 and input stride nr. */
void xcnn_winograd_weights_packed(const float *w, int c_out, int c_in, int m, int nr,
                                  float *packed)
{
    size_t per_xi = xcnn_gemm_packed_floats(c_in, c_out, nr);
    for (int o0 = 0; o0 < c_out; o0 += nr) {
        int cols = c_out - o0 < nr ? c_out - o0 : nr;
        weights_strided(w + (size_t)o0 * c_in * 9, cols, c_in, m,
                        packed + (size_t)o0 * c_in, per_xi, 1, (size_t)nr);
    }
}

/* F(2x2, 3x3)'s tiles (its transforms below). */
static int tiles_w(const xcnn_winograd_geom *geo) { return (geo->out_w + 1) / 2; }

size_t xcnn_winograd_tiles(const xcnn_winograd_geom *geo)
{
    return (size_t)((geo->out_h + geo->m - 1) / geo->m) *
           (size_t)((geo->out_w + geo->m - 1) / geo->m);
}

size_t xcnn_winograd_scratch(const xcnn_winograd_geom *geo, int c_in, int c_out, int samples)
{
    return (size_t)xcnn_winograd_positions(geo->m) * ((size_t)c_in + (size_t)c_out) *
           xcnn_winograd_tiles(geo) * (size_t)samples;
}

/* ---- 1. input transform ----------------------------------------------- */

/* Tile rows are transformed up to XCNN_WINOGRAD_CHUNK_TILES tiles at a
 * time (base/config.h: some 50 KB of stack by default), and every loop
 * below runs over all the tiles of the chunk. Row by row, ResNet's 28-,
 * 14- and 7-tile rows gave loops that vector code covers mostly with
 * scalar remainders: the transform (13% of a ResNet-18 forward +
 * backward) spent its time there. A chunk's input rows need one tile row
 * more than the chunk (BUF2 below); a tile row too wide for that runs in
 * pieces of BUF2 / 2 tiles (never with the default sizes, which hold every
 * row up to XCNN_WINOGRAD_MAX_W). Every tile is transformed alone, so the
 * chunks change no bit. */
enum { BUF2 = XCNN_WINOGRAD_CHUNK_TILES + XCNN_WINOGRAD_ROW_TILES };


/* One plane: v[xi * v_stride + t] for its tiles t in tile rows [ty0, ty1).
 * Tile (ty, tx) reads padded rows 2ty .. 2ty+3 (minus pad_top) and padded
 * columns 2tx .. 2tx+3: its taps 0..3. A chunk of tc tile rows of cw tiles
 * (cw = tw, or a piece of one row) reads its 2 tc + 2 input rows, each
 * split once into its four taps (cw values each), stored by row parity:
 * input row j of the chunk in q[tap][j % 2] at (j / 2) * cw. Rows 0 and 1
 * of tile row t are then q[tap][0 or 1] at t * cw, rows 2 and 3 the same
 * one tile row further (+ cw): B^T goes down the columns for every tile
 * of the chunk in one loop per tap, then B across the taps gives the
 * chunk's tiles, already in V's order. */
XCNN_VECTOR_CLONES
static void transform_input_plane(const xcnn_winograd_geom *geo, const float *plane, int ty0,
                                  int ty1, float *v, size_t v_stride)
{
    xcnn_winograd_chunks ch = xcnn_winograd_chunking(tiles_w(geo), XCNN_WINOGRAD_CHUNK_TILES,
                                                     XCNN_WINOGRAD_ROW_TILES);
    int tw = ch.tw;
    float q[4][2][BUF2], d[4][BUF2];
    for (int tyc = ty0; tyc < ty1; tyc += ch.tc_max)
        for (int tx0 = 0; tx0 < tw; tx0 += ch.cw_max) {
            int tc = ty1 - tyc < ch.tc_max ? ty1 - tyc : ch.tc_max;
            int cw = tw - tx0 < ch.cw_max ? tw - tx0 : ch.cw_max, len = tc * cw;
            for (int j = 0; j < 2 * tc + 2; j++) {
                float *const taps[4] = {q[0][j % 2] + (j / 2) * cw, q[1][j % 2] + (j / 2) * cw,
                                        q[2][j % 2] + (j / 2) * cw, q[3][j % 2] + (j / 2) * cw};
                xcnn_winograd_row_taps(geo, plane, 2 * tyc - geo->pad_top + j, tx0, cw, 2, 4,
                                       taps);
            }
            for (int a = 0; a < 4; a++) {
                /* Row a of B^T d, tap by tap (down the columns). */
                for (int j = 0; j < 4; j++) {
                    const float *r0 = q[j][0], *r1 = q[j][1], *r2 = q[j][0] + cw,
                                *r3 = q[j][1] + cw;
                    float *o = d[j];
                    switch (a) {
                    case 0: for (int f = 0; f < len; f++) o[f] = r0[f] - r2[f]; break;
                    case 1: for (int f = 0; f < len; f++) o[f] = r1[f] + r2[f]; break;
                    case 2: for (int f = 0; f < len; f++) o[f] = r2[f] - r1[f]; break;
                    default: for (int f = 0; f < len; f++) o[f] = r1[f] - r3[f]; break;
                    }
                }
                /* (B^T d) B across the taps, one loop per position (several
                 * stores to V in one loop could overlap as far as gcc knows). */
                float *v0 = v + (size_t)(4 * a) * v_stride + (size_t)(tyc - ty0) * tw + tx0;
                float *v1 = v0 + v_stride, *v2 = v1 + v_stride, *v3 = v2 + v_stride;
                for (int f = 0; f < len; f++) v0[f] = d[0][f] - d[2][f];
                for (int f = 0; f < len; f++) v1[f] = d[1][f] + d[2][f];
                for (int f = 0; f < len; f++) v2[f] = d[2][f] - d[1][f];
                for (int f = 0; f < len; f++) v3[f] = d[1][f] - d[3][f];
            }
        }
}

/* ---- 3. output transform ---------------------------------------------- */

/* One plane from m[xi * m_stride + t], tile rows [ty0, ty1), a chunk of
 * tiles at a time as the input transform: A^T goes down the columns
 * (s[0], s[1]: each tile's two output rows, 4 columns each), then A across
 * gives each output row's even and odd columns, for every tile of the
 * chunk in one loop each; those are then interleaved into the plane's
 * rows, clipped at its right and bottom edges. */
XCNN_VECTOR_CLONES
static void transform_output_plane(const xcnn_winograd_geom *geo, const float *m,
                                   size_t m_stride, int ty0, int ty1, float bias,
                                   int accumulate, int relu, const float *res, float *y)
{
    xcnn_winograd_chunks ch = xcnn_winograd_chunking(tiles_w(geo), XCNN_WINOGRAD_CHUNK_TILES,
                                                     XCNN_WINOGRAD_ROW_TILES);
    int tw = ch.tw;
    float s[2][4][BUF2], ev[2][BUF2], od[2][BUF2];
    int full = geo->out_w / 2; /* tiles with both columns inside */
    for (int tyc = ty0; tyc < ty1; tyc += ch.tc_max)
        for (int tx0 = 0; tx0 < tw; tx0 += ch.cw_max) {
            int tc = ty1 - tyc < ch.tc_max ? ty1 - tyc : ch.tc_max;
            int cw = tw - tx0 < ch.cw_max ? tw - tx0 : ch.cw_max, len = tc * cw;
            /* of this piece's tiles, those with both columns inside */
            int pfull = full - tx0 < cw ? full - tx0 : cw;
            const float *row = m + (size_t)(tyc - ty0) * tw + tx0;
            for (int b = 0; b < 4; b++) { /* A^T M, down each column */
                const float *m0 = row + (size_t)b * m_stride, *m1 = m0 + 4 * m_stride;
                const float *m2 = m1 + 4 * m_stride, *m3 = m2 + 4 * m_stride;
                for (int f = 0; f < len; f++) {
                    s[0][b][f] = m0[f] + m1[f] + m2[f];
                    s[1][b][f] = m1[f] - m2[f] - m3[f];
                }
            }
            for (int i = 0; i < 2; i++) /* (A^T M) A, across */
                for (int f = 0; f < len; f++) {
                    ev[i][f] = s[i][0][f] + s[i][1][f] + s[i][2][f];
                    od[i][f] = s[i][1][f] - s[i][2][f] - s[i][3][f];
                }
            for (int t = 0; t < tc; t++)
                for (int i = 0; i < 2 && 2 * (tyc + t) + i < geo->out_h; i++) {
                    float *yr = y + (size_t)(2 * (tyc + t) + i) * geo->out_w + 2 * tx0;
                    const float *e = ev[i] + t * cw, *o = od[i] + t * cw;
                    if (accumulate) {
                        for (int tx = 0; tx < pfull; tx++) {
                            yr[2 * tx] += e[tx];
                            yr[2 * tx + 1] += o[tx];
                        }
                        if (pfull < cw) yr[2 * pfull] += e[pfull];
                    } else {
                        for (int tx = 0; tx < pfull; tx++) {
                            yr[2 * tx] = e[tx] + bias;
                            yr[2 * tx + 1] = o[tx] + bias;
                        }
                        if (pfull < cw) yr[2 * pfull] = e[pfull] + bias;
                        /* while the row is in L1: a fused Add's residual
                         * (laid out as y), then ReLU (NaN -> 0 as the op) */
                        int xn = geo->out_w - 2 * tx0 < 2 * cw ? geo->out_w - 2 * tx0 : 2 * cw;
                        if (res) {
                            const float *rr = res + (yr - y);
                            for (int x = 0; x < xn; x++) yr[x] += rr[x];
                        }
                        if (relu)
                            for (int x = 0; x < xn; x++) yr[x] = yr[x] > 0 ? yr[x] : 0.0f;
                    }
                }
        }
}

/* ---- the call ----------------------------------------------------------- */

/* Room for the rows of a transposed product turned back at a time
 * (base/config.h). */
enum { BACK_FLOATS = XCNN_WINOGRAD_BACK_FLOATS };

/* M[xi] = U[xi] V[xi] from U^T packed: M^T = V^T U^T by the few-rows
 * kernel, a block of tile rows at a time, each block turned back into
 * M's c_out x width layout while it is in L1. */
static void product_packed(const xcnn_winograd_u *wu, const float *bx, int c_in, int c_out,
                           size_t width, const float *vx, float *mx)
{
    size_t rows = (size_t)(BACK_FLOATS / c_out) / 7 * 7;
    float back[BACK_FLOATS];
    for (size_t r0 = 0; r0 < width; r0 += rows) {
        int n = (int)(width - r0 < rows ? width - r0 : rows);
        xcnn_sgemm_packed_serial(wu->kind, 1, n, c_out, c_in, vx + r0, (int)width, bx, 0.0f,
                                 back, c_out);
        for (int m = 0; m < c_out; m++) {
            float *dst = mx + (size_t)m * width + r0;
            for (int r = 0; r < n; r++) dst[r] = back[(size_t)r * c_out + m];
        }
    }
}

/* What one call computes, shared by its two schedules below. */
typedef struct wino_call {
    const xcnn_winograd_geom *geo;
    int c_in, c_out, xis, f4;
    const xcnn_winograd_u *wu;
    xcnn_gemm_kind kind;
    const float *bias;
    int accumulate, relu;
    const float *residual; /* a fused Add's, laid out as y0 (or NULL) */
    const float *y0;       /* the output this call writes */
} wino_call;

/* Tile rows [ty0, ty1) of input plane `plane` into v (stride between
 * positions v_stride), and back from m into output plane y. */
static void input_rows(const wino_call *k, const float *plane, int ty0, int ty1, float *v,
                       size_t v_stride)
{
    if (k->f4) xcnn_winograd4_input_plane(k->geo, plane, ty0, ty1, v, v_stride);
    else transform_input_plane(k->geo, plane, ty0, ty1, v, v_stride);
}

static void output_rows(const wino_call *k, const float *m, size_t m_stride, int ty0, int ty1,
                        int channel, float *y)
{
    float b = k->bias ? k->bias[channel] : 0.0f;
    const float *r = k->residual ? k->residual + (y - k->y0) : NULL; /* y's plane of it */
    if (k->f4)
        xcnn_winograd4_output_plane(k->geo, m, m_stride, ty0, ty1, b, k->accumulate, k->relu,
                                    r, y);
    else
        transform_output_plane(k->geo, m, m_stride, ty0, ty1, b, k->accumulate, k->relu, r, y);
}

/* M[xi] (c_out x width) = U[xi] V[xi] (c_in x width), on this thread. */
static void product(const wino_call *k, int xi, size_t width, const float *vx, float *mx)
{
    /* Where position xi of the turned kernel sits in U (winograd.h). */
    static const int turn[4] = {3, 1, 2, 0};
    const xcnn_winograd_u *wu = k->wu;
    int c_in = k->c_in, c_out = k->c_out;
    if (!wu->u) {
        size_t per_xi = xcnn_gemm_packed_floats(c_in, c_out, xcnn_gemm_panel_width(wu->kind));
        product_packed(wu, wu->packed + (size_t)xi * per_xi, c_in, c_out, width, vx, mx);
    } else if (!wu->turned) {
        const float *ux = wu->u + (size_t)xi * c_out * c_in;
        xcnn_sgemm_serial(k->kind, 0, 0, c_out, (int)width, c_in, 1.0f, ux, c_in, vx,
                          (int)width, 0.0f, mx, (int)width);
    } else { /* m = 2; U was made for c_in outputs from c_out inputs */
        int src = turn[xi / 4] * 4 + turn[xi % 4];
        const float *ux = wu->u + (size_t)src * c_out * c_in;
        xcnn_sgemm_serial(k->kind, 1, 0, c_out, (int)width, c_in, 1.0f, ux, c_out, vx,
                          (int)width, 0.0f, mx, (int)width);
    }
}

/* Bands: V and M of some tile rows at a time, made, multiplied and
 * turned back by one thread while they are in its caches. Whole, ResNet's
 * layer1 has 6.4 MB of V and M that go out to memory and come back; with
 * another program streaming memory on the other core, our forward and
 * backward slowed by 17% where PyTorch's direct convolutions did not.
 * Bands of about this many bytes of V and M (measured: 768 KB bands made
 * the products too thin; 2-3 MB ones were fastest on one thread, alone or
 * beside the memory hog), for U small enough to be read again per band. */
#define BAND_BYTES (2048 * 1024)
#define BAND_MAX_U_BYTES (512 * 1024)

/* Tile rows per band, or 0 to run the whole call at once. */
static int band_rows(const wino_call *k, size_t tiles_w, size_t tiles, int samples)
{
    size_t per_tile = (size_t)k->xis * ((size_t)k->c_in + (size_t)k->c_out) * sizeof(float);
    size_t u_bytes = (size_t)k->xis * k->c_in * k->c_out * sizeof(float);
    if (u_bytes > BAND_MAX_U_BYTES || per_tile * tiles * samples <= 2 * BAND_BYTES) return 0;
    size_t rows = BAND_BYTES / per_tile / tiles_w;
    if (rows < 1) rows = 1;
    size_t th = tiles / tiles_w, bands = (th + rows - 1) / rows; /* even bands */
    return (int)((th + bands - 1) / bands);
}

/* Band b (sample b / per_sample) in v, a thread's slot of the scratch. */
static void run_band(const wino_call *k, int b, int per_sample, int rows, const float *x,
                     size_t x_stride, float *y, size_t y_stride, float *v)
{
    const xcnn_winograd_geom *geo = k->geo;
    int th = (geo->out_h + geo->m - 1) / geo->m, tw = (geo->out_w + geo->m - 1) / geo->m;
    size_t in_plane = (size_t)geo->in_h * geo->in_w, out_plane = (size_t)geo->out_h * geo->out_w;
    int s = b / per_sample, ty0 = b % per_sample * rows;
    int ty1 = ty0 + rows < th ? ty0 + rows : th;
    size_t width = (size_t)(ty1 - ty0) * tw;
    float *mt = v + (size_t)k->xis * k->c_in * width;
    for (int c = 0; c < k->c_in; c++)
        input_rows(k, x + s * x_stride + c * in_plane, ty0, ty1, v + c * width,
                   (size_t)k->c_in * width);
    for (int xi = 0; xi < k->xis; xi++)
        product(k, xi, width, v + (size_t)xi * k->c_in * width,
                mt + (size_t)xi * k->c_out * width);
    for (int m = 0; m < k->c_out; m++)
        output_rows(k, mt + m * width, (size_t)k->c_out * width, ty0, ty1, m,
                    y + s * y_stride + m * out_plane);
}

/* Each band, on one thread: its tile rows of every input plane, the
 * products, its rows of every output plane. Bands are independent, so
 * there is one parallel loop and no barrier inside it. */
static void run_bands(const wino_call *k, int samples, const float *x, size_t x_stride,
                      float *y, size_t y_stride, float *scratch, int rows)
{
    const xcnn_winograd_geom *geo = k->geo;
    int th = (geo->out_h + geo->m - 1) / geo->m, tw = (geo->out_w + geo->m - 1) / geo->m;
    int per_sample = (th + rows - 1) / rows, bands = samples * per_sample;
    size_t slot = (size_t)k->xis * ((size_t)k->c_in + k->c_out) * (size_t)rows * tw;
    if (!xcnn_fork_worth(bands > 1)) {
        for (int b = 0; b < bands; b++)
            run_band(k, b, per_sample, rows, x, x_stride, y, y_stride, scratch);
        return;
    }
#pragma omp parallel
    {
        float *v = scratch + (size_t)xcnn_thread_num() * slot;
#pragma omp for schedule(static)
        for (int b = 0; b < bands; b++)
            run_band(k, b, per_sample, rows, x, x_stride, y, y_stride, v);
    }
}

/* run_whole's steps, one piece each: plane sc (sample sc / c_in) of the
 * input transformed into v; plane sm of the output from mt. */
static void whole_input(const wino_call *k, int samples, int sc, const float *x, size_t x_stride,
                        float *v)
{
    const xcnn_winograd_geom *geo = k->geo;
    int th = (geo->out_h + geo->m - 1) / geo->m, s = sc / k->c_in, c = sc % k->c_in;
    size_t tiles = xcnn_winograd_tiles(geo), width = tiles * (size_t)samples;
    size_t in_plane = (size_t)geo->in_h * geo->in_w;
    input_rows(k, x + s * x_stride + c * in_plane, 0, th, v + (size_t)c * width + s * tiles,
               (size_t)k->c_in * width);
}

static void whole_output(const wino_call *k, int samples, int sm, const float *mt, float *y,
                         size_t y_stride)
{
    const xcnn_winograd_geom *geo = k->geo;
    int th = (geo->out_h + geo->m - 1) / geo->m, s = sm / k->c_out, m = sm % k->c_out;
    size_t tiles = xcnn_winograd_tiles(geo), width = tiles * (size_t)samples;
    size_t out_plane = (size_t)geo->out_h * geo->out_w;
    output_rows(k, mt + (size_t)m * width + s * tiles, (size_t)k->c_out * width, 0, th, m,
                y + s * y_stride + m * out_plane);
}

/* The whole call at once: all planes transformed, then the products
 * (one position per thread at a time), then all planes back. */
static void run_whole(const wino_call *k, int samples, const float *x, size_t x_stride,
                      float *y, size_t y_stride, float *scratch)
{
    const xcnn_winograd_geom *geo = k->geo;
    int c_in = k->c_in, c_out = k->c_out;
    size_t width = xcnn_winograd_tiles(geo) * (size_t)samples;
    float *v = scratch, *mt = scratch + (size_t)k->xis * c_in * width;
    double work = (double)k->xis * c_out * c_in * (double)width;
    if (!xcnn_fork_worth(work > 4e6)) {
        for (int sc = 0; sc < samples * c_in; sc++) whole_input(k, samples, sc, x, x_stride, v);
        for (int xi = 0; xi < k->xis; xi++)
            product(k, xi, width, v + (size_t)xi * c_in * width, mt + (size_t)xi * c_out * width);
        for (int sm = 0; sm < samples * c_out; sm++) whole_output(k, samples, sm, mt, y, y_stride);
        return;
    }
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int sc = 0; sc < samples * c_in; sc++) whole_input(k, samples, sc, x, x_stride, v);
#pragma omp for schedule(static)
        for (int xi = 0; xi < k->xis; xi++)
            product(k, xi, width, v + (size_t)xi * c_in * width, mt + (size_t)xi * c_out * width);
#pragma omp for schedule(static)
        for (int sm = 0; sm < samples * c_out; sm++) whole_output(k, samples, sm, mt, y, y_stride);
    }
}

size_t xcnn_winograd_band_scratch(const xcnn_winograd_geom *geo, int c_in, int c_out, int threads)
{
    wino_call k = {geo, c_in, c_out, xcnn_winograd_positions(geo->m), geo->m == 4,
                   NULL, XCNN_GEMM_AUTO, NULL, 0, 0, NULL, NULL};
    int tw = (geo->out_w + geo->m - 1) / geo->m;
    int rows = band_rows(&k, (size_t)tw, xcnn_winograd_tiles(geo), 1);
    if (!rows) return 0;
    return (size_t)threads * k.xis * ((size_t)c_in + c_out) * (size_t)rows * tw;
}

void xcnn_winograd_conv(const xcnn_winograd_geom *geo, int c_in, int c_out, int samples,
                        const float *x, size_t x_stride, const xcnn_winograd_u *wu,
                        const float *bias, int accumulate, int relu, const float *residual,
                        float *y, size_t y_stride, float *scratch, size_t scratch_floats)
{
    wino_call k = {geo, c_in, c_out, xcnn_winograd_positions(geo->m), geo->m == 4,
                   wu, xcnn_gemm_selected(), bias, accumulate, relu, residual, y};
    int tw = (geo->out_w + geo->m - 1) / geo->m, threads = xcnn_threads_max();
    int rows = band_rows(&k, (size_t)tw, xcnn_winograd_tiles(geo), samples);
    size_t need = (size_t)threads * k.xis * ((size_t)c_in + c_out) * (size_t)rows * tw;
    if (rows && need <= scratch_floats)
        run_bands(&k, samples, x, x_stride, y, y_stride, scratch, rows);
    else
        run_whole(&k, samples, x, x_stride, y, y_stride, scratch);
}
