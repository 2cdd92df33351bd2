/*
 * Deletion and insertion (Petsiuk et al. 2018; METHODS.md, "Metrics").
 * An attribution is good when the pixels it ranks first matter most:
 *
 *   map     the attribution summed over channels, signed, resized bilinear
 *           (align_corners=False, io/resize.c) to H x W when smaller;
 *   order   the pixels by the map, descending, ties by lower flat index;
 *   steps   P pixels each (default ceil(H*W/224)), n = ceil(H*W/P);
 *   s_k     the score (softmax(f(.))[t], in double with the largest output
 *           subtracted; or the raw f(.)[t]) of
 *             deletion:  x with the first k*P pixels (all channels) set to 0,
 *             insertion: blur(x) with the first k*P pixels put back from x;
 *           so deletion starts at s_0 = score(x), insertion ends at s_n;
 *   AUC     (sum_{k=0..n} s_k - (s_0 + s_n)/2) / n, the trapezoid rule over
 *           [0, 1] (a single step, n = 1: the mean of the two ends).
 *
 * blur: per channel the 11 x 11 kernel k1 k1^T, zero padding 5. k1 is RISE's
 * (scipy's gaussian_filter1d of a unit impulse at the centre of 11 taps,
 * sigma 5, mode reflect, truncate 4): the 41-tap Gaussian g_j = exp(-j^2/50)
 * / sum, j = -20..20, folded back into the 11 taps by half-sample reflection
 * (period 22), so that k1[i] = sum of g_j over the j with reflect(i + j) = 5.
 * It sums to 1, as does k1 k1^T: |blur(x)| <= max |x|.
 *
 * Forwards: one of x alone (it resolves the target, -1 = its arg-max, and is
 * s_0 of deletion, s_n of insertion), then the other n points in batches of
 * xcnn_ex_pass_batch, values only (no backward follows: ops may take their
 * fastest forms, as Score-CAM's passes do). A sample's output does not depend
 * on the batch or the thread count, so neither does the curve.
 *
 * Workspace (nothing is allocated here): the map in ex_acc (double, H*W),
 * the order in ex_index (heap sort on (value desc, index asc): a total
 * order, so the result is the stable sort's without a merge buffer), a map
 * smaller than the input in ex_path2 before it is resized through ex_path;
 * then blur(x) in ex_path2 (its horizontal pass in ex_acc2, double), and the
 * curve's inputs in ex_path, each built from the one before it.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "../../include/xcnn_eval.h"
#include "../base/error.h"
#include "../base/format.h"
#include "../explain/explain.h"

#define BLUR_TAPS 11
#define BLUR_PAD 5

void xcnn_curve_options_init(xcnn_curve_options *o, xcnn_curve_kind kind)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->target = -1;
    o->step = 0;
    o->score = XCNN_SCORE_PROBABILITY;
}

static const char *kind_name(xcnn_curve_kind k)
{
    return k == XCNN_CURVE_INSERTION ? "insertion" : "deletion";
}

/* k1 above, in double. */
static void blur_kernel(double k1[BLUR_TAPS])
{
    double g[41], z = 0;
    for (int j = -20; j <= 20; j++) z += g[j + 20] = exp(-0.5 * (double)(j * j) / 25.0);
    for (int i = 0; i < BLUR_TAPS; i++) k1[i] = 0;
    for (int i = 0; i < BLUR_TAPS; i++)
        for (int j = -20; j <= 20; j++) {
            int r = ((i + j) % 22 + 22) % 22;
            if ((r < 11 ? r : 21 - r) == BLUR_PAD) k1[i] += g[j + 20] / z;
        }
}

/* The model's input H and W, and the step and point count of o; checks
 * everything about o that needs no input. */
static xcnn_status curve_shape(const xcnn_model *m, const xcnn_curve_options *o, int64_t *C,
                               int64_t *H, int64_t *W, int64_t *step, int *points, xcnn_err *err)
{
    const xcnn_tensor *in = &m->g->tensors[m->g->input];
    if (in->ndim != 4)
        return xcnn_fail(err, XCNN_ERR_SHAPE, "deletion/insertion: the model input has %d "
                         "dimensions; the curves remove pixels of an NxCxHxW input", in->ndim);
    if ((unsigned)o->kind > XCNN_CURVE_INSERTION)
        return xcnn_fail(err, XCNN_ERR_ARG, "unknown curve kind %d (deletion 0, insertion 1)",
                         (int)o->kind);
    if ((unsigned)o->score > XCNN_SCORE_LOGIT)
        return xcnn_fail(err, XCNN_ERR_ARG, "unknown score kind %d (probability 0, logit 1)",
                         (int)o->score);
    int64_t hw = in->dims[2] * in->dims[3];
    if (o->step < 0 || o->step > hw)
        return xcnn_fail(err, XCNN_ERR_ARG, "%s: step must be 1..%lld pixels (H*W), or 0 for "
                         "ceil(H*W/224) (got %d)", kind_name(o->kind), (long long)hw, o->step);
    int64_t p = o->step ? o->step : (hw + 223) / 224;
    int64_t n = (hw + p - 1) / p;
    if (n + 1 > INT32_MAX)
        return xcnn_fail(err, XCNN_ERR_LIMIT, "%s: %lld steps are too many", kind_name(o->kind),
                         (long long)n);
    *C = in->dims[1];
    *H = in->dims[2];
    *W = in->dims[3];
    *step = p;
    *points = (int)(n + 1);
    return XCNN_OK;
}

/* Which of pixels a, b comes first: the larger value, then the lower index. */
static int before(const double *v, int a, int b)
{
    return v[a] > v[b] || (!(v[b] > v[a]) && a < b);
}

static void sift(int *idx, const double *v, size_t root, size_t n)
{
    for (;;) {
        size_t c = 2 * root + 1;
        if (c >= n) return;
        /* a max-heap of "comes last": the root goes to the end */
        if (c + 1 < n && before(v, idx[c], idx[c + 1])) c++;
        if (!before(v, idx[root], idx[c])) return;
        int t = idx[root];
        idx[root] = idx[c];
        idx[c] = t;
        root = c;
    }
}

/* idx[0..n) = the pixels in the order above. */
static void order_pixels(int *idx, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) idx[i] = (int)i;
    for (size_t i = n / 2; i-- > 0;) sift(idx, v, i, n);
    for (size_t end = n; end-- > 1;) {
        int t = idx[0];
        idx[0] = idx[end];
        idx[end] = t;
        sift(idx, v, 0, end);
    }
}

/* blur(x) into out (C x H x W), through tmp (C*H*W doubles). */
static void blur(const float *x, int64_t C, int64_t H, int64_t W, double *tmp, float *out)
{
    double k1[BLUR_TAPS];
    blur_kernel(k1);
    for (int64_t c = 0; c < C; c++) {
        const float *xc = x + c * H * W;
        double *tc = tmp + c * H * W;
        for (int64_t r = 0; r < H; r++)
            for (int64_t q = 0; q < W; q++) {
                double s = 0;
                for (int j = 0; j < BLUR_TAPS; j++) {
                    int64_t u = q + j - BLUR_PAD;
                    if (u >= 0 && u < W) s += k1[j] * (double)xc[r * W + u];
                }
                tc[r * W + q] = s;
            }
        for (int64_t r = 0; r < H; r++)
            for (int64_t q = 0; q < W; q++) {
                double s = 0;
                for (int i = 0; i < BLUR_TAPS; i++) {
                    int64_t u = r + i - BLUR_PAD;
                    if (u >= 0 && u < H) s += k1[i] * tc[u * W + q];
                }
                out[c * H * W + r * W + q] = (float)s;
            }
    }
}

/* The score of output row y for target t. */
static double score_of(const float *y, size_t k, int t, xcnn_score_kind kind)
{
    if (kind == XCNN_SCORE_LOGIT) return (double)y[t];
    double top = y[0], sum = 0;
    for (size_t i = 1; i < k; i++)
        if (y[i] > top) top = y[i];
    for (size_t i = 0; i < k; i++) sum += exp((double)y[i] - top);
    return exp((double)y[t] - top) / sum;
}

static xcnn_status check_model(const xcnn_model *m, xcnn_err *err)
{
    if (m->inference_only)
        return xcnn_fail(err, XCNN_ERR_ARG, "deletion/insertion need the explainers' workspace, "
                         "and the model was loaded for inference only (xcnn_load_options."
                         "inference_only, or an .xcnn made with xcnn convert --fold-bn): load "
                         "it without");
    if (m->grad_from >= 0 || !m->ex_path || !m->ex_path2 || !m->ex_acc || !m->ex_acc2 ||
        !m->ex_index)
        return xcnn_fail(err, XCNN_ERR_ARG, "deletion/insertion need the explainers' workspace, "
                         "which a model loaded with xcnn_load_options.explain_layer does not "
                         "have: load it without");
    return XCNN_OK;
}

static xcnn_status curve_points(xcnn_model *m, const xcnn_curve_options *o, int *points)
{
    xcnn_err err = {{0}};
    int64_t C = 0, H = 0, W = 0, step = 0;
    if (!o || !points) {
        xcnn_format(m->error, sizeof m->error, "xcnn_curve_points: options and points must not "
                    "be NULL");
        return XCNN_ERR_ARG;
    }
    xcnn_status st = curve_shape(m, o, &C, &H, &W, &step, points, &err);
    if (st) xcnn_format(m->error, sizeof m->error, "%s", err.msg);
    return st;
}

/* The checks of xcnn_curve that read the input and the attribution. */
static xcnn_status check_arrays(const xcnn_curve_options *o, const float *x, size_t in_n,
                                const float *attr, int attr_c, int attr_h, int attr_w,
                                int64_t C, int64_t H, int64_t W, xcnn_err *err)
{
    const char *name = kind_name(o->kind);
    if (!(attr_c == 1 || attr_c == C) || attr_h < 1 || attr_w < 1 || attr_h > H || attr_w > W)
    {
        char chans[48];
        xcnn_format(chans, sizeof chans, C == 1 ? "1 channel" : "1 or %lld channels (the "
                    "input's)", (long long)C);
        return xcnn_fail(err, XCNN_ERR_SHAPE, "%s: the attribution is %d x %d x %d; it must be "
                         "%s of at most %lld x %lld (the input's H x W; a smaller map is resized "
                         "to it)", name, attr_c, attr_h, attr_w, chans, (long long)H,
                         (long long)W);
    }
    for (size_t i = 0; i < in_n; i++)
        if (!isfinite(x[i]))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "%s: input element %zu is %s", name, i,
                             isnan(x[i]) ? "NaN" : "infinite");
    size_t a_n = (size_t)attr_c * (size_t)attr_h * (size_t)attr_w;
    for (size_t i = 0; i < a_n; i++)
        if (!isfinite(attr[i]))
            return xcnn_fail(err, XCNN_ERR_NUMERIC, "%s: attribution element %zu is %s", name, i,
                             isnan(attr[i]) ? "NaN" : "infinite");
    return XCNN_OK;
}

/* The map (H*W doubles) into m->ex_acc. */
static void make_map(xcnn_model *m, const float *attr, int attr_c, int attr_h, int attr_w,
                     int64_t H, int64_t W)
{
    size_t hw = (size_t)attr_h * (size_t)attr_w;
    double *map = m->ex_acc;
    for (size_t q = 0; q < hw; q++) {
        double s = 0;
        for (int c = 0; c < attr_c; c++) s += (double)attr[(size_t)c * hw + q];
        map[q] = s;
    }
    if (attr_h == H && attr_w == W) return;
    /* resized in float, as torch's interpolate of a float32 map */
    float *small = m->ex_path2, *big = m->ex_path;
    for (size_t q = 0; q < hw; q++) small[q] = (float)map[q];
    xcnn_resize_bilinear(small, attr_h, attr_w, big, (int)H, (int)W);
    for (size_t q = 0; q < (size_t)(H * W); q++) map[q] = (double)big[q];
}

static xcnn_status curve(xcnn_model *m, const float *x, const float *attr, int attr_c,
                         int attr_h, int attr_w, const xcnn_curve_options *o, float *out,
                         size_t out_len, double *auc)
{
    xcnn_err err = {{0}};
    int64_t C = 0, H = 0, W = 0, P = 1;
    int points = 0;
    if (!x || !attr || !o || !out) {
        xcnn_format(m->error, sizeof m->error, "xcnn_curve: input, attr, options and curve must "
                    "not be NULL");
        return XCNN_ERR_ARG;
    }
    xcnn_status st = check_model(m, &err);
    if (!st) st = curve_shape(m, o, &C, &H, &W, &P, &points, &err);
    size_t in_n = xcnn_ex_input_numel(m), k_out = xcnn_ex_output_numel(m);
    if (!st) st = check_arrays(o, x, in_n, attr, attr_c, attr_h, attr_w, C, H, W, &err);
    if (!st && out_len < (size_t)points)
        st = xcnn_fail(&err, XCNN_ERR_ARG, "%s: curve holds %zu floats, %d needed (n + 1 points, "
                       "xcnn_curve_points)", kind_name(o->kind), out_len, points);
    if (!st && o->target < -1)
        st = xcnn_fail(&err, XCNN_ERR_ARG, "target %d: give a class index, or -1 for the "
                       "arg-max", o->target);
    if (st) goto fail;

    const xcnn_graph *g = m->g;
    int values_to = g->tensors[g->output].kind == XCNN_T_ACTIVATION ? g->output : -1;
    const int insertion = o->kind == XCNN_CURVE_INSERTION;
    const char *name = kind_name(o->kind);
    const int n = points - 1;
    const size_t hw = (size_t)(H * W);

    /* x alone: the target, and the curve's end that is x itself */
    st = xcnn_exec_forward_values(m, x, 1, values_to, &err);
    if (st) {
        xcnn_ex_context(st, &err, "%s, at the input itself", name);
        goto fail;
    }
    const float *y = g->tensors[g->output].data;
    int t = o->target;
    if (t < 0) {
        t = 0;
        for (size_t i = 1; i < k_out; i++)
            if (y[i] > y[t]) t = (int)i;
    } else if ((size_t)t >= k_out) {
        st = xcnn_fail(&err, XCNN_ERR_ARG, "target %d is out of range: the model has %zu "
                       "outputs (0..%zu)", t, k_out, k_out - 1);
        goto fail;
    }
    double s_x = score_of(y, k_out, t, o->score);
    double s_first = insertion ? 0 : s_x, s_last = insertion ? s_x : 0, inner = 0;
    out[insertion ? n : 0] = (float)s_x;

    make_map(m, attr, attr_c, attr_h, attr_w, H, W);
    order_pixels(m->ex_index, m->ex_acc, hw);
    const float *base = x;
    if (insertion) {
        blur(x, C, H, W, m->ex_acc2, m->ex_path2);
        base = m->ex_path2;
    }

    /* the other points: deletion k = 1..n, insertion k = 0..n-1 */
    const int k_lo = insertion ? 0 : 1, k_hi = insertion ? n - 1 : n;
    const int batch_max = xcnn_ex_pass_batch(m);
    const float *prev = base;
    for (int k0 = k_lo; k0 <= k_hi; k0 += batch_max) {
        int b = k_hi - k0 + 1 < batch_max ? k_hi - k0 + 1 : batch_max;
        for (int j = 0; j < b; j++) {
            int k = k0 + j;
            float *p = m->ex_path + (size_t)j * in_n;
            if (p != prev) memcpy(p, prev, in_n * sizeof(float));
            /* from step k-1 to k: pixels (k-1)P .. kP-1 of the order */
            int64_t q0 = k > 0 ? (int64_t)(k - 1) * P : 0, q1 = (int64_t)k * P;
            if (q1 > (int64_t)hw) q1 = (int64_t)hw;
            for (int64_t i = q0; i < q1; i++) {
                size_t px = (size_t)m->ex_index[i];
                for (int64_t c = 0; c < C; c++) {
                    size_t e = (size_t)c * hw + px;
                    p[e] = insertion ? x[e] : 0.0f;
                }
            }
            prev = p;
        }
        st = xcnn_exec_forward_values(m, m->ex_path, b, values_to, &err);
        if (st) {
            xcnn_ex_context(st, &err, "%s, at steps %d..%d", name, k0, k0 + b - 1);
            goto fail;
        }
        const float *f = g->tensors[g->output].data;
        for (int j = 0; j < b; j++) {
            int k = k0 + j;
            double s = score_of(f + (size_t)j * k_out, k_out, t, o->score);
            out[k] = (float)s;
            if (k == 0) s_first = s;
            else if (k == n) s_last = s;
            else inner += s;
        }
        /* the next batch starts from this one's last input */
        prev = m->ex_path + (size_t)(b - 1) * in_n;
    }
    if (auc) *auc = (inner + (s_first + s_last) / 2) / n;
    return XCNN_OK;
fail:
    xcnn_format(m->error, sizeof m->error, "%s", err.msg);
    return st;
}

/* The public entry points hold the model for the whole call (model.h). */
xcnn_status xcnn_curve_points(xcnn_model *m, const xcnn_curve_options *o, int *points)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    xcnn_status st = curve_points(m, o, points);
    xcnn_model_leave(m);
    return st;
}

xcnn_status xcnn_curve(xcnn_model *m, const float *input, const float *attr, int attr_c,
                       int attr_h, int attr_w, const xcnn_curve_options *o, float *curve_out,
                       size_t curve_len, double *auc)
{
    if (!m) return XCNN_ERR_ARG;
    if (!xcnn_model_enter(m)) return XCNN_ERR_BUSY;
    xcnn_status st = curve(m, input, attr, attr_c, attr_h, attr_w, o, curve_out, curve_len, auc);
    xcnn_model_leave(m);
    return st;
}
