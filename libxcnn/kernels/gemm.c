/*
 * Packed, cache-blocked SGEMM (the interface is in gemm.h):
 *
 *     C = alpha * op(A) * op(B) + beta * C        (row-major)
 *
 * The GotoBLAS/BLIS scheme:
 *   for each NC-wide column block of C                        (jc)
 *     for each KC-deep slice of K                             (pc)
 *       pack op(B)[pc, jc] into NR-column panels  -> pb, shared, ~L2
 *       for each MC-tall row block of C                       (ic)
 *         for each MR-row tile of op(A)[ic, pc] (it stays in L1)  (ir)
 *           for each NR panel of pb (streamed from L2)           (jr)
 *             micro-kernel: C tile += A tile * pb panel
 * Packing B turns its two transpose cases into one and lets the micro-
 * kernel (gemm_kernels.h; portable C, AVX2 or AVX-512 chosen at run time
 * on x86, NEON on aarch64)
 * read it with unit stride; zero padding to whole panels lets ragged
 * edges take the same path, only the store is clipped. A is read in place
 * (both layouts suit the kernels) unless alpha != 1 or the rows of an
 * untransposed A are not whole cache lines apart; then alpha * op(A) is
 * packed. Packing by default would cost too much: copying the weights of a
 * conv layer with few output pixels (ResNet's layer4: 49) cost as much as
 * a third of the multiply.
 *
 * Threads: C is cut into tasks (column blocks, and row ranges when there
 * are fewer column blocks than threads), each C tile written by one task
 * that runs the loops above on its part. Every element of C is still
 * summed by one micro-kernel call per K slice, slices in order, so the
 * bits never depend on the thread count. No allocation: each thread packs
 * into pa (MC x KC floats, 96 KiB) and pb (KC x NC, 256 KiB) on its own
 * stack; base/config.h sets the blocks (1.5 KiB in all with XCNN_SMALL).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "../base/config.h"
#include "../base/cpu.h"
#include "gemm.h"
#include "gemm_kernels.h"
#include "../base/threads.h"

/* config.h's blocks, grown to hold at least one tile of every kernel
 * built; each product then cuts MC and NC down to whole tiles of its
 * kernel (block_rows, block_cols). The defaults (96, 256) are already
 * multiples of every MR (6, 8, 12) and NR (8, 16, 32). */
#define AT_LEAST(v, min) ((v) > (min) ? (v) : (min))
enum {
    KC = XCNN_GEMM_KC,                           /* depth of one packed slice */
    MC = AT_LEAST(XCNN_GEMM_MC, XCNN_GEMM_MAX_MR), /* rows of a packed A block  */
    NC = AT_LEAST(XCNN_GEMM_NC, XCNN_GEMM_MAX_NR)  /* columns of a B block      */
};
_Static_assert(KC >= 1, "XCNN_GEMM_KC must be at least 1");

static int block_rows(int mr) { return MC / mr * mr; }
static int block_cols(int nr) { return NC / nr * nr; }

/* ---- kernel choice ----------------------------------------------------- */

static const xcnn_gemm_kernel *kernel_of(xcnn_gemm_kind kind)
{
    switch (kind) {
#ifdef XCNN_GEMM_X86
    case XCNN_GEMM_AVX2: return &xcnn_gemm_kernel_avx2;
    case XCNN_GEMM_AVX512: return &xcnn_gemm_kernel_avx512;
#endif
#ifdef XCNN_GEMM_ARM64
    case XCNN_GEMM_NEON: return &xcnn_gemm_kernel_neon;
#endif
    case XCNN_GEMM_PORTABLE: return &xcnn_gemm_kernel_portable;
    default: return NULL;
    }
}

#ifdef XCNN_GEMM_X86
/* Rows of padding that tiles of mr rows add to M. */
static int row_waste(int M, int mr) { return (M + mr - 1) / mr * mr - M; }
#endif

/* The kernel for a product of M rows: on AVX-512 the 8-row one where the
 * 12-row one's tiles would be over a tenth padding and its own less (64
 * rows: 8 of 72 against none). Elsewhere the 12-row kernel is the faster
 * (more FMAs per load): at 128 and 256 rows (3% padding) the 8-row one
 * took 6-8% longer on ResNet-18's Winograd convs; at 64 it took 5-9% less
 * (the stem 1.91 -> 1.74 ms, layer1 0.78 -> 0.74, one thread). Both give
 * the same bits. */
static const xcnn_gemm_kernel *kernel_for(xcnn_gemm_kind kind, int M)
{
#ifdef XCNN_GEMM_X86
    int pad12 = row_waste(M, 12);
    if (kind == XCNN_GEMM_AVX512 && 10 * pad12 > M + pad12 && row_waste(M, 8) < pad12)
        return &xcnn_gemm_kernel_avx512_8x32;
#else
    (void)M;
#endif
    return kernel_of(kind);
}

int xcnn_gemm_available(xcnn_gemm_kind kind)
{
    switch (kind) {
    case XCNN_GEMM_PORTABLE: return 1;
    case XCNN_GEMM_AVX2: return kernel_of(kind) && xcnn_cpu_has_avx2_fma();
    case XCNN_GEMM_AVX512: return kernel_of(kind) && xcnn_cpu_has_avx512f();
    case XCNN_GEMM_NEON: return kernel_of(kind) && xcnn_cpu_has_neon();
    default: return 0;
    }
}

const char *xcnn_gemm_name(xcnn_gemm_kind kind)
{
    static const char *const names[XCNN_GEMM_N_KINDS] = {"portable", "avx2", "avx512",
                                                         "neon"};
    return kind >= 0 && kind < XCNN_GEMM_N_KINDS ? names[kind] : "auto";
}

xcnn_gemm_kind xcnn_gemm_selected(void)
{
    const char *env = getenv("XCNN_GEMM");
    if (env)
        for (int k = 0; k < XCNN_GEMM_N_KINDS; k++)
            if (!strcmp(env, xcnn_gemm_name((xcnn_gemm_kind)k)) &&
                xcnn_gemm_available((xcnn_gemm_kind)k))
                return (xcnn_gemm_kind)k;
    if (xcnn_gemm_available(XCNN_GEMM_AVX512)) return XCNN_GEMM_AVX512;
    if (xcnn_gemm_available(XCNN_GEMM_AVX2)) return XCNN_GEMM_AVX2;
    if (xcnn_gemm_available(XCNN_GEMM_NEON)) return XCNN_GEMM_NEON;
    return XCNN_GEMM_PORTABLE;
}

/* ---- packing ------------------------------------------------------------ */

/* Pack alpha * op(A)[i0:i0+mc, k0:k0+kc] as consecutive mr-row panels:
 * panel p holds, for each k, the mr values of its rows. Rows past mc are
 * zero. Each case walks A along its rows (unit stride). */
static void pack_a(const float *A, int lda, int trans, float alpha, int i0, int mc, int k0,
                   int kc, int mr, float *pa)
{
    for (int p = 0; p < mc; p += mr, pa += (size_t)mr * kc) {
        int rows = mc - p < mr ? mc - p : mr;
        if (!trans) {
            for (int r = 0; r < rows; r++) {
                const float *src = A + (size_t)(i0 + p + r) * lda + k0;
                for (int k = 0; k < kc; k++) pa[(size_t)k * mr + r] = alpha * src[k];
            }
        } else {
            for (int k = 0; k < kc; k++) {
                const float *src = A + (size_t)(k0 + k) * lda + i0 + p;
                for (int r = 0; r < rows; r++) pa[(size_t)k * mr + r] = alpha * src[r];
            }
        }
        for (int r = rows; r < mr; r++)
            for (int k = 0; k < kc; k++) pa[(size_t)k * mr + r] = 0.0f;
    }
}

/* Pack panel q of op(B)[k0:k0+kc, j0:j0+nc]: for each k, the nr values of
 * columns j0 + q*nr ... (zero past nc). */
static void pack_b_panel(const float *B, int ldb, int trans, int k0, int kc, int j0, int nc,
                         int nr, int q, float *pb)
{
    int c0 = q * nr, w = nc - c0 < nr ? nc - c0 : nr;
    float *dst = pb + (size_t)q * nr * kc;
    if (!trans) {
        /* Fixed 8-float copies the compiler inlines: a memcpy call per
         * row of a panel costs more than the copy itself. */
        int w8 = w / 8 * 8;
        for (int k = 0; k < kc; k++) {
            const float *src = B + (size_t)(k0 + k) * ldb + j0 + c0;
            float *d = dst + (size_t)k * nr;
            for (int c = 0; c < w8; c += 8) memcpy(d + c, src + c, 8 * sizeof(float));
            for (int c = w8; c < w; c++) d[c] = src[c];
            for (int c = w; c < nr; c++) d[c] = 0.0f;
        }
    } else {
        for (int c = 0; c < w; c++) {
            const float *src = B + (size_t)(j0 + c0 + c) * ldb + k0;
            for (int k = 0; k < kc; k++) dst[(size_t)k * nr + c] = src[k];
        }
        for (int c = w; c < nr; c++)
            for (int k = 0; k < kc; k++) dst[(size_t)k * nr + c] = 0.0f;
    }
}

/* ---- driver --------------------------------------------------------------- */

/* C = beta * C (beta == 0 overwrites, so old NaNs vanish). */
static void scale_c(float *C, int ldc, int M, int N, float beta)
{
    if (beta == 1.0f) return;
    for (int i = 0; i < M; i++) {
        float *row = C + (size_t)i * ldc;
        if (beta == 0.0f) memset(row, 0, (size_t)N * sizeof(float));
        else
            for (int j = 0; j < N; j++) row[j] *= beta;
    }
}

/* Where the rows of op(A) for one row block come from: tile i (its first
 * row) starts at a + i * step, and inside a tile element (r, k) is at
 * [r * rs + k * cs] (see gemm_kernels.h). */
typedef struct a_view {
    const float *a;
    size_t step, rs, cs;
} a_view;

/* The B panels of one block: packed, or (untransposed B) read in place
 * from direct + column, rows ldb apart, all but a ragged last panel. */
typedef struct b_view {
    const float *packed, *direct;
    size_t ldb;
} b_view;

/* Copy rows [0, h) of a tile into edge as an mr-row panel, zero-padded. */
static void pack_edge(const a_view *v, const float *tile, int h, int mr, int kc, float *edge)
{
    for (int k = 0; k < kc; k++)
        for (int r = 0; r < mr; r++)
            edge[(size_t)k * mr + r] = r < h ? tile[r * v->rs + (size_t)k * v->cs] : 0.0f;
}

/* The epilogue's activations (gemm.h), one loop each, cloned for x86's
 * vector widths (base/cpu.h). */
XCNN_VECTOR_CLONES
static void relu_span(float *y, size_t count)
{
    for (size_t i = 0; i < count; i++) y[i] = y[i] > 0 ? y[i] : 0.0f; /* NaN -> 0 */
}

/* As the Clip op: NaN stays NaN, lo > hi gives hi. */
XCNN_VECTOR_CLONES
static void clip_span(float *y, size_t count, float lo, float hi)
{
    for (size_t i = 0; i < count; i++) {
        float v = y[i] < lo ? lo : y[i];
        y[i] = v > hi ? hi : v;
    }
}

void xcnn_gemm_activate(float *y, size_t count, const xcnn_gemm_epilogue *act)
{
    if (act->relu) relu_span(y, count);
    if (act->clip) clip_span(y, count, act->lo, act->hi);
}

/* The activation on an h x w tile of C (for kernels without an _ep form). */
static void activate_tile(float *C, int ldc, int h, int w, const xcnn_gemm_epilogue *act)
{
    for (int r = 0; r < h; r++) xcnn_gemm_activate(C + (size_t)r * ldc, (size_t)w, act);
}

/* The residual (laid out as C, ldc apart: res the tile's own first
 * float), then the activation, on an h x w tile while it is in L1: one
 * loop nest, the activation's rules as relu_span's and clip_span's. */
XCNN_VECTOR_CLONES
static void residual_tile(float *C, int ldc, int h, size_t w, const float *res,
                          const xcnn_gemm_epilogue *act)
{
    int relu = act->relu, clip = act->clip;
    float lo = act->lo, hi = act->hi;
    for (int r = 0; r < h; r++) {
        float *c = C + (size_t)r * ldc;
        const float *x = res + (size_t)r * ldc;
        for (size_t j = 0; j < w; j++) c[j] = xcnn_gemm_act(c[j] + x[j], relu, clip, lo, hi);
    }
}

/* One row of count floats. */
void xcnn_gemm_add_activate(float *y, const float *r, size_t count,
                            const xcnn_gemm_epilogue *act)
{
    residual_tile(y, 0, 1, count, r, act);
}

/* The residual rows of an h x w tile, asked for before the tile's sums
 * so that they arrive while it is computed: rows ldc apart are too far
 * apart for the hardware prefetchers, and read on demand after the sums
 * they made the fused Add slower than the Add it replaced. */
static void prefetch_tile(const float *res, int ldc, int h, int w)
{
    for (int r = 0; r < h; r++)
        for (int j = 0; j < w; j += 16) __builtin_prefetch(res + (size_t)r * ldc + j, 0, 3);
}

/* One tile with an epilogue: bias (rows of this tile, or NULL) where the
 * tile starts, act (or NULL) as it ends. A kernel without an _ep form
 * gets its tile filled with the bias first and the activation after,
 * while the tile is in L1: the same sums, so the same bits. */
static void run_tile_ep(const xcnn_gemm_kernel *kern, int kc, const float *a, size_t rs,
                        size_t cs, const float *b, size_t ldp, float *C, int ldc, int h, int w,
                        int add, const float *bias, const xcnn_gemm_epilogue *act)
{
    if (kern->run_ep) {
        kern->run_ep(kc, a, rs, cs, b, ldp, C, ldc, h, w, add, bias, act);
        return;
    }
    if (!add && bias)
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++) C[(size_t)r * ldc + c] = bias[r];
    kern->run(kc, a, rs, cs, b, ldp, C, ldc, h, w, add || bias);
    if (act) activate_tile(C, ldc, h, w, act);
}

/* Tiles of rows [0, mc) x B panels [q0, q1): for each row tile (its A rows
 * stay in L1), every B panel (streamed from L2). bias (rows [0, mc), or
 * NULL) and act (or NULL): the epilogue of this K slice; res (or NULL):
 * its residual where C starts, added to each finished tile before act. */
static void macro_kernel(const xcnn_gemm_kernel *kern, int mc, int nc, int kc, int q0, int q1,
                         const a_view *v, const b_view *bv, float *C, int ldc, float *edge,
                         int add, const float *bias, const xcnn_gemm_epilogue *act,
                         const float *res)
{
    int mr = kern->mr, nr = kern->nr;
    for (int i = 0; i < mc; i += mr) {
        int h = mc - i < mr ? mc - i : mr;
        const float *a = v->a + (size_t)i * v->step;
        size_t rs = v->rs, cs = v->cs;
        if (h < mr && v->cs != (size_t)mr) { /* ragged rows read in place: pad them */
            pack_edge(v, a, h, mr, kc, edge);
            a = edge;
            rs = 1;
            cs = (size_t)mr;
        }
        for (int q = q0; q < q1; q++) {
            int j = q * nr, w = nc - j < nr ? nc - j : nr;
            const float *b = bv->packed + (size_t)q * nr * kc;
            size_t ldp = (size_t)nr;
            if (bv->direct && w == nr) { /* whole panel of untransposed B: read in place */
                b = bv->direct + j;
                ldp = bv->ldb;
            }
            float *tile = C + (size_t)i * ldc + j;
            if (res) { /* the sum with its bias stored, then residual and act */
                prefetch_tile(res + (size_t)i * ldc + j, ldc, h, w);
                run_tile_ep(kern, kc, a, rs, cs, b, ldp, tile, ldc, h, w, add,
                            bias ? bias + i : NULL, NULL);
                residual_tile(tile, ldc, h, (size_t)w, res + (size_t)i * ldc + j, act);
            } else if (bias || act)
                run_tile_ep(kern, kc, a, rs, cs, b, ldp, tile, ldc, h, w, add,
                            bias ? bias + i : NULL, act);
            else
                kern->run(kc, a, rs, cs, b, ldp, C + (size_t)i * ldc + j, ldc, h, w, add);
        }
    }
}

/* How C is cut into `threads` tasks or more: nb column blocks, each
 * possibly split into ms row ranges. Blocks are whole nr-column panels and
 * ranges whole mr-row tiles, shared out as evenly as whole units allow
 * (split_bounds): in blocks of one fixed width, ResNet-50's 784-pixel
 * convs gave one thread 224 + 224 columns and the other 224 + 112. */
typedef struct split {
    int nb, ms, panels, tiles;
} split;

static split plan_split(int M, int N, int mr, int nr, int threads)
{
    split s;
    s.panels = (N + nr - 1) / nr;
    s.tiles = (M + mr - 1) / mr;
    int per_block = block_cols(nr) / nr;
    s.nb = (s.panels + per_block - 1) / per_block;
    /* A multiple of the thread count, while blocks stay >= 4 panels wide. */
    int even = (s.nb + threads - 1) / threads * threads;
    if (even != s.nb && s.panels / even >= 4) s.nb = even;
    /* Too few column blocks for the threads: cut rows too. */
    s.ms = s.nb >= threads ? 1 : (threads + s.nb - 1) / s.nb;
    if (s.ms > s.tiles) s.ms = s.tiles;
    return s;
}

/* Part k of n of `units` units of `size` elements each, clipped to `total`. */
static void split_bounds(int units, int n, int k, int size, int total, int *lo, int *hi)
{
    *lo = (int)((long)units * k / n) * size;
    *hi = (int)((long)units * (k + 1) / n) * size;
    if (*hi > total) *hi = total;
}

/* Task: rows [i0, i1) x columns [j0, j1) of C, over all of K. The first
 * K slice overwrites C when `overwrite` (beta = 0), later ones add. */
static void run_task(const xcnn_gemm_kernel *kern, int trans_a, int trans_b, int i0, int i1,
                     int j0, int j1, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float *C, int ldc, float *pa, float *pb,
                     int overwrite, const xcnn_gemm_epilogue *ep)
{
    int mr = kern->mr, nr = kern->nr, mc_max = block_rows(mr), nc_max = block_cols(nr);
    /* Rows of A read in place must start on whole cache lines to be cheap:
     * a stem conv's 3 x 7 x 7 = 147-float rows measured 30% slower read in
     * place than packed. */
    int direct = alpha == 1.0f && (trans_a || lda % 16 == 0);
    for (int jc = j0; jc < j1; jc += nc_max) {
        int nc = j1 - jc < nc_max ? j1 - jc : nc_max;
        int npanels = (nc + nr - 1) / nr;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            b_view bv = {pb, NULL, (size_t)ldb};
            if (!trans_b) bv.direct = B + (size_t)pc * ldb + jc;
            for (int q = 0; q < npanels; q++)
                if (trans_b || nc - q * nr < nr)
                    pack_b_panel(B, ldb, trans_b, pc, kc, jc, nc, nr, q, pb);
            for (int ic = i0; ic < i1; ic += mc_max) {
                int mc = i1 - ic < mc_max ? i1 - ic : mc_max;
                a_view v;
                if (direct && !trans_a)
                    v = (a_view){A + (size_t)ic * lda + pc, (size_t)lda, (size_t)lda, 1};
                else if (direct)
                    v = (a_view){A + (size_t)pc * lda + ic, 1, 1, (size_t)lda};
                else {
                    pack_a(A, lda, trans_a, alpha, ic, mc, pc, kc, mr, pa);
                    v = (a_view){pa, (size_t)kc, 1, (size_t)mr};
                }
                /* pa is free for the ragged edge tile when A is direct. The
                 * epilogue's bias starts the first K slice, its residual
                 * and activation end the last. */
                const float *bias = ep && ep->bias && pc == 0 ? ep->bias + ic : NULL;
                int last = pc + kc >= K;
                const xcnn_gemm_epilogue *act =
                    ep && (ep->relu || ep->clip || ep->residual) && last ? ep : NULL;
                const float *res = act && ep->residual
                                       ? ep->residual + (size_t)ic * ldc + jc : NULL;
                macro_kernel(kern, mc, nc, kc, 0, npanels, &v, &bv, C + (size_t)ic * ldc + jc,
                             ldc, pa, pc > 0 || !overwrite, bias, act, res);
            }
        }
    }
}

/* Task t of split s: its block of C, packing into its own pa and pb. */
static void split_task(const xcnn_gemm_kernel *kern, const split *s, int t, int trans_a,
                       int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float *C, int ldc, int overwrite,
                       const xcnn_gemm_epilogue *ep)
{
    float pa[MC * KC], pb[KC * NC];
    int i0, i1, j0, j1;
    split_bounds(s->tiles, s->ms, t % s->ms, kern->mr, M, &i0, &i1);
    split_bounds(s->panels, s->nb, t / s->ms, kern->nr, N, &j0, &j1);
    run_task(kern, trans_a, trans_b, i0, i1, j0, j1, K, alpha, A, lda, B, ldb, C, ldc, pa, pb,
             overwrite, ep);
}

/* One parallel region, one loop over independent tasks, no barrier inside:
 * a barrier per K slice costs little on an idle machine but a whole time
 * slice whenever another program has taken a core. Each thread packs into
 * its own pa and pb (on its stack; their size is config.h's). */
static void run_gemm(const xcnn_gemm_kernel *kern, int trans_a, int trans_b, int M, int N,
                     int K, float alpha, const float *A, int lda, const float *B, int ldb,
                     float *C, int ldc, int serial, int overwrite, const xcnn_gemm_epilogue *ep)
{
    /* Below ~8 MFLOP the region costs more than it saves (see XCNN_PARALLEL_MIN). */
    int threads = (double)M * N * K > 4e6 && !serial ? xcnn_threads_max() : 1;
    /* Twice as many tasks as threads, shared out statically (threads.h:
     * each thread's block of C stays in its caches from call to call).
     * A C tile is computed by exactly one task, so the bits do not
     * change. */
    split s = plan_split(M, N, kern->mr, kern->nr, threads > 1 ? 2 * threads : 1);
    int ntasks = s.nb * s.ms;
    if (!xcnn_fork_worth(threads > 1 && ntasks > 1)) {
        for (int t = 0; t < ntasks; t++)
            split_task(kern, &s, t, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, C, ldc,
                       overwrite, ep);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int t = 0; t < ntasks; t++)
        split_task(kern, &s, t, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, C, ldc,
                   overwrite, ep);
}

static void sgemm(xcnn_gemm_kind kind, int trans_a, int trans_b, int M, int N, int K,
                  float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                  float *C, int ldc, int serial)
{
    if (M <= 0 || N <= 0) return;
    if (!xcnn_gemm_available(kind)) kind = xcnn_gemm_selected();
    /* beta = 0 with a product to compute: its first K slice overwrites C
     * (no separate pass to clear it). */
    int overwrite = beta == 0.0f && K > 0 && alpha != 0.0f;
    if (!overwrite) scale_c(C, ldc, M, N, beta);
    if (K <= 0 || alpha == 0.0f) return;
    run_gemm(kernel_for(kind, M), trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, C, ldc,
             serial, overwrite, NULL);
}

static void sgemm_epilogue(xcnn_gemm_kind kind, int M, int N, int K, const float *A, int lda,
                           const float *B, int ldb, const xcnn_gemm_epilogue *ep, float *C,
                           int ldc, int serial)
{
    if (M <= 0 || N <= 0) return;
    if (!xcnn_gemm_available(kind)) kind = xcnn_gemm_selected();
    if (K <= 0) { /* no product: the bias, the residual, then the activation */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = ep->bias ? ep->bias[i] : 0.0f;
        if (ep->residual) residual_tile(C, ldc, M, (size_t)N, ep->residual, ep);
        else if (ep->relu || ep->clip) activate_tile(C, ldc, M, N, ep);
        return;
    }
    run_gemm(kernel_for(kind, M), 0, 0, M, N, K, 1.0f, A, lda, B, ldb, C, ldc, serial, 1, ep);
}

void xcnn_sgemm_epilogue(xcnn_gemm_kind kind, int M, int N, int K, const float *A, int lda,
                         const float *B, int ldb, const xcnn_gemm_epilogue *ep, float *C, int ldc)
{
    sgemm_epilogue(kind, M, N, K, A, lda, B, ldb, ep, C, ldc, 0);
}

void xcnn_sgemm_serial_epilogue(xcnn_gemm_kind kind, int M, int N, int K, const float *A,
                                int lda, const float *B, int ldb, const xcnn_gemm_epilogue *ep,
                                float *C, int ldc)
{
    sgemm_epilogue(kind, M, N, K, A, lda, B, ldb, ep, C, ldc, 1);
}

void xcnn_sgemm_with(xcnn_gemm_kind kind, int trans_a, int trans_b, int M, int N, int K,
                     float alpha, const float *A, int lda, const float *B, int ldb,
                     float beta, float *C, int ldc)
{
    sgemm(kind, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 0);
}

void xcnn_sgemm_serial(xcnn_gemm_kind kind, int trans_a, int trans_b, int M, int N, int K,
                       float alpha, const float *A, int lda, const float *B, int ldb,
                       float beta, float *C, int ldc)
{
    sgemm(kind, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 1);
}

/* ---- few rows ------------------------------------------------------------ */

/* The kernel for a product with few rows: on AVX-512 the 7 x 48 one;
 * elsewhere the plain kernel (NEON has no few-rows kernel yet: 49 rows
 * run as 5 tiles of 12). */
static const xcnn_gemm_kernel *small_m_kernel(xcnn_gemm_kind kind)
{
#ifdef XCNN_GEMM_X86
    if (kind == XCNN_GEMM_AVX512) return &xcnn_gemm_kernel_avx512_7x48;
#endif
    return kernel_of(kind);
}

const xcnn_gemm_kernel *xcnn_gemm_strided_kernel(xcnn_gemm_kind kind)
{
    if (!xcnn_gemm_available(kind)) kind = xcnn_gemm_selected();
    const xcnn_gemm_kernel *kern = small_m_kernel(kind);
    return kern->strided ? kern : NULL;
}

/* One thread's share: B panels [q0, q1), all rows, K in KC slices. The
 * whole of op(A)'s slice (M x KC, a few dozen rows) stays in L1/L2 and
 * each B panel is read once per slice: in place from B (packed == NULL),
 * or from panels packed once by xcnn_gemm_pack_b. The first K slice
 * overwrites C unless `accumulate`. */
static void small_m_task(const xcnn_gemm_kernel *kern, int trans_a, int M, int N, int K,
                         const float *A, int lda, const float *B, int ldb,
                         const float *packed, float *C, int ldc, int accumulate, int q0, int q1)
{
    int mr = kern->mr, nr = kern->nr;
    /* a ragged row tile; a ragged last panel */
    float edge[XCNN_GEMM_MAX_MR * KC], pb[KC * XCNN_GEMM_MAX_NR];
    for (int pc = 0; pc < K; pc += KC) {
        int kc = K - pc < KC ? K - pc : KC, add = pc > 0 || accumulate;
        a_view v = trans_a ? (a_view){A + (size_t)pc * lda, 1, 1, (size_t)lda}
                           : (a_view){A + pc, (size_t)lda, (size_t)lda, 1};
        int full = M / mr * mr; /* rows of whole tiles; a ragged rest is packed once */
        if (full < M) pack_edge(&v, v.a + (size_t)full * v.step, M - full, mr, kc, edge);
        for (int q = q0; q < q1; q++) {
            int j = q * nr, w = N - j < nr ? N - j : nr;
            const float *b;
            size_t ldp = (size_t)nr;
            if (packed) {
                b = packed + (size_t)q * nr * K + (size_t)pc * nr;
            } else if (w < nr) { /* zero-padded copy: the kernel reads whole panels */
                pack_b_panel(B, ldb, 0, pc, kc, j, w, nr, 0, pb);
                b = pb;
            } else {
                b = B + (size_t)pc * ldb + j;
                ldp = (size_t)ldb;
            }
            for (int i = 0; i < full; i += mr)
                kern->run(kc, v.a + (size_t)i * v.step, v.rs, v.cs, b, ldp,
                          C + (size_t)i * ldc + j, ldc, mr, w, add);
            if (full < M)
                kern->run(kc, edge, 1, (size_t)mr, b, ldp, C + (size_t)full * ldc + j, ldc,
                          M - full, w, add);
        }
    }
}

/* The threads share B's panels: a few panels per task, handed out
 * dynamically (see run_gemm); `serial`: the calling thread alone. */
static void small_m_run(const xcnn_gemm_kernel *kern, int trans_a, int M, int N, int K,
                        const float *A, int lda, const float *B, int ldb, const float *packed,
                        float *C, int ldc, int accumulate, int serial)
{
    int panels = (N + kern->nr - 1) / kern->nr;
    int threads = (double)M * N * K > 4e6 && !serial ? xcnn_threads_max() : 1;
    /* About 8 tasks per thread: a few panels each, or, when there are
     * fewer panels than that (ResNet's layer4: 11 of 48 columns), one
     * panel and a part of the rows each, so that 11 panels do not leave
     * one thread 6 and the other 5. Neighbouring tasks share a panel and
     * go to the same thread (schedule(static)), so it is read from memory
     * once. */
    int want = threads > 1 ? 8 * threads : 1, tiles = (M + kern->mr - 1) / kern->mr;
    int parts = panels >= want ? 1 : (want + panels - 1) / panels;
    if (parts > tiles) parts = tiles;
    int tasks = parts > 1 ? panels * parts : (want < panels ? want : panels);
    if (!xcnn_fork_worth(tasks > 1)) {
        /* one thread: every panel, all rows, in one task */
        small_m_task(kern, trans_a, M, N, K, A, lda, B, ldb, packed, C, ldc, accumulate, 0,
                     panels);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int t = 0; t < tasks; t++) {
        if (parts == 1) {
            small_m_task(kern, trans_a, M, N, K, A, lda, B, ldb, packed, C, ldc, accumulate,
                         (int)((long)panels * t / tasks),
                         (int)((long)panels * (t + 1) / tasks));
            continue;
        }
        int q = t / parts, r = t % parts;
        int i0 = tiles * r / parts * kern->mr, i1 = tiles * (r + 1) / parts * kern->mr;
        if (i1 > M) i1 = M;
        const float *a = A + (trans_a ? (size_t)i0 : (size_t)i0 * lda);
        small_m_task(kern, trans_a, i1 - i0, N, K, a, lda, B, ldb, packed,
                     C + (size_t)i0 * ldc, ldc, accumulate, q, q + 1);
    }
}

void xcnn_sgemm_small_m(xcnn_gemm_kind kind, int trans_a, int M, int N, int K,
                        const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (!xcnn_gemm_available(kind)) kind = xcnn_gemm_selected();
    if (K <= 0) {
        scale_c(C, ldc, M, N, 0.0f);
        return;
    }
    small_m_run(small_m_kernel(kind), trans_a, M, N, K, A, lda, B, ldb, NULL, C, ldc, 0, 0);
}

/* ---- B packed once ---------------------------------------------------------- */

int xcnn_gemm_panel_width(xcnn_gemm_kind kind)
{
    if (!xcnn_gemm_available(kind)) kind = xcnn_gemm_selected();
    return small_m_kernel(kind)->nr;
}

size_t xcnn_gemm_packed_floats(int K, int N, int nr)
{
    return (size_t)((N + nr - 1) / nr) * (size_t)nr * (size_t)(K > 0 ? K : 0);
}

void xcnn_gemm_pack_b(int trans_b, int K, int N, const float *B, int ldb, int nr,
                      float *packed)
{
    int panels = (N + nr - 1) / nr;
    for (int q = 0; q < panels; q++)
        pack_b_panel(B, ldb, trans_b, 0, K, 0, N, nr, q, packed);
}

static void sgemm_packed(xcnn_gemm_kind kind, int trans_a, int M, int N, int K,
                         const float *A, int lda, const float *packed, float beta, float *C,
                         int ldc, int serial)
{
    if (M <= 0 || N <= 0) return;
    if (!xcnn_gemm_available(kind)) kind = xcnn_gemm_selected();
    int accumulate = beta != 0.0f;
    if (K <= 0) {
        scale_c(C, ldc, M, N, beta);
        return;
    }
    if (accumulate) scale_c(C, ldc, M, N, beta);
    small_m_run(small_m_kernel(kind), trans_a, M, N, K, A, lda, NULL, 0, packed, C, ldc,
                accumulate, serial);
}

void xcnn_sgemm_packed(xcnn_gemm_kind kind, int trans_a, int M, int N, int K,
                       const float *A, int lda, const float *packed, float beta, float *C,
                       int ldc)
{
    sgemm_packed(kind, trans_a, M, N, K, A, lda, packed, beta, C, ldc, 0);
}

void xcnn_sgemm_packed_serial(xcnn_gemm_kind kind, int trans_a, int M, int N, int K,
                              const float *A, int lda, const float *packed, float beta,
                              float *C, int ldc)
{
    sgemm_packed(kind, trans_a, M, N, K, A, lda, packed, beta, C, ldc, 1);
}

void xcnn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    xcnn_sgemm_with(XCNN_GEMM_AUTO, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta,
                    C, ldc);
}
