/*
 * LRP's Conv and Gemm rules: relevance products with modified weights.
 *
 * Every rule here has the one shape of Zennit's "modified gradient": a few
 * modified layers z = sum_k A_k x_k (+ a bias) of modified inputs x_k, one
 * ratio per output s = R / stab(z), and
 *
 *     R_in = sum_k x_k * (A_k^T s)
 *
 * with stab(z) = z + e sign(z), sign(0) = +1. Below, x+ = max(x, 0) and
 * x- = min(x, 0), W+ and W- likewise, b the bias, R the relevance at the
 * layer's output, y its true output:
 *
 *   epsilon  z = W x + b (y itself), R_in = x * W^T s, e = epsilon
 *   z+       z = W+ x+ + W- x- + b+,   R_in = x+ * W+^T s + x- * W-^T s
 *   gamma    Zennit's generalised Gamma: Wp = W + g W+, Wn = W + g W-,
 *              zp = Wp x+ + Wn x- + b + g b+,   sp = [y > 0] R / stab(zp)
 *              zn = Wn x+ + Wp x- + b + g b-,   sn = [y < 0] R / stab(zn)
 *              R_in = x+ * (Wp^T sp + Wn^T sn) + x- * (Wn^T sp + Wp^T sn)
 *            A positive output is shared out among the contributions that
 *            push it up (positive weights on positive inputs, negative on
 *            negative), each boosted by g; a negative output among those
 *            that push it down; an output of exactly 0 passes nothing on.
 *   flat     W = 1, b = 0 and every input 1: z_j = the taps of output j
 *            that fall inside the input (padding excluded) times the
 *            group's channels, R_i = sum over the outputs j reading i of
 *            R_j / stab(z_j), whatever x is
 *   z-box    z = W x - W+ l - W- h (Zennit's three biases cancel),
 *            R_in = x * W^T s - l * W+^T s - h * W-^T s, l and h the
 *            box's bounds at every input position (0 in the padding)
 *
 * with e = 1e-6 (XCNN_LRP_STAB) but for epsilon. zero_bias: every b above
 * is 0; the gamma rule still takes its signs from y, with its bias. A
 * BatchNormalization merged into the Conv (Zennit's canonizer) scales W
 * and b per output channel: W' = k W, b' = k (b - mean) + B with k = scale
 * / sqrt(var + eps); y is then the BatchNormalization's output.
 *
 * A Conv as matrices: C = im2col(x) holds a row per (channel, tap) and a
 * column per output pixel, so z = A C, and since x_i is the same in every
 * column entry that reads it,
 *     x * col2im(A^T s) = col2im(C (.) A^T s)
 * (col2im adds each entry into the input element it came from). So each
 * rule is one stacked product z = A C, then U = A^T s, then the columns
 * C (.) U summed over the k parts and added into the input by col2im:
 *
 *   rule      column parts C               rows of A per output channel
 *   epsilon   x                            W
 *   z+        x+, x-                       [W+ | W-]
 *   gamma     x+, x-                       [Wp | Wn] (zp) and [Wn | Wp] (zn)
 *   z-box     x, l, h                      [W | -W+ | -W-]
 *
 * An input with no negative element (after a ReLU: most of them) drops
 * its x- part, which adds only zeros: half the products.
 *
 * Memory: the state's room (m->ex_rule, sized at load by
 * xcnn_workspace_rule_floats, core/workspace.c) holds A and its biases for
 * a block of output channels, and C, U and z (then s) for a block of
 * output pixels. All the channels go at once when their weights take at
 * most half the room; then as many pixels as fit. The blocks depend on
 * the layer and the room only, not on the thread count, and neither do
 * the bits (the GEMM's and the loops' do not).
 */
#include <math.h>
#include <string.h>
#include "lrp.h"
#include "../../kernels/gemm.h"
#include "../../ops/conv.h"

/* ---- the layer ---------------------------------------------------------- */

/* A Conv with the BatchNormalization merged into it, if any. */
typedef struct conv_layer {
    const xcnn_conv_shape *s;
    const float *w, *b;          /* weight [c_out, cg, kh, kw], bias or NULL */
    const float *bn_scale, *bn_shift, *bn_mean, *bn_var; /* NULL: no merge */
    double bn_eps;
    const float *r, *y;          /* one sample's R at the output, and its
                                    true output (the BatchNorm's if merged) */
    int cg, mg, K, P, HW;        /* per group: input and output channels,
                                    rows of C, output pixels, input pixels */
} conv_layer;

int xcnn_lrp_bn_after(const xcnn_graph *g, const xcnn_node *n)
{
    int last = -1;
    if (n->n_out != 1 || n->out[0] == g->output ||
        xcnn_graph_readers(g, n->out[0], &last) != 1 || last < 0)
        return -1;
    const xcnn_node *bn = &g->nodes[last];
    return strcmp(bn->op_type, "BatchNormalization") == 0 && bn->in[0] == n->out[0] ? last : -1;
}

/* Output channel m's weight scale k and bias b' (BatchNormalization merged
 * in, or 1 and the Conv's bias). */
static double channel_scale(const conv_layer *L, int m)
{
    if (!L->bn_scale) return 1.0;
    return (double)L->bn_scale[m] / sqrt((double)L->bn_var[m] + L->bn_eps);
}

static double channel_bias(const conv_layer *L, int m)
{
    double b = L->b ? L->b[m] : 0.0;
    if (!L->bn_scale) return b;
    return channel_scale(L, m) * (b - L->bn_mean[m]) + L->bn_shift[m];
}

size_t xcnn_lrp_conv_min_room(const xcnn_graph *g, const xcnn_node *n)
{
    (void)g;
    const xcnn_conv_shape *s = n->params;
    const xcnn_window2d *w = &s->win;
    size_t K = (size_t)(s->c_in / s->group) * (size_t)w->k_h * (size_t)w->k_w;
    size_t P = (size_t)w->out_h * (size_t)w->out_w, HW = (size_t)w->in_h * (size_t)w->in_w;
    /* z-box, one channel and one pixel: A 3K + 1, C and U 3K each, z 1;
     * gamma: A 2 x (2K + 1), C and U 2K each, z 2. The flat rule: its
     * planes in double. core/workspace.c sizes the room with the same. */
    size_t least = 10 * K + 8, flat = 2 * (P + HW);
    return least > flat ? least : flat;
}

size_t xcnn_lrp_gemm_min_room(const xcnn_graph *g, const xcnn_node *n)
{
    return 2 * xcnn_tensor_sample_numel(&g->tensors[n->out[0]]); /* s in double */
}

/* ---- the products ------------------------------------------------------- */

/* The GEMM, or its plain loops on a reference build (REFERENCE=1):
 * C = op(A) B + beta C, B never transposed. */
static void gemm(const xcnn_graph *g, int trans_a, int M, int N, int K, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc)
{
    if (g->reference)
        xcnn_sgemm_reference(trans_a, 0, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
    else xcnn_sgemm(trans_a, 0, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

/* Parts of C (and of each row of A) and rows of A per output channel. */
static void rule_parts(xcnn_lrp_kind kind, int signed_x, int *r_in, int *r_out)
{
    *r_out = kind == XCNN_LRP_KIND_GAMMA ? 2 : 1;
    if (kind == XCNN_LRP_KIND_ZBOX) *r_in = 3;
    else if (kind == XCNN_LRP_KIND_ZPLUS || kind == XCNN_LRP_KIND_GAMMA) *r_in = signed_x ? 2 : 1;
    else *r_in = 1;
}

/* Rows [0, r_out * mc) of A (Kp = r_in * K columns) and their biases, for
 * output channels m0 .. m0 + mc - 1 of group grp. Gamma's rows for zp come
 * first, then those for zn. One plain loop per part, so that each
 * vectorises (ResNet-18's layer4 has 2.4 M weights a Conv). */
static void build_weights(const conv_layer *L, xcnn_lrp_kind kind, const xcnn_lrp_state *st,
                          int grp, int m0, int mc, int r_in, float *A, float *bias)
{
    int K = L->K, Kp = r_in * K;
    float gm = (float)st->gamma;
    for (int i = 0; i < mc; i++) {
        int m = grp * L->mg + m0 + i;
        const float *src = L->w + (size_t)m * K;
        float *a = A + (size_t)i * Kp, *an = A + (size_t)(mc + i) * Kp; /* an: gamma's zn */
        if (L->bn_scale) { /* W' = k W, in double as the canonizer's float64 */
            double k = channel_scale(L, m);
            for (int j = 0; j < K; j++) a[j] = (float)(k * src[j]);
        } else {
            memcpy(a, src, (size_t)K * sizeof *a);
        }
        switch (kind) {
        case XCNN_LRP_KIND_ZPLUS:
            if (r_in == 2)
                for (int j = 0; j < K; j++) a[K + j] = a[j] < 0 ? a[j] : 0.0f;
            for (int j = 0; j < K; j++) a[j] = a[j] > 0 ? a[j] : 0.0f;
            break;
        case XCNN_LRP_KIND_GAMMA:
            for (int j = 0; j < K; j++) an[j] = a[j] + gm * (a[j] < 0 ? a[j] : 0.0f);
            for (int j = 0; j < K; j++) a[j] = a[j] + gm * (a[j] > 0 ? a[j] : 0.0f);
            if (r_in == 2) {
                memcpy(a + K, an, (size_t)K * sizeof *a);
                memcpy(an + K, a, (size_t)K * sizeof *a);
            }
            break;
        case XCNN_LRP_KIND_ZBOX:
            for (int j = 0; j < K; j++) {
                a[K + j] = a[j] > 0 ? -a[j] : 0.0f;
                a[2 * K + j] = a[j] < 0 ? -a[j] : 0.0f;
            }
            break;
        default:
            break;
        }
        float b = st->zero_bias ? 0.0f : (float)channel_bias(L, m);
        float bpos = b > 0 ? b : 0.0f, bneg = b < 0 ? b : 0.0f;
        switch (kind) {
        case XCNN_LRP_KIND_ZPLUS: bias[i] = bpos; break;
        case XCNN_LRP_KIND_GAMMA:
            bias[i] = b + gm * bpos;
            bias[mc + i] = b + gm * bneg;
            break;
        case XCNN_LRP_KIND_ZBOX: bias[i] = 0.0f; break;
        default: bias[i] = b; break;
        }
    }
}

/* C for output pixels [p0, p1) of one group: its parts stacked, K rows
 * each, ld floats apart. x is the group's first input plane. */
static void fill_columns(const conv_layer *L, xcnn_lrp_kind kind, int r_in, const float *x,
                         int p0, int p1, float *C, size_t ld, const xcnn_lrp_state *st)
{
    const xcnn_window2d *w = &L->s->win;
    int K = L->K, kk = w->k_h * w->k_w, np = p1 - p0;
#pragma omp parallel for schedule(static) if ((size_t)K * np > XCNN_PARALLEL_MIN_COPY)
    for (int c = 0; c < L->cg; c++)
        xcnn_im2col_pixels(w, 1, x + (size_t)c * L->HW, p0, p1, C + (size_t)c * kk * ld, ld);
    if (kind == XCNN_LRP_KIND_ZBOX) {
        /* l and h where the tap reads the input, 0 where it reads padding */
        float lo = st->low, hi = st->high;
#pragma omp parallel for schedule(static) if ((size_t)K * np > XCNN_PARALLEL_MIN_COPY)
        for (int r = 0; r < K; r++) {
            int tap = r % kk;
            xcnn_tap_span t = xcnn_window_tap_span(w, tap / w->k_w, tap % w->k_w);
            float *cl = C + (size_t)(K + r) * ld, *ch = C + (size_t)(2 * K + r) * ld;
            for (int p = 0; p < np; p++) {
                int oh = (p0 + p) / w->out_w, ow = (p0 + p) % w->out_w;
                int in = oh >= t.oh_lo && oh < t.oh_hi && ow >= t.ow_lo && ow < t.ow_hi;
                cl[p] = in ? lo : 0.0f;
                ch[p] = in ? hi : 0.0f;
            }
        }
    } else if (r_in == 2) { /* x+ above, x- below */
#pragma omp parallel for schedule(static) if ((size_t)K * np > XCNN_PARALLEL_MIN)
        for (int r = 0; r < K; r++) {
            float *cp = C + (size_t)r * ld, *cn = C + (size_t)(K + r) * ld;
            for (int p = 0; p < np; p++) {
                float v = cp[p];
                cp[p] = v > 0 ? v : 0.0f;
                cn[p] = v < 0 ? v : 0.0f;
            }
        }
    }
}

/* s = R / stab(z) in place of z, for output channels m0 .. m0 + mc - 1
 * (group grp) and pixels [p0, p0 + np): rows [0, mc) of Z for z (gamma:
 * zp) with biases bias[0], rows [mc, 2 mc) for gamma's zn with biases
 * bias[1]. z_is_y: z is y itself (the epsilon rule with its bias). */
static void ratios(const conv_layer *L, xcnn_lrp_kind kind, const xcnn_lrp_state *st, int grp,
                   int m0, int mc, int r_out, int p0, int np, float *Z, size_t ld,
                   const float *const bias[2], int z_is_y)
{
    double e = kind == XCNN_LRP_KIND_EPSILON ? st->epsilon : st->stab;
    int rows = r_out * mc;
#pragma omp parallel for schedule(static) if ((size_t)rows * np > XCNN_PARALLEL_MIN)
    for (int i = 0; i < rows; i++) {
        int part = i / mc, m = grp * L->mg + m0 + i % mc;
        const float *r = L->r + (size_t)m * L->P + p0, *y = L->y + (size_t)m * L->P + p0;
        float *z = Z + (size_t)i * ld;
        double b = z_is_y ? 0.0 : bias[part][i % mc];
        for (int p = 0; p < np; p++) {
            double zv = z_is_y ? y[p] : (double)z[p] + b;
            /* gamma: zp's rows carry the positive outputs, zn's the negative */
            int on = kind != XCNN_LRP_KIND_GAMMA || (part == 0 ? y[p] > 0 : y[p] < 0);
            z[p] = on ? (float)(r[p] / xcnn_lrp_stab(zv, e)) : 0.0f;
        }
    }
}

/* U's first K rows = sum over the parts of C (.) U: the input's relevance
 * in columns, for col2im. */
static void combine(int K, int r_in, int np, const float *C, float *U, size_t ld)
{
#pragma omp parallel for schedule(static) if ((size_t)K * np * r_in > XCNN_PARALLEL_MIN)
    for (int r = 0; r < K; r++) {
        float *u = U + (size_t)r * ld;
        const float *c = C + (size_t)r * ld;
        for (int p = 0; p < np; p++) {
            float v = c[p] * u[p];
            for (int k = 1; k < r_in; k++)
                v += C[(size_t)(k * K + r) * ld + p] * U[(size_t)(k * K + r) * ld + p];
            u[p] = v;
        }
    }
}

/* How large the blocks are: mc output channels (their r_out rows of A
 * each, and biases) and pc output pixels (their C, U and z columns). */
typedef struct conv_plan {
    int mc, pc;
} conv_plan;

static conv_plan plan_blocks(const conv_layer *L, int r_in, int r_out, size_t room)
{
    size_t Kp = (size_t)r_in * L->K, per_channel = (size_t)r_out * (Kp + 1);
    /* every channel at once when their weights take half the room or less */
    size_t mc = per_channel * (size_t)L->mg <= room / 2 ? (size_t)L->mg : room / 2 / per_channel;
    if (mc < 1) mc = 1;
    size_t rest = room - mc * per_channel, per_pixel = 2 * Kp + (size_t)r_out * mc;
    size_t pc = rest / per_pixel; /* >= 1: xcnn_lrp_conv_min_room */
    if (pc > (size_t)L->P) pc = (size_t)L->P;
    if (pc < 1) pc = 1;
    conv_plan pl = {(int)mc, (int)pc};
    return pl;
}

/* One group of one sample, by rule `kind` (not flat). x, dx: the group's
 * first input plane and its relevance. */
static void conv_group(const xcnn_graph *g, const conv_layer *L, xcnn_lrp_kind kind,
                       const xcnn_lrp_state *st, int grp, const float *x, float *dx)
{
    const xcnn_window2d *w = &L->s->win;
    int signed_x = 0;
    if (kind == XCNN_LRP_KIND_ZPLUS || kind == XCNN_LRP_KIND_GAMMA)
        for (size_t i = 0; i < (size_t)L->cg * L->HW && !signed_x; i++) signed_x = x[i] < 0;
    int r_in, r_out;
    rule_parts(kind, signed_x, &r_in, &r_out);
    int K = L->K, Kp = r_in * K, kk = w->k_h * w->k_w;
    conv_plan pl = plan_blocks(L, r_in, r_out, st->room_floats);
    /* epsilon with its bias: z is the layer's output, no product needed */
    int z_is_y = kind == XCNN_LRP_KIND_EPSILON && !st->zero_bias;
    int ld = pl.pc, whole = pl.mc == L->mg; /* whole: A made once for every pixel */
    float *A = st->room, *bias = A + (size_t)r_out * pl.mc * Kp;
    float *C = bias + (size_t)r_out * pl.mc, *U = C + (size_t)Kp * ld, *Z = U + (size_t)Kp * ld;
    if (whole) build_weights(L, kind, st, grp, 0, pl.mc, r_in, A, bias);
    for (int p0 = 0; p0 < L->P; p0 += pl.pc) {
        int np = L->P - p0 < pl.pc ? L->P - p0 : pl.pc;
        fill_columns(L, kind, r_in, x, p0, p0 + np, C, (size_t)ld, st);
        for (int m0 = 0; m0 < L->mg; m0 += pl.mc) {
            /* A's rows for this block: z's (gamma: zp's) mc rows, then gamma's zn's */
            int mc = L->mg - m0 < pl.mc ? L->mg - m0 : pl.mc, rows = r_out * mc;
            if (!whole) build_weights(L, kind, st, grp, m0, mc, r_in, A, bias);
            const float *b[2] = {bias, bias + mc};
            if (!z_is_y) gemm(g, 0, rows, np, Kp, A, Kp, C, ld, 0.0f, Z, ld);
            ratios(L, kind, st, grp, m0, mc, r_out, p0, np, Z, (size_t)ld, b, z_is_y);
            /* U = A^T s, summed over the channel blocks */
            gemm(g, 1, Kp, np, rows, A, Kp, Z, ld, m0 ? 1.0f : 0.0f, U, ld);
        }
        combine(K, r_in, np, C, U, (size_t)ld);
#pragma omp parallel for schedule(static) if ((size_t)K * np > XCNN_PARALLEL_MIN_COPY)
        for (int c = 0; c < L->cg; c++)
            xcnn_col2im_pixels(w, 1, U + (size_t)c * kk * ld, (size_t)ld, p0, p0 + np,
                               dx + (size_t)c * L->HW);
    }
}

/* The flat rule on one group of one sample: each output pixel's relevance
 * (all the group's channels) over stab(its count of taps), spread evenly
 * back over its window. r: the group's first output channel; dx: its
 * first input plane. Every input channel of the group gets one plane. */
static void conv_flat(const conv_layer *L, const xcnn_lrp_state *st, const float *r, float *dx)
{
    const xcnn_window2d *w = &L->s->win;
    double *u = (double *)(void *)st->room, *plane = u + L->P;
    for (int p = 0; p < L->P; p++) {
        int oh = p / w->out_w, ow = p % w->out_w, nh = 0, nw = 0;
        for (int i = 0; i < w->k_h; i++) {
            int ih = oh * w->stride_h - w->pad_top + i * w->dil_h;
            nh += ih >= 0 && ih < w->in_h;
        }
        for (int j = 0; j < w->k_w; j++) {
            int iw = ow * w->stride_w - w->pad_left + j * w->dil_w;
            nw += iw >= 0 && iw < w->in_w;
        }
        double z = xcnn_lrp_stab((double)L->cg * nh * nw, st->stab), sum = 0;
        for (int m = 0; m < L->mg; m++) sum += r[(size_t)m * L->P + p] / z;
        u[p] = sum;
    }
    memset(plane, 0, (size_t)L->HW * sizeof *plane);
    for (int i = 0; i < w->k_h; i++)
        for (int j = 0; j < w->k_w; j++) {
            xcnn_tap_span t = xcnn_window_tap_span(w, i, j);
            for (int oh = t.oh_lo; oh < t.oh_hi; oh++) {
                double *row = plane + (size_t)(oh * w->stride_h + t.ih0) * w->in_w + t.iw0;
                const double *uo = u + (size_t)oh * w->out_w;
                for (int ow = t.ow_lo; ow < t.ow_hi; ow++) row[ow * w->stride_w] += uo[ow];
            }
        }
#pragma omp parallel for schedule(static) if ((size_t)L->cg * L->HW > XCNN_PARALLEL_MIN)
    for (int c = 0; c < L->cg; c++)
        for (int i = 0; i < L->HW; i++) dx[(size_t)c * L->HW + i] += (float)plane[i];
}

void xcnn_lrp_conv(xcnn_graph *g, const xcnn_node *n, int batch, int bn, xcnn_lrp_kind kind,
                   const xcnn_lrp_state *st)
{
    const xcnn_tensor *xt = xcnn_in(g, n, 0), *yt = xcnn_out(g, n, 0), *bt = xcnn_in(g, n, 2);
    float *dx = xcnn_tensor_grad(xt);
    if (!dx) return;
    const xcnn_conv_shape *s = n->params;
    const xcnn_window2d *w = &s->win;
    conv_layer L;
    memset(&L, 0, sizeof L);
    L.s = s;
    L.w = xcnn_in(g, n, 1)->data;
    L.b = bt ? bt->data : NULL;
    const xcnn_tensor *true_y = yt; /* the gamma rule's signs */
    if (bn >= 0) {
        const xcnn_node *b = &g->nodes[bn];
        L.bn_scale = xcnn_in(g, b, 1)->data;
        L.bn_shift = xcnn_in(g, b, 2)->data;
        L.bn_mean = xcnn_in(g, b, 3)->data;
        L.bn_var = xcnn_in(g, b, 4)->data;
        L.bn_eps = xcnn_attr_float(b, "epsilon", 1e-5f);
        true_y = xcnn_out(g, b, 0);
    }
    L.cg = s->c_in / s->group;
    L.mg = s->c_out / s->group;
    L.K = L.cg * w->k_h * w->k_w;
    L.P = w->out_h * w->out_w;
    L.HW = w->in_h * w->in_w;
    for (int b = 0; b < batch; b++) {
        size_t xo = (size_t)b * s->c_in * L.HW, yo = (size_t)b * s->c_out * L.P;
        L.r = yt->grad + yo;
        L.y = true_y->data + yo;
        for (int grp = 0; grp < s->group; grp++) {
            size_t go = (size_t)grp * L.cg * L.HW;
            if (kind == XCNN_LRP_KIND_FLAT)
                conv_flat(&L, st, L.r + (size_t)grp * L.mg * L.P, dx + xo + go);
            else conv_group(g, &L, kind, st, grp, xt->data + xo + go, dx + xo + go);
        }
    }
}

/* ---- Gemm and MatMul ------------------------------------------------------
 * Y = alpha A op(B) + beta C (MatMul: A B): the weight of input k in output
 * j is alpha op(B)[k, j], the bias beta C[j]. Rows of A are independent
 * (the batch; a MatMul's leading dims). A classifier's products are small
 * (ResNet's 512 x 1000): plain loops, each sum in double in a fixed order. */
void xcnn_lrp_gemm(xcnn_graph *g, const xcnn_node *n, int batch, xcnn_lrp_kind kind,
                   const xcnn_lrp_state *st)
{
    const xcnn_tensor *a = xcnn_in(g, n, 0), *bt = xcnn_in(g, n, 1), *y = xcnn_out(g, n, 0);
    float *da = xcnn_tensor_grad(a);
    if (!da) return;
    int is_gemm = strcmp(n->op_type, "Gemm") == 0;
    int trans_b = is_gemm && xcnn_attr_int(n, "transB", 0) != 0;
    double alpha = is_gemm ? xcnn_attr_float(n, "alpha", 1.0f) : 1.0;
    /* M from the output: a MatMul's B may be [1, K, M] or a vector [K] */
    int64_t K = a->dims[a->ndim - 1], per_rows = (int64_t)xcnn_tensor_sample_numel(a) / K;
    int64_t M = (int64_t)xcnn_tensor_sample_numel(y) / per_rows;
    int64_t rows = per_rows * batch;
    const float *B = bt->data;
    double *s = (double *)(void *)st->room;
    for (int64_t r = 0; r < rows; r++) {
        const float *x = a->data + r * K, *rr = y->grad + r * M, *yy = y->data + r * M;
        float *d = da + r * K;
        if (kind == XCNN_LRP_KIND_FLAT) { /* z_j = K for every j */
            double z = xcnn_lrp_stab((double)K, st->stab), sum = 0;
            for (int64_t j = 0; j < M; j++) sum += rr[j] / z;
            for (int64_t k = 0; k < K; k++) d[k] += (float)sum;
            continue;
        }
#pragma omp parallel for schedule(static) if (st->zero_bias && M * K > XCNN_PARALLEL_MIN)
        for (int64_t j = 0; j < M; j++) {
            double z = yy[j]; /* with the bias */
            if (st->zero_bias) {
                double acc = 0;
                for (int64_t k = 0; k < K; k++)
                    acc += (double)x[k] * (trans_b ? B[j * K + k] : B[k * M + j]);
                z = alpha * acc;
            }
            s[j] = rr[j] / xcnn_lrp_stab(z, st->epsilon);
        }
#pragma omp parallel for schedule(static) if (M * K > XCNN_PARALLEL_MIN)
        for (int64_t k = 0; k < K; k++) {
            double acc = 0;
            for (int64_t j = 0; j < M; j++) acc += (trans_b ? B[j * K + k] : B[k * M + j]) * s[j];
            d[k] += (float)(x[k] * alpha * acc);
        }
    }
}
