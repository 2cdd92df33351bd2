/*
 * Convolution algorithms side by side on ResNet-18's 3x3 stride-1 layers
 * (batch 1): im2col + GEMM, Winograd F(2x2, 3x3) and F(4x4, 3x3) forward,
 * and F(2x2)'s input gradient (the turned kernel); then the forms conv.c
 * picks for few pixels or tiles: im2col + col^T W^T from W^T packed once
 * (its turn back to NCHW not included) and F(2x2, 3x3) from U^T packed.
 * Each figure is the best
 * of --reps runs in thread CPU time on one thread (default), which stays
 * steady where two-thread wall time on a shared machine does not; the
 * rate is that of the direct conv (2 * 9 * C * M * H * W flops), so a
 * Winograd figure can pass the hardware's peak.
 *
 *   build/bench/bench_conv [--reps R] [--threads T]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_util.h"
#include "../libxcnn/kernels/gemm.h"
#include "../libxcnn/kernels/im2col.h"
#include "../libxcnn/kernels/winograd.h"

static bench_opts opt; /* --threads, --reps, which clock */

static double now(void) { return bench_now(&opt); }

typedef struct layer {
    const char *name;
    int c, hw; /* channels in and out, plane side */
} layer;

static const layer layers[] = {
    {"layer1 64x56x56", 64, 56},
    {"layer2 128x28x28", 128, 28},
    {"layer3 256x14x14", 256, 14},
    {"layer4 512x7x7", 512, 7},
};

typedef struct buffers {
    float *x, *y, *w, *u, *col, *scratch;
    float *wt, *up, *yt; /* W^T and U^T packed; Y^T */
    size_t scratch_floats;
    xcnn_window2d win;
} buffers;

enum { ALG_IM2COL, ALG_F2, ALG_F4, ALG_F2_DX, ALG_TRANS, ALG_F2_PACKED, ALG_COUNT };
static const char *const alg_names[ALG_COUNT] = {"im2col+GEMM", "Winograd F(2x2)",
                                                 "Winograd F(4x4)", "F(2x2) dX",
                                                 "col^T W^T packed", "F(2x2) U^T packed"};

static void run(int alg, const layer *l, buffers *b)
{
    int c = l->c, hw = l->hw;
    xcnn_winograd_geom geo = {hw, hw, 1, 1, hw, hw, alg == ALG_F4 ? 4 : 2};
    switch (alg) {
    case ALG_IM2COL:
        xcnn_im2col(&b->win, c, b->x, b->col, (size_t)hw * hw);
        xcnn_sgemm(0, 0, c, hw * hw, 9 * c, 1.0f, b->w, 9 * c, b->col, hw * hw, 0.0f, b->y,
                   hw * hw);
        break;
    case ALG_F2:
    case ALG_F4: {
        xcnn_winograd_u wu = {b->u, 0, NULL, XCNN_GEMM_AUTO};
        xcnn_winograd_conv(&geo, c, c, 1, b->x, 0, &wu, NULL, 0, 0, NULL, b->y, 0, b->scratch,
                           b->scratch_floats);
        break;
    }
    case ALG_TRANS:
        xcnn_im2col(&b->win, c, b->x, b->col, (size_t)hw * hw);
        xcnn_sgemm_packed(XCNN_GEMM_AUTO, 1, hw * hw, c, 9 * c, b->col, hw * hw, b->wt, 0.0f,
                          b->yt, c);
        break;
    case ALG_F2_PACKED: {
        xcnn_winograd_u wu = {NULL, 0, b->up, xcnn_gemm_selected()};
        xcnn_winograd_conv(&geo, c, c, 1, b->x, 0, &wu, NULL, 0, 0, NULL, b->y, 0, b->scratch,
                           b->scratch_floats);
        break;
    }
    default: { /* dX: dY convolved with the turned kernel, added into dX */
        xcnn_winograd_u wu = {b->u, 1, NULL, XCNN_GEMM_AUTO};
        xcnn_winograd_conv(&geo, c, c, 1, b->x, 0, &wu, NULL, 1, 0, NULL, b->y, 0, b->scratch,
                           b->scratch_floats);
        break;
    }
    }
}

int main(int argc, char **argv)
{
    if (bench_parse(argc, argv, "bench_conv", 20, &opt)) return 2;
    int threads = opt.threads, reps = opt.reps;
    printf("threads: %d, best of %d, %s time; GFLOP/s of the direct conv\n", threads, reps,
           opt.cpu_clock ? "thread CPU" : "wall");
    printf("%-18s", "layer");
    for (int a = 0; a < ALG_COUNT; a++) printf(" %18s", alg_names[a]);
    printf("\n");
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *l = &layers[li];
        int c = l->c, hw = l->hw;
        size_t plane = (size_t)c * hw * hw;
        xcnn_winograd_geom g4 = {hw, hw, 1, 1, hw, hw, 4}, g2 = g4;
        g2.m = 2;
        size_t scratch = xcnn_winograd_scratch(&g4, c, c, 1);
        if (xcnn_winograd_scratch(&g2, c, c, 1) > scratch) scratch = xcnn_winograd_scratch(&g2, c, c, 1);
        buffers b;
        b.x = malloc(plane * sizeof(float));
        b.y = malloc(plane * sizeof(float));
        b.w = malloc((size_t)9 * c * c * sizeof(float));
        b.u = malloc((size_t)36 * c * c * sizeof(float));
        b.col = malloc((size_t)9 * plane * sizeof(float));
        b.scratch = malloc(scratch * sizeof(float));
        b.scratch_floats = scratch;
        int nr = xcnn_gemm_panel_width(XCNN_GEMM_AUTO);
        b.wt = calloc(xcnn_gemm_packed_floats(9 * c, c, nr), sizeof(float));
        b.up = calloc(xcnn_winograd_packed_floats(2, c, c, nr), sizeof(float));
        b.yt = malloc(plane * sizeof(float));
        if (!b.x || !b.y || !b.w || !b.u || !b.col || !b.scratch || !b.wt || !b.up || !b.yt) {
            fprintf(stderr, "bench_conv: out of memory\n");
            return 1;
        }
        for (size_t i = 0; i < plane; i++) b.x[i] = (float)(i % 13) * 0.1f - 0.6f;
        for (size_t i = 0; i < (size_t)9 * c * c; i++) b.w[i] = (float)(i % 7) * 0.01f - 0.03f;
        b.win = (xcnn_window2d){hw, hw, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, hw, hw};
        xcnn_gemm_pack_b(1, 9 * c, c, b.w, 9 * c, nr, b.wt);
        xcnn_winograd_weights_packed(b.w, c, c, 2, nr, b.up);
        printf("%-18s", l->name);
        for (int a = 0; a < ALG_COUNT; a++) {
            if (a == ALG_F4 && hw < 8) { /* fewer than 2x2 tiles of 4x4 */
                printf(" %18s", "-");
                continue;
            }
            if (a == ALG_F2 || a == ALG_F4 || a == ALG_F2_DX)
                xcnn_winograd_weights(b.w, c, c, a == ALG_F4 ? 4 : 2, b.u);
            double best = 1e30;
            for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
                double t = now();
                run(a, l, &b);
                t = now() - t;
                if (r >= 0 && t < best) best = t;
            }
            double flops = 2.0 * 9 * (double)c * c * hw * hw;
            printf(" %8.3f ms %5.0f", best * 1e3, flops / best * 1e-9);
        }
        printf("\n");
        free(b.x);
        free(b.y);
        free(b.w);
        free(b.u);
        free(b.col);
        free(b.scratch);
        free(b.wt);
        free(b.up);
        free(b.yt);
    }
    return 0;
}
