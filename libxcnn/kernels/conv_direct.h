/*
 * A convolution without im2col: the output pixel-major, Y^T (output
 * pixels x output channels), summed straight from the input planes by the
 * GEMM's few-rows micro-kernel reading A at strides (gemm_kernels.h).
 *
 * Output pixels come in tiles of the kernel's MR along one output row,
 * output channels in panels of its NR. Under tap (i, j) of the window the
 * tile's input pixels are x[c][ih][iw0 + r * stride_w], r < MR: rs =
 * stride_w floats apart along one input row, and the next channel one
 * plane (cs = in_h * in_w) on. So tap by tap,
 *
 *     Y^T[tile, panel] += X_tap^T[tile, channels] * W_tap^T[channels, panel]
 *
 * is one micro-kernel call, its B a panel of W^T packed tap by tap
 * (xcnn_conv_direct_pack). No col is written. As im2col and a GEMM,
 * ResNet-50's first 3x3 stride-2 conv wrote a 3.6 MB col (0.34 ms) that
 * the GEMM then read back: 1.6 ms in all, where ONNX Runtime, which has
 * no col either, takes 1.13.
 *
 * Every output is summed chunk of channels by chunk, tap by tap, channel
 * by channel: an order fixed by the shape. Each tile x panel is one
 * thread's, so the bits do not depend on the thread count. Equal to
 * xcnn_conv_reference_forward to rounding (im2col's order is channel,
 * then tap). Bias and activation are the caller's (ops/conv_fast.c adds
 * them as it turns Y^T into Y).
 */
#ifndef XCNN_CONV_DIRECT_H
#define XCNN_CONV_DIRECT_H

#include <stddef.h>
#include "gemm.h"
#include "im2col.h"

/* 1 when `kind` (or the selected kernel, if it cannot run here) has a
 * few-rows kernel that reads A at strides: AVX-512's 7 x 48 and the
 * portable one; AVX2 and NEON have none yet. */
int xcnn_conv_direct_runs(xcnn_gemm_kind kind);

/* Floats of W^T packed for `kind`: (channels x taps) rows of c_out
 * columns, rounded up to whole panels. */
size_t xcnn_conv_direct_packed_floats(xcnn_gemm_kind kind, int channels, int taps, int c_out);

/* w: c_out x channels x taps (ONNX's OIHW). packed: panels of NR output
 * channels, each (channels x taps) rows of NR, zero-padded past c_out: in
 * chunks of channels, a chunk's rows tap by tap (conv_direct.c). */
void xcnn_conv_direct_pack(xcnn_gemm_kind kind, const float *w, int c_out, int channels,
                           int taps, float *packed);

/* Part `part` of `parts` of one sample's Y^T (npix x c_out, rows c_out
 * floats apart): x holds `channels` planes of w's input. The parts split
 * the tiles x panels evenly and never share one; call each once (threads
 * may run them at once). */
void xcnn_conv_direct(xcnn_gemm_kind kind, const xcnn_window2d *w, int channels, int c_out,
                      const float *x, const float *packed, float *yt, int part, int parts);

#endif
