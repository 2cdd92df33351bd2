/*
 * The depthwise plane over phase planes (libxcnn/kernels/depthwise.c):
 * the plain C and, where the CPU has it, the AVX-512 version, each
 * against a direct sum in double written here (tolerance 1e-5 of the
 * largest output), over kernels 1x1 to 9x9 (non-square too), strides 1
 * to 3, asymmetric pads up to the kernel's size, and planes from 1x1 to
 * 40x37: widths under, at and over a 16-float vector, rows that leave a
 * block partial. Each call must write every output, nothing after the
 * plane, and nothing past its scratch (guard floats around both); its
 * input is read from a buffer that ends where the plane ends. Bands of
 * rows (as threads share a plane) give the whole plane's bits. MaxPool
 * on the same phase planes has its scan rule's bits (ties, signed zeros,
 * NaNs with two payloads). Small planes' channel form (16 channels at a
 * time, depthwise_channels.c), plain C and AVX-512, has the phase planes'
 * bits for 16 channels and for fewer; wide 3x3 planes read in place
 * (depthwise_direct.c) have the AVX-512 phase planes' bits. Then the
 * Conv op with group == channels on 1 and 2 threads: the same bits.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "gradcheck.h"
#include "../libxcnn/kernels/depthwise.h"
#include "../libxcnn/ops/ops.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define GUARD 64
#define GUARD_VALUE 12345.0f

static int out_size(int in, int k, int s, int p0, int p1) { return (in + p0 + p1 - k) / s + 1; }

/* y = bias + the taps over x, zero padding, in double. */
static void direct(const xcnn_window2d *w, const float *x, const float *k, float bias, double *y)
{
    for (int oh = 0; oh < w->out_h; oh++)
        for (int ow = 0; ow < w->out_w; ow++) {
            double s = bias;
            for (int ki = 0; ki < w->k_h; ki++)
                for (int kj = 0; kj < w->k_w; kj++) {
                    int ih = oh * w->stride_h - w->pad_top + ki;
                    int iw = ow * w->stride_w - w->pad_left + kj;
                    if (ih >= 0 && ih < w->in_h && iw >= 0 && iw < w->in_w)
                        s += (double)k[ki * w->k_w + kj] * x[ih * w->in_w + iw];
                }
            y[oh * w->out_w + ow] = s;
        }
}

/* MaxPool's scan rule (ops/pool.c): the taps inside the input in row
 * order, a later one taken only if larger, or NaN; -inf to start. */
static float scan_max(const xcnn_window2d *w, const float *x, int oh, int ow)
{
    float m = -INFINITY;
    for (int ki = 0; ki < w->k_h; ki++)
        for (int kj = 0; kj < w->k_w; kj++) {
            int ih = oh * w->stride_h - w->pad_top + ki, iw = ow * w->stride_w - w->pad_left + kj;
            if (ih < 0 || ih >= w->in_h || iw < 0 || iw >= w->in_w) continue;
            float v = x[ih * w->in_w + iw];
            if (v > m || isnan(v)) m = v;
        }
    return m;
}

static int guard_intact(const float *p)
{
    for (int i = 0; i < GUARD; i++)
        if (p[i] != GUARD_VALUE) return 0;
    return 1;
}

/* The channel form (xcnn_depthwise_channels) on nc channels of one
 * geometry, plain C and AVX-512: each channel's output has the bits of
 * the phase planes' plain C (xcnn_depthwise_plane), every output is
 * written, nothing past the planes or the scratch; without a bias, the
 * planes' bias 0. */
static void check_channels(test_rng *r, const xcnn_window2d *w, int nc, int with_bias,
                           const char *label)
{
    size_t nx = (size_t)w->in_h * w->in_w, ny = (size_t)w->out_h * w->out_w;
    size_t taps = (size_t)w->k_h * w->k_w, ns = xcnn_depthwise_channels_scratch(w);
    size_t np = xcnn_depthwise_scratch(w);
    /* the planes end where the buffer ends: a read past them leaves it */
    float *x = malloc(nc * nx * sizeof *x), *k = malloc(nc * taps * sizeof *k);
    float *bias = malloc(nc * sizeof *bias), *want = malloc(nc * ny * sizeof *want);
    float *y = malloc((nc * ny + GUARD) * sizeof *y), *scratch = malloc((ns + np + GUARD) * sizeof *y);
    for (size_t i = 0; i < nc * nx; i++) x[i] = test_rng_uniform(r, -1, 1);
    for (size_t i = 0; i < nc * taps; i++) k[i] = test_rng_uniform(r, -1, 1);
    for (int l = 0; l < nc; l++) bias[l] = with_bias ? test_rng_uniform(r, -1, 1) : 0.0f;
    for (int l = 0; l < nc; l++)
        xcnn_depthwise_plane(w, x + l * nx, k + l * taps, bias[l], want + l * ny, scratch, 0);
    for (int simd = 0; simd <= 1; simd++) {
        if (simd && !xcnn_depthwise_simd()) continue;
        for (size_t i = 0; i < nc * ny; i++) y[i] = NAN;
        for (size_t i = 0; i < ns; i++) scratch[i] = NAN;
        for (int i = 0; i < GUARD; i++) y[nc * ny + i] = scratch[ns + i] = GUARD_VALUE;
        xcnn_depthwise_channels(w, x, nx, k, with_bias ? bias : NULL, nc, y, ny, scratch, simd);
        check(!memcmp(y, want, nc * ny * sizeof *y) && guard_intact(y + nc * ny) &&
                  guard_intact(scratch + ns),
              "%s: %d channels at a time%s, %s: the phase planes' bits, nothing written past "
              "the planes or the scratch", label, nc, with_bias ? "" : " (no bias)",
              simd ? "AVX-512" : "plain C");
        /* pixel-major input: the nc channels among `stride` per pixel,
         * ending where the buffer ends (a read past the last pixel's
         * channels leaves it) */
        size_t stride = (size_t)nc + 3;
        float *xp = malloc((nx * stride - (stride - nc)) * sizeof *xp);
        for (size_t i = 0; i < nx; i++)
            for (size_t l = 0; l < stride && i * stride + l < nx * stride - (stride - nc); l++)
                xp[i * stride + l] = l < (size_t)nc ? x[l * nx + i] : NAN;
        for (size_t i = 0; i < nc * ny; i++) y[i] = NAN;
        xcnn_depthwise_channels_pixel_major(w, xp, stride, k, with_bias ? bias : NULL, nc, y, ny,
                                            scratch, simd);
        check(!memcmp(y, want, nc * ny * sizeof *y) && guard_intact(y + nc * ny) &&
                  guard_intact(scratch + ns),
              "%s: %d channels at a time from pixel-major input (%zu floats a pixel), %s: the "
              "same bits", label, nc, stride, simd ? "AVX-512" : "plain C");
        free(xp);
    }
    free(x);
    free(k);
    free(bias);
    free(want);
    free(y);
    free(scratch);
}

/* ResNet's stem pool straight from the plane (maxpool_3x3s2.c): the scan
 * rule's bits `want`, in three bands of rows as threads would take them,
 * nothing written past the plane. */
static void check_maxpool_3x3s2(test_rng *r, const xcnn_window2d *w, const float *x,
                                const float *want, const char *label)
{
#ifdef XCNN_DW_X86
    if (!xcnn_depthwise_simd()) {
        check_skip("%s: max pool 3x3/2 from the plane (this CPU has no AVX-512)", label);
        return;
    }
    size_t ny = (size_t)w->out_h * w->out_w;
    float *m = malloc((ny + GUARD) * sizeof *m);
    for (size_t i = 0; i < ny; i++) m[i] = 42.0f;
    for (int i = 0; i < GUARD; i++) m[ny + i] = GUARD_VALUE;
    int cut1 = test_rng_int(r, 0, w->out_h), cut2 = test_rng_int(r, cut1, w->out_h);
    xcnn_maxpool_3x3s2_rows(w, x, 0, cut1, m);
    xcnn_maxpool_3x3s2_rows(w, x, cut1, cut2, m);
    xcnn_maxpool_3x3s2_rows(w, x, cut2, w->out_h + 3, m);
    check(!memcmp(m, want, ny * sizeof *m) && guard_intact(m + ny),
          "%s: max pool 3x3/2 from the plane, rows [0, %d), [%d, %d), [%d, end): the scan "
          "rule's bits",
          label, cut1, cut1, cut2, cut2);
    free(m);
#else
    (void)r, (void)w, (void)x, (void)want;
    check_skip("%s: max pool 3x3/2 from the plane (x86 only)", label);
#endif
}

/* One geometry, plain and (if available) AVX-512. */
/* The direct form (depthwise_direct.c) against the AVX-512 phase planes'
 * output `want`: the same bits, whole and in three bands of rows, every
 * output written and nothing after the plane. */
static void check_direct(test_rng *r, const xcnn_window2d *w, const float *x, const float *k,
                         float bias, const float *want, const char *label)
{
#ifdef XCNN_DW_X86
    size_t ny = (size_t)w->out_h * w->out_w;
    float *y = malloc((ny + GUARD) * sizeof *y);
    for (int part = 0; part < 2; part++) {
        for (size_t i = 0; i < ny; i++) y[i] = NAN;
        for (int i = 0; i < GUARD; i++) y[ny + i] = GUARD_VALUE;
        int cut1 = part ? test_rng_int(r, 0, w->out_h) : w->out_h;
        int cut2 = part ? test_rng_int(r, cut1, w->out_h) : w->out_h;
        xcnn_depthwise_direct_rows(w, x, k, bias, 0, cut1, y);
        xcnn_depthwise_direct_rows(w, x, k, bias, cut1, cut2, y);
        xcnn_depthwise_direct_rows(w, x, k, bias, cut2, w->out_h + 3, y);
        check(!memcmp(y, want, ny * sizeof *y) && guard_intact(y + ny),
              "%s: read in place (direct), %s: the phase planes' bits", label,
              part ? "in three bands of rows" : "whole");
    }
    free(y);
#else
    (void)r, (void)w, (void)x, (void)k, (void)bias, (void)want, (void)label;
#endif
}

static void check_geometry(test_rng *r, int in_h, int in_w, int k_h, int k_w, int s_h, int s_w,
                           const int pads[4])
{
    xcnn_window2d w = {in_h, in_w, k_h, k_w, s_h, s_w, 1, 1, pads[0], pads[1], pads[2], pads[3],
                       0, 0};
    w.out_h = out_size(in_h, k_h, s_h, pads[0], pads[2]);
    w.out_w = out_size(in_w, k_w, s_w, pads[1], pads[3]);
    char label[160];
    snprintf(label, sizeof label, "depthwise %dx%d k%dx%d s%d,%d pads %d,%d,%d,%d -> %dx%d", in_h,
             in_w, k_h, k_w, s_h, s_w, pads[0], pads[1], pads[2], pads[3], w.out_h, w.out_w);
    if (!check(xcnn_depthwise_fits(&w), "%s: fits the phase planes", label)) return;
    if (xcnn_depthwise_channels_fit(&w)) {
        check_channels(r, &w, XCNN_DW_CHANNELS, 1, label);
        check_channels(r, &w, test_rng_int(r, 1, XCNN_DW_CHANNELS - 1), test_rng_int(r, 0, 1),
                       label);
    }
    size_t nx = (size_t)in_h * in_w, ny = (size_t)w.out_h * w.out_w;
    size_t ns = xcnn_depthwise_scratch(&w);
    /* x ends where the buffer ends: a read past the plane leaves it */
    float *x = malloc(nx * sizeof *x), *k = malloc((size_t)k_h * k_w * sizeof *k);
    float *y = malloc((ny + GUARD) * sizeof *y), *scratch = malloc((ns + GUARD) * sizeof *y);
    double *ref = malloc(ny * sizeof *ref);
    for (size_t i = 0; i < nx; i++) x[i] = test_rng_uniform(r, -1, 1);
    for (int i = 0; i < k_h * k_w; i++) k[i] = test_rng_uniform(r, -1, 1);
    float bias = test_rng_uniform(r, -1, 1);
    direct(&w, x, k, bias, ref);
    double largest = 1e-30;
    for (size_t i = 0; i < ny; i++) largest = fmax(largest, fabs(ref[i]));
    for (int simd = 0; simd <= 1; simd++) {
        if (simd && !xcnn_depthwise_simd()) {
            check_skip("%s: AVX-512 (this CPU has none)", label);
            continue;
        }
        for (size_t i = 0; i < ny; i++) y[i] = NAN; /* every output must be written */
        for (int i = 0; i < GUARD; i++) y[ny + i] = scratch[ns + i] = GUARD_VALUE;
        for (size_t i = 0; i < ns; i++) scratch[i] = NAN; /* no read of unwritten scratch counts */
        xcnn_depthwise_plane(&w, x, k, bias, y, scratch, simd);
        double err = 0;
        for (size_t i = 0; i < ny; i++) {
            double e = fabs((double)y[i] - ref[i]) / largest;
            err = isnan(y[i]) ? INFINITY : fmax(err, e);
        }
        char what[220];
        snprintf(what, sizeof what, "%s: %s", label, simd ? "AVX-512" : "plain C");
        check_close(what, err, 1e-5);
        check(guard_intact(y + ny) && guard_intact(scratch + ns),
              "%s: nothing written past the plane or the scratch", what);
        /* three bands of rows (as threads take them), the scratch left as
         * the band before left it: the whole plane's bits */
        float *band = malloc((ny + GUARD) * sizeof *band);
        for (size_t i = 0; i < ny; i++) band[i] = NAN;
        for (int i = 0; i < GUARD; i++) band[ny + i] = GUARD_VALUE;
        int cut1 = test_rng_int(r, 0, w.out_h), cut2 = test_rng_int(r, cut1, w.out_h);
        xcnn_depthwise_rows(&w, x, k, bias, 0, cut1, band, scratch, simd);
        xcnn_depthwise_rows(&w, x, k, bias, cut1, cut2, band, scratch, simd);
        xcnn_depthwise_rows(&w, x, k, bias, cut2, w.out_h + 3, band, scratch, simd);
        check(!memcmp(band, y, ny * sizeof *y) && guard_intact(band + ny) &&
                  guard_intact(scratch + ns),
              "%s: in bands of rows [0, %d), [%d, %d), [%d, end): the same bits", what, cut1,
              cut1, cut2, cut2);
        free(band);
        if (simd && xcnn_depthwise_direct_fits(&w)) check_direct(r, &w, x, k, bias, y, label);
    }
    /* MaxPool on the same planes: ties, signed zeros, infinities and NaNs
     * with two payloads, against the scan rule bit for bit (windows made
     * only of padding have no max: skipped, as pool.c refuses them) */
    const float vals[8] = {-INFINITY, -1.0f, -0.0f, 0.0f, 1.0f, NAN, -nanf("7"), INFINITY};
    for (size_t i = 0; i < nx; i++) {
        int v = test_rng_int(r, 0, 29);
        x[i] = v < 8 ? vals[v] : (float)(v % 4);
    }
    int empty = 0;
    for (int oh = 0; oh < w.out_h; oh++)
        for (int ow = 0; ow < w.out_w; ow++) {
            int any = 0;
            for (int ki = 0; ki < k_h; ki++)
                for (int kj = 0; kj < k_w; kj++) {
                    int ih = oh * s_h - pads[0] + ki, iw = ow * s_w - pads[1] + kj;
                    any |= ih >= 0 && ih < in_h && iw >= 0 && iw < in_w;
                }
            empty |= !any;
            y[oh * w.out_w + ow] = scan_max(&w, x, oh, ow);
        }
    for (int simd = 0; simd <= 1 && !empty; simd++) {
        if (simd && !xcnn_depthwise_simd()) continue;
        float *m = malloc((ny + GUARD) * sizeof *m);
        for (size_t i = 0; i < ny; i++) m[i] = 42.0f;
        for (int i = 0; i < GUARD; i++) m[ny + i] = scratch[ns + i] = GUARD_VALUE;
        xcnn_maxpool_rows(&w, x, 0, w.out_h, m, scratch, simd);
        check(!memcmp(m, y, ny * sizeof *m) && guard_intact(m + ny) && guard_intact(scratch + ns),
              "%s: max pool, %s: the scan rule's bits", label, simd ? "AVX-512" : "plain C");
        free(m);
    }
    if (!empty && xcnn_maxpool_3x3s2_fits(&w)) check_maxpool_3x3s2(r, &w, x, y, label);
    free(x);
    free(k);
    free(y);
    free(scratch);
    free(ref);
}

static void check_geometries(void)
{
    test_rng r = {2026};
    /* the shapes MobileNetV2 runs, and their edges */
    static const int named[][7] = {
        /* in_h, in_w, k, stride, pad */
        {112, 112, 3, 1, 1}, {112, 112, 3, 2, 1}, {56, 56, 3, 1, 1}, {56, 56, 3, 2, 1},
        {28, 28, 3, 1, 1},   {14, 14, 3, 1, 1},   {14, 14, 3, 2, 1}, {7, 7, 3, 1, 1},
        {7, 7, 5, 1, 2},     {14, 14, 5, 2, 2},   {1, 1, 3, 1, 1},   {16, 16, 3, 1, 1},
        {17, 15, 3, 1, 1},   {33, 31, 7, 1, 3},   {32, 32, 9, 1, 4},
    };
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        const int *c = named[i];
        int pads[4] = {c[4], c[4], c[4], c[4]};
        check_geometry(&r, c[0], c[1], c[2], c[2], c[3], c[3], pads);
    }
    /* random: non-square kernels and strides, asymmetric pads */
    for (int t = 0; t < 60; t++) {
        int k_h = test_rng_int(&r, 1, 7), k_w = test_rng_int(&r, 1, 7);
        int s_h = test_rng_int(&r, 1, 3), s_w = test_rng_int(&r, 1, 3);
        int pads[4];
        for (int a = 0; a < 4; a++) pads[a] = test_rng_int(&r, 0, a % 2 ? k_w : k_h);
        int in_h = test_rng_int(&r, 1, 40), in_w = test_rng_int(&r, 1, 37);
        if (in_h + pads[0] + pads[2] < k_h) in_h = k_h;
        if (in_w + pads[1] + pads[3] < k_w) in_w = k_w;
        check_geometry(&r, in_h, in_w, k_h, k_w, s_h, s_w, pads);
    }
    /* MaxPool 3x3/2 with the left pad 1 (ResNet's stem pool, read from
     * the plane): every width to 40 (1, 2 or 3 blocks of 16 outputs, the
     * last partly), the top pad 0-2, right and bottom pads 0-2 */
    for (int in_w = 1; in_w <= 40; in_w++) {
        int pads[4] = {test_rng_int(&r, 0, 2), 1, test_rng_int(&r, 0, 2), test_rng_int(&r, 0, 2)};
        int in_h = test_rng_int(&r, 1, 12);
        if (in_h + pads[0] + pads[2] < 3) in_h = 3;
        if (in_w + pads[1] + pads[3] < 3) continue;
        check_geometry(&r, in_h, in_w, 3, 3, 2, 2, pads);
    }
    check_geometry(&r, 113, 111, 3, 3, 2, 2, (const int[4]){1, 1, 1, 1});
    /* 3x3 on rows 48 wide or more, read in place: widths that end a row
     * inside a vector or on its edge, 1 to 9 rows (odd counts leave the
     * stride-1 form's last row pair half full), pads 0-2 on each side */
    for (int t = 0; t < 40; t++) {
        int s = test_rng_int(&r, 1, 2), pads[4];
        for (int a = 0; a < 4; a++) pads[a] = test_rng_int(&r, 0, 2);
        int in_h = test_rng_int(&r, 1, 9), in_w = t < 4 ? 48 + 16 * t : test_rng_int(&r, 48, 130);
        if (in_h + pads[0] + pads[2] < 3) in_h = 3;
        check_geometry(&r, in_h, in_w, 3, 3, s, s, pads);
    }
    xcnn_window2d narrow = {56, 47, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 56, 47};
    xcnn_window2d wide5 = {56, 56, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 56, 56};
    xcnn_window2d stride3 = {56, 56, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 19, 19};
    check(xcnn_depthwise_direct_fits(&(xcnn_window2d){56, 56, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 28,
                                                      28}) &&
              !xcnn_depthwise_direct_fits(&narrow) && !xcnn_depthwise_direct_fits(&wide5) &&
              !xcnn_depthwise_direct_fits(&stride3),
          "read in place: 3x3, stride 1 or 2, rows 48 wide or more only");
    /* dilated windows are not the phase planes' (the plain loop runs) */
    xcnn_window2d d = {9, 9, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 9, 9};
    check(!xcnn_depthwise_fits(&d), "a dilated window is left to the plain loop");
}

#ifdef _OPENMP
/* The Conv op on a depthwise shape, its planes shared between threads,
 * each thread in its own scratch slot: 1 and 2 threads give the same
 * bits. */
static void check_op_threads(int h, int stride, const char *how)
{
    gc_graph gc;
    gc_init(&gc, 5);
    int c = 24;
    int x = gc_activation(&gc, "x", 4, (int64_t[]){1, c, h, h});
    int w = gc_weight(&gc, "w", 4, (int64_t[]){c, 1, 3, 3});
    int b = gc_weight(&gc, "b", 1, (int64_t[]){c});
    int node = gc_node(&gc, "Conv", (int[]){x, w, b}, 3);
    xcnn_graph *g = gc.g;
    xcnn_node *n = &g->nodes[node];
    xcnn_node_add_attr_int(n, "group", c);
    xcnn_node_add_attr_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    xcnn_node_add_attr_ints(n, "strides", (int64_t[]){stride, stride}, 2);
    xcnn_err err = {{0}};
    n->def = xcnn_op_find("Conv");
    if (!check(n->def->setup(g, n, &err) == XCNN_OK, "depthwise op: setup (%s)", err.msg)) {
        gc_free(&gc);
        return;
    }
    int batch = 3;
    xcnn_tensor *xt = xcnn_in(g, n, 0), *yt = xcnn_out(g, n, 0);
    size_t nx = xcnn_tensor_sample_numel(xt) * batch, ny = xcnn_tensor_sample_numel(yt) * batch;
    xt->data = malloc(nx * sizeof(float));
    yt->data = malloc(ny * sizeof(float));
    for (size_t i = 0; i < nx; i++) xt->data[i] = test_rng_uniform(&gc.rng, -1, 1);
    /* room for two threads' slots, as an arena sized for a larger node
     * gives (the node asks for one slot) */
    g->scratch_floats = 2 * n->scratch_floats;
    float *scratch = malloc((g->scratch_floats + 1) * sizeof(float));
    float *one = malloc(ny * sizeof(float));
    omp_set_num_threads(1);
    n->def->forward(g, n, batch, scratch);
    memcpy(one, yt->data, ny * sizeof(float));
    omp_set_num_threads(2);
    for (size_t i = 0; i < ny; i++) yt->data[i] = NAN;
    n->def->forward(g, n, batch, scratch);
    check(memcmp(one, yt->data, ny * sizeof(float)) == 0,
          "depthwise op %dx%d stride %d, batch 3 (%s): 1 and 2 threads give the same bits", h, h,
          stride, how);
    free(one);
    free(scratch);
    free(xt->data);
    free(yt->data);
    xt->data = yt->data = NULL;
    gc_free(&gc);
}
#endif

int main(void)
{
    check_geometries();
#ifdef _OPENMP
    check_op_threads(112, 2, "large planes");
    check_op_threads(56, 1, "wide planes read in place");
    check_op_threads(14, 1, "small planes, 16 channels at a time");
    check_op_threads(28, 2, "16 channels at a time, stride 2");
#else
    check_skip("depthwise op on 1 and 2 threads (built without OpenMP)");
#endif
    return check_summary();
}
