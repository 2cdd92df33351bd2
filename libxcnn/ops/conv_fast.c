/*
 * Conv's fast paths (conv.h): the same sums as the reference in conv.c,
 * arranged for the cache, the vector units and the threads. Each path
 * names the reference it must equal; "to rounding" means the test
 * (tests/test_reference_paths.c, tests/test_conv_paths.c) allows 1e-5 of
 * the largest value, "the same bits" that outputs are compared with
 * memcmp.
 *
 * The plain one: per sample and group, with col = im2col(X_g)
 * (Cg*kh*kw rows, OH*OW columns) and W_g as an Mg x (Cg*kh*kw) matrix,
 *
 *   forward   Y_g   = W_g * col + B_g
 *   backward  dW_g += dY_g * col^T          (summed over the batch)
 *             dX_g += col2im(W_g^T * dY_g)
 *             dB   += sum over batch and pixels of dY
 *
 * which equals xcnn_conv_reference_forward / _backward to rounding (the
 * GEMM sums in float, in its own order). A 1x1, stride-1, unpadded conv
 * needs no im2col: col is X_g itself. Depthwise convs (one input and
 * one output channel per group) are run by a direct loop instead: as a
 * GEMM they would be a 1-row matrix times a 9-row im2col, all overhead.
 *
 * A 3x3 stride-1 conv without groups runs Winograd F(2x2, 3x3) instead
 * (winograd.h: 2.25x fewer multiply-adds), forward and for dX, when its
 * weights are frozen (no gradient buffer: inference and explainers). The
 * transformed weights are made at the first forward; weights that change
 * (training, gradient checks) have gradient buffers, so they take the
 * im2col path and nothing goes stale. Winograd equals the reference to
 * rounding only (its transforms round differently from a direct sum).
 *
 * Two more shapes of the same products: with few output pixels, dX's
 * W^T dY is computed transposed, dY^T W (xcnn_sgemm_small_m: the pixels
 * are the rows, W is read in place); and at batch > 1, layers with small
 * planes put several samples' columns side by side in one GEMM. Neither
 * changes a single bit of the plain path's result: every output is still
 * one dot product summed in the same order.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "conv.h"
#include "../base/cpu.h"
#include "../base/config.h"
#include "../base/threads.h"
#include "../kernels/conv_direct.h"
#include "../kernels/conv_stem.h"
#include "../kernels/depthwise.h"
#include "../kernels/gemm.h"
#include "../kernels/winograd.h"

/* Weights repacked for one GEMM kernel's panel width (xcnn_sgemm_packed):
 * made on first use, made again if XCNN_GEMM switches kernels, and once
 * the originals are released (inference only) run with the kernel they
 * were made for. */
typedef struct packed_form {
    float *data;         /* on a cache line: 3 whole lines per 48-float k
                            step instead of 4 split ones (7% faster)    */
    int nr;              /* panel width it holds; 0 = not made yet      */
    xcnn_gemm_kind kind; /* the kernel it was made for                  */
} packed_form;

/* The kernel to run with form f; 1 in *make when f must first be made
 * (again) from the original weights w (NULL once released). */
static xcnn_gemm_kind packed_kind(packed_form *f, const float *w, int *make)
{
    xcnn_gemm_kind kind = w ? xcnn_gemm_selected() : f->kind;
    int nr = xcnn_gemm_panel_width(kind);
    *make = w && f->nr != nr;
    if (*make) {
        f->nr = nr;
        f->kind = kind;
    }
    return kind;
}

/* p rounded up to a cache line. */
static float *cache_line(float *p)
{
    return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

/* One Winograd forward: its tiles, and whether its products run
 * transposed from U^T packed (few tiles; winograd.h). */
typedef struct wino_form {
    xcnn_winograd_geom geo;
    int packed;
    packed_form ut; /* that U^T, xcnn_winograd_weights_packed */
} wino_form;

enum { WINO_GRAD, WINO_VALUES };

typedef struct conv_params {
    xcnn_conv_shape s; /* first: conv.c reads it (window, channels, group) */
    int cg, mg;    /* input / output channels per group                 */
    int kcol;      /* rows of col = cg * k_h * k_w                       */
    int npix;      /* output pixels of one plane = out_h * out_w         */
    int pointwise; /* 1x1, stride 1, no pad: col is X itself             */
    int depthwise; /* cg == mg == 1: the direct loop                     */
    size_t dw_slot; /* depthwise: scratch floats of one thread's planes
                       (kernels/depthwise.h); 0 for the plain loop       */
    int dw_channels; /* depthwise, 16 channels at a time (planes <= 112^2) */
    int dw_direct; /* depthwise 3x3 on wide rows, from the plane itself   */
    int winograd;  /* shape suits Winograd F(2x2, 3x3) (u is allocated)  */
    int u2_ready, u4_ready; /* u2 / u4 hold the transformed weights      */
    /* Winograd forwards: [WINO_GRAD] is the one whose values a backward
     * may read (F(2x2); F(4x4) in inference-only models, which have no
     * backward), [WINO_VALUES] the one for values-only passes (F(4x4) on
     * large planes; else the same as [WINO_GRAD]). */
    wino_form fwd[2];
    xcnn_winograd_geom wg_bwd; /* dX as a conv of dY (m 4 on large dX planes) */
    float *u4;     /* F(4x4, 3x3)'s 36 x c_out x c_in, when a form has m 4 */
    float *u4_dx;  /* F(4x4)'s U of the turned kernel (36 x c_in x c_out),
                      when wg_bwd.m == 4; made at the first backward      */
    int u4_dx_ready;
    int transposed; /* few pixels: forward as Y^T = col^T W^T (see below)  */
    int direct;     /* strided: forward as Y^T with no col (conv_direct.h) */
    int stem;       /* few input channels: over phase planes (conv_stem.h) */
    int pooled;     /* the stem with a max pool folded in (fused_pool)     */
    xcnn_window2d pool; /* its window                                      */
    packed_form wt_packed; /* W^T, for xcnn_sgemm_packed (transposed) or
                              tap by tap (direct); W in blocks (stem)     */
    /* Inference only: a transposed 1x1 conv whose sole reader is a
     * depthwise conv in the channel form leaves Y pixel-major (Y^T, not
     * turned back), and that conv reads it so (see hand_off) */
    int pixel_major_out, pixel_major_in;
    float u[];     /* F(2x2, 3x3)'s 16 x c_out x c_in (dX, small planes) */
} conv_params;

/* ---- setup: which paths this node's shape takes ------------------------ */

/* Winograd F(2x2, 3x3) where it pays: 3x3, stride 1, no dilation or
 * groups, pads of at most 2 (so dX is a conv of dY too), enough channels
 * for the 16 GEMMs to outweigh the transforms, and planes that fit the
 * transforms' row buffers. */
/* Smallest output plane side on which an inference-only forward uses
 * F(4x4, 3x3): 28x28 is 49 tiles, still wide enough GEMMs (ResNet's
 * layer1-2: 20% faster than F(2x2, 3x3) on one thread). */
#define WINOGRAD_F4_MIN 28

static int use_winograd(const xcnn_window2d *w, int64_t c_in, int64_t c_out, int64_t group)
{
    return w->k_h == 3 && w->k_w == 3 && w->stride_h == 1 && w->stride_w == 1 &&
           w->dil_h == 1 && w->dil_w == 1 && group == 1 && w->pad_top <= 2 &&
           w->pad_left <= 2 && w->pad_bottom <= 2 && w->pad_right <= 2 && c_in >= 16 &&
           c_out >= 16 && (int64_t)w->out_h * w->out_w >= 64 &&
           w->out_w <= XCNN_WINOGRAD_MAX_W - 2 && w->in_w <= XCNN_WINOGRAD_MAX_W - 2;
}

/* Few output pixels (ResNet's last layers: 7 x 7 = 49) make C = W col a
 * GEMM with a thin, ragged N: the 12 x 32 AVX-512 tiles cover 49 columns
 * with 64, and W (the large operand) is read in place. Transposed,
 * Y^T = col^T W^T, the pixels are the rows, which the 7 x 48 kernel
 * covers exactly (49 = 7 x 7), and W^T is packed once into the panels
 * the kernel streams: measured 99-110 GFLOP/s on one core against 77-84
 * for layer4's shapes. Chosen when its tiles waste clearly less. */
static int transposed_pays(int64_t npix, int64_t c_out)
{
    double rows = (double)npix / (double)((npix + 6) / 7 * 7);
    double cols = (double)c_out / (double)((c_out + 47) / 48 * 48);
    double plain = (double)npix / (double)((npix + 31) / 32 * 32);
    return npix <= 1024 && rows * cols > plain + 0.05;
}

/* The direct forward (kernels/conv_direct.h) for windows wider than 1x1
 * that Winograd does not take, where the im2col it skips is dear:
 *   - strided windows, whose col is a strided gather (ResNet-50's 3x3
 *     stride-2 convs, one thread: 1.57, 1.53, 1.73 -> 1.37, 1.41, 1.48 ms);
 *   - few pixels, where the transposed GEMM would run (ResNet's 3x3 convs
 *     on 7 x 7: 1.55 -> 1.46 ms).
 * It needs channels enough for the micro-kernel's k loop and output rows
 * at least one 7-pixel tile wide. The stem (3 channels) keeps im2col in
 * pieces; 1x1 stride-2 convs keep it too (as direct, ResNet-50's layer2
 * downsample went 1.10 -> 1.62 ms). */
static int use_direct(const xcnn_window2d *w, int64_t c_in, int64_t c_out, int64_t group)
{
    int strided = w->stride_h > 1 || w->stride_w > 1;
    int64_t npix = (int64_t)w->out_h * w->out_w;
    return group == 1 && w->k_h * w->k_w > 1 && c_in >= 16 && c_out >= 16 && w->out_w >= 7 &&
           (strided || transposed_pays(npix, c_out));
}

/* The stem form (kernels/conv_stem.h) for convs over few input channels
 * (an image's RGB) on a machine with AVX-512, where the plain C would be
 * slower than im2col and the GEMM. ResNet's 7x7 stride-2 stem, one
 * thread: 1.80 ms as im2col in pieces and the GEMM, 1.38 ms here. Only
 * with enough terms per output to outweigh a sum's start, store and copy
 * out: MobileNetV2's 3x3 stem (27 terms) took 0.26-0.36 ms in the pass
 * where im2col and the GEMM take 0.23-0.24. */
#define STEM_MIN_TERMS 48

static int use_stem(const xcnn_window2d *w, int64_t c_in, int64_t group)
{
    return group == 1 && c_in * w->k_h * w->k_w >= STEM_MIN_TERMS &&
           xcnn_conv_stem_fits(w, (int)c_in) && xcnn_conv_stem_simd();
}

/* Floats for W^T packed for any kernel's panel width (16, 48 or 8, all
 * dividing 48: at most 47 columns of padding). */
static uint64_t packed_wt_floats(int64_t kcol, int64_t c_out)
{
    return (uint64_t)kcol * (uint64_t)(c_out + 47);
}

/* Would a x b floats pass what this build's size_t counts in bytes? The
 * plan's sizes are counted in uint64_t and checked with this before any
 * is used as a size_t: a 32-bit size_t wraps silently on one sample's col
 * (kcol x npix: 1 Gi floats is a 512-channel 3x3 conv on a 512 x 512
 * plane) and the conv would run on a short buffer. */
static int too_many_floats(uint64_t a, uint64_t b)
{
    return b != 0 && a > (uint64_t)(SIZE_MAX / sizeof(float)) / b;
}

/* Positions x tiles of a Winograd geometry: xcnn_winograd_scratch is
 * this times c_in + c_out floats. At most 36 x 2^31 (npix <= INT_MAX). */
static uint64_t winograd_cells(int m, int out_h, int out_w)
{
    return (uint64_t)xcnn_winograd_positions(m) * (uint64_t)((out_h + m - 1) / m) *
           (uint64_t)((out_w + m - 1) / m);
}

/* Pixels per piece when one conv's scratch is capped (base/config.h,
 * XCNN_CONV_SCRATCH_FLOATS): as many as fit, at least one; 0 without a
 * cap, for convs that need no col (1x1, depthwise) and for planes whose
 * col fits whole. */
static int capped_pixels(const conv_params *p)
{
#if XCNN_CONV_SCRATCH_FLOATS > 0
    if (p->pointwise || p->depthwise ||
        (size_t)p->kcol * (size_t)p->npix <= (size_t)XCNN_CONV_SCRATCH_FLOATS)
        return 0;
    int w = (int)((size_t)XCNN_CONV_SCRATCH_FLOATS / (size_t)p->kcol);
    return w < 1 ? 1 : w;
#else
    (void)p;
    return 0;
#endif
}

/* The paths this shape may take, their transformed weights' room, and
 * the scratch the largest of them needs. */
xcnn_status xcnn_conv_fast_setup(xcnn_graph *g, xcnn_node *n, const xcnn_conv_shape *s,
                                 xcnn_err *err)
{
    const xcnn_window2d win = s->win;
    int64_t c_in = s->c_in, c_out = s->c_out, group = s->group;
    int64_t kcol = c_in / group * win.k_h * win.k_w;
    int64_t npix = (int64_t)win.out_h * win.out_w;
    /* base/config.h: small builds keep no converted copy of the weights */
    int winograd = XCNN_CONV_WINOGRAD && use_winograd(&win, c_in, c_out, group);
    /* F(4x4, 3x3) on planes large enough to fill its 4x4 tiles, in
     * forwards whose values no backward reads: inference-only models, and
     * the part of a Grad-CAM pass below its layer (xcnn_exec_forward_values).
     * Its rounding differs from F(2x2)'s, and gradients keep F(2x2): a
     * ReLU input within rounding of 0 decides which way a gradient goes,
     * and F(2x2) is the one whose gradients match PyTorch's on ResNet-18
     * to 1e-6 (F(4x4) flips one unit there; its outputs still match to
     * 6e-7). */
    int f4 = winograd && win.out_h >= WINOGRAD_F4_MIN && win.out_w >= WINOGRAD_F4_MIN;
    /* dX is a conv too, whose output is the input plane: F(4x4) where that
     * is large. Rounding there only moves gradient values by ~1e-7; no
     * ReLU decides anything from them (the masks come from the forward). */
    int f4_dx = winograd && !g->inference_only && win.in_h >= WINOGRAD_F4_MIN &&
                win.in_w >= WINOGRAD_F4_MIN;
    uint64_t per_xi = (uint64_t)c_out * (uint64_t)c_in;
    uint64_t u_floats = winograd ? (16 + (f4 ? 36 : 0) + (f4_dx ? 36 : 0)) * per_xi : 0;
    /* where the kernel cannot run it (AVX2, NEON), few pixels stay transposed */
    int direct = XCNN_CONV_PACKED && !winograd && use_direct(&win, c_in, c_out, group) &&
                 xcnn_conv_direct_runs(xcnn_gemm_selected());
    int stem = XCNN_CONV_PACKED && !winograd && !direct && use_stem(&win, c_in, group);
    int transposed = XCNN_CONV_PACKED && !winograd && !direct && !stem && group == 1 &&
                     transposed_pays(npix, c_out);
    /* the direct form's rows are W^T's in another order: the same room;
     * the stem's blocks of 8 channels need no more */
    uint64_t wt_floats = transposed || direct || stem ? packed_wt_floats(kcol, c_out) : 0;
    /* Tile sizes of the two forwards, and whether each runs from packed
     * U^T (few tiles: winograd.h). */
    int m_of[2] = {f4 && g->inference_only ? 4 : 2, f4 ? 4 : 2};
    int packed_of[2];
    uint64_t wp_floats[2];
    for (int k = 0; k < 2; k++) {
        int64_t tiles = (int64_t)((win.out_h + m_of[k] - 1) / m_of[k]) *
                        ((win.out_w + m_of[k] - 1) / m_of[k]);
        packed_of[k] = winograd && c_out <= XCNN_WINOGRAD_PACKED_MAX_COUT &&
                       transposed_pays(tiles, c_out);
        /* a values form equal to the gradient form shares its storage */
        int shared = k == WINO_VALUES && m_of[1] == m_of[0];
        wp_floats[k] = packed_of[k] && !shared
                           ? (uint64_t)xcnn_winograd_positions(m_of[k]) *
                                     packed_wt_floats(c_in, c_out) + 16
                           : 0;
    }
    /* Every size below fits size_t (too_many_floats): col and Y^T, the
     * three Winograd scratches, the weights' forms. Each term is below
     * 2^63: kcol, npix, c_out <= INT_MAX (conv.c), weights <= 2^40. */
    uint64_t room_floats = u_floats + wt_floats + wp_floats[0] + wp_floats[1] + 16;
    int too_big = too_many_floats((uint64_t)npix,
                                  (uint64_t)(kcol + (transposed || direct ? c_out : 0))) ||
                  too_many_floats(room_floats + sizeof(conv_params), 1);
    for (int k = 0; winograd && k < 3; k++)
        too_big |= too_many_floats(k < 2 ? winograd_cells(m_of[k], win.out_h, win.out_w)
                                         : winograd_cells(f4_dx ? 4 : 2, win.in_h, win.in_w),
                                   (uint64_t)(c_in + c_out));
    if (too_big)
        return xcnn_fail(err, XCNN_ERR_LIMIT,
                         "conv '%s': its scratch or converted weights need more floats than "
                         "this build's %d-bit size_t counts", n->name, (int)(8 * sizeof(size_t)));
    /* calloc: large blocks are fresh zero pages, so forms a model never
     * runs (U for training, F(2x2)'s U in inference, F(4x4)'s without a
     * Grad-CAM) never become resident. The packed forms start on cache
     * lines (+16 floats each). */
    conv_params *p = xcnn_node_calloc(n, 1, sizeof *p + (size_t)room_floats * sizeof(float));
    if (!p) return xcnn_fail(err, XCNN_ERR_NOMEM, "conv '%s': out of memory", n->name);
    p->s = *s;
    p->s.fast = 1;
    p->winograd = winograd;
    p->u4 = f4 ? p->u + 16 * per_xi : NULL;
    p->u4_dx = f4_dx ? p->u + (16 + (f4 ? 36 : 0)) * per_xi : NULL;
    float *room = p->u + u_floats + wt_floats + 16;
    for (int k = 0; k < 2; k++) {
        p->fwd[k].geo = (xcnn_winograd_geom){win.in_h, win.in_w, win.pad_top, win.pad_left,
                                             win.out_h, win.out_w, m_of[k]};
        p->fwd[k].packed = packed_of[k];
        if (!packed_of[k]) continue;
        p->fwd[k].ut.data = wp_floats[k] ? cache_line(room) : p->fwd[WINO_GRAD].ut.data;
        room += wp_floats[k];
    }
    p->transposed = transposed;
    p->direct = direct;
    p->stem = stem;
    p->wt_packed.data = transposed || direct || stem ? cache_line(p->u + u_floats) : NULL;
    p->cg = (int)(c_in / group);
    p->mg = (int)(c_out / group);
    p->kcol = (int)kcol;
    p->npix = (int)npix;
    p->pointwise = win.k_h == 1 && win.k_w == 1 && win.stride_h == 1 && win.stride_w == 1 &&
                   !win.pad_top && !win.pad_left && !win.pad_bottom && !win.pad_right;
    p->depthwise = p->cg == 1 && p->mg == 1;

    xcnn_node_free_mem(n, n->params);
    n->params = p;
    /* One group of one sample's col; backward reuses it for W^T * dY. The
     * transposed forward also needs Y^T before it is turned into Y. With a
     * cap (base/config.h), one piece of col. */
    n->scratch_floats = (p->pointwise || p->depthwise) ? 0 : (size_t)kcol * (size_t)npix;
    if (p->depthwise && xcnn_depthwise_fits(&win)) {
        /* One thread's slot: the plan must not depend on the thread count
         * (xcnn_model_plan sizes a static buffer for a later load). Threads
         * take as many slots as the arena's scratch holds, which is sized
         * for its largest node (MobileNetV2's first conv: 25 slots). */
        size_t slot = xcnn_depthwise_scratch(&win);
        int capped = XCNN_CONV_SCRATCH_FLOATS > 0 && slot > (size_t)XCNN_CONV_SCRATCH_FLOATS;
        if (!capped && !too_many_floats(slot, 1)) {
            if (xcnn_depthwise_channels_fit(&win)) {
                size_t chan = xcnn_depthwise_channels_scratch(&win);
                if (XCNN_CONV_SCRATCH_FLOATS == 0 || chan <= (size_t)XCNN_CONV_SCRATCH_FLOATS) {
                    p->dw_channels = 1;
                    slot = chan > slot ? chan : slot;
                }
            }
            p->dw_slot = slot;
            n->scratch_floats = slot;
        }
    }
    /* Wide 3x3 planes read in place (kernels/depthwise_direct.c), with
     * AVX-512: no pixel-major hand-off to them (that is the channel form) */
    if (p->depthwise && xcnn_depthwise_direct_fits(&win) && xcnn_depthwise_simd()) {
        p->dw_direct = 1;
        p->dw_channels = 0;
    }
    if (capped_pixels(p)) { /* the transposed forward needs whole planes */
        n->scratch_floats = (size_t)kcol * (size_t)capped_pixels(p);
        p->transposed = 0;
        p->direct = 0;
        p->stem = 0;
    }
    if (p->transposed) n->scratch_floats += (size_t)npix * (size_t)p->s.c_out;
    /* the direct forward's Y^T; col stays for a backward's im2col */
    if (p->direct && (size_t)npix * (size_t)p->s.c_out > n->scratch_floats)
        n->scratch_floats = (size_t)npix * (size_t)p->s.c_out;
    /* the stem's phase planes and one part's band (more parts where the
     * arena's scratch has room: forward_stem) */
    if (p->stem) {
        size_t need = xcnn_conv_stem_phase_floats(&win, (int)c_in) +
                      xcnn_conv_stem_band_floats(&win);
        if (need > n->scratch_floats) n->scratch_floats = need;
    }
    if (p->winograd) {
        /* dX of a stride-1 conv is a conv of dY padded by 2 - pad. */
        p->wg_bwd = (xcnn_winograd_geom){win.out_h, win.out_w, 2 - win.pad_top,
                                         2 - win.pad_left, win.in_h, win.in_w, f4_dx ? 4 : 2};
        size_t f0 = xcnn_winograd_scratch(&p->fwd[0].geo, p->s.c_in, p->s.c_out, 1);
        size_t f1 = xcnn_winograd_scratch(&p->fwd[1].geo, p->s.c_in, p->s.c_out, 1);
        size_t b2 = xcnn_winograd_scratch(&p->wg_bwd, p->s.c_out, p->s.c_in, 1);
        if (f0 > n->scratch_floats) n->scratch_floats = f0;
        if (f1 > n->scratch_floats) n->scratch_floats = f1;
        if (b2 > n->scratch_floats) n->scratch_floats = b2;
    }
    return XCNN_OK;
}

/* ---- depthwise: direct loops over one plane -------------------------- */

/* The reference's sums, tap by tap in float with the padding's taps
 * skipped by range instead of by test: equal to it to rounding. */

/* The taps of one plane come from xcnn_window_tap_span (kernels/im2col.h):
 * the inner loops read  y[oh][ow] <-> x[oh*sh + ih0][ow*sw + iw0]. */

static void dw_plane_forward(const xcnn_window2d *w, const float *x, const float *k, float bias,
                             float *y)
{
    for (int i = 0; i < w->out_h * w->out_w; i++) y[i] = bias;
    for (int ki = 0; ki < w->k_h; ki++)
        for (int kj = 0; kj < w->k_w; kj++) {
            xcnn_tap_span t = xcnn_window_tap_span(w, ki, kj);
            float kv = k[ki * w->k_w + kj];
            for (int oh = t.oh_lo; oh < t.oh_hi; oh++) {
                const float *xr = x + (size_t)(oh * w->stride_h + t.ih0) * w->in_w + t.iw0;
                float *yr = y + (size_t)oh * w->out_w;
                for (int ow = t.ow_lo; ow < t.ow_hi; ow++) yr[ow] += kv * xr[ow * w->stride_w];
            }
        }
}

/* dX plane += taps * dY plane (skipped when dx is NULL); dK += dY . X. */
static void dw_plane_backward(const xcnn_window2d *w, const float *x, const float *k,
                              const float *dy, float *dx, float *dk)
{
    for (int ki = 0; ki < w->k_h; ki++)
        for (int kj = 0; kj < w->k_w; kj++) {
            xcnn_tap_span t = xcnn_window_tap_span(w, ki, kj);
            float kv = k[ki * w->k_w + kj];
            float sum = 0;
            for (int oh = t.oh_lo; oh < t.oh_hi; oh++) {
                size_t off = (size_t)(oh * w->stride_h + t.ih0) * w->in_w + t.iw0;
                const float *dyr = dy + (size_t)oh * w->out_w;
                if (dx)
                    for (int ow = t.ow_lo; ow < t.ow_hi; ow++)
                        dx[off + (size_t)ow * w->stride_w] += kv * dyr[ow];
                if (dk)
                    for (int ow = t.ow_lo; ow < t.ow_hi; ow++)
                        sum += dyr[ow] * x[off + (size_t)ow * w->stride_w];
            }
            if (dk) dk[ki * w->k_w + kj] += sum;
        }
}

/* Channel c of the depthwise backward, the batch in order. */
static void dw_channel_backward(const conv_params *p, int batch, int c, const float *x,
                                const float *k, const float *dy, float *dx, float *dk)
{
    size_t in_plane = (size_t)p->s.win.in_h * p->s.win.in_w, taps = (size_t)p->s.win.k_h * p->s.win.k_w;
    for (int b = 0; b < batch; b++) {
        size_t i = (size_t)b * p->s.c_out + c;
        dw_plane_backward(&p->s.win, x + i * in_plane, k + c * taps, dy + i * p->npix,
                          dx ? dx + i * in_plane : NULL, dk ? dk + c * taps : NULL);
    }
}

/* Parallel over channels; each channel walks the batch in order, so its
 * kernel gradient is summed the same way for any thread count. */
static void dw_backward(const conv_params *p, int batch, const float *x, const float *k,
                        const float *dy, float *dx, float *dk)
{
    size_t in_plane = (size_t)p->s.win.in_h * p->s.win.in_w, taps = (size_t)p->s.win.k_h * p->s.win.k_w;
    if (!xcnn_fork_worth((size_t)batch * p->s.c_out * in_plane * taps > XCNN_PARALLEL_MIN)) {
        for (int c = 0; c < p->s.c_out; c++) dw_channel_backward(p, batch, c, x, k, dy, dx, dk);
        return;
    }
#pragma omp parallel for schedule(dynamic)
    for (int c = 0; c < p->s.c_out; c++) dw_channel_backward(p, batch, c, x, k, dy, dx, dk);
}

/* The bias, the residual of a fused Add (res: laid out as the C the
 * GEMM stores, or NULL) and the activation fuse.c folded into this conv
 * (if any) as a GEMM epilogue (kernels/gemm.h): applied as each tile of Y
 * leaves the registers, the bits of filling Y with the bias, multiplying
 * into it, adding the residual and passing fused_act over it. */
static xcnn_gemm_epilogue conv_epilogue(const xcnn_node *n, const float *bias,
                                        const float *res)
{
    return (xcnn_gemm_epilogue){bias, n->fused_relu, n->fused_clip, n->clip_lo, n->clip_hi, res};
}

/* The residual r of a fused Add (core/fuse.c; NULL: none), then the
 * fused activation (if any), on count outputs while they are still in
 * cache, for the paths whose outputs no GEMM stores. */
static void residual_act(const xcnn_node *n, float *y, const float *r, size_t count)
{
    xcnn_gemm_epilogue act = conv_epilogue(n, NULL, NULL);
    if (r) xcnn_gemm_add_activate(y, r, count, &act);
    else xcnn_gemm_activate(y, count, &act);
}

/* The fused activation alone. */
static void fused_act(const xcnn_node *n, float *y, size_t count)
{
    residual_act(n, y, NULL, count);
}

/* The residual of sample b's output, or NULL (no fused Add). */
static const float *sample_residual(const conv_params *p, const float *res, int b)
{
    return res ? res + (size_t)b * p->s.c_out * p->npix : NULL;
}

/* ---- Winograd ------------------------------------------------------------ */

/* Forward and dX must equal the reference to rounding (F(4x4)'s transforms
 * round more than F(2x2)'s: tested at 1e-5 of the largest value). */

/* Scratch floats this conv may use: its own, or the arena's if larger
 * (room for several samples per call). */
static size_t scratch_room(const xcnn_graph *g, const xcnn_node *n)
{
    return g->scratch_floats > n->scratch_floats ? g->scratch_floats : n->scratch_floats;
}

/* The plain loop, for windows the phase planes do not take (dilated) and
 * for builds that cap a conv's scratch below a plane's. */
static void dw_plain_forward(const conv_params *p, int batch, const float *x, const float *k,
                             const float *bias, float *y)
{
    size_t in_plane = (size_t)p->s.win.in_h * p->s.win.in_w, taps = (size_t)p->s.win.k_h * p->s.win.k_w;
    int planes = batch * p->s.c_out;
    if (!xcnn_fork_worth((size_t)planes * in_plane * taps > XCNN_PARALLEL_MIN)) {
        for (int i = 0; i < planes; i++) {
            int c = i % p->s.c_out;
            dw_plane_forward(&p->s.win, x + (size_t)i * in_plane, k + c * taps,
                             bias ? bias[c] : 0, y + (size_t)i * p->npix);
        }
        return;
    }
#pragma omp parallel for schedule(static)
    for (int i = 0; i < planes; i++) {
        int c = i % p->s.c_out;
        dw_plane_forward(&p->s.win, x + (size_t)i * in_plane, k + c * taps, bias ? bias[c] : 0,
                         y + (size_t)i * p->npix);
    }
}

/* Output rows [r0, r1) of plane i (sample i / c_out, channel i % c_out)
 * over phase planes in `mine`, then the fused activation while they are
 * in cache. */
static void dw_phase_rows(const xcnn_node *n, int i, int r0, int r1, const float *x,
                          const float *k, const float *bias, float *y, float *mine, int simd)
{
    const conv_params *p = n->params;
    size_t in_plane = (size_t)p->s.win.in_h * p->s.win.in_w, taps = (size_t)p->s.win.k_h * p->s.win.k_w;
    int c = i % p->s.c_out;
    float *yi = y + (size_t)i * p->npix;
    xcnn_depthwise_rows(&p->s.win, x + (size_t)i * in_plane, k + c * taps, bias ? bias[c] : 0,
                        r0, r1, yi, mine, simd);
    fused_act(n, yi + (size_t)r0 * p->s.win.out_w, (size_t)(r1 - r0) * p->s.win.out_w);
}

/* Blocks of up to 16 channels (kernels/depthwise.h,
 * xcnn_depthwise_channels), then the fused activation on each block while
 * it is in cache. With threads, each sample's channels are first cut
 * into one range per thread, each range into blocks: 144 channels in
 * blocks of 16 had given one thread 5 blocks and the other 4.
 * MobileNetV2, one thread, against the phase planes in the same run:
 * 960 x 7 x 7 0.085 -> 0.037 ms, 384 x 14 x 14 0.057 -> 0.037, 192 x 28 x 28
 * 0.090 -> 0.072, 144 x 56 x 56 0.229 -> 0.203. */
static void dw_channel_blocks(const xcnn_node *n, int batch, int slots, const float *x,
                              const float *k, const float *bias, float *y, float *scratch)
{
    const conv_params *p = n->params;
    size_t in_plane = (size_t)p->s.win.in_h * p->s.win.in_w, taps = (size_t)p->s.win.k_h * p->s.win.k_w;
    int c = p->s.c_out, ranges = slots < c ? slots : c;
    int per_range = ((c + ranges - 1) / ranges + XCNN_DW_CHANNELS - 1) / XCNN_DW_CHANNELS;
    int tasks = batch * ranges * per_range, simd = xcnn_depthwise_simd();
#pragma omp parallel num_threads(slots) if (slots > 1)
    {
        float *mine = scratch + (size_t)xcnn_thread_num() * p->dw_slot;
#pragma omp for schedule(static)
        for (int j = 0; j < tasks; j++) {
            int b = j / (ranges * per_range), t = j / per_range % ranges, q = j % per_range;
            int lo = (int)((long)c * t / ranges), hi = (int)((long)c * (t + 1) / ranges);
            int c0 = lo + q * XCNN_DW_CHANNELS;
            if (c0 >= hi) continue;
            int nc = hi - c0 < XCNN_DW_CHANNELS ? hi - c0 : XCNN_DW_CHANNELS;
            float *yb = y + ((size_t)b * c + c0) * p->npix;
            if (p->pixel_major_in) /* sample b's in_plane x c floats */
                xcnn_depthwise_channels_pixel_major(&p->s.win, x + (size_t)b * c * in_plane + c0,
                                                    (size_t)c, k + c0 * taps,
                                                    bias ? bias + c0 : NULL, nc, yb,
                                                    (size_t)p->npix, mine, simd);
            else
                xcnn_depthwise_channels(&p->s.win, x + ((size_t)b * c + c0) * in_plane,
                                        in_plane, k + c0 * taps, bias ? bias + c0 : NULL, nc,
                                        yb, (size_t)p->npix, mine, simd);
            fused_act(n, yb, (size_t)nc * p->npix);
        }
    }
}

#ifdef XCNN_DW_X86
/* Wide 3x3 planes straight from x (kernels/depthwise_direct.c), planes
 * shared out statically, each plane's fused activation while it is in
 * cache. MobileNetV2, one thread, in the pass, against the channel form
 * (ms): 32 x 112 x 112 0.32 -> 0.16, its stride-2 96-channel layer 0.47 ->
 * 0.27, 144 x 56 x 56 0.33 -> 0.26, stride 2 0.15 -> 0.13. */
static void dw_direct_plane(const xcnn_node *n, int i, const float *x, const float *k,
                            const float *bias, float *y)
{
    const conv_params *p = n->params;
    size_t in_plane = (size_t)p->s.win.in_h * p->s.win.in_w;
    int c = i % p->s.c_out;
    float *yi = y + (size_t)i * p->npix;
    xcnn_depthwise_direct_rows(&p->s.win, x + (size_t)i * in_plane, k + c * 9,
                               bias ? bias[c] : 0, 0, p->s.win.out_h, yi);
    fused_act(n, yi, (size_t)p->npix);
}

static void dw_direct_forward(const xcnn_node *n, int batch, const float *x, const float *k,
                              const float *bias, float *y)
{
    const conv_params *p = n->params;
    size_t in_plane = (size_t)p->s.win.in_h * p->s.win.in_w;
    int planes = batch * p->s.c_out;
    if (!xcnn_fork_worth((size_t)planes * in_plane * 9 > XCNN_PARALLEL_MIN)) {
        for (int i = 0; i < planes; i++) dw_direct_plane(n, i, x, k, bias, y);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int i = 0; i < planes; i++) dw_direct_plane(n, i, x, k, bias, y);
}
#endif

/* The depthwise forward (kernels/depthwise.h), planes shared out
 * statically, each thread in its own slot of the scratch; it equals the
 * plain loop to rounding (the padding's taps add k * 0), with the same
 * bits for any thread count. (Sharing large planes by bands of rows
 * instead, each thread the same part of the image as in the 1x1 convs
 * around it, measured no different on this 2-core VM: 8.5 against
 * 8.6 ms for MobileNetV2 on two threads, inside the noise.) */
static void dw_forward(const xcnn_graph *g, const xcnn_node *n, int batch, const float *x,
                       const float *k, const float *bias, float *y, float *scratch)
{
    const conv_params *p = n->params;
#ifdef XCNN_DW_X86
    if (p->dw_direct) {
        dw_direct_forward(n, batch, x, k, bias, y);
        return;
    }
#endif
    if (!p->dw_slot) {
        dw_plain_forward(p, batch, x, k, bias, y);
        fused_act(n, y, (size_t)batch * p->s.c_out * p->npix);
        return;
    }
    size_t in_plane = (size_t)p->s.win.in_h * p->s.win.in_w, taps = (size_t)p->s.win.k_h * p->s.win.k_w;
    int planes = batch * p->s.c_out, simd = xcnn_depthwise_simd(), out_h = p->s.win.out_h;
    int slots = xcnn_fork_worth((size_t)planes * in_plane * taps > XCNN_PARALLEL_MIN)
                    ? xcnn_scratch_slots(scratch_room(g, n), p->dw_slot, planes)
                    : 1;
    if (p->dw_channels) {
        dw_channel_blocks(n, batch, slots, x, k, bias, y, scratch);
        return;
    }
    if (slots == 1) {
        for (int i = 0; i < planes; i++) dw_phase_rows(n, i, 0, out_h, x, k, bias, y, scratch, simd);
        return;
    }
#pragma omp parallel num_threads(slots)
    {
        float *mine = scratch + (size_t)xcnn_thread_num() * p->dw_slot;
#pragma omp for schedule(static)
        for (int i = 0; i < planes; i++) dw_phase_rows(n, i, 0, out_h, x, k, bias, y, mine, simd);
    }
}

/* Samples per Winograd call: enough tiles to make the 16 GEMMs wide
 * (up to 256 columns), as many as the arena's scratch holds. Wider was
 * slower: ResNet's layer2 (196 tiles) took 9% longer at batch 2 with both
 * samples in one call (6.4 MB of V and M instead of 3.2). */
static int winograd_chunk(const xcnn_graph *g, const xcnn_node *n,
                          const xcnn_winograd_geom *geo, int c_in, int c_out, int batch)
{
    size_t per_sample = xcnn_winograd_scratch(geo, c_in, c_out, 1);
    size_t by_width = 256 / xcnn_winograd_tiles(geo), by_room = scratch_room(g, n) / per_sample;
    size_t chunk = by_width < by_room ? by_width : by_room;
    if (chunk < 1) chunk = 1;
    return chunk < (size_t)batch ? (int)chunk : batch;
}

/* Frozen weights (no gradient buffer) of a Winograd-shaped conv. */
static int runs_winograd(const conv_params *p, const xcnn_tensor *w)
{
    return p->winograd && !w->grad;
}

/* The transformed weights for tile size m, made once, on first use (an
 * inference-only model never makes the F(2x2) ones its dX would need). */
static const float *winograd_weights(const xcnn_node *n, const float *w, int m)
{
    conv_params *p = n->params;
    if (m == 4) {
        if (!p->u4_ready) xcnn_winograd_weights(w, p->s.c_out, p->s.c_in, 4, p->u4);
        p->u4_ready = 1;
        return p->u4;
    }
    if (!p->u2_ready) xcnn_winograd_weights(w, p->s.c_out, p->s.c_in, 2, p->u);
    p->u2_ready = 1;
    return p->u;
}

/* Form f's U^T packed for this kernel's panel width, made on first use
 * (again if XCNN_GEMM switches kernels; with w NULL, released by
 * xcnn_conv_prepare_inference, the kernel it was made for). */
static xcnn_winograd_u winograd_packed(const conv_params *p, wino_form *f, const float *w)
{
    int make;
    xcnn_gemm_kind kind = packed_kind(&f->ut, w, &make);
    if (make) {
        size_t floats = xcnn_winograd_packed_floats(f->geo.m, p->s.c_in, p->s.c_out, f->ut.nr);
        memset(f->ut.data, 0, floats * sizeof(float)); /* the panels' padding */
        xcnn_winograd_weights_packed(w, p->s.c_out, p->s.c_in, f->geo.m, f->ut.nr, f->ut.data);
    }
    return (xcnn_winograd_u){NULL, 0, f->ut.data, kind};
}

/* The forward this pass runs: values-only below a Grad-CAM layer
 * (graph.h, values_below), else the one gradients may read. */
static wino_form *forward_form(const xcnn_graph *g, const xcnn_node *n)
{
    conv_params *p = n->params;
    int values = (int)(n - g->nodes) < g->values_below;
    if (values && p->fwd[WINO_VALUES].geo.m != p->fwd[WINO_GRAD].geo.m)
        return &p->fwd[WINO_VALUES];
    return &p->fwd[WINO_GRAD];
}

static void winograd_forward(const xcnn_graph *g, const xcnn_node *n, int batch,
                             const float *x, const float *w, const float *bias, float *y,
                             float *scratch, const float *res)
{
    const conv_params *p = n->params;
    wino_form *f = forward_form(g, n);
    xcnn_winograd_u wu = f->packed ? winograd_packed(p, f, w)
                                   : (xcnn_winograd_u){winograd_weights(n, w, f->geo.m), 0,
                                                       NULL, XCNN_GEMM_AUTO};
    size_t xs = (size_t)p->s.c_in * p->s.win.in_h * p->s.win.in_w, ys = (size_t)p->s.c_out * p->npix;
    int chunk = winograd_chunk(g, n, &f->geo, p->s.c_in, p->s.c_out, batch);
    for (int b = 0; b < batch; b += chunk) {
        int nb = batch - b < chunk ? batch - b : chunk;
        xcnn_winograd_conv(&f->geo, p->s.c_in, p->s.c_out, nb, x + b * xs, xs, &wu, bias, 0,
                           n->fused_relu, sample_residual(p, res, b), y + b * ys, ys, scratch,
                           scratch_room(g, n));
    }
    /* The transforms add a fused Add's residual and apply a fused Relu
     * while a row is in L1; a fused Clip (ReLU6, rare after a dense 3x3
     * conv) is one pass after them. */
    if (n->fused_clip) fused_act(n, y, (size_t)batch * ys);
}

/* F(4x4)'s U of the turned kernel W'[c][o] = W[o][c] turned 180 degrees,
 * made on first use. F(2x2)'s U serves the turned kernel by reading its
 * positions in another order (winograd.h); F(4x4)'s transform is not
 * symmetric that way, so this is a U of its own. */
static const float *winograd_weights_dx(const xcnn_node *n, const float *w)
{
    conv_params *p = n->params;
    if (p->u4_dx_ready) return p->u4_dx;
    size_t s_xi = (size_t)p->s.c_in * p->s.c_out;
    for (int o = 0; o < p->s.c_out; o++)
        for (int c = 0; c < p->s.c_in; c++) {
            const float *k = w + ((size_t)o * p->s.c_in + c) * 9;
            float turned[9];
            for (int i = 0; i < 9; i++) turned[i] = k[8 - i];
            /* output c, input o of the dX conv */
            xcnn_winograd4_weights(turned, 1, 1, p->u4_dx + (size_t)c * p->s.c_out + o, s_xi,
                                   0, 0);
        }
    p->u4_dx_ready = 1;
    return p->u4_dx;
}

/* dX += conv of dY with the turned kernel (winograd.h). */
static void winograd_backward(const xcnn_graph *g, const xcnn_node *n, int batch,
                              const float *w, const float *dy, float *dx, float *scratch)
{
    const conv_params *p = n->params;
    xcnn_winograd_u wu = p->wg_bwd.m == 4
                             ? (xcnn_winograd_u){winograd_weights_dx(n, w), 0, NULL,
                                                 XCNN_GEMM_AUTO}
                             : (xcnn_winograd_u){winograd_weights(n, w, 2), 1, NULL,
                                                 XCNN_GEMM_AUTO};
    size_t xs = (size_t)p->s.c_in * p->s.win.in_h * p->s.win.in_w, ys = (size_t)p->s.c_out * p->npix;
    int chunk = winograd_chunk(g, n, &p->wg_bwd, p->s.c_out, p->s.c_in, batch);
    for (int b = 0; b < batch; b += chunk) {
        int nb = batch - b < chunk ? batch - b : chunk;
        xcnn_winograd_conv(&p->wg_bwd, p->s.c_out, p->s.c_in, nb, dy + b * ys, ys, &wu, NULL, 1,
                           0, NULL, dx + b * xs, xs, scratch, scratch_room(g, n));
    }
}

/* dX = col2im(W^T dY). Up to this many pixels (of one sample, or of the
 * samples side by side) it is computed transposed, dcol^T = dY^T W, by
 * xcnn_sgemm_small_m: the pixels become the few rows of C and W is read
 * in place, where W^T dY would have a thin, ragged C of that many
 * columns (ResNet's layer4: 49). Measured faster up to 784 pixels. */
#define DX_TRANSPOSED_MAX 1024

/* ---- few pixels: Y^T = col^T W^T ----------------------------------------- */

/* Must give the plain im2col + GEMM path's bits (so the reference's values
 * to rounding). */

/* Frozen weights (no gradient buffer) of a conv that pays transposed:
 * weights that can change (training, gradient checks) would leave the
 * packed W^T stale, so they keep the plain GEMM. */
static int runs_transposed(const conv_params *p, const xcnn_tensor *w)
{
    return p->transposed && !w->grad;
}

/* W^T packed (see packed_form), and the kernel to run it with. */
static xcnn_gemm_kind packed_wt(const xcnn_node *n, const float *w)
{
    conv_params *p = n->params;
    int make;
    xcnn_gemm_kind kind = packed_kind(&p->wt_packed, w, &make);
    if (make) xcnn_gemm_pack_b(1, p->kcol, p->s.c_out, w, p->kcol, p->wt_packed.nr, p->wt_packed.data);
    return kind;
}

/* yt (width x c_out) = col^T W^T + beta * yt, col being kcol x width. */
static void gemm_transposed(const xcnn_node *n, const float *w, const float *col, int width,
                            float beta, float *yt)
{
    const conv_params *p = n->params;
    xcnn_gemm_kind kind = packed_wt(n, w);
    xcnn_sgemm_packed(kind, 1, width, p->s.c_out, p->kcol, col, width, p->wt_packed.data, beta, yt,
                      p->s.c_out);
}

/* Channels [m0, m0 + 16) of Y from the pixel-major yt (npix x c_out),
 * in tiles of 16 pixels x 16 channels, then the fused activation on those
 * channels while they are in cache. Read channel by channel, every float
 * came from a cache line of its own (one pixel's row of yt): MobileNetV2's
 * 14 x 14 expansions (384 channels) spent 50 of their 120 us turning Y
 * back. A tile reads 16 whole lines and writes 16 runs of 16 floats. */
#define UNTRANSPOSE_TILE 16

static void untranspose_channels(const xcnn_node *n, int m0, const float *yt,
                                 const float *bias, float *y, const float *res)
{
    const conv_params *p = n->params;
    int c_out = p->s.c_out, npix = p->npix;
    int m1 = m0 + UNTRANSPOSE_TILE < c_out ? m0 + UNTRANSPOSE_TILE : c_out;
    for (int i0 = 0; i0 < npix; i0 += UNTRANSPOSE_TILE) {
        int i1 = i0 + UNTRANSPOSE_TILE < npix ? i0 + UNTRANSPOSE_TILE : npix;
        if (bias)
            for (int i = i0; i < i1; i++)
                for (int m = m0; m < m1; m++)
                    y[(size_t)m * npix + i] = yt[(size_t)i * c_out + m] + bias[m];
        else
            for (int i = i0; i < i1; i++)
                for (int m = m0; m < m1; m++)
                    y[(size_t)m * npix + i] = yt[(size_t)i * c_out + m];
    }
    for (int m = m0; m < m1; m++)
        residual_act(n, y + (size_t)m * npix, res ? res + (size_t)m * npix : NULL, (size_t)npix);
}

/* Y from the pixel-major yt of one sample, bias (or NULL) added as it is
 * turned, then the residual res (or NULL) and the fused activation. */
static void turn_back(const xcnn_node *n, const float *yt, const float *bias, float *y,
                      const float *res)
{
    const conv_params *p = n->params;
    int blocks = (p->s.c_out + UNTRANSPOSE_TILE - 1) / UNTRANSPOSE_TILE;
    if (!xcnn_fork_worth((size_t)p->npix * p->s.c_out > XCNN_PARALLEL_MIN_COPY)) {
        for (int b = 0; b < blocks; b++)
            untranspose_channels(n, b * UNTRANSPOSE_TILE, yt, bias, y, res);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int b = 0; b < blocks; b++)
        untranspose_channels(n, b * UNTRANSPOSE_TILE, yt, bias, y, res);
}

/* One sample: Y = yt^T (and the fused activation), yt = col^T W^T plus
 * the bias. Every output is the plain path's sum, in the same order: the
 * same bits. With K in one slice of the GEMM (XCNN_GEMM_KC) the bias is
 * added as Y is turned back: b + s and s + b are one rounded addition.
 * Deeper, yt starts as the bias (as the plain path starts Y), for the
 * partial sums of each K slice to add to it in the same order; filling it
 * was a pass over yt on the calling thread, which on two threads the
 * GEMM's other thread then read from this core's cache (MobileNetV2's
 * 14 x 14 expansions: 0.82-0.96x on two threads against one). */
static void forward_transposed(const xcnn_node *n, const float *col, const float *w,
                               const float *bias, float *y, float *yt, const float *res)
{
    const conv_params *p = n->params;
    const float *bias_after = bias && p->kcol <= XCNN_GEMM_KC ? bias : NULL;
    if (bias && !bias_after)
        for (int i = 0; i < p->npix; i++)
            memcpy(yt + (size_t)i * p->s.c_out, bias, (size_t)p->s.c_out * sizeof(float));
    gemm_transposed(n, w, col, p->npix, bias && !bias_after ? 1.0f : 0.0f, yt);
    turn_back(n, yt, bias_after, y, res);
}

/* Pixels [i0, i1) of one sample's pixel-major output yt (npix x c_out):
 * yt = col^T W^T plus the bias, then the fused activation, while those
 * rows are in cache. The bias is added after the GEMM when K is one
 * slice, else it starts the sums (as forward_transposed does, so the
 * bits are the plain path's). */
static void pixel_major_rows(const xcnn_node *n, xcnn_gemm_kind kind, const float *col,
                             const float *bias, float *yt, int i0, int i1)
{
    const conv_params *p = n->params;
    size_t c_out = (size_t)p->s.c_out;
    int bias_first = bias && p->kcol > XCNN_GEMM_KC;
    float *rows = yt + (size_t)i0 * c_out;
    if (bias_first)
        for (int i = i0; i < i1; i++) memcpy(yt + (size_t)i * c_out, bias, c_out * sizeof(float));
    xcnn_sgemm_packed_serial(kind, 1, i1 - i0, p->s.c_out, p->kcol, col + i0, p->npix,
                             p->wt_packed.data, bias_first ? 1.0f : 0.0f, rows, p->s.c_out);
    if (bias && !bias_first)
        for (int i = i0; i < i1; i++) {
            float *row = yt + (size_t)i * c_out;
            for (size_t m = 0; m < c_out; m++) row[m] += bias[m];
        }
    fused_act(n, rows, (size_t)(i1 - i0) * c_out);
}

/* The pixel-major forward (pixel_major_out): per sample, Y^T = col^T W^T
 * plus the bias straight into the output, which the depthwise conv after
 * it reads as it is. This skips turning Y back (untranspose_channels) and
 * that conv's transposes into 16-channel pixels.
 *
 * Threads take contiguous ranges of pixels, all channels each: every
 * thread writes one block of memory. Shared by channels (each thread half
 * of every pixel's row, as the transposed GEMM shares its panels) the
 * same work took 2 to 3 times as long on two threads of this VM: cores
 * writing alternate runs of under ~4 KB of one region pull each other's
 * lines back and forth (bench/bench_sharing.c, a 300 KB update: 15 us in
 * two blocks, 37 in alternating 768-byte runs, 15 on one thread alone).
 * MobileNetV2's 14 x 14 expansions, two threads: 0.075 -> 0.048 ms. */
static void forward_pixel_major(const xcnn_node *n, int batch, const float *x, const float *w,
                                const float *bias, float *y)
{
    const conv_params *p = n->params;
    size_t sample = (size_t)p->npix * (size_t)p->s.c_out;
    xcnn_gemm_kind kind = packed_wt(n, w); /* packs W^T here, before any thread */
    /* whole 7-row tiles of the AVX-512 few-rows kernel (gemm.c) per range */
    int tiles = (p->npix + 6) / 7, ranges = xcnn_threads_max();
    if (ranges > tiles) ranges = tiles;
    double work = (double)p->npix * p->s.c_out * p->kcol;
    for (int b = 0; b < batch; b++) {
        const float *col = x + (size_t)b * p->kcol * p->npix;
        float *yt = y + (size_t)b * sample;
        if (!xcnn_fork_worth(ranges > 1 && work > 4e6)) {
            pixel_major_rows(n, kind, col, bias, yt, 0, p->npix);
            continue;
        }
#pragma omp parallel for schedule(static)
        for (int r = 0; r < ranges; r++) {
            int i0 = tiles * r / ranges * 7, i1 = tiles * (r + 1) / ranges * 7;
            pixel_major_rows(n, kind, col, bias, yt, i0, i1 < p->npix ? i1 : p->npix);
        }
    }
}

/* ---- strided windows: no col ------------------------------------------------ */

/* Equal to the reference to rounding (kernels/conv_direct.h: its sums run
 * tap by tap, im2col's channel by channel). */

/* Frozen weights (as runs_transposed) of a conv set up for the direct
 * forward, on a kernel that reads A at strides (AVX2 and NEON builds
 * keep im2col; released weights were packed for such a kernel). */
static int runs_direct(const conv_params *p, const xcnn_tensor *w)
{
    return p->direct && !w->grad && (!w->data || xcnn_conv_direct_runs(xcnn_gemm_selected()));
}

/* W^T packed tap by tap (see packed_form), and the kernel to run it with. */
static xcnn_gemm_kind packed_direct(const xcnn_node *n, const float *w)
{
    conv_params *p = n->params;
    int make;
    xcnn_gemm_kind kind = packed_kind(&p->wt_packed, w, &make);
    if (make)
        xcnn_conv_direct_pack(kind, w, p->s.c_out, p->s.c_in, p->s.win.k_h * p->s.win.k_w,
                              p->wt_packed.data);
    return kind;
}

/* Per sample: Y^T into yt (the scratch), the threads each a part of its
 * tiles, then Y from it with the bias and the fused activation. */
static void forward_direct(const xcnn_node *n, int batch, const float *x, const float *w,
                           const float *bias, float *y, float *yt, const float *res)
{
    const conv_params *p = n->params;
    xcnn_gemm_kind kind = packed_direct(n, w); /* before any thread */
    size_t x_sample = (size_t)p->s.c_in * p->s.win.in_h * p->s.win.in_w;
    size_t y_sample = (size_t)p->s.c_out * p->npix;
    const float *packed = p->wt_packed.data;
    int parts = xcnn_threads_max();
    double work = (double)p->npix * p->s.c_out * p->kcol;
    for (int b = 0; b < batch; b++) {
        const float *xs = x + (size_t)b * x_sample;
        if (!xcnn_fork_worth(parts > 1 && work > 4e6)) {
            xcnn_conv_direct(kind, &p->s.win, p->s.c_in, p->s.c_out, xs, packed, yt, 0, 1);
        } else {
#pragma omp parallel for schedule(static)
            for (int k = 0; k < parts; k++)
                xcnn_conv_direct(kind, &p->s.win, p->s.c_in, p->s.c_out, xs, packed, yt, k, parts);
        }
        turn_back(n, yt, bias, y + (size_t)b * y_sample, sample_residual(p, res, b));
    }
}

/* ---- few input channels: the stem form ---------------------------------- */

/* Frozen weights (as runs_direct), where setup chose the form. */
static int runs_stem(const conv_params *p, const xcnn_tensor *w)
{
    return p->stem && !w->grad;
}

/* W in blocks of output channels (kernels/conv_stem.h), made once. */
static void packed_stem(const xcnn_node *n, const float *w)
{
    conv_params *p = n->params;
    if (w && p->wt_packed.nr != XCNN_STEM_BLOCK) {
        xcnn_conv_stem_pack(w, p->s.c_out, p->s.c_in, p->s.win.k_h * p->s.win.k_w,
                            p->wt_packed.data);
        p->wt_packed.nr = XCNN_STEM_BLOCK;
    }
}

/* Part k of parts of one sample's output from its phase planes: the
 * conv's, or with a pool folded in the pool's. */
static void stem_part(const conv_params *p, const xcnn_gemm_epilogue *ep, const float *phases,
                      float *y, float *slot, int k, int parts, int simd)
{
    if (p->pooled)
        xcnn_conv_stem_pooled(&p->s.win, p->s.c_in, p->s.c_out, phases, p->wt_packed.data, ep,
                              &p->pool, y, slot, k, parts, simd);
    else
        xcnn_conv_stem(&p->s.win, p->s.c_in, p->s.c_out, phases, p->wt_packed.data, ep, y, slot,
                       k, parts, simd);
}

/* Per sample: the phase planes, shared out in pieces, then the output in
 * parts, each thread with its band after the planes in the scratch. Equal
 * to the reference to rounding, the same bits for any thread count. */
static void forward_stem(const xcnn_graph *g, const xcnn_node *n, int batch, const float *x,
                         const float *w, const float *bias, float *y, float *scratch)
{
    const conv_params *p = n->params;
    packed_stem(n, w); /* before any thread */
    const xcnn_window2d *win = &p->s.win;
    int c_in = p->s.c_in, simd = xcnn_conv_stem_simd();
    int pieces = xcnn_conv_stem_fill_pieces(win, c_in);
    size_t phases = xcnn_conv_stem_phase_floats(win, c_in);
    /* one part's scratch: its band, and with a pool its conv rows */
    size_t slot = p->pooled ? xcnn_conv_stem_pool_floats(win, &p->pool)
                            : xcnn_conv_stem_band_floats(win);
    size_t x_sample = (size_t)c_in * win->in_h * win->in_w;
    size_t y_sample = (size_t)p->s.c_out *
                      (p->pooled ? (size_t)p->pool.out_h * p->pool.out_w : (size_t)p->npix);
    xcnn_gemm_epilogue ep = conv_epilogue(n, bias, NULL); /* no residual: takes_residual */
    int parts = xcnn_fork_worth((double)p->npix * p->s.c_out * p->kcol > 4e6)
                    ? xcnn_scratch_slots(scratch_room(g, n) - phases, slot, xcnn_threads_max())
                    : 1;
    for (int b = 0; b < batch; b++) {
        const float *xs = x + (size_t)b * x_sample;
        float *ys = y + (size_t)b * y_sample;
        if (parts == 1) {
            for (int k = 0; k < pieces; k++) xcnn_conv_stem_fill(win, k, xs, scratch, simd);
            stem_part(p, &ep, scratch, ys, scratch + phases, 0, 1, simd);
            continue;
        }
#pragma omp parallel num_threads(parts)
        {
#pragma omp for schedule(static)
            for (int k = 0; k < pieces; k++) xcnn_conv_stem_fill(win, k, xs, scratch, simd);
#pragma omp for schedule(static)
            for (int k = 0; k < parts; k++)
                stem_part(p, &ep, scratch, ys, scratch + phases + (size_t)k * slot, k, parts, simd);
        }
    }
}

/* ---- several samples per GEMM ---------------------------------------------- */

/* Must give each sample's batch-1 bits (so the reference's values to
 * rounding). */

/* A layer with few output pixels (ResNet's layer4: 49) makes a thin GEMM
 * per sample. With a batch (integrated gradients, SmoothGrad), the im2col
 * of several samples go side by side in one col of width samples * npix,
 * and one GEMM does them all into a scratch Y of that width, copied back
 * to NCHW after. Only for plain convs (one group, im2col); 0 = per sample. */
static int im2col_chunk(const xcnn_graph *g, const xcnn_node *n, const conv_params *p,
                        int batch)
{
    if (batch < 2 || p->s.group != 1 || p->pointwise || p->depthwise || p->npix >= 512)
        return 0;
    size_t per_sample = ((size_t)p->kcol + (size_t)p->s.c_out) * (size_t)p->npix;
    size_t chunk = scratch_room(g, n) / per_sample, by_width = (1024 + p->npix - 1) / p->npix;
    if (chunk > by_width) chunk = by_width;
    if (chunk > (size_t)batch) chunk = (size_t)batch;
    return chunk >= 2 ? (int)chunk : 0;
}

/* Plane sm (sample sm / c_out, channel sm % c_out) of a chunk's Y, from
 * yt (its element i of channel m at m * m_step + i * i_step). */
static void scatter_plane(const conv_params *p, int sm, const float *yt, size_t m_step,
                          size_t i_step, float *y, size_t ys, const float *res)
{
    int s = sm / p->s.c_out, m = sm % p->s.c_out;
    const float *src = yt + (size_t)m * m_step + (size_t)s * p->npix * i_step;
    float *dst = y + s * ys + (size_t)m * p->npix;
    for (int i = 0; i < p->npix; i++) dst[i] = src[(size_t)i * i_step];
    if (res) { /* a fused Add's residual (laid out as y), before the activation */
        const float *r = res + s * ys + (size_t)m * p->npix;
        for (int i = 0; i < p->npix; i++) dst[i] += r[i];
    }
}

/* The opposite for dY: plane sm into the chunk's row-major dyt (c_out rows of
 * `width`). */
static void gather_plane(const conv_params *p, int sm, const float *dy, size_t ys, float *dyt,
                         size_t width)
{
    int s = sm / p->s.c_out, m = sm % p->s.c_out;
    memcpy(dyt + (size_t)m * width + (size_t)s * p->npix, dy + s * ys + (size_t)m * p->npix,
           (size_t)p->npix * sizeof(float));
}

static void forward_batched(const xcnn_node *n, int batch, int chunk, const float *x,
                            const float *w, const float *bias, int turned, float *y,
                            float *scratch, const float *res)
{
    const conv_params *p = n->params;
    size_t xs = (size_t)p->s.c_in * p->s.win.in_h * p->s.win.in_w, ys = (size_t)p->s.c_out * p->npix;
    for (int b0 = 0; b0 < batch; b0 += chunk) {
        int nb = batch - b0 < chunk ? batch - b0 : chunk;
        size_t width = (size_t)nb * p->npix;
        float *col = scratch, *yt = scratch + (size_t)p->kcol * width;
        xcnn_im2col_samples(&p->s.win, p->s.c_in, nb, x + b0 * xs, xs, col, width);
        /* yt is c_out x width, or width x c_out when turned. It starts as
         * the bias and the product adds to it, as one sample's Y does: with
         * more than one K slice, adding the bias last rounded differently. */
        size_t m_step = turned ? 1 : width, i_step = turned ? (size_t)p->s.c_out : 1;
        if (bias)
            for (size_t i = 0; i < width; i++)
                for (int m = 0; m < p->s.c_out; m++) yt[(size_t)m * m_step + i * i_step] = bias[m];
        float beta = bias ? 1.0f : 0.0f;
        if (turned)
            gemm_transposed(n, w, col, (int)width, beta, yt);
        else
            xcnn_sgemm(0, 0, p->s.c_out, (int)width, p->kcol, 1.0f, w, p->kcol, col,
                       (int)width, beta, yt, (int)width);
        if (!xcnn_fork_worth(width * p->s.c_out > XCNN_PARALLEL_MIN_COPY)) {
            for (int sm = 0; sm < nb * p->s.c_out; sm++)
                scatter_plane(p, sm, yt, m_step, i_step, y + b0 * ys, ys,
                              res ? res + b0 * ys : NULL);
            continue;
        }
#pragma omp parallel for schedule(static)
        for (int sm = 0; sm < nb * p->s.c_out; sm++)
            scatter_plane(p, sm, yt, m_step, i_step, y + b0 * ys, ys, res ? res + b0 * ys : NULL);
    }
}

/* dW += dY col^T over the chunk's samples at once; dX via one W^T dY. */
static void backward_batched(const conv_params *p, int batch, int chunk, const float *x,
                             const float *w, const float *dy, float *dx, float *dw,
                             float *scratch)
{
    size_t xs = (size_t)p->s.c_in * p->s.win.in_h * p->s.win.in_w, ys = (size_t)p->s.c_out * p->npix;
    for (int b0 = 0; b0 < batch; b0 += chunk) {
        int nb = batch - b0 < chunk ? batch - b0 : chunk;
        size_t width = (size_t)nb * p->npix;
        float *col = scratch, *dyt = scratch + (size_t)p->kcol * width;
        if (!xcnn_fork_worth(width * p->s.c_out > XCNN_PARALLEL_MIN_COPY)) {
            for (int sm = 0; sm < nb * p->s.c_out; sm++)
                gather_plane(p, sm, dy + b0 * ys, ys, dyt, width);
        } else {
#pragma omp parallel for schedule(static)
            for (int sm = 0; sm < nb * p->s.c_out; sm++)
                gather_plane(p, sm, dy + b0 * ys, ys, dyt, width);
        }
        if (dw) {
            xcnn_im2col_samples(&p->s.win, p->s.c_in, nb, x + b0 * xs, xs, col, width);
            xcnn_sgemm(0, 1, p->s.c_out, p->kcol, (int)width, 1.0f, dyt, (int)width, col,
                       (int)width, 1.0f, dw, p->kcol);
        }
        if (dx) {
            if (width <= DX_TRANSPOSED_MAX) {
                /* dcol^T = dY^T W: the samples' pixels are its rows */
                xcnn_sgemm_small_m(XCNN_GEMM_AUTO, 1, (int)width, p->kcol, p->s.c_out, dyt,
                                   (int)width, w, p->kcol, col, p->kcol);
                xcnn_col2im_transposed(&p->s.win, p->s.c_in, nb, col, dx + b0 * xs, xs);
            } else {
                xcnn_sgemm(1, 0, p->kcol, (int)width, p->s.c_out, 1.0f, w, p->kcol, dyt,
                           (int)width, 0.0f, col, (int)width);
                xcnn_col2im_samples(&p->s.win, p->s.c_in, nb, col, width, dx + b0 * xs, xs);
            }
        }
    }
}

/* ---- large planes: im2col and GEMM piece by piece --------------------------- */

/* The forward in pieces must give the whole plane's bits; dX in bands sums
 * in another order, so it equals the reference to rounding. */

/* A large plane's col does not fit in cache (ResNet's 7x7 stem: 147 rows
 * of 12544 pixels, 7.4 MB): written whole by im2col, then streamed back
 * from memory by the GEMM, which then ran at half its speed. Cut into
 * pieces of this many floats (a quarter of a 1 MB L2), each piece is
 * made and multiplied by one thread while it is still in its cache. */
#define PIECE_FLOATS 65536

/* Pixels per piece (whole 32-column panels), or 0 when the plane is
 * small enough to run whole. */
static int piece_pixels(const conv_params *p)
{
    if (p->s.group != 1 || p->pointwise || p->depthwise || p->npix < 2048) return 0;
    int w = PIECE_FLOATS / p->kcol / 32 * 32;
    return w < 64 ? 64 : w;
}

/* Piece k of `pieces` over npix pixels: whole units of `unit` pixels (a
 * GEMM panel, 32, or 1), shared out as evenly as whole units allow, none
 * wider than ceil(units / pieces) units. Rounding each piece up to whole
 * panels had undone making their count a multiple of the thread count
 * (ResNet-50's 784-pixel 1x1 convs: 8 pieces of 98 became 7 of 128, four
 * for one thread and three for the other). */
static void piece_span(int npix, int unit, int pieces, int k, int *p0, int *p1)
{
    int units = (npix + unit - 1) / unit;
    *p0 = (int)((long)units * k / pieces) * unit;
    *p1 = (int)((long)units * (k + 1) / pieces) * unit;
    if (*p1 > npix) *p1 = npix;
}

/* Pieces of at most `piece` pixels (whole units) covering npix, their count
 * rounded up to a multiple of `threads` where there are units enough. */
static int piece_count(int npix, int unit, int piece, int threads)
{
    int units = (npix + unit - 1) / unit, per = piece / unit > 0 ? piece / unit : 1;
    int pieces = (units + per - 1) / per;
    if (threads > 1 && pieces > 1) {
        int even = (pieces + threads - 1) / threads * threads;
        if (even <= units) pieces = even;
    }
    return pieces;
}

/* One sample's group (all of it when group is 1: cg = c_in, mg = c_out):
 * Y[:, piece] = bias + W col(piece) for each piece, pieces shared out
 * between as many threads as the scratch has room for, each piece's col
 * in its thread's part of the scratch. Every output is the same sum, in
 * the same order, as in the GEMM over the whole plane. */
static void forward_pieces(const xcnn_graph *g, const xcnn_node *n, int piece, const float *x,
                           const float *w, const float *bias, float *y, float *scratch,
                           const float *res)
{
    const conv_params *p = n->params;
    size_t per_slot = (size_t)p->kcol * (size_t)piece;
    int unit = piece % 32 == 0 ? 32 : 1; /* capped pieces may be any width */
    int slots = xcnn_scratch_slots(scratch_room(g, n), per_slot, (p->npix + piece - 1) / piece);
    /* a multiple of the slots: ResNet's stem had 31 pieces, 16 on one thread */
    int pieces = piece_count(p->npix, unit, piece, slots);
    xcnn_gemm_kind kind = xcnn_gemm_selected();
#pragma omp parallel num_threads(slots) if (slots > 1)
    {
        float *col = scratch + (size_t)xcnn_thread_num() * per_slot;
#pragma omp for schedule(static)
        for (int k = 0; k < pieces; k++) {
            int p0, p1;
            piece_span(p->npix, unit, pieces, k, &p0, &p1);
            int wd = p1 - p0;
            xcnn_gemm_epilogue ep = conv_epilogue(n, bias, res ? res + p0 : NULL);
            xcnn_im2col_pixels(&p->s.win, p->cg, x, p0, p1, col, (size_t)wd);
            xcnn_sgemm_serial_epilogue(kind, p->mg, wd, p->kcol, w, p->kcol, col, wd, &ep,
                                       y + p0, p->npix);
        }
    }
}

/* A 1x1 conv over a large plane (MobileNetV2's expansions: 16 -> 96
 * channels at 112 x 112), one sample: Y[:, piece] = bias + W X[:, piece]
 * piece by piece, each piece's bias written, multiplied into and passed
 * through the fused ReLU while its block of Y is in the cache of the thread
 * that owns it. As one GEMM after a whole-plane bias fill, the fill ran on
 * one thread and the GEMM streamed the 4.8 MB plane back in from memory:
 * two threads took 0.60 ms where one took 0.28. Each output is the same
 * sum, in the same order, as in that GEMM (the K loop does not depend on
 * the column split). */
#define POINTWISE_PIECE_FLOATS 16384

static void pointwise_piece(const xcnn_node *n, xcnn_gemm_kind kind, int pieces, int k,
                            const float *x, const float *w, const float *bias, float *y,
                            const float *res)
{
    const conv_params *p = n->params;
    int p0, p1;
    piece_span(p->npix, 32, pieces, k, &p0, &p1);
    xcnn_gemm_epilogue ep = conv_epilogue(n, bias, res ? res + p0 : NULL);
    xcnn_sgemm_serial_epilogue(kind, p->mg, p1 - p0, p->kcol, w, p->kcol, x + p0, p->npix, &ep,
                               y + p0, p->npix);
}

/* Whether a 1x1 conv runs in pieces: over large planes always; over
 * smaller ones when threads share it and its input outweighs its weights.
 * Pieces of pixels give each thread its own columns of Y to write while
 * they are in its cache, but every thread reads all of W: MobileNetV2's
 * 28 x 28 expansions (W 192 x 32, X 32 x 784) took 0.093 ms on two
 * threads as one GEMM, where one thread took 0.065. ResNet-50's 14 x 14
 * convs are the other way round (W 1024 x 256, X 256 x 196), and there
 * the GEMM, whose threads share W's rows, wins (two threads, in the pass:
 * 0.38-0.44 ms in pieces, 0.31-0.32 as one GEMM). Both give each output
 * the same sum, so the bits do not depend on which way it runs. */
static int pointwise_in_pieces(const conv_params *p)
{
    double work = (double)p->npix * p->s.c_out * p->kcol;
    double weights = (double)p->s.c_out * p->kcol, input = (double)p->kcol * p->npix;
    return p->npix >= 2048 || (xcnn_threads_max() > 1 && work > 4e6 && weights < input);
}

static void forward_pointwise(const xcnn_node *n, const float *x, const float *w,
                              const float *bias, float *y, const float *res)
{
    const conv_params *p = n->params;
    int piece = POINTWISE_PIECE_FLOATS / p->mg / 32 * 32;
    if (piece < 64) piece = 64;
    /* a multiple of the thread count: 3 pieces on one thread and 2 on the
     * other had left a core idle for a fifth of MobileNetV2's 56 x 56
     * projections (expansions alone, 2 threads: 0.30 -> 0.20 ms) */
    int pieces = piece_count(p->npix, 32, piece, xcnn_threads_max());
    xcnn_gemm_kind kind = xcnn_gemm_selected();
    /* worth threads by its multiply-adds, as the GEMM judges (gemm.c): by
     * its outputs, ResNet-50's 256 -> 64 convs at 56 x 56 (200K outputs,
     * 51M multiply-adds) ran on one thread, 0.62 ms where two take 0.32 */
    double work = (double)p->npix * p->s.c_out * p->kcol;
    if (!xcnn_fork_worth(pieces > 1 && work > 4e6)) {
        for (int k = 0; k < pieces; k++) pointwise_piece(n, kind, pieces, k, x, w, bias, y, res);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int k = 0; k < pieces; k++) pointwise_piece(n, kind, pieces, k, x, w, bias, y, res);
}

/* Capped scratch (base/config.h, XCNN_CONV_SCRATCH_FLOATS): the backward
 * of one sample's group over pieces of `piece` pixels, on one thread:
 * dW += dY(piece) col(piece)^T, and dX += col2im(W^T dY(piece)). dW and
 * dX then add up piece by piece instead of in one sum: equal to the
 * whole plane's (and the reference's) to rounding. */
static void backward_capped(const conv_params *p, int piece, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *scratch)
{
    for (int p0 = 0; p0 < p->npix; p0 += piece) {
        int p1 = p0 + piece < p->npix ? p0 + piece : p->npix, wd = p1 - p0;
        if (dw) {
            xcnn_im2col_pixels(&p->s.win, p->cg, x, p0, p1, scratch, (size_t)wd);
            xcnn_sgemm(0, 1, p->mg, p->kcol, wd, 1.0f, dy + p0, p->npix, scratch, wd, 1.0f, dw,
                       p->kcol);
        }
        if (dx) {
            xcnn_sgemm(1, 0, p->kcol, wd, p->mg, 1.0f, w, p->kcol, dy + p0, p->npix, 0.0f,
                       scratch, wd);
            xcnn_col2im_pixels(&p->s.win, p->cg, scratch, (size_t)wd, p0, p1, dx);
        }
    }
}

/* dX of one sample in bands of output rows: each band's dcol = W^T dY
 * (its columns) is made by one thread and added back by col2im while it
 * is in that thread's cache, instead of a whole-plane dcol (7.4 MB for the
 * stem) written out and read back. Bands next to each other add into
 * shared input rows, so the even bands run in parallel first, then the odd
 * ones: every input element gets its sums in an order fixed by the bands,
 * whatever the thread count. Bands are tall enough (rows * stride >
 * the kernel's reach) that band k and band k + 2 never touch. */
static int band_rows(const conv_params *p, int piece)
{
    const xcnn_window2d *win = &p->s.win;
    int rows = piece / win->out_w, reach = (win->k_h - 1) * win->dil_h + 1;
    int apart = (reach + win->stride_h - 1) / win->stride_h; /* rows * stride >= reach */
    return rows > apart ? rows : apart;
}

static void backward_pieces(const xcnn_graph *g, const xcnn_node *n, int piece, const float *w,
                            const float *dy, float *dx, float *scratch)
{
    const conv_params *p = n->params;
    const xcnn_window2d *win = &p->s.win;
    int rows = band_rows(p, piece);
    size_t per_slot = (size_t)p->kcol * (size_t)rows * win->out_w;
    int bands = (win->out_h + rows - 1) / rows;
    xcnn_gemm_kind kind = xcnn_gemm_selected();
    for (int parity = 0; parity < 2; parity++) {
        int count = (bands - parity + 1) / 2;
        int slots = xcnn_scratch_slots(scratch_room(g, n), per_slot, count);
        (void)slots; /* only the pragma reads it */
#pragma omp parallel num_threads(slots) if (slots > 1)
        {
            float *dcol = scratch + (size_t)xcnn_thread_num() * per_slot;
#pragma omp for schedule(dynamic)
            for (int k = 0; k < count; k++) {
                int oh0 = (2 * k + parity) * rows;
                int oh1 = oh0 + rows < win->out_h ? oh0 + rows : win->out_h;
                int wd = (oh1 - oh0) * win->out_w;
                xcnn_sgemm_serial(kind, 1, 0, p->kcol, wd, p->mg, 1.0f, w, p->kcol,
                                  dy + (size_t)oh0 * win->out_w, p->npix, 0.0f, dcol, wd);
                xcnn_col2im_rows(win, p->cg, dcol, (size_t)wd, oh0, oh1, dx);
            }
        }
    }
}

/* ---- forward / backward: which path runs ----------------------------------- */

/* Must equal xcnn_conv_reference_forward, then the fused ReLU, to
 * rounding: whichever path runs (they are tried in this order). */
void xcnn_conv_fast_forward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    const conv_params *p = n->params;
    const xcnn_tensor *xt = xcnn_in(g, n, 0), *wt = xcnn_in(g, n, 1), *bt = xcnn_in(g, n, 2);
    float *y = xcnn_out(g, n, 0)->data;
    const float *bias = bt ? bt->data : NULL;
    /* A fused Add's other input, laid out as y: every path below but the
     * depthwise, pixel-major and stem ones (which fuse.c keeps it from:
     * xcnn_conv_fast_takes_residual) adds it to finished sums. */
    const float *res = n->fused_add ? xcnn_in(g, n, 3)->data : NULL;
    if (runs_winograd(p, wt)) { /* applies the fused ReLU itself */
        winograd_forward(g, n, batch, xt->data, wt->data, bias, y, scratch, res);
        return;
    }
    if (p->depthwise) {
        dw_forward(g, n, batch, xt->data, wt->data, bias, y, scratch);
        return;
    }
    if (p->pixel_major_out) {
        forward_pixel_major(n, batch, xt->data, wt->data, bias, y);
        return;
    }
    if (runs_direct(p, wt)) { /* applies the bias and fused activation itself */
        forward_direct(n, batch, xt->data, wt->data, bias, y, scratch, res);
        return;
    }
    if (p->pooled || runs_stem(p, wt)) { /* the same; with a pool always (y is pooled) */
        forward_stem(g, n, batch, xt->data, wt->data, bias, y, scratch);
        return;
    }
    int turned = runs_transposed(p, wt);
    int chunk = im2col_chunk(g, n, p, batch);
    if (chunk) {
        forward_batched(n, batch, chunk, xt->data, wt->data, bias, turned, y, scratch, res);
        fused_act(n, y, (size_t)batch * p->s.c_out * p->npix);
        return;
    }
    size_t in_plane = (size_t)p->s.win.in_h * p->s.win.in_w;
    int capped = capped_pixels(p); /* never with turned: setup saw to it */
    if (capped) {
        for (int b = 0; b < batch; b++)
            for (int gi = 0; gi < p->s.group; gi++)
                forward_pieces(g, n, capped,
                               xt->data + ((size_t)b * p->s.c_in + (size_t)gi * p->cg) * in_plane,
                               wt->data + (size_t)gi * p->mg * p->kcol, bias ? bias + gi * p->mg : NULL,
                               y + ((size_t)b * p->s.c_out + (size_t)gi * p->mg) * p->npix, scratch,
                               sample_residual(p, res, b)); /* group 1 when res */
        return;
    }
    int piece = turned ? 0 : piece_pixels(p);
    if (piece && scratch_room(g, n) >= (size_t)p->kcol * piece) {
        for (int b = 0; b < batch; b++)
            forward_pieces(g, n, piece, xt->data + (size_t)b * p->s.c_in * in_plane, wt->data,
                           bias, y + (size_t)b * p->s.c_out * p->npix, scratch,
                           sample_residual(p, res, b));
        return;
    }
    for (int b = 0; b < batch; b++)
        for (int gi = 0; gi < p->s.group; gi++) {
            const float *x = xt->data + ((size_t)b * p->s.c_in + (size_t)gi * p->cg) * in_plane;
            /* An inference-only load frees W once packed W^T exists
             * (turned): no offset on a NULL pointer then. */
            const float *w = wt->data ? wt->data + (size_t)gi * p->mg * p->kcol : NULL;
            float *yg = y + ((size_t)b * p->s.c_out + (size_t)gi * p->mg) * p->npix;
            const float *rg = sample_residual(p, res, b); /* group 1 when res */
            if (p->pointwise && !turned && p->s.group == 1 && pointwise_in_pieces(p)) {
                forward_pointwise(n, x, w, bias, yg, rg);
                continue;
            }
            const float *col = x;
            if (!p->pointwise) {
                xcnn_im2col(&p->s.win, p->cg, x, scratch, (size_t)p->npix);
                col = scratch;
            }
            if (turned) { /* one group; yt after col in the scratch (if any) */
                float *yt = p->pointwise ? scratch : scratch + (size_t)p->kcol * p->npix;
                forward_transposed(n, col, w, bias, yg, yt, rg);
                continue;
            }
            /* bias, residual and fused activation (inference only) as
             * each tile is stored */
            xcnn_gemm_epilogue ep = conv_epilogue(n, bias ? bias + gi * p->mg : NULL, rg);
            xcnn_sgemm_epilogue(XCNN_GEMM_AUTO, p->mg, p->npix, p->kcol, w, p->kcol, col,
                                p->npix, &ep, yg, p->npix);
        }
}

/* Channel m of dY summed over the batch and the pixels, in a fixed order. */
static float channel_sum(const conv_params *p, int batch, int m, const float *dy)
{
    xcnn_sum s = XCNN_SUM_ZERO;
    for (int b = 0; b < batch; b++) {
        const float *d = dy + ((size_t)b * p->s.c_out + m) * p->npix;
        for (int i = 0; i < p->npix; i++) xcnn_sum_add(&s, d[i]);
    }
    return (float)xcnn_sum_get(&s);
}

/* dB[m] += sum over batch and pixels of dY[b, m]: one channel per
 * iteration, summed in a fixed order. */
static void bias_backward(const conv_params *p, int batch, const float *dy, float *db)
{
    if (!xcnn_fork_worth((size_t)batch * p->s.c_out * p->npix > XCNN_PARALLEL_MIN)) {
        for (int m = 0; m < p->s.c_out; m++) db[m] += channel_sum(p, batch, m, dy);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int m = 0; m < p->s.c_out; m++) db[m] += channel_sum(p, batch, m, dy);
}

/* Must equal xcnn_conv_reference_backward to rounding. */
void xcnn_conv_fast_backward(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch)
{
    const conv_params *p = n->params;
    const xcnn_tensor *xt = xcnn_in(g, n, 0), *wt = xcnn_in(g, n, 1), *bt = xcnn_in(g, n, 2);
    const float *dy = xcnn_out(g, n, 0)->grad;
    float *dx = xcnn_tensor_grad(xt), *dw = xcnn_tensor_grad(wt), *db = xcnn_tensor_grad(bt);
    if (db) bias_backward(p, batch, dy, db);
    if (!dx && !dw) return;
    if (p->depthwise) {
        dw_backward(p, batch, xt->data, wt->data, dy, dx, dw);
        return;
    }
    if (runs_winograd(p, wt)) { /* frozen weights: dw is NULL, dx is not */
        winograd_backward(g, n, batch, wt->data, dy, dx, scratch);
        return;
    }
    int chunk = im2col_chunk(g, n, p, batch);
    if (chunk) {
        backward_batched(p, batch, chunk, xt->data, wt->data, dy, dx, dw, scratch);
        return;
    }
    size_t in_plane = (size_t)p->s.win.in_h * p->s.win.in_w;
    int capped = capped_pixels(p);
    if (capped) {
        for (int b = 0; b < batch; b++)
            for (int gi = 0; gi < p->s.group; gi++) {
                size_t xoff = ((size_t)b * p->s.c_in + (size_t)gi * p->cg) * in_plane;
                backward_capped(p, capped, xt->data + xoff, wt->data + (size_t)gi * p->mg * p->kcol,
                                dy + ((size_t)b * p->s.c_out + (size_t)gi * p->mg) * p->npix,
                                dx ? dx + xoff : NULL, dw ? dw + (size_t)gi * p->mg * p->kcol : NULL,
                                scratch);
            }
        return;
    }
    int piece = piece_pixels(p);
    if (piece && !dw && p->npix > DX_TRANSPOSED_MAX &&
        scratch_room(g, n) >= (size_t)p->kcol * band_rows(p, piece) * p->s.win.out_w) {
        for (int b = 0; b < batch; b++)
            backward_pieces(g, n, piece, wt->data, dy + (size_t)b * p->s.c_out * p->npix,
                            dx + (size_t)b * p->s.c_in * in_plane, scratch);
        return;
    }
    for (int b = 0; b < batch; b++)
        for (int gi = 0; gi < p->s.group; gi++) {
            size_t xoff = ((size_t)b * p->s.c_in + (size_t)gi * p->cg) * in_plane;
            const float *w = wt->data + (size_t)gi * p->mg * p->kcol;
            const float *dyg = dy + ((size_t)b * p->s.c_out + (size_t)gi * p->mg) * p->npix;
            if (dw) {
                const float *col = xt->data + xoff;
                if (!p->pointwise) {
                    xcnn_im2col(&p->s.win, p->cg, xt->data + xoff, scratch, (size_t)p->npix);
                    col = scratch;
                }
                xcnn_sgemm(0, 1, p->mg, p->kcol, p->npix, 1.0f, dyg, p->npix, col, p->npix,
                           1.0f, dw + (size_t)gi * p->mg * p->kcol, p->kcol);
            }
            if (dx) {
                if (p->pointwise) {
                    xcnn_sgemm(1, 0, p->kcol, p->npix, p->mg, 1.0f, w, p->kcol, dyg, p->npix,
                               1.0f, dx + xoff, p->npix);
                } else if (p->npix <= DX_TRANSPOSED_MAX) {
                    xcnn_sgemm_small_m(XCNN_GEMM_AUTO, 1, p->npix, p->kcol, p->mg, dyg, p->npix,
                                       w, p->kcol, scratch, p->kcol);
                    xcnn_col2im_transposed(&p->s.win, p->cg, 1, scratch, dx + xoff, 0);
                } else {
                    xcnn_sgemm(1, 0, p->kcol, p->npix, p->mg, 1.0f, w, p->kcol, dyg, p->npix,
                               0.0f, scratch, p->npix);
                    xcnn_col2im(&p->s.win, p->cg, scratch, (size_t)p->npix, dx + xoff);
                }
            }
        }
}

/* The pixel-major hand-off (pixel_major_out / _in): between a transposed
 * 1x1 conv (few pixels: MobileNetV2's 14 x 14 and 7 x 7 expansions) and
 * the depthwise conv that alone reads its output, in the channel form.
 * Inference-only loads only: there no one else reads the tensor between
 * them (xcnn.h: after a forward only the input's and output's views hold
 * values), and no backward runs. */
static void hand_off(xcnn_graph *g, xcnn_node *n)
{
    conv_params *p = n->params;
    int next = -1, t = n->out[0];
    if (!p->transposed || !p->pointwise || p->s.group != 1 || t == g->output ||
        xcnn_graph_readers(g, t, &next) != 1 || next < 0)
        return;
    xcnn_node *d = &g->nodes[next];
    conv_params *q = d->params;
    if (n->fused_add || d->folded || d->def != n->def || !q || !q->s.fast || d->in[0] != t ||
        (d->n_in > 1 && d->in[1] == t) || (d->n_in > 2 && d->in[2] == t))
        return;
    if (!q->depthwise || !q->dw_channels || !q->dw_slot || q->s.c_in != p->s.c_out)
        return;
    p->pixel_major_out = 1;
    q->pixel_major_in = 1;
}

xcnn_status xcnn_conv_fast_prepare_inference(xcnn_graph *g, xcnn_node *n, xcnn_err *err)
{
    (void)err;
    conv_params *p = n->params;
    xcnn_tensor *w = xcnn_in(g, n, 1);
    if (g->inference_only && !w->grad) hand_off(g, n);
    /* a direct conv on a kernel without strided reads keeps im2col and W */
    if (p->direct && !xcnn_conv_direct_runs(xcnn_gemm_selected())) p->direct = 0;
    if (!g->inference_only || w->grad || !(p->winograd || p->transposed || p->direct || p->stem))
        return XCNN_OK;
    wino_form *f = &p->fwd[WINO_GRAD];
    if (p->winograd && f->packed) winograd_packed(p, f, w->data);
    else if (p->winograd) winograd_weights(n, w->data, f->geo.m);
    else if (p->direct) packed_direct(n, w->data);
    else if (p->stem) packed_stem(n, w->data);
    else packed_wt(n, w->data);
    if (xcnn_graph_readers(g, n->in[1], NULL) == 1) { /* no other node reads it */
        if (!w->borrowed) xcnn_graph_free_mem(g, w->data);
        w->data = NULL;
    }
    return XCNN_OK;
}

/* Every path adds a residual but three: the depthwise loops and the stem
 * form apply their activation where no residual is at hand, and a
 * pixel-major output has another layout than the residual (hand_off
 * does not choose it for a conv with fused_add). Those are few and rarely
 * before an Add: MobileNetV2's and ResNet's Adds follow 1x1 and 3x3
 * convs. */
int xcnn_conv_fast_takes_residual(const xcnn_node *n)
{
    const conv_params *p = n->params;
    return p->s.group == 1 && !p->depthwise && !p->stem;
}

/* Only the stem form, and only where its sums run (frozen weights, an
 * AVX-512 CPU: runs_stem), with room for a part's conv rows. */
int xcnn_conv_fast_takes_pool(xcnn_node *n, const xcnn_window2d *pool)
{
    conv_params *p = n->params;
    if (!p->stem || p->pooled || n->fused_add || !xcnn_conv_stem_simd() ||
        !xcnn_conv_stem_pool_fits(&p->s.win, pool))
        return 0;
    size_t need = xcnn_conv_stem_phase_floats(&p->s.win, p->s.c_in) +
                  xcnn_conv_stem_pool_floats(&p->s.win, pool);
#if XCNN_CONV_SCRATCH_FLOATS > 0
    if (need > (size_t)XCNN_CONV_SCRATCH_FLOATS) return 0; /* small builds keep the two */
#endif
    if (need > n->scratch_floats) n->scratch_floats = need;
    p->pooled = 1;
    p->pool = *pool;
    return 1;
}

int xcnn_conv_fast_pixel_major(const xcnn_node *n)
{
    const conv_params *p = n->params;
    return !p || !p->s.fast ? 0 : p->pixel_major_out ? 1 : p->pixel_major_in ? 2 : 0;
}

int xcnn_conv_fast_direct(xcnn_graph *g, const xcnn_node *n)
{
    const conv_params *p = n->params;
    return p && p->s.fast && runs_direct(p, xcnn_in(g, n, 1));
}

int xcnn_conv_fast_stem(xcnn_graph *g, const xcnn_node *n)
{
    const conv_params *p = n->params;
    return p && p->s.fast && runs_stem(p, xcnn_in(g, n, 1));
}
