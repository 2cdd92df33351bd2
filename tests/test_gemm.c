/*
 * xcnn_sgemm against xcnn_sgemm_reference (kernels/gemm_reference.c: the
 * plain triple loop, sums in double), for many random shapes
 * (edges of the blocking included), all four transpose combinations,
 * beta 0 / 1 / other, alpha != 1, and leading dimensions wider than the
 * matrices. Error measure: max|C - ref| / max|ref| per case; tolerance 1e-5
 * (float32 sums of up to a few hundred terms of size ~1).
 * Every micro-kernel this CPU can run (portable C always; AVX2, AVX-512
 * on x86; NEON on aarch64) is tested the same way, and each one for 1
 * thread vs 4 threads. The kernels differ from each other only by fused
 * multiply-adds: each is checked bit for bit against the sum it must
 * compute, an element's chain of fmaf (SIMD kernels) or of a * b + s
 * (portable) over k, one partial sum per K slice, whatever the layout
 * of A and B. The epilogue products (a bias per row, then ReLU and/or
 * Clip, as convolutions store their outputs) have the bits of the
 * separate passes they replace, on one thread and on three.
 */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "../libxcnn/base/config.h"
#include "../libxcnn/base/cpu.h"
#include "../libxcnn/kernels/gemm.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static void fill(test_rng *r, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = test_rng_uniform(r, -1, 1);
}

/* One case; returns the error over the whole C array (padding columns
 * included: they must be left untouched). */
static double run_case(xcnn_gemm_kind kind, test_rng *r, int ta, int tb, int M, int N, int K, float alpha,
                       float beta, int pad)
{
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
    size_t nc = (size_t)M * ldc;
    float *A = malloc((na + 1) * sizeof(float)), *B = malloc((nb + 1) * sizeof(float));
    float *C = malloc((nc + 1) * sizeof(float)), *R = malloc((nc + 1) * sizeof(float));
    fill(r, A, na);
    fill(r, B, nb);
    fill(r, C, nc);
    /* beta == 0 must ignore C entirely, NaN included. */
    if (beta == 0 && M > 0 && N > 0) C[0] = NAN;
    memcpy(R, C, nc * sizeof(float));
    if (beta == 0 && M > 0 && N > 0) R[0] = 0;
    xcnn_sgemm_reference(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    xcnn_sgemm_with(kind, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    double e = nc ? max_rel_error(C, R, nc) : 0;
    /* Exact checks where the answer is exact. */
    if (nc && K == 0 && beta == 0) {
        for (size_t i = 0; i < nc; i++)
            if (i % (size_t)ldc < (size_t)N && C[i] != 0) e = INFINITY;
    }
    free(A);
    free(B);
    free(C);
    free(R);
    return e;
}

/* Every check of one kernel. */
static void test_kernel(xcnn_gemm_kind kind)
{
    test_rng r = {12345};
    const double tol = 1e-5;
    const char *kn = xcnn_gemm_name(kind);

    /* Hand-picked shapes around the block sizes and the degenerate ones. */
    static const int shapes[][3] = {
        {0, 5, 3},  {5, 0, 3},   {5, 3, 0},   {1, 1, 1},   {1, 1, 7},     {1, 17, 1},
        {17, 1, 1}, {1, 1000, 64}, {1000, 1, 64}, {8, 8, 8}, {9, 9, 9},   {63, 65, 127},
        {64, 128, 128}, {65, 129, 129}, {130, 257, 300}, {7, 300, 3}, {200, 5, 513}, {97, 513, 257}, {13, 33, 520},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bi = 0; bi < 3; bi++) {
                    float beta = bi == 0 ? 0.0f : bi == 1 ? 1.0f : -0.5f;
                    float alpha = bi == 2 ? 1.5f : 1.0f;
                    double e = run_case(kind, &r, ta, tb, M, N, K, alpha, beta, s % 3);
                    char what[128];
                    snprintf(what, sizeof what,
                             "sgemm %s M=%d N=%d K=%d ta=%d tb=%d alpha=%g beta=%g", kn, M, N,
                             K, ta, tb, alpha, beta);
                    check_close(what, e, tol);
                }
    }

    /* Many random shapes; one line for all of them, with the worst error. */
    double worst = 0;
    int n_cases = 0;
    for (int c = 0; c < 300; c++) {
        int M = test_rng_int(&r, 1, 150), N = test_rng_int(&r, 1, 300);
        int K = test_rng_int(&r, 1, 300);
        int ta = c & 1, tb = (c >> 1) & 1;
        float beta = (c % 3 == 0) ? 0.0f : 1.0f;
        double e = run_case(kind, &r, ta, tb, M, N, K, 1.0f, beta, test_rng_int(&r, 0, 5));
        if (e > worst || isnan(e)) worst = isnan(e) ? INFINITY : e;
        n_cases++;
    }
    char what[128];
    snprintf(what, sizeof what, "sgemm %s %d random shapes, all trans combos, beta 0/1", kn,
             n_cases);
    check_close(what, worst, tol);

    /* alpha == 0: C = beta * C, A and B not read for their values. */
    {
        float A[4] = {NAN, NAN, NAN, NAN}, B[4] = {1, 2, 3, 4}, C[4] = {1, 2, 3, 4};
        xcnn_sgemm_with(kind, 0, 0, 2, 2, 2, 0.0f, A, 2, B, 2, 2.0f, C, 2);
        check(C[0] == 2 && C[1] == 4 && C[2] == 6 && C[3] == 8, "sgemm %s alpha=0 scales C",
              kn);
    }

#ifdef _OPENMP
    /* Same bits for 1 thread and several. */
    {
        int M = 250, N = 600, K = 520;
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
        float *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
        fill(&r, A, (size_t)M * K);
        fill(&r, B, (size_t)K * N);
        int saved = omp_get_max_threads();
        omp_set_num_threads(1);
        xcnn_sgemm_with(kind, 0, 1, M, N, K, 1, A, K, B, K, 0, C1, N);
        omp_set_num_threads(4);
        xcnn_sgemm_with(kind, 0, 1, M, N, K, 1, A, K, B, K, 0, C2, N);
        omp_set_num_threads(saved);
        check(memcmp(C1, C2, sizeof(float) * M * N) == 0,
              "sgemm %s: 1 thread and 4 threads give the same bits", kn);
        free(A);
        free(B);
        free(C1);
        free(C2);
    }
#endif
}

/* What a kernel computes, element by element: for each K slice of
 * XCNN_GEMM_KC steps, s = 0, then s = fma(a, b, s) (fused kernels) or
 * s + a * b (portable; the tests, like the library, build with
 * -ffp-contract=off) for k in order; C = C + s (C = 0 + s for the first
 * slice when beta = 0). alpha = 1: A is read in place or packed as is. */
static void model_product(int fused, int ta, int tb, int M, int N, int K, const float *A,
                          int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float c = beta == 0.0f ? 0.0f : C[(size_t)i * ldc + j];
            for (int k0 = 0; k0 < K; k0 += XCNN_GEMM_KC) {
                float s = 0.0f;
                for (int k = k0; k < K && k < k0 + XCNN_GEMM_KC; k++) {
                    float a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                    float b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                    s = fused ? fmaf(a, b, s) : s + a * b;
                }
                c = c + s;
            }
            C[(size_t)i * ldc + j] = c;
        }
}

/* The kernel's bits are the model's, for A read in place by rows (lda a
 * multiple of 16), packed (other lda) and read transposed (the kernels'
 * two loops), B in place and packed, K over two slices and odd, ragged
 * tiles. */
static void test_bits(xcnn_gemm_kind kind, test_rng *r)
{
    const char *kn = xcnn_gemm_name(kind);
    int fused = kind != XCNN_GEMM_PORTABLE;
    /* 64, 16 and 40 rows take AVX-512's 8-row kernel, 12 and 29 its
     * 12-row one */
    int shapes[][3] = {{12, 8, 7},   {29, 37, 2 * XCNN_GEMM_KC + 37}, {64, 300, 301},
                       {7, 48, 64},  {16, 40, 9}, {40, 33, 2 * XCNN_GEMM_KC + 5}};
    int same = 1, cases = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int layout = 0; layout < 8; layout++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            int ta = layout & 1, tb = (layout >> 1) & 1, pad = (layout >> 2) & 1;
            /* !ta: lda a multiple of 16 reads A in place, else it is packed */
            int lda = ta ? M + pad : (K + 15) / 16 * 16 + pad, ldb = tb ? K : N;
            int ldc = N, small = !tb && s % 2;
            float beta = (float)(layout % 3 == 0);
            size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
            size_t nc = (size_t)M * ldc;
            float *A = malloc(na * sizeof(float)), *B = malloc(nb * sizeof(float));
            float *C = malloc(nc * sizeof(float)), *R = malloc(nc * sizeof(float));
            fill(r, A, na);
            fill(r, B, nb);
            fill(r, C, nc);
            if (small) beta = 0.0f; /* sgemm_small_m overwrites C */
            memcpy(R, C, nc * sizeof(float));
            model_product(fused, ta, tb, M, N, K, A, lda, B, ldb, beta, R, ldc);
            if (small)
                xcnn_sgemm_small_m(kind, ta, M, N, K, A, lda, B, ldb, C, ldc);
            else
                xcnn_sgemm_with(kind, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
            same &= memcmp(C, R, nc * sizeof(float)) == 0;
            cases++;
            free(A);
            free(B);
            free(C);
            free(R);
        }
    check(same, "sgemm %s: bit for bit each element's chain of %s over k, a partial sum "
          "per %d-step K slice (%d cases: A in place, packed, transposed; sgemm_small_m)",
          kn, fused ? "fused multiply-adds (fmaf)" : "a * b + s", XCNN_GEMM_KC, cases);
}

/* xcnn_sgemm_small_m against the reference product: few rows (ragged against
 * every kernel's tile), ragged panels, K over several slices, both A
 * layouts, padded leading dimensions left untouched; and thread counts. */
static void test_small_m(xcnn_gemm_kind kind, test_rng *r)
{
    const char *kn = xcnn_gemm_name(kind);
    int shapes[][3] = {{49, 4608, 512}, {49, 2304, 256}, {1, 5, 3}, {7, 48, 1},
                       {13, 97, 300}, {64, 257, 70}, {36, 49, 600}, {50, 1000, 17}};
    double worst = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], pad = (int)s % 3;
            int lda = (ta ? M : K) + pad, ldb = N + pad, ldc = N + pad;
            size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)K * ldb, nc = (size_t)M * ldc;
            float *A = malloc(na * sizeof(float)), *B = malloc(nb * sizeof(float));
            float *C = malloc(nc * sizeof(float)), *R = malloc(nc * sizeof(float));
            fill(r, A, na);
            fill(r, B, nb);
            fill(r, C, nc);
            C[0] = NAN; /* C is overwritten, its old values ignored */
            memcpy(R, C, nc * sizeof(float));
            xcnn_sgemm_reference(ta, 0, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, R, ldc);
            xcnn_sgemm_small_m(kind, ta, M, N, K, A, lda, B, ldb, C, ldc);
            double e = max_rel_error(C, R, nc);
            if (e > worst || isnan(e)) worst = isnan(e) ? INFINITY : e;
#ifdef _OPENMP
            if (s == 0) {
                float *C1 = malloc(nc * sizeof(float));
                int saved = omp_get_max_threads();
                omp_set_num_threads(1);
                xcnn_sgemm_small_m(kind, ta, M, N, K, A, lda, B, ldb, C1, ldc);
                omp_set_num_threads(3);
                xcnn_sgemm_small_m(kind, ta, M, N, K, A, lda, B, ldb, C, ldc);
                omp_set_num_threads(saved);
                check(memcmp(C1, C, nc * sizeof(float)) == 0,
                      "sgemm_small_m %s: 1 and 3 threads give the same bits (trans_a %d)", kn,
                      ta);
                free(C1);
            }
#endif
            free(A);
            free(B);
            free(C);
            free(R);
        }
    char what[80];
    snprintf(what, sizeof what, "sgemm_small_m %s vs the reference, worst of 16 shapes", kn);
    check_close(what, worst, 1e-5);
}

/* xcnn_sgemm_packed: B packed once (trans_b 0 and 1), beta 0 and 1,
 * against the reference product; with beta 0 bit for bit what
 * xcnn_sgemm_small_m gives (the same kernel and sums); and 1 vs 3
 * threads on a shape with fewer panels than tasks (rows split too). */
static void test_packed(xcnn_gemm_kind kind, test_rng *r)
{
    const char *kn = xcnn_gemm_name(kind);
    int shapes[][3] = {{49, 512, 4608}, {98, 256, 1152}, {13, 97, 300}, {36, 49, 600},
                       {7, 48, 1}, {50, 100, 17}};
    int nr = xcnn_gemm_panel_width(kind), same = 1;
    double worst = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int tb = 0; tb < 2; tb++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], ta = (int)(s + tb) % 2;
            int lda = ta ? M : K, ldb = tb ? K : N;
            size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
            float *A = malloc(na * sizeof(float)), *B = malloc(nb * sizeof(float));
            float *C = malloc(nc * sizeof(float)), *R = malloc(nc * sizeof(float));
            float *P = calloc(xcnn_gemm_packed_floats(K, N, nr), sizeof(float));
            fill(r, A, na);
            fill(r, B, nb);
            fill(r, C, nc);
            memcpy(R, C, nc * sizeof(float));
            float beta = (float)(s % 2);
            xcnn_gemm_pack_b(tb, K, N, B, ldb, nr, P);
            xcnn_sgemm_reference(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, R, N);
            xcnn_sgemm_packed(kind, ta, M, N, K, A, lda, P, beta, C, N);
            double e = max_rel_error(C, R, nc);
            if (e > worst || isnan(e)) worst = isnan(e) ? INFINITY : e;
            if (!tb && beta == 0.0f) { /* B as small_m reads it in place */
                float *S = malloc(nc * sizeof(float));
                xcnn_sgemm_small_m(kind, ta, M, N, K, A, lda, B, ldb, S, N);
                same &= memcmp(S, C, nc * sizeof(float)) == 0;
                free(S);
            }
#ifdef _OPENMP
            if (s == 0) {
                float *C1 = malloc(nc * sizeof(float));
                int saved = omp_get_max_threads();
                omp_set_num_threads(1);
                xcnn_sgemm_packed(kind, ta, M, N, K, A, lda, P, 0.0f, C1, N);
                omp_set_num_threads(3);
                xcnn_sgemm_packed(kind, ta, M, N, K, A, lda, P, 0.0f, C, N);
                omp_set_num_threads(saved);
                check(memcmp(C1, C, nc * sizeof(float)) == 0,
                      "sgemm_packed %s: 1 and 3 threads give the same bits (trans_b %d)", kn, tb);
                free(C1);
            }
#endif
            free(A);
            free(B);
            free(C);
            free(R);
            free(P);
        }
    check(same, "sgemm_packed %s: the bits of sgemm_small_m (beta 0)", kn);
    char what[80];
    snprintf(what, sizeof what, "sgemm_packed %s vs the reference, worst of 12 cases", kn);
    check_close(what, worst, 1e-5);
}

/* xcnn_sgemm_serial_epilogue: the bits of filling C with the bias,
 * xcnn_sgemm_serial with beta 1 (beta 0 without a bias), then the
 * activation's loops (conv_fast.c's): for ReLU, Clip (lo > hi too) and
 * both, with and without a bias, rows that fill the 12- and the 8-row
 * kernels and ragged ones, K in one slice and in two, NaNs and signed
 * zeros in A; nothing written outside C's columns. */
static void test_epilogue(xcnn_gemm_kind kind, test_rng *r)
{
    static const int shapes[][3] = {{64, 100, 24}, {96, 224, 16}, {37, 45, 300}, {12, 32, 1},
                                    {5, 7, 260}, {130, 70, 70}};
    const char *kn = xcnn_gemm_name(kind);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int form = 0; form < 7; form++) {
            int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2], ldc = N + 3;
            float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
            float *bias = malloc(sizeof(float) * M);
            float *want = malloc(sizeof(float) * M * ldc), *got = malloc(sizeof(float) * M * ldc);
            float *res = malloc(sizeof(float) * M * ldc);
            fill(r, res, (size_t)M * ldc);
            fill(r, A, (size_t)M * K);
            fill(r, B, (size_t)K * N);
            fill(r, bias, (size_t)M);
            A[0] = NAN;      /* row 0: NaN through every activation */
            bias[M - 1] = -0.0f;
            xcnn_gemm_epilogue ep = {form == 4 || form == 6 ? NULL : bias,
                                     form == 1 || form == 3 || form == 5,
                                     form >= 2 && form != 5, -0.25f, 0.5f,
                                     form >= 5 ? res : NULL};
            if (form == 3) ep.lo = 0.75f; /* lo > hi: Clip gives hi */
            for (int i = 0; i < M * ldc; i++) want[i] = got[i] = 7.0f;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) want[i * ldc + j] = ep.bias ? ep.bias[i] : 0.0f;
            xcnn_sgemm_serial(kind, 0, 0, M, N, K, 1.0f, A, K, B, N, ep.bias ? 1.0f : 0.0f,
                              want, ldc);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    float *v = &want[i * ldc + j];
                    if (ep.residual) *v += res[i * ldc + j]; /* as an Add after the GEMM */
                    if (ep.relu) *v = *v > 0 ? *v : 0.0f;
                    if (ep.clip) {
                        float c = *v < ep.lo ? ep.lo : *v;
                        *v = c > ep.hi ? ep.hi : c;
                    }
                }
            xcnn_sgemm_serial_epilogue(kind, M, N, K, A, K, B, N, &ep, got, ldc);
            static const char *names[7] = {"bias", "bias + relu", "bias + clip",
                                           "bias + relu + clip (lo > hi)", "clip, no bias",
                                           "bias + residual + relu", "residual + clip, no bias"};
            check(!memcmp(want, got, sizeof(float) * M * ldc),
                  "sgemm %s epilogue %s, %dx%dx%d: the bits of bias fill, GEMM, activation",
                  kn, names[form], M, N, K);
            /* shared between threads (3 where OpenMP is built in): the same bits */
            for (int i = 0; i < M * ldc; i++) got[i] = 7.0f;
#ifdef _OPENMP
            int saved = omp_get_max_threads();
            omp_set_num_threads(3);
#endif
            xcnn_sgemm_epilogue(kind, M, N, K, A, K, B, N, &ep, got, ldc);
#ifdef _OPENMP
            omp_set_num_threads(saved);
#endif
            check(!memcmp(want, got, sizeof(float) * M * ldc),
                  "sgemm %s epilogue %s, %dx%dx%d, threaded: the same bits", kn, names[form], M,
                  N, K);
            free(A);
            free(B);
            free(bias);
            free(res);
            free(want);
            free(got);
        }
}

int main(void)
{
    /* The dispatch's cheap checks agree with the full cpuid detection. */
    xcnn_cpu_info cpu;
    xcnn_cpu_detect(&cpu);
    check(cpu.avx2_fma == xcnn_cpu_has_avx2_fma() && cpu.avx512f == xcnn_cpu_has_avx512f() &&
              cpu.neon == xcnn_cpu_has_neon(),
          "cpu: detection (avx2_fma=%d avx512f=%d neon=%d) matches the dispatch checks",
          cpu.avx2_fma, cpu.avx512f, cpu.neon);
    check(xcnn_gemm_available(XCNN_GEMM_PORTABLE), "gemm: the portable kernel is available");
#if defined(__aarch64__) && !defined(XCNN_NO_SIMD)
    /* On aarch64 NEON is always there: its kernel must run, not be skipped. */
    check(xcnn_gemm_available(XCNN_GEMM_NEON) && xcnn_gemm_selected() == XCNN_GEMM_NEON,
          "gemm: aarch64 runs the NEON kernel by default (selected: %s)",
          xcnn_gemm_name(xcnn_gemm_selected()));
#elif defined(XCNN_NO_SIMD)
    check(xcnn_gemm_selected() == XCNN_GEMM_PORTABLE,
          "gemm: a SIMD=0 build runs the portable kernel (selected: %s)",
          xcnn_gemm_name(xcnn_gemm_selected()));
#endif
    for (int k = 0; k < XCNN_GEMM_N_KINDS; k++) {
        if (xcnn_gemm_available((xcnn_gemm_kind)k)) {
            test_rng r = {77 + (uint64_t)k};
            test_kernel((xcnn_gemm_kind)k);
            test_bits((xcnn_gemm_kind)k, &r);
            test_small_m((xcnn_gemm_kind)k, &r);
            test_packed((xcnn_gemm_kind)k, &r);
            test_epilogue((xcnn_gemm_kind)k, &r);
        }
        else check_skip("gemm kernel %s: not available on this CPU/build",
                        xcnn_gemm_name((xcnn_gemm_kind)k));
    }
    return check_summary();
}
