/*
 * irfft2 and its adjoint as plain separable DFTs (O(h w (h + w)) a
 * channel): readable, exact in double, fast enough for 28 x 28 and usable
 * for 224 x 224 (a few milliseconds a channel).
 *
 * With k = w/2 + 1 columns of the half spectrum X and c = 1/sqrt(h w)
 * ("ortho"), in two steps:
 *
 *   columns (complex, length h):  Z[y][q] = sum_p X[p][q] e^{+2 pi i p y / h}
 *   rows (complex to real, w):    x[y][n] = c sum_q a_q Re(Z[y][q] e^{+2 pi i q n / w})
 *
 * with a_0 = 1, a_{w/2} = 1 for an even w (the Nyquist column), else 2: the
 * Hermitian half of each row counted twice. Re() drops the imaginary parts
 * of Z's columns 0 and w/2, exactly what numpy's and torch's C2R do.
 *
 * The adjoint (the gradient of sum(gx * x) with respect to X) walks the same
 * two steps backwards:
 *
 *   gZr[y][q] =  c a_q sum_n gx[y][n] cos(2 pi q n / w)
 *   gZi[y][q] = -c a_q sum_n gx[y][n] sin(2 pi q n / w)
 *   gXr[p][q] = sum_y  gZr[y][q] cos(2 pi p y / h) + gZi[y][q] sin(2 pi p y / h)
 *   gXi[p][q] = sum_y -gZr[y][q] sin(2 pi p y / h) + gZi[y][q] cos(2 pi p y / h)
 *
 * Every output element is one sum in a fixed order on one thread, so the
 * result does not depend on the thread count. The angles come from tables
 * of cos and sin of 2 pi j / n, indexed by (p y) mod n (kept as a running
 * sum mod n in the inner loops).
 */
#include <math.h>
#include "fft.h"

#define TWO_PI 6.283185307179586476925286766559

/* Below this many multiply-adds a step runs on one thread. */
#define FFT_PARALLEL_MIN 65536L

size_t xcnn_irfft2_work(int h, int w)
{
    size_t k = (size_t)xcnn_rfft_cols(w);
    return 2 * (size_t)h + 2 * (size_t)w + 2 * (size_t)h * k;
}

static void tables(int n, double *c, double *s)
{
    for (int j = 0; j < n; j++) {
        c[j] = cos(TWO_PI * j / n);
        s[j] = sin(TWO_PI * j / n);
    }
}

/* a_q of the header. */
static double col_weight(int q, int w) { return q == 0 || 2 * q == w ? 1.0 : 2.0; }

void xcnn_irfft2(int h, int w, const double *X, double *x, double *work)
{
    int k = xcnn_rfft_cols(w);
    double *ch = work, *sh = ch + h, *cw = sh + h, *sw = cw + w, *Z = sw + w;
    tables(h, ch, sh);
    tables(w, cw, sw);
    double c = 1.0 / sqrt((double)h * w);
#pragma omp parallel for schedule(static) if ((long)h * h * k > FFT_PARALLEL_MIN)
    for (int y = 0; y < h; y++) {
        double *zy = Z + (size_t)y * 2 * k;
        for (int q = 0; q < 2 * k; q++) zy[q] = 0;
        for (int p = 0; p < h; p++) {
            int j = (int)(((long)p * y) % h);
            double co = ch[j], si = sh[j];
            const double *xp = X + (size_t)p * 2 * k;
            for (int q = 0; q < k; q++) {
                double re = xp[2 * q], im = xp[2 * q + 1];
                zy[2 * q] += re * co - im * si;
                zy[2 * q + 1] += re * si + im * co;
            }
        }
    }
#pragma omp parallel for schedule(static) if ((long)h * w * k > FFT_PARALLEL_MIN)
    for (int y = 0; y < h; y++) {
        const double *zy = Z + (size_t)y * 2 * k;
        for (int n = 0; n < w; n++) {
            double acc = 0;
            for (int q = 0, j = 0; q < k; q++, j = j + n >= w ? j + n - w : j + n)
                acc += col_weight(q, w) * (zy[2 * q] * cw[j] - zy[2 * q + 1] * sw[j]);
            x[(size_t)y * w + n] = c * acc;
        }
    }
}

void xcnn_irfft2_adjoint(int h, int w, const double *gx, double *gX, double *work)
{
    int k = xcnn_rfft_cols(w);
    double *ch = work, *sh = ch + h, *cw = sh + h, *sw = cw + w, *gZ = sw + w;
    tables(h, ch, sh);
    tables(w, cw, sw);
    double c = 1.0 / sqrt((double)h * w);
#pragma omp parallel for schedule(static) if ((long)h * w * k > FFT_PARALLEL_MIN)
    for (int y = 0; y < h; y++) {
        const double *gy = gx + (size_t)y * w;
        double *zy = gZ + (size_t)y * 2 * k;
        for (int q = 0; q < k; q++) {
            double re = 0, im = 0;
            for (int n = 0, j = 0; n < w; n++, j = j + q >= w ? j + q - w : j + q) {
                re += gy[n] * cw[j];
                im -= gy[n] * sw[j];
            }
            zy[2 * q] = c * col_weight(q, w) * re;
            zy[2 * q + 1] = c * col_weight(q, w) * im;
        }
    }
#pragma omp parallel for schedule(static) if ((long)h * h * k > FFT_PARALLEL_MIN)
    for (int p = 0; p < h; p++) {
        double *gp = gX + (size_t)p * 2 * k;
        for (int q = 0; q < 2 * k; q++) gp[q] = 0;
        for (int y = 0; y < h; y++) {
            int j = (int)(((long)p * y) % h);
            double co = ch[j], si = sh[j];
            const double *zy = gZ + (size_t)y * 2 * k;
            for (int q = 0; q < k; q++) {
                double re = zy[2 * q], im = zy[2 * q + 1];
                gp[2 * q] += re * co + im * si;
                gp[2 * q + 1] += -re * si + im * co;
            }
        }
    }
}
