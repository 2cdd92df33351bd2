/*
 * Depthwise convolution 16 channels at a time (see depthwise.h).
 *
 * The phase planes (depthwise.c) vectorise along a plane's pixels, so
 * each plane pays for its own copy in, its taps' setup and its copy out:
 * on a 7 x 7 plane that is ~400 cycles for 441 multiply-adds, and
 * MobileNetV2's 960-channel 7 x 7 layers ran at 8 GFLOP/s. Here the
 * vector runs along the channels instead (as NHWC layouts and ONNX
 * Runtime's NCHWc blocks do): 16 planes are copied into one zero-padded
 * plane of 16-float pixels, every output pixel is then 16 channels' sums
 * in one vector, tap after tap, and the result is copied back out to the
 * 16 NCHW planes. The copies are the cost (16 x 16 transposes in
 * registers on AVX-512); the sums themselves have no edges and no setup.
 * Large planes go in bands of output rows, each band's padded rows
 * within 64 x 64 pixels (MobileNetV2's 112 x 112 stride-2 layer: 17 rows a
 * band; one thread 0.30 -> 0.27 ms against the phase planes, and the
 * 112 x 112 stride-1 one 0.204 -> 0.195).
 *
 * Each output is bias + its taps in (ki, kj) order, the padding's taps
 * adding k * 0, each tap a multiply then an add: the sums of the phase
 * planes, so the bits are theirs (tests/test_depthwise.c compares them).
 * Plain C, cloned for x86's vector widths (base/cpu.h).
 */
#include <string.h>
#include "depthwise.h"
#include "../base/cpu.h"

enum {
    L = XCNN_DW_CHANNELS,
    BAND_PIXELS = 64 * 64, /* padded pixels of one band                       */
    MAX_PLANE = 112 * 112  /* output pixels of the largest plane taken         */
};

/* The padded plane the taps read: rows x cols pixels of L floats, pixel
 * (r, c) being input (r - pad_top, c - pad_left) or 0 outside it. */
static int padded_rows(const xcnn_window2d *w) { return (w->out_h - 1) * w->stride_h + w->k_h; }
static int padded_cols(const xcnn_window2d *w) { return (w->out_w - 1) * w->stride_w + w->k_w; }

/* Output rows per band: as many as keep the band's padded rows within
 * 64 x 64 pixels of 16 floats (256 KB, with its outputs, in L2), at least one. */
static int band_rows(const xcnn_window2d *w)
{
    int fit = BAND_PIXELS / padded_cols(w) - w->k_h;
    int rows = fit > 0 ? fit / w->stride_h + 1 : 1;
    return rows < w->out_h ? rows : w->out_h;
}

int xcnn_depthwise_channels_fit(const xcnn_window2d *w)
{
    if (w->dil_h != 1 || w->dil_w != 1 || w->stride_h < 1 || w->stride_w < 1 ||
        w->out_h < 1 || w->out_w < 1 || w->k_h < 1 || w->k_w < 1)
        return 0;
    /* one output row's padded rows in the band's room */
    return (long long)padded_cols(w) * w->k_h <= BAND_PIXELS &&
           (long long)w->out_h * w->out_w <= MAX_PLANE;
}

size_t xcnn_depthwise_channels_scratch(const xcnn_window2d *w)
{
    int rows = band_rows(w);
    size_t in = (size_t)((rows - 1) * w->stride_h + w->k_h) * (size_t)padded_cols(w);
    size_t out = (size_t)rows * (size_t)w->out_w;
    size_t taps = (size_t)w->k_h * (size_t)w->k_w;
    return (in + out + taps + 1) * L;
}

/* Channels [0, nc) of x (planes in_plane apart) into the padded plane t;
 * lanes nc..L-1 are 0. */
XCNN_VECTOR_CLONES
static void copy_in(const xcnn_window2d *w, const float *x, size_t in_plane, int nc, float *t)
{
    int rows = padded_rows(w), cols = padded_cols(w);
    for (int r = 0; r < rows; r++) {
        int ir = r - w->pad_top;
        float *tr = t + (size_t)r * cols * L;
        if (ir < 0 || ir >= w->in_h) {
            memset(tr, 0, (size_t)cols * L * sizeof(float));
            continue;
        }
        const float *xr = x + (size_t)ir * w->in_w;
        for (int c = 0; c < cols; c++) {
            int ic = c - w->pad_left, inside = ic >= 0 && ic < w->in_w;
            float *px = tr + (size_t)c * L;
            for (int l = 0; l < L; l++) px[l] = inside && l < nc ? xr[(size_t)l * in_plane + ic] : 0.0f;
        }
    }
}

/* copy_in from pixel-major input (pixel p's channel l at
 * x[p * pixel_stride + l]): every pixel's nc channels are already side by
 * side, so each is one short copy instead of a transpose. */
XCNN_VECTOR_CLONES
static void copy_in_pixels(const xcnn_window2d *w, const float *x, size_t pixel_stride, int nc,
                           float *t)
{
    int rows = padded_rows(w), cols = padded_cols(w);
    for (int r = 0; r < rows; r++) {
        int ir = r - w->pad_top;
        float *tr = t + (size_t)r * cols * L;
        for (int c = 0; c < cols; c++) {
            int ic = c - w->pad_left;
            float *px = tr + (size_t)c * L;
            if (ir < 0 || ir >= w->in_h || ic < 0 || ic >= w->in_w) {
                memset(px, 0, L * sizeof(float));
                continue;
            }
            /* whole 16-float copies the compiler turns into one vector */
            const float *src = x + ((size_t)ir * w->in_w + ic) * pixel_stride;
            if (nc == L) {
                for (int l = 0; l < L; l++) px[l] = src[l];
            } else {
                for (int l = 0; l < nc; l++) px[l] = src[l];
                for (int l = nc; l < L; l++) px[l] = 0.0f;
            }
        }
    }
}

/* o (out_h x out_w pixels of L floats) = bias + the taps kt over t. Four
 * pixels at a time: four independent chains of adds. */
XCNN_VECTOR_CLONES
static void sum_pixels(const xcnn_window2d *w, const float *t, const float *kt,
                       const float *bias, float *o)
{
    int cols = padded_cols(w), sh = w->stride_h, sw = w->stride_w;
    for (int oh = 0; oh < w->out_h; oh++) {
        int ow = 0;
        for (; ow + 4 <= w->out_w; ow += 4) {
            float acc[4][L];
            for (int p = 0; p < 4; p++)
                for (int l = 0; l < L; l++) acc[p][l] = bias[l];
            for (int ki = 0; ki < w->k_h; ki++)
                for (int kj = 0; kj < w->k_w; kj++) {
                    const float *kv = kt + (size_t)(ki * w->k_w + kj) * L;
                    const float *src = t + ((size_t)(oh * sh + ki) * cols + ow * sw + kj) * L;
                    for (int p = 0; p < 4; p++)
                        for (int l = 0; l < L; l++)
                            acc[p][l] += kv[l] * src[(size_t)p * sw * L + l];
                }
            for (int p = 0; p < 4; p++)
                for (int l = 0; l < L; l++) o[((size_t)oh * w->out_w + ow + p) * L + l] = acc[p][l];
        }
        for (; ow < w->out_w; ow++) {
            float acc[L];
            for (int l = 0; l < L; l++) acc[l] = bias[l];
            for (int ki = 0; ki < w->k_h; ki++)
                for (int kj = 0; kj < w->k_w; kj++) {
                    const float *kv = kt + (size_t)(ki * w->k_w + kj) * L;
                    const float *src = t + ((size_t)(oh * sh + ki) * cols + ow * sw + kj) * L;
                    for (int l = 0; l < L; l++) acc[l] += kv[l] * src[l];
                }
            for (int l = 0; l < L; l++) o[((size_t)oh * w->out_w + ow) * L + l] = acc[l];
        }
    }
}

/* Lanes [0, nc) of o back out to the planes of y, out_plane apart. */
XCNN_VECTOR_CLONES
static void copy_out(const float *o, int npix, int nc, float *y, size_t out_plane)
{
    for (int l = 0; l < nc; l++) {
        float *yl = y + (size_t)l * out_plane;
        for (int p = 0; p < npix; p++) yl[p] = o[(size_t)p * L + l];
    }
}

#ifdef XCNN_DW_X86
#include <immintrin.h>
#define TARGET __attribute__((target("avx512f")))

/* r[j][i] = r[i][j]: a 16 x 16 transpose in registers (pairs of rows
 * interleaved, then pairs of pairs, then the 128-bit lanes exchanged twice). */
TARGET static inline void transpose16(__m512 r[16])
{
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    /* u[4g + m], 128-bit lane k: rows 4g..4g+3 of column 4k + m */
    for (int g = 0; g < 16; g += 4) {
        u[g] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
        u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xEE);
        u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
    }
    for (int m = 0; m < 4; m++) {
        __m512 v = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88);
        __m512 w = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xDD);
        __m512 v2 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88);
        __m512 w2 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xDD);
        r[m] = _mm512_shuffle_f32x4(v, v2, 0x88);
        r[8 + m] = _mm512_shuffle_f32x4(v, v2, 0xDD);
        r[4 + m] = _mm512_shuffle_f32x4(w, w2, 0x88);
        r[12 + m] = _mm512_shuffle_f32x4(w, w2, 0xDD);
    }
}

/* Padded columns [c_lo, c_hi) hold input columns c - pad_left. */
static void input_cols(const xcnn_window2d *w, int *c_lo, int *c_hi)
{
    int cols = padded_cols(w);
    *c_lo = w->pad_left < cols ? w->pad_left : cols;
    *c_hi = w->pad_left + w->in_w < cols ? w->pad_left + w->in_w : cols;
}

/* Row r of the padded plane, tr: its padding stored as zero vectors (all
 * of it when r is outside the input). Returns its input row, or -1. */
TARGET static int pad_row_avx512(const xcnn_window2d *w, int r, int c_lo, int c_hi, float *tr)
{
    int cols = padded_cols(w), ir = r - w->pad_top;
    __m512 zero = _mm512_setzero_ps();
    if (ir < 0 || ir >= w->in_h) {
        for (int c = 0; c < cols; c++) _mm512_storeu_ps(tr + (size_t)c * L, zero);
        return -1;
    }
    for (int c = 0; c < c_lo; c++) _mm512_storeu_ps(tr + (size_t)c * L, zero);
    for (int c = c_hi; c < cols; c++) _mm512_storeu_ps(tr + (size_t)c * L, zero);
    return ir;
}

/* copy_in_pixels with AVX-512: one masked load per pixel. */
TARGET static void copy_in_pixels_avx512(const xcnn_window2d *w, const float *x,
                                         size_t pixel_stride, int nc, float *t)
{
    int rows = padded_rows(w), cols = padded_cols(w), c_lo, c_hi;
    __mmask16 m = (__mmask16)(nc >= 16 ? 0xffff : (1u << nc) - 1);
    input_cols(w, &c_lo, &c_hi);
    for (int r = 0; r < rows; r++) {
        float *tr = t + (size_t)r * cols * L;
        int ir = pad_row_avx512(w, r, c_lo, c_hi, tr);
        if (ir < 0) continue;
        const float *xr = x + ((size_t)ir * w->in_w + (size_t)(c_lo - w->pad_left)) * pixel_stride;
        for (int c = c_lo; c < c_hi; c++, xr += pixel_stride)
            _mm512_storeu_ps(tr + (size_t)c * L, _mm512_maskz_loadu_ps(m, xr));
    }
}

/* copy_in with AVX-512: 16 columns of the 16 channels' input row loaded as
 * 16 vectors and transposed into 16 pixels (the plain loops move one
 * float at a time; gathers were no faster). */
TARGET static void copy_in_avx512(const xcnn_window2d *w, const float *x, size_t in_plane,
                                  int nc, float *t)
{
    int rows = padded_rows(w), cols = padded_cols(w), c_lo, c_hi;
    __m512 zero = _mm512_setzero_ps();
    input_cols(w, &c_lo, &c_hi);
    for (int r = 0; r < rows; r++) {
        float *tr = t + (size_t)r * cols * L;
        int ir = pad_row_avx512(w, r, c_lo, c_hi, tr);
        if (ir < 0) continue;
        const float *xr = x + (size_t)ir * w->in_w + (c_lo - w->pad_left);
        for (int c0 = c_lo; c0 < c_hi; c0 += 16) {
            int n = c_hi - c0 < 16 ? c_hi - c0 : 16;
            __mmask16 m = (__mmask16)(n == 16 ? 0xffff : (1u << n) - 1);
            __m512 v[16];
            for (int l = 0; l < 16; l++)
                v[l] = l < nc ? _mm512_maskz_loadu_ps(m, xr + (size_t)l * in_plane + (c0 - c_lo))
                              : zero;
            transpose16(v);
            for (int j = 0; j < n; j++) _mm512_storeu_ps(tr + (size_t)(c0 + j) * L, v[j]);
        }
    }
}

/* sum_pixels with AVX-512: eight pixels at a time, their sums in eight
 * registers (the plain loop's acc[4][16] went through memory), each tap a
 * multiply then an add, as there. */
TARGET static void sum_pixels_avx512(const xcnn_window2d *w, const float *t, const float *kt,
                                     const float *bias, float *o)
{
    int cols = padded_cols(w), sh = w->stride_h, sw = w->stride_w;
    size_t step = (size_t)sw * L; /* from one output pixel's taps to the next's */
    __m512 b = _mm512_loadu_ps(bias);
    for (int oh = 0; oh < w->out_h; oh++) {
        float *orow = o + (size_t)oh * w->out_w * L;
        int ow = 0;
        for (; ow + 8 <= w->out_w; ow += 8) {
            __m512 a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b;
            for (int ki = 0; ki < w->k_h; ki++) {
                const float *src = t + ((size_t)(oh * sh + ki) * cols + (size_t)ow * sw) * L;
                const float *kv = kt + (size_t)ki * w->k_w * L;
                for (int kj = 0; kj < w->k_w; kj++, src += L, kv += L) {
                    __m512 k = _mm512_loadu_ps(kv);
                    a0 = _mm512_add_ps(a0, _mm512_mul_ps(k, _mm512_loadu_ps(src)));
                    a1 = _mm512_add_ps(a1, _mm512_mul_ps(k, _mm512_loadu_ps(src + step)));
                    a2 = _mm512_add_ps(a2, _mm512_mul_ps(k, _mm512_loadu_ps(src + 2 * step)));
                    a3 = _mm512_add_ps(a3, _mm512_mul_ps(k, _mm512_loadu_ps(src + 3 * step)));
                    a4 = _mm512_add_ps(a4, _mm512_mul_ps(k, _mm512_loadu_ps(src + 4 * step)));
                    a5 = _mm512_add_ps(a5, _mm512_mul_ps(k, _mm512_loadu_ps(src + 5 * step)));
                    a6 = _mm512_add_ps(a6, _mm512_mul_ps(k, _mm512_loadu_ps(src + 6 * step)));
                    a7 = _mm512_add_ps(a7, _mm512_mul_ps(k, _mm512_loadu_ps(src + 7 * step)));
                }
            }
            float *op = orow + (size_t)ow * L;
            _mm512_storeu_ps(op, a0);
            _mm512_storeu_ps(op + L, a1);
            _mm512_storeu_ps(op + 2 * L, a2);
            _mm512_storeu_ps(op + 3 * L, a3);
            _mm512_storeu_ps(op + 4 * L, a4);
            _mm512_storeu_ps(op + 5 * L, a5);
            _mm512_storeu_ps(op + 6 * L, a6);
            _mm512_storeu_ps(op + 7 * L, a7);
        }
        for (; ow < w->out_w; ow++) {
            __m512 a = b;
            for (int ki = 0; ki < w->k_h; ki++) {
                const float *src = t + ((size_t)(oh * sh + ki) * cols + (size_t)ow * sw) * L;
                const float *kv = kt + (size_t)ki * w->k_w * L;
                for (int kj = 0; kj < w->k_w; kj++, src += L, kv += L)
                    a = _mm512_add_ps(a, _mm512_mul_ps(_mm512_loadu_ps(kv), _mm512_loadu_ps(src)));
            }
            _mm512_storeu_ps(orow + (size_t)ow * L, a);
        }
    }
}

/* copy_out with AVX-512: 16 pixels transposed into 16 channels' runs. */
TARGET static void copy_out_avx512(const float *o, int npix, int nc, float *y, size_t out_plane)
{
    __m512 zero = _mm512_setzero_ps();
    for (int p0 = 0; p0 < npix; p0 += 16) {
        int n = npix - p0 < 16 ? npix - p0 : 16;
        __mmask16 m = (__mmask16)(n == 16 ? 0xffff : (1u << n) - 1);
        __m512 v[16];
        for (int j = 0; j < 16; j++) v[j] = j < n ? _mm512_loadu_ps(o + (size_t)(p0 + j) * L) : zero;
        transpose16(v);
        for (int l = 0; l < nc; l++) _mm512_mask_storeu_ps(y + (size_t)l * out_plane + p0, m, v[l]);
    }
}
#endif

/* Both input layouts: planes in_plane apart (pixel_stride 0), or
 * pixel-major with pixel_stride floats per pixel. */
static void channels_run(const xcnn_window2d *w, const float *x, size_t in_plane,
                         size_t pixel_stride, const float *k, const float *bias, int nc,
                         float *y, size_t out_plane, float *scratch, int simd)
{
    if (nc < 1) return;
    if (nc > L) nc = L;
    size_t taps = (size_t)w->k_h * (size_t)w->k_w;
    int rows = band_rows(w);
    float *t = scratch;
    float *o = t + (size_t)((rows - 1) * w->stride_h + w->k_h) * (size_t)padded_cols(w) * L;
    float *kt = o + (size_t)rows * (size_t)w->out_w * L, *b = kt + taps * L;
    /* the taps and the bias as 16-lane vectors (lanes past nc: 0) */
    for (size_t i = 0; i < taps; i++)
        for (int l = 0; l < L; l++) kt[i * L + l] = l < nc ? k[(size_t)l * taps + i] : 0.0f;
    for (int l = 0; l < L; l++) b[l] = l < nc && bias ? bias[l] : 0.0f;
#ifndef XCNN_DW_X86
    (void)simd;
#endif
    /* Band by band of output rows: the band's window is the plane's with
     * its rows shifted up (pad_top less the rows before the band, which
     * may go below 0) and only the band's rows out. */
    for (int oh0 = 0; oh0 < w->out_h; oh0 += rows) {
        xcnn_window2d band = *w;
        band.out_h = w->out_h - oh0 < rows ? w->out_h - oh0 : rows;
        band.pad_top = w->pad_top - oh0 * w->stride_h;
        float *yb = y + (size_t)oh0 * w->out_w;
        int npix = band.out_h * w->out_w;
#ifdef XCNN_DW_X86
        if (simd) {
            if (pixel_stride) copy_in_pixels_avx512(&band, x, pixel_stride, nc, t);
            else copy_in_avx512(&band, x, in_plane, nc, t);
            sum_pixels_avx512(&band, t, kt, b, o);
            copy_out_avx512(o, npix, nc, yb, out_plane);
            continue;
        }
#endif
        if (pixel_stride) copy_in_pixels(&band, x, pixel_stride, nc, t);
        else copy_in(&band, x, in_plane, nc, t);
        sum_pixels(&band, t, kt, b, o);
        copy_out(o, npix, nc, yb, out_plane);
    }
}

void xcnn_depthwise_channels(const xcnn_window2d *w, const float *x, size_t in_plane,
                             const float *k, const float *bias, int nc, float *y,
                             size_t out_plane, float *scratch, int simd)
{
    channels_run(w, x, in_plane, 0, k, bias, nc, y, out_plane, scratch, simd);
}

void xcnn_depthwise_channels_pixel_major(const xcnn_window2d *w, const float *x,
                                         size_t pixel_stride, const float *k,
                                         const float *bias, int nc, float *y,
                                         size_t out_plane, float *scratch, int simd)
{
    channels_run(w, x, 0, pixel_stride ? pixel_stride : 1, k, bias, nc, y, out_plane, scratch,
                 simd);
}
