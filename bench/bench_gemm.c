/*
 * GEMM benchmark: GFLOP/s of xcnn_sgemm for every micro-kernel this CPU
 * runs, on 512^3 and on the GEMM shapes of ResNet-18's convolutions
 * (forward, and the two backward products), next to the measured peak.
 *
 * The peak is measured, not looked up: a loop of independent fused
 * multiply-adds on registers only (no memory), as wide as the kernel's
 * vectors, on one thread. GFLOP/s counts a multiply-add as 2 flops.
 *
 *   build/bench/bench_gemm [--threads T] [--reps R]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_util.h"
#include "../libxcnn/base/cpu.h"
#include "../libxcnn/kernels/gemm.h"
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(XCNN_NO_SIMD)
#include <immintrin.h>
#define HAVE_X86 1
#endif

static bench_opts opt; /* --threads, --reps, which clock */

static double now(void) { return bench_now(&opt); }

/* ---- peak: register-only FMA loops ------------------------------------- */

#ifdef HAVE_X86
/* 12 independent accumulators hide the FMA latency on any core. */
#define PEAK_LOOP(T, FMA, SET1, LANES)                                                    \
    T a0 = SET1(1.0f), a1 = SET1(1.1f), a2 = SET1(1.2f), a3 = SET1(1.3f);                \
    T a4 = SET1(1.4f), a5 = SET1(1.5f), a6 = SET1(1.6f), a7 = SET1(1.7f);                \
    T a8 = SET1(1.8f), a9 = SET1(1.9f), a10 = SET1(2.0f), a11 = SET1(2.1f);              \
    T m = SET1(0.999999f), d = SET1(1e-7f);                                              \
    for (long i = 0; i < iters; i++) {                                                   \
        a0 = FMA(a0, m, d); a1 = FMA(a1, m, d); a2 = FMA(a2, m, d); a3 = FMA(a3, m, d);  \
        a4 = FMA(a4, m, d); a5 = FMA(a5, m, d); a6 = FMA(a6, m, d); a7 = FMA(a7, m, d);  \
        a8 = FMA(a8, m, d); a9 = FMA(a9, m, d); a10 = FMA(a10, m, d);                    \
        a11 = FMA(a11, m, d);                                                            \
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3));                   \
    }                                                                                    \
    T s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;                   \
    float out[LANES];                                                                    \
    memcpy(out, &s, sizeof out);                                                         \
    return out[0] + (float)(12.0 * LANES * 2 * (double)iters) * 0.0f;

__attribute__((target("avx512f,fma"))) static float peak_avx512(long iters)
{
    PEAK_LOOP(__m512, _mm512_fmadd_ps, _mm512_set1_ps, 16)
}
__attribute__((target("avx2,fma"))) static float peak_avx2(long iters)
{
    PEAK_LOOP(__m256, _mm256_fmadd_ps, _mm256_set1_ps, 8)
}
#endif

/* GFLOP/s of the register-only loop of the widest vectors `kind` uses;
 * 0 when there is none (portable). */
static double peak_gflops(xcnn_gemm_kind kind)
{
#ifdef HAVE_X86
    long iters = 20000000;
    int lanes = kind == XCNN_GEMM_AVX512 ? 16 : kind == XCNN_GEMM_AVX2 ? 8 : 0;
    if (!lanes) return 0;
    double best = 0;
    volatile float sink = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t = now();
        sink += lanes == 16 ? peak_avx512(iters) : peak_avx2(iters);
        double g = 12.0 * lanes * 2 * (double)iters / (now() - t) * 1e-9;
        if (g > best) best = g;
    }
    (void)sink;
    return best;
#else
    (void)kind;
    return 0;
#endif
}

/* ---- GEMM timing ----------------------------------------------------------- */

typedef struct shape {
    const char *name;
    int ta, tb, M, N, K;
    int small_m; /* run by xcnn_sgemm_small_m (few rows of C) */
} shape;

/* ResNet-18 at 224x224, batch 1: conv forward is W[M x K] * col[K x N]
 * (M = out channels, N = output pixels, K = in channels * taps); backward
 * dW = dY * col^T and dcol = W^T * dY, which libxcnn computes transposed,
 * dcol^T = dY^T * W, with xcnn_sgemm_small_m (the "dX^T" rows). The 3x3
 * stride-1 layers of layer1-3 run Winograd: 16 GEMMs of the "wino" shape
 * (M = out channels, N = 2x2 tiles, K = in channels). */
static const shape shapes[] = {
    {"square 512^3", 0, 0, 512, 512, 512, 0},
    {"conv1 7x7/2 fwd", 0, 0, 64, 12544, 147, 0},
    {"layer1 3x3 fwd", 0, 0, 64, 3136, 576, 0},
    {"layer2 3x3 fwd", 0, 0, 128, 784, 1152, 0},
    {"layer3 3x3 fwd", 0, 0, 256, 196, 2304, 0},
    {"layer4 3x3 fwd", 0, 0, 512, 49, 4608, 0},
    {"layer2 1x1/2 fwd", 0, 0, 128, 784, 64, 0},
    {"layer1 3x3 dW", 0, 1, 64, 576, 3136, 0},
    {"layer1 3x3 dX", 1, 0, 576, 3136, 64, 0},
    {"layer3 3x3 dW", 0, 1, 256, 2304, 196, 0},
    {"layer3 3x3 dX", 1, 0, 2304, 196, 256, 0},
    {"layer4 3x3 dX", 1, 0, 4608, 49, 512, 0},
    {"layer3 3x3/2 dX^T", 1, 0, 196, 2304, 256, 1},
    {"layer4 3x3 dX^T", 1, 0, 49, 4608, 512, 1},
    {"layer1 wino", 0, 0, 64, 784, 64, 0},
    {"layer3 wino", 0, 0, 256, 49, 256, 0},
};

static double time_gemm(xcnn_gemm_kind kind, const shape *s, int reps, float *A, float *B,
                        float *C)
{
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    double flops = 2.0 * s->M * s->N * s->K, best = 1e30;
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
        double t = now();
        int inner = 0;
        do { /* at least ~20 ms per repetition */
            if (s->small_m)
                xcnn_sgemm_small_m(kind, s->ta, s->M, s->N, s->K, A, lda, B, ldb, C, s->N);
            else
                xcnn_sgemm_with(kind, s->ta, s->tb, s->M, s->N, s->K, 1, A, lda, B, ldb, 0, C,
                                s->N);
            inner++;
        } while (now() - t < 0.02);
        double per = (now() - t) / inner;
        if (r >= 0 && per < best) best = per;
    }
    return flops / best * 1e-9;
}

int main(int argc, char **argv)
{
    if (bench_parse(argc, argv, "bench_gemm", 5, &opt)) return 2;
    int threads = opt.threads, reps = opt.reps;
    xcnn_cpu_info cpu;
    xcnn_cpu_detect(&cpu);
    printf("cpu: %s (avx2+fma %d, avx512f %d)\nthreads: %d, best of %d, %s time\n",
           cpu.brand[0] ? cpu.brand : "unknown", cpu.avx2_fma, cpu.avx512f, threads, reps,
           opt.cpu_clock ? "thread CPU" : "wall");

    size_t max = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        size_t a = (size_t)shapes[i].M * shapes[i].K, b = (size_t)shapes[i].K * shapes[i].N;
        size_t c = (size_t)shapes[i].M * shapes[i].N;
        if (a > max) max = a;
        if (b > max) max = b;
        if (c > max) max = c;
    }
    float *A = malloc(max * sizeof(float)), *B = malloc(max * sizeof(float));
    float *C = malloc(max * sizeof(float));
    if (!A || !B || !C) return 1;
    unsigned long long x = 42;
    for (size_t i = 0; i < max; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        A[i] = (float)((x >> 40) & 0xffff) / 65536.0f - 0.5f;
        B[i] = A[i] * 0.5f + 0.1f;
    }
    for (int k = XCNN_GEMM_N_KINDS - 1; k >= 0; k--) {
        xcnn_gemm_kind kind = (xcnn_gemm_kind)k;
        if (!xcnn_gemm_available(kind)) continue;
        double peak = peak_gflops(kind) * threads;
        printf("\nkernel %s: measured peak %.1f GFLOP/s (%d thread%s, register-only FMA)\n",
               xcnn_gemm_name(kind), peak, threads, threads > 1 ? "s" : "");
        printf("  %-18s %5s %6s %5s  %8s  %7s\n", "shape", "M", "N", "K", "GFLOP/s", "%peak");
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            const shape *s = &shapes[i];
            double g = time_gemm(kind, s, reps, A, B, C);
            if (peak > 0)
                printf("  %-18s %5d %6d %5d  %8.1f  %6.1f%%\n", s->name, s->M, s->N, s->K, g,
                       100 * g / peak);
            else
                printf("  %-18s %5d %6d %5d  %8.1f  %7s\n", s->name, s->M, s->N, s->K, g, "-");
        }
    }
    free(A);
    free(B);
    free(C);
    return 0;
}
