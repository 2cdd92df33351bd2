/*
 * The direct convolution (see conv_direct.h): tiles of output pixels
 * along one row times panels of output channels, each summed tap by tap
 * from the input planes by the strided few-rows micro-kernel.
 */
#include <string.h>
#include "conv_direct.h"
#include "gemm_kernels.h"

/* Channels per micro-kernel call. The part of W^T one panel uses for a
 * chunk (taps x chunk x NR floats: 216 KiB for 3x3 and NR 48) stays in L2
 * while a thread's tiles stream past it; all 512 channels of ResNet's
 * layer4 at once (864 KiB) measured 170 -> 145 GFLOP/s. */
#define DIRECT_CHUNK 128

int xcnn_conv_direct_runs(xcnn_gemm_kind kind)
{
    return xcnn_gemm_strided_kernel(kind) != NULL;
}

size_t xcnn_conv_direct_packed_floats(xcnn_gemm_kind kind, int channels, int taps, int c_out)
{
    size_t nr = (size_t)xcnn_gemm_panel_width(kind);
    return ((size_t)c_out + nr - 1) / nr * nr * (size_t)channels * (size_t)taps;
}

/* Where row (tap, c) of a panel's W^T starts, in floats from the panel's
 * start: chunk by chunk of channels, and in a chunk tap by tap, so that
 * what one chunk's calls read is one run of memory (streamed in order the
 * first time: ResNet-50's layer4 reads 9.4 MB of it from DRAM). */
static size_t panel_row(int channels, int taps, int tap, int c)
{
    int c0 = c / DIRECT_CHUNK * DIRECT_CHUNK;
    int kc = channels - c0 < DIRECT_CHUNK ? channels - c0 : DIRECT_CHUNK;
    return (size_t)c0 * taps + (size_t)tap * kc + (size_t)(c - c0);
}

void xcnn_conv_direct_pack(xcnn_gemm_kind kind, const float *w, int c_out, int channels,
                           int taps, float *packed)
{
    int nr = xcnn_gemm_panel_width(kind), panels = (c_out + nr - 1) / nr;
    size_t k_rows = (size_t)channels * taps;
    for (int q = 0; q < panels; q++)
        for (int t = 0; t < taps; t++)
            for (int c = 0; c < channels; c++) {
                float *row = packed + ((size_t)q * k_rows + panel_row(channels, taps, t, c)) * nr;
                for (int j = 0; j < nr; j++) {
                    int m = q * nr + j;
                    row[j] = m < c_out ? w[((size_t)m * channels + c) * taps + t] : 0.0f;
                }
            }
}

/* The tile's pixels under one tap, for kc channels, as an mr-row panel
 * (rs 1, cs mr), 0 where a pixel reads the padding or lies past the row's
 * h pixels: for a call whose strided rows would leave the input plane
 * (narrow planes; see tile_panel). */
static void gather_tile(const float *row, size_t plane, int kc, int in_w, int iw0, int stride,
                        int h, int mr, float *edge)
{
    for (int c = 0; c < kc; c++, row += plane)
        for (int r = 0; r < mr; r++) {
            int iw = iw0 + r * stride;
            edge[(size_t)c * mr + r] = r < h && iw >= 0 && iw < in_w ? row[iw] : 0.0f;
        }
}

/* One job: the sample's geometry and where its data are. */
typedef struct direct_job {
    const xcnn_gemm_kernel *kern;
    const xcnn_window2d *w;
    int channels, c_out, row_tiles;
    size_t plane, k_rows;
    const float *x, *packed;
    float *yt;
} direct_job;

/* Tile rows [lo, hi) of [0, h) whose pixel under the tap, at iw0 + r *
 * stride, is inside the input row; empty (lo == hi) when none is. */
static void inside_rows(int iw0, int stride, int in_w, int h, int *lo, int *hi)
{
    int a = iw0 >= 0 ? 0 : (-iw0 + stride - 1) / stride;
    int b = iw0 >= in_w ? 0 : (in_w - 1 - iw0) / stride + 1;
    *lo = a < h ? a : h;
    *hi = b < h ? b : h;
    if (*hi < *lo) *hi = *lo;
}

/* Rows [r0, r1) of a tile of Y^T, wd floats each, set to 0. */
static void zero_rows(float *c, size_t ldc, int r0, int r1, int wd)
{
    for (int r = r0; r < r1; r++) memset(c + r * ldc, 0, (size_t)wd * sizeof(float));
}

/* Tile t x panel q over channels [c0, c0 + kc), tap by tap: the first
 * call stores (for the first chunk), the others add. A tap adds only to
 * the tile rows whose pixel it sees inside the input (the micro-kernel
 * starts at the first of them and stores only those), so the padding adds
 * nothing, as in the reference's sum; a row the storing call skips is set
 * to 0 first, and a tile no tap reaches is 0. The kernel reads all MR
 * rows: where those past the inside ones would leave the input plane
 * (the last rows of a narrow plane), the rows are gathered instead. */
static void tile_panel(const direct_job *j, int t, int q, int c0, int kc, float *edge)
{
    const xcnn_window2d *w = j->w;
    int mr = j->kern->mr, nr = j->kern->nr;
    int oh = t / j->row_tiles, ow0 = t % j->row_tiles * mr;
    int h = w->out_w - ow0 < mr ? w->out_w - ow0 : mr;
    int wd = j->c_out - q * nr < nr ? j->c_out - q * nr : nr;
    size_t ldc = (size_t)j->c_out;
    float *c = j->yt + ((size_t)oh * w->out_w + ow0) * ldc + (size_t)q * nr;
    const float *panel = j->packed + (size_t)q * nr * j->k_rows;
    int add = c0 > 0, taps = w->k_h * w->k_w;
    for (int tap = 0; tap < taps; tap++) {
        int ih = oh * w->stride_h - w->pad_top + tap / w->k_w * w->dil_h;
        int iw0 = ow0 * w->stride_w - w->pad_left + tap % w->k_w * w->dil_w, lo, hi;
        if (ih < 0 || ih >= w->in_h) continue; /* the whole row is padding */
        inside_rows(iw0, w->stride_w, w->in_w, h, &lo, &hi);
        if (lo == hi) continue;
        const float *row = j->x + (size_t)c0 * j->plane + (size_t)ih * w->in_w;
        const float *b = panel + panel_row(j->channels, taps, tap, c0) * nr;
        long first = (long)ih * w->in_w + iw0 + (long)lo * w->stride_w;
        if (first + (long)(mr - 1) * w->stride_w < (long)j->plane) {
            if (!add) {
                zero_rows(c, ldc, 0, lo, wd);
                zero_rows(c, ldc, hi, h, wd);
            }
            j->kern->run(kc, row + iw0 + (long)lo * w->stride_w, (size_t)w->stride_w, j->plane, b,
                         (size_t)nr, c + lo * ldc, j->c_out, hi - lo, wd, add);
        } else {
            gather_tile(row, j->plane, kc, w->in_w, iw0, w->stride_w, h, mr, edge);
            j->kern->run(kc, edge, 1, (size_t)mr, b, (size_t)nr, c, j->c_out, h, wd, add);
        }
        add = 1;
    }
    if (!add) zero_rows(c, ldc, 0, h, wd);
}

void xcnn_conv_direct(xcnn_gemm_kind kind, const xcnn_window2d *w, int channels, int c_out,
                      const float *x, const float *packed, float *yt, int part, int parts)
{
    const xcnn_gemm_kernel *kern = xcnn_gemm_strided_kernel(kind);
    if (!kern || parts < 1 || part < 0 || part >= parts) return;
    int mr = kern->mr, nr = kern->nr;
    direct_job j = {kern, w, channels, c_out, (w->out_w + mr - 1) / mr,
                    (size_t)w->in_h * w->in_w, (size_t)channels * w->k_h * w->k_w,
                    x, packed, yt};
    long tiles = (long)j.row_tiles * w->out_h, panels = (c_out + nr - 1) / nr;
    /* The parts split the units (tile, panel) in one of two orders, so
     * that the larger of the two operands is the one cut between them,
     * each part reading all of the smaller one: tile by tile where the
     * input is larger (each part a run of rows of Y^T), panel by panel
     * where the weights are (ResNet's layer4: 9.4 MB of W^T against
     * 0.4 MB of input; both threads reading all of it took 1.10 ms where
     * one took 1.46). */
    int by_panel = (double)j.k_rows * c_out > (double)j.plane * channels;
    long units = tiles * panels, u0 = units * part / parts, u1 = units * (part + 1) / parts;
    float edge[XCNN_GEMM_MAX_MR * DIRECT_CHUNK];
    for (int c0 = 0; c0 < channels; c0 += DIRECT_CHUNK) {
        int kc = channels - c0 < DIRECT_CHUNK ? channels - c0 : DIRECT_CHUNK;
        /* panel by panel: its part of W^T stays in L2 across the tiles */
        for (long q = 0; q < panels; q++) {
            long t0, t1; /* this part's tiles of panel q */
            if (by_panel) {
                t0 = u0 > q * tiles ? u0 - q * tiles : 0;
                t1 = u1 < (q + 1) * tiles ? u1 - q * tiles : tiles;
            } else {
                t0 = u0 > q ? (u0 - q + panels - 1) / panels : 0;
                t1 = u1 > q ? (u1 - q + panels - 1) / panels : 0;
            }
            for (long t = t0; t < t1; t++) tile_panel(&j, (int)t, (int)q, c0, kc, edge);
        }
    }
}
