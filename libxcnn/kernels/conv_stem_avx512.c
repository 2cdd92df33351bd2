/*
 * The stem conv's sums (conv_stem.h) with AVX-512: 8 output channels x 48
 * consecutive outputs in 24 accumulators, kept in registers over all of
 * the (channel, tap) terms; per term three loads of input, eight
 * broadcast weights, 24 fused multiply-adds. A 16-output form does the
 * end of a band.
 */
#include "conv_stem.h"

#ifdef XCNN_DW_X86
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,fma")))

#define CHANNELS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define START3(m)                                                                        \
    __m512 a##m##0 = _mm512_setzero_ps(), a##m##1 = a##m##0, a##m##2 = a##m##0;
#define TERM3(m)                                                                         \
    {                                                                                    \
        __m512 wv = _mm512_set1_ps(wk[m]);                                               \
        a##m##0 = _mm512_fmadd_ps(wv, x0, a##m##0);                                      \
        a##m##1 = _mm512_fmadd_ps(wv, x1, a##m##1);                                      \
        a##m##2 = _mm512_fmadd_ps(wv, x2, a##m##2);                                      \
    }
#define STORE3(m)                                                                        \
    _mm512_storeu_ps(out + (m) * ld, a##m##0);                                           \
    _mm512_storeu_ps(out + (m) * ld + 16, a##m##1);                                      \
    _mm512_storeu_ps(out + (m) * ld + 32, a##m##2);
#define START1(m) __m512 a##m##0 = _mm512_setzero_ps();
#define TERM1(m) a##m##0 = _mm512_fmadd_ps(_mm512_set1_ps(wk[m]), x0, a##m##0);
#define STORE1(m) _mm512_storeu_ps(out + (m) * ld, a##m##0);

TARGET static void sum48(const float *src, const size_t *koff, int terms, const float *wk,
                         float *out, size_t ld)
{
    CHANNELS(START3)
    for (int k = 0; k < terms; k++, wk += XCNN_STEM_BLOCK) {
        const float *s = src + koff[k];
        __m512 x0 = _mm512_loadu_ps(s), x1 = _mm512_loadu_ps(s + 16);
        __m512 x2 = _mm512_loadu_ps(s + 32);
        CHANNELS(TERM3)
    }
    CHANNELS(STORE3)
}

TARGET static void sum16(const float *src, const size_t *koff, int terms, const float *wk,
                         float *out, size_t ld)
{
    CHANNELS(START1)
    for (int k = 0; k < terms; k++, wk += XCNN_STEM_BLOCK) {
        __m512 x0 = _mm512_loadu_ps(src + koff[k]);
        CHANNELS(TERM1)
    }
    CHANNELS(STORE1)
}

void xcnn_conv_stem_sum_avx512(const float *src, const size_t *koff, int terms,
                               const float *wk, int vectors, float *out, size_t ld)
{
    if (vectors == 3) sum48(src, koff, terms, wk, out, ld);
    else sum16(src, koff, terms, wk, out, ld);
}
#endif
