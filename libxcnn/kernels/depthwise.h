/*
 * The forward of one depthwise plane (a grouped conv with one input and
 * one output channel per group: MobileNet's 3x3 and 5x5 convs), and of
 * one MaxPool plane, which is the same walk with max for the sum: arrays
 * in, arrays out.
 *
 * The plain loop (ops/conv_fast.c keeps it for the backward and for
 * dilated windows) walks the whole output plane once per tap: nine passes
 * that each load and store every output, and short rows (7 or 14 wide)
 * that fill a 16-float vector badly. It ran at 1.5-11 GFLOP/s.
 *
 * Here the input is first copied into a zero-padded plane, split by
 * stride into stride_h x stride_w "phase" planes that all share one row
 * pitch P: phase (a, b) holds padded rows a, a + s, a + 2s, ... and
 * columns b, b + s, .... Tap (ki, kj) of output (oh, ow) then reads phase
 * (ki % s, kj % s) at row oh + ki / s and column ow + kj / s, that is at
 * flat index q + (ki / s) * P + kj / s with q = oh * P + ow. So every tap
 * is one contiguous loop over q, whatever the plane's width, and the rows
 * run together; the P - out_w columns q computes past each row's end are
 * dropped when the result is copied out. Outputs are summed a block of
 * q at a time, the block staying in L1 across the taps.
 *
 * Each output is bias + its taps in (ki, kj) order, as in the plain loop;
 * the padding's taps add k * 0 where the plain loop skips them. The
 * plain C here is the reference; on x86 with AVX-512 the same steps in
 * intrinsics (depthwise_avx512.c) run instead: masked loads and stores
 * for the copies in and out, whose rows (7 to 114 floats) left the C's
 * loops mostly remainder, and four vector accumulators for the sums.
 *
 * MaxPool pads with -inf instead of 0 and keeps, tap by tap in the same
 * order, the later tap only if it is larger or NaN: the bits of its scan
 * rule (ops/pool.c). ResNet-18's 3x3 stride-2 pool: 0.22 ms against
 * 1.0 for that scan's own loop (one thread), whose strided loads and
 * tracked offsets did not vectorise well. That pool now reads the plane
 * in place on AVX-512 (maxpool_3x3s2.c, below): in a pass the phase
 * planes' copy had taken 0.47 ms, twice its time alone.
 */
#ifndef XCNN_DEPTHWISE_H
#define XCNN_DEPTHWISE_H

#include <stddef.h>
#include <stdint.h>
#include "im2col.h"

/* Outputs summed together, and the multiple every block is rounded up to
 * (the extra outputs are dropped). */
#define XCNN_DW_LANES 64

/* 1 when this window runs here: no dilation, and planes the flat index
 * (an int) can count. */
int xcnn_depthwise_fits(const xcnn_window2d *w);

/* Floats of scratch one plane's forward needs (its phase planes). */
size_t xcnn_depthwise_scratch(const xcnn_window2d *w);

/* 1 when this CPU runs the AVX-512 plane (ask once per layer, not per
 * plane: the question reads a control register). */
int xcnn_depthwise_simd(void);

/* y (out_h x out_w) = bias + the k_h x k_w taps k over the in_h x in_w
 * plane x, zero-padded as w says. scratch: xcnn_depthwise_scratch(w)
 * floats, this call's alone. simd: xcnn_depthwise_simd() (0 runs the
 * plain C, which tests compare the other with). */
void xcnn_depthwise_plane(const xcnn_window2d *w, const float *x, const float *k, float bias,
                          float *y, float *scratch, int simd);

/* Only output rows [oh_lo, oh_hi) of y (clipped to the plane), with the
 * same bits as in the whole plane: for threads that each take a band of
 * rows of every plane. */
void xcnn_depthwise_rows(const xcnn_window2d *w, const float *x, const float *k, float bias,
                         int oh_lo, int oh_hi, float *y, float *scratch, int simd);

/* MaxPool's forward on the same phase planes, padded with -inf: y = the
 * max of each window by MaxPool's rule (a later tap wins only if it is
 * larger, or NaN), so the bits of a scan of the window in row order that
 * skips the padding. Rows [oh_lo, oh_hi) of y; scratch and simd as
 * above. */
void xcnn_maxpool_rows(const xcnn_window2d *w, const float *x, int oh_lo, int oh_hi, float *y,
                       float *scratch, int simd);

/* maxpool_3x3s2.c: MaxPool 3x3, stride 2, left pad 1 (ResNet's stem
 * pool) read straight from the plane, no phase planes: 1 when w is that
 * window. */
int xcnn_maxpool_3x3s2_fits(const xcnn_window2d *w);

/* 16 channels at a time (depthwise_channels.c): the vector runs along the
 * channels, through a zero-padded plane of 16-float pixels (in bands of
 * output rows on large planes), instead of along each plane's pixels. The
 * same bits as xcnn_depthwise_plane. */
#define XCNN_DW_CHANNELS 16

/* 1 when this window takes the channel form: no dilation, an output
 * plane of at most 112 x 112, and one output row's padded rows in a band. */
int xcnn_depthwise_channels_fit(const xcnn_window2d *w);

/* Floats of scratch one call needs. */
size_t xcnn_depthwise_channels_scratch(const xcnn_window2d *w);

/* Channels [0, nc) (nc <= 16): plane l of x at x + l * in_plane, its
 * taps at k + l * k_h * k_w, its bias bias[l] (0 with bias NULL), its
 * output at y + l * out_plane. scratch: xcnn_depthwise_channels_scratch
 * floats. simd: xcnn_depthwise_simd() (0: the plain C copies, which tests
 * compare the AVX-512 ones with). */
void xcnn_depthwise_channels(const xcnn_window2d *w, const float *x, size_t in_plane,
                             const float *k, const float *bias, int nc, float *y,
                             size_t out_plane, float *scratch, int simd);
/* The same from pixel-major input (NHWC, as a transposed 1x1 conv leaves
 * it: ops/conv_fast.c): channel l of input pixel p at
 * x[p * pixel_stride + l]. The same bits; the copy in is one short run
 * per pixel instead of a transpose. */
void xcnn_depthwise_channels_pixel_major(const xcnn_window2d *w, const float *x,
                                         size_t pixel_stride, const float *k,
                                         const float *bias, int nc, float *y,
                                         size_t out_plane, float *scratch, int simd);

/* 3x3, stride 1 or 2, read straight from the plane (depthwise_direct.c):
 * no scratch and no copies, for rows at least 48 wide. 1 when w takes it
 * (its shape only: the kernel needs AVX-512, xcnn_depthwise_simd). */
int xcnn_depthwise_direct_fits(const xcnn_window2d *w);

/* The phase planes' shared geometry (for the two implementations). */
typedef struct xcnn_dw_geom {
    int sh, sw;      /* strides: sh x sw phase planes                      */
    int rows, pitch; /* each phase plane: rows x pitch floats, then
                        XCNN_DW_LANES zeros                                */
    size_t phase_floats; /* one phase plane with its zeros                */
    int block_rows;  /* output rows summed per block                       */
} xcnn_dw_geom;

/* The phase planes' geometry for window w (no dilation). */
xcnn_dw_geom xcnn_dw_geometry(const xcnn_window2d *w);

/* Phase rows [i_lo, i_hi) of the phase planes (a, 0) to (a, sw - 1) of
 * the plane x (phase (a, b) at phases + (a * sw + b) * g->phase_floats),
 * padding with pad, and the XCNN_DW_LANES floats after each plane. The
 * AVX-512 fill stores whole vectors past a row's end into the next row:
 * one thread fills all of a plane's rows (the stem conv,
 * kernels/conv_stem.h, shares its planes out by channel and a).
 * simd: xcnn_depthwise_simd(). */
void xcnn_dw_fill_phases(const xcnn_window2d *w, const xcnn_dw_geom *g, const float *x, int a,
                         int i_lo, int i_hi, float pad, float *phases, int simd);

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(XCNN_NO_SIMD)
#define XCNN_DW_X86 1
/* The 16-lane mask of lanes [0, count) (count may be <= 0 or >= 16): for
 * the AVX-512 kernels' masked loads and stores at the ends of rows. */
static inline unsigned short xcnn_dw_first_lanes(int count)
{
    return count <= 0 ? 0 : count >= 16 ? 0xFFFF : (unsigned short)((1u << count) - 1);
}
/* The address of column c of row xr for a masked load: computed as an
 * integer, as c may lie before the row (its lanes are masked off). */
static inline const float *xcnn_dw_at(const float *xr, int c)
{
    return (const float *)((uintptr_t)xr + (uintptr_t)((intptr_t)c * (intptr_t)sizeof(float)));
}
/* depthwise_avx512.c: xcnn_depthwise_rows (or, with k NULL,
 * xcnn_maxpool_rows) with AVX-512, for windows of at most
 * XCNN_DW_MAX_TAPS taps (7 x 7; larger ones take the plain C). */
#define XCNN_DW_MAX_TAPS 49
void xcnn_dw_fill_phases_avx512(const xcnn_window2d *w, const xcnn_dw_geom *g, const float *x,
                                int a, int i_lo, int i_hi, float pad, float *phases);
void xcnn_depthwise_rows_avx512(const xcnn_window2d *w, const xcnn_dw_geom *g, const float *x,
                                const float *k, float bias, int oh_lo, int oh_hi, float *y,
                                float *scratch);
/* Rows [oh_lo, oh_hi) (clipped to the plane) of xcnn_depthwise_rows's y
 * for a window that xcnn_depthwise_direct_fits, from x itself: the bits
 * of the AVX-512 phase planes. */
void xcnn_depthwise_direct_rows(const xcnn_window2d *w, const float *x, const float *k,
                                float bias, int oh_lo, int oh_hi, float *y);
/* Rows [oh_lo, oh_hi) (clipped to the plane) of xcnn_maxpool_rows's y for a window that
 * xcnn_maxpool_3x3s2_fits, with AVX-512 and no scratch: the same bits. */
void xcnn_maxpool_3x3s2_rows(const xcnn_window2d *w, const float *x, int oh_lo, int oh_hi,
                             float *y);
/* The same over a ReLU's output (every x >= +0, no NaN), with the plain
 * maximum: the same bits there. */
void xcnn_maxpool_3x3s2_rows_relu(const xcnn_window2d *w, const float *x, int oh_lo,
                                  int oh_hi, float *y);
#endif

#endif
