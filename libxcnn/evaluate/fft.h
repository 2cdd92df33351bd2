/*
 * The inverse real 2-D DFT of feature visualisation (visualize.c), and its
 * adjoint for the gradient. Private to evaluate/.
 */
#ifndef XCNN_EVALUATE_FFT_H
#define XCNN_EVALUATE_FFT_H

#include <stddef.h>

/* Columns of the half spectrum of a w-wide signal: w/2 + 1. */
static inline int xcnn_rfft_cols(int w) { return w / 2 + 1; }

/* The doubles xcnn_irfft2 and its adjoint need as `work`. */
size_t xcnn_irfft2_work(int h, int w);

/*
 * x (h x w) = irfft2(X) as numpy.fft.irfft2(X, s=(h, w), norm="ortho") and
 * torch.fft.irfftn(X, s=(h, w), norm="ortho"): X is h x k complex values
 * (k = w/2 + 1), each stored re, im. The imaginary parts that a C2R
 * transform ignores (column 0, and column w/2 for an even w, after the
 * inverse DFT along the columns) are ignored here too.
 */
void xcnn_irfft2(int h, int w, const double *X, double *x, double *work);

/* gX (h x k complex, re, im) = the adjoint of xcnn_irfft2 applied to gx
 * (h x w): the gradient with respect to X of sum(gx * irfft2(X)). */
void xcnn_irfft2_adjoint(int h, int w, const double *gx, double *gX, double *work);

#endif
