/*
 * The first convolution of an image model: few input channels (RGB, or
 * one grey plane) over a large plane, such as ResNet's 7x7 stride-2 conv
 * from 3 to 64 channels. Its K (3 x 7 x 7 = 147) is too short for the
 * GEMM's col to pay for itself: im2col gathered 1.8 M floats at stride 2
 * (0.3-0.4 ms) for a GEMM at 65% of the core's peak, 1.80 ms in all,
 * where ONNX Runtime takes 1.17.
 *
 * Here each input channel is copied once into the depthwise conv's phase
 * planes (depthwise.h): zero-padded and split by stride, so that under
 * every tap the outputs' inputs are one contiguous run of the flat index
 * q = oh * pitch + ow. Outputs are then summed XCNN_STEM_BLOCK channels
 * by 48 consecutive q at a time, 24 vector accumulators that stay in
 * registers over all (channel, tap) terms: per term three loads of input
 * and eight broadcast weights feed 24 multiply-adds. The pitch - out_w
 * columns past each row's end are summed too and dropped (3 of 115 for
 * ResNet's stem).
 *
 * Each output is its terms in (channel, tap row, tap column) order from
 * 0, one rounding per term (a fused multiply-add on AVX-512, a multiply
 * and an add in the plain C, which is the reference the tests compare the
 * other with), then + bias: equal to xcnn_conv_reference_forward to
 * rounding, and the same bits for any thread count or batch. The bias
 * comes last as in the GEMM's transposed path (K in one slice): starting
 * from it instead moved a near-tie in resnet_narrow's ReLU and max pool,
 * and its 7-step integrated gradients by 0.8% against PyTorch's.
 */
#ifndef XCNN_CONV_STEM_H
#define XCNN_CONV_STEM_H

#include <stddef.h>
#include "gemm.h"
#include "im2col.h"
#include "depthwise.h" /* XCNN_DW_X86 */

#define XCNN_STEM_MAX_CHANNELS 4 /* input channels it takes            */
#define XCNN_STEM_BLOCK 8        /* output channels summed together     */
#define XCNN_STEM_MAX_TAPS 49    /* 7 x 7: the term offsets' stack room */

/* 1 when this window over `channels` input channels takes the stem form:
 * at most XCNN_STEM_MAX_CHANNELS, no dilation, at most XCNN_STEM_MAX_TAPS taps, output
 * rows of 16 or more, and planes the phase planes' int index counts. */
int xcnn_conv_stem_fits(const xcnn_window2d *w, int channels);

/* 1 when this CPU runs the AVX-512 sums (ask once per layer). Elsewhere
 * the plain C runs, which is slower than the GEMM: ops/conv_fast.c takes
 * the stem form only where this is 1. */
int xcnn_conv_stem_simd(void);

/* Floats of the packed weights: c_out rounded up to whole blocks, times
 * channels x taps. */
size_t xcnn_conv_stem_packed_floats(int channels, int taps, int c_out);

/* w: c_out x channels x taps (OIHW). packed: per block of
 * XCNN_STEM_BLOCK output channels, (channel, tap) rows of the block's
 * weights, zero past c_out. */
void xcnn_conv_stem_pack(const float *w, int c_out, int channels, int taps, float *packed);

/* Floats of one sample's phase planes, all channels. */
size_t xcnn_conv_stem_phase_floats(const xcnn_window2d *w, int channels);

/* The phase planes come in channels x stride_h pieces (a channel's
 * planes of one phase row a). Piece k of the sample x (channels planes of
 * in_h x in_w) into phases: each piece is one thread's; run all of them
 * before any xcnn_conv_stem. */
int xcnn_conv_stem_fill_pieces(const xcnn_window2d *w, int channels);
void xcnn_conv_stem_fill(const xcnn_window2d *w, int piece, const float *x, float *phases,
                         int simd);

/* Floats of the scratch one part needs. */
size_t xcnn_conv_stem_band_floats(const xcnn_window2d *w);

/* Part `part` of `parts` of one sample's y (c_out planes of out_h x out_w,
 * NCHW) from its phase planes: the sum plus the bias (ep->bias, or 0),
 * then ep's activation. The parts split bands of output rows x blocks of
 * channels evenly and never share one; call each once (threads may run
 * them at once), each with its own band scratch. */
void xcnn_conv_stem(const xcnn_window2d *w, int channels, int c_out, const float *phases,
                    const float *packed, const xcnn_gemm_epilogue *ep, float *y, float *band,
                    int part, int parts, int simd);

/*
 * The stem with the max pool after it (a ReLU between them or not), for
 * inference: the conv's rows go to a part's scratch, POOL_GROUP pooled
 * rows' worth at a time, and only the pool's output is written. The
 * conv's output (ResNet's: 3.2 MB) is never stored and read back; the
 * pool runs on rows still in L1 and L2.
 */

/* 1 when `pool` (a MaxPool's window) reads this conv's output plane and
 * the form takes it: no dilation, and every window starts inside its
 * rows or the padding above them. */
int xcnn_conv_stem_pool_fits(const xcnn_window2d *w, const xcnn_window2d *pool);

/* Floats of the scratch one part needs (after the phase planes). */
size_t xcnn_conv_stem_pool_floats(const xcnn_window2d *w, const xcnn_window2d *pool);

/* As xcnn_conv_stem, then MaxPool's window `pool` over each channel's
 * plane: y is c_out planes of pool->out_h x pool->out_w. The parts split
 * groups of pooled rows x blocks of channels; the bits of the conv, then
 * the MaxPool op, for any parts (the pool: AVX-512 3x3 stride 2 where it
 * fits and simd, else the scan of ops/pool.c's reference). */
void xcnn_conv_stem_pooled(const xcnn_window2d *w, int channels, int c_out,
                           const float *phases, const float *packed,
                           const xcnn_gemm_epilogue *ep, const xcnn_window2d *pool, float *y,
                           float *scratch, int part, int parts, int simd);

#ifdef XCNN_DW_X86
/* conv_stem_avx512.c: sum_plain's outputs with AVX-512, 16 x vectors (1
 * or 3) of them, each term one fused multiply-add. */
void xcnn_conv_stem_sum_avx512(const float *src, const size_t *koff, int terms,
                               const float *wk, int vectors, float *out, size_t ld);
#endif

#endif
