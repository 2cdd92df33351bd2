/*
 * Activations (ops/activation.c): forward values against hand-computed
 * ones, backward by finite differences (inputs kept away from the kinks),
 * the three Relu rules against their formulas, and setup refusals.
 * Every kind (and every Relu rule) bit for bit against its formula
 * written here, over more elements than one parallel chunk and not a
 * multiple of the vector loops' width, with NaNs, signed zeros,
 * infinities, subnormals and the kinks among the inputs and gradients
 * (bit for bit where IEEE 754 fixes the bits: see test_bits).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "gradcheck.h"
#include "op_test.h"
#include "../libxcnn/ops/ops.h"

/* ---- helpers: drive one op by hand (setup, buffers, forward) ---- */


/* A single-input op on x = the given 5 values (shape [1,5], batch 1):
 * returns the max abs difference of the output from `want`. */
static double forward5(const char *op, const float *x, const float *want, int opset,
                       const float *bounds /* Clip min,max inputs, or NULL */)
{
    gc_graph gc;
    gc_init(&gc, 1);
    gc.g->opset = opset;
    int in[3];
    int n_in = 1;
    in[0] = gc_activation(&gc, "x", 2, (int64_t[]){1, 5});
    if (bounds) {
        in[1] = gc_weight(&gc, "min", 0, NULL);
        in[2] = gc_weight(&gc, "max", 0, NULL);
        gc.g->tensors[in[1]].data[0] = bounds[0];
        gc.g->tensors[in[2]].data[0] = bounds[1];
        n_in = 3;
    }
    int node = gc_node(&gc, op, in, n_in);
    if (opset == 10 && strcmp(op, "Clip") == 0) {
        xcnn_node_add_attr_float(&gc.g->nodes[node], "min", -1.0f);
        xcnn_node_add_attr_float(&gc.g->nodes[node], "max", 1.0f);
    }
    xcnn_err err = {{0}};
    double worst = INFINITY;
    if (op_setup(&gc, node, &err) == XCNN_OK) {
        op_alloc(&gc, 1);
        memcpy(gc.g->tensors[in[0]].data, x, 5 * sizeof(float));
        const xcnn_node *n = &gc.g->nodes[node];
        n->def->forward(gc.g, n, 1, NULL);
        const float *y = gc.g->tensors[n->out[0]].data;
        worst = 0;
        for (int i = 0; i < 5; i++) {
            double d = fabs((double)y[i] - want[i]);
            if (!(d <= worst)) worst = d; /* NaN counts as worst */
        }
        op_release(&gc);
    }
    gc_free(&gc);
    return worst;
}

static void test_forward_values(void)
{
    const float x[5] = {-4.0f, -1.0f, 0.0f, 0.5f, 4.0f};
    check_close("Relu forward", forward5("Relu", x, (float[]){0, 0, 0, 0.5f, 4}, 0, NULL), 0);
    check_close("LeakyRelu forward (alpha 0.01)",
                forward5("LeakyRelu", x, (float[]){-0.04f, -0.01f, 0, 0.5f, 4}, 0, NULL), 1e-7);
    check_close("Clip forward (opset 13, min/max inputs)",
                forward5("Clip", x, (float[]){-1, -1, 0, 0.5f, 1}, 13, (float[]){-1, 1}), 0);
    check_close("Clip forward (opset 10, attributes)",
                forward5("Clip", x, (float[]){-1, -1, 0, 0.5f, 1}, 10, NULL), 0);
    check_close("Clip forward (no bounds: identity)", forward5("Clip", x, x, 13, NULL), 0);
    check_close("Sigmoid forward",
                forward5("Sigmoid", x, (float[]){0.01798621f, 0.26894142f, 0.5f, 0.62245933f,
                                                 0.98201379f}, 0, NULL), 1e-7);
    check_close("Sigmoid forward at -100/100 (no overflow)",
                forward5("Sigmoid", (float[]){-100, 100, -1e4f, 1e4f, 0},
                         (float[]){3.7e-44f, 1, 0, 1, 0.5f}, 0, NULL), 1e-7);
    check_close("HardSigmoid forward (0.2, 0.5)",
                forward5("HardSigmoid", x, (float[]){0, 0.3f, 0.5f, 0.6f, 1}, 0, NULL), 1e-7);
    check_close("HardSwish forward",
                forward5("HardSwish", x, (float[]){0, -1.0f / 3, 0, 0.5f * 3.5f / 6, 4}, 0, NULL),
                1e-7);
    check_close("Identity forward", forward5("Identity", x, x, 0, NULL), 0);
    check_close("Dropout forward (inference: identity)", forward5("Dropout", x, x, 0, NULL), 0);
}

/* ---- gradient checks ---- */

static void gradcheck_unary(const char *op, uint64_t seed, float lo, float hi, int opset,
                            const float *bounds)
{
    gc_graph gc;
    gc_init(&gc, seed);
    gc.g->opset = opset;
    gc.lo = lo;
    gc.hi = hi;
    int64_t dims[4] = {1, test_rng_int(&gc.rng, 1, 4), test_rng_int(&gc.rng, 1, 5),
                       test_rng_int(&gc.rng, 2, 5)};
    int in[3], n_in = 1;
    in[0] = gc_activation(&gc, "x", 4, dims);
    if (bounds) {
        in[1] = gc_weight(&gc, "min", 0, NULL);
        in[2] = gc_weight(&gc, "max", 0, NULL);
        gc.g->tensors[in[1]].data[0] = bounds[0];
        gc.g->tensors[in[2]].data[0] = bounds[1];
        n_in = 3;
    }
    int node = gc_node(&gc, op, in, n_in);
    xcnn_node *n = &gc.g->nodes[node];
    if (strcmp(op, "LeakyRelu") == 0) xcnn_node_add_attr_float(n, "alpha", 0.2f);
    if (strcmp(op, "HardSigmoid") == 0) {
        xcnn_node_add_attr_float(n, "alpha", 1.0f / 6);
        xcnn_node_add_attr_float(n, "beta", 0.5f);
    }
    char label[128];
    snprintf(label, sizeof label, "%s gradcheck 1x%lldx%lldx%lld", op, (long long)dims[1],
             (long long)dims[2], (long long)dims[3]);
    gradcheck_run(&gc, node, 2, label, 1e-2);
    gc_free(&gc);
}

static void test_gradchecks(void)
{
    /* Seeds fixed, so the random inputs (and their distance from the kinks,
     * h = 1e-3 away at most) are the same on every run. */
    for (uint64_t s = 1; s <= 3; s++) {
        gradcheck_unary("Relu", s, -1, 1, 0, NULL);
        gradcheck_unary("LeakyRelu", s, -1, 1, 0, NULL);
        gradcheck_unary("Clip", s, -1, 1, 13, (float[]){-0.5f, 0.5f});
        gradcheck_unary("Sigmoid", s, -4, 4, 0, NULL);
        gradcheck_unary("HardSigmoid", s, -4, 4, 0, NULL);
        gradcheck_unary("HardSwish", s, -4, 4, 0, NULL);
        gradcheck_unary("Identity", s, -1, 1, 0, NULL);
        gradcheck_unary("Dropout", s, -1, 1, 0, NULL);
    }
    /* Opset 10: the bounds are attributes (none given here: the identity). */
    gradcheck_unary("Clip", 9, -1, 1, 10, NULL);
}

/* Clip's gradient at the bounds: strictly inside passes, at the bound not
 * (as torch's hardtanh / ReLU6); HardSwish's three pieces, both as torch. */
static void test_kinks(void)
{
    const float x[5] = {-3.0f, -1.0f, 0.0f, 1.0f, 3.0f};
    const char *ops[2] = {"Clip", "HardSwish"};
    const float want[2][5] = {{0, 1, 1, 1, 0}, {-0.5f, 1.0f / 6, 0.5f, 5.0f / 6, 1.5f}};
    for (int k = 0; k < 2; k++) {
        gc_graph gc;
        gc_init(&gc, 5);
        int in[3];
        in[0] = gc_activation(&gc, "x", 2, (int64_t[]){1, 5});
        in[1] = gc_weight(&gc, "min", 0, NULL);
        in[2] = gc_weight(&gc, "max", 0, NULL);
        gc.g->tensors[in[1]].data[0] = -3;
        gc.g->tensors[in[2]].data[0] = 3;
        int node = gc_node(&gc, ops[k], in, k == 0 ? 3 : 1);
        xcnn_err err = {{0}};
        if (!check(op_setup(&gc, node, &err) == XCNN_OK, "%s setup: %s", ops[k], err.msg)) {
            gc_free(&gc);
            continue;
        }
        op_alloc(&gc, 1);
        const xcnn_node *n = &gc.g->nodes[node];
        memcpy(gc.g->tensors[in[0]].data, x, sizeof x);
        n->def->forward(gc.g, n, 1, NULL);
        for (int i = 0; i < 5; i++) gc.g->tensors[n->out[0]].grad[i] = 1;
        xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, NULL, NULL};
        n->def->backward(gc.g, n, 1, NULL, &ctx);
        check_close(k == 0 ? "Clip(-3, 3) gradient at -3, -1, 0, 1, 3 is 0 1 1 1 0"
                           : "HardSwish gradient at -3, -1, 0, 1, 3 (torch's pieces)",
                    max_rel_error(gc.g->tensors[in[0]].grad, want[k], 5), 1e-7);
        op_release(&gc);
        gc_free(&gc);
    }
}

/* Clip's max gets the whole gradient when min > max (y = max everywhere). */
static void test_clip_inverted(void)
{
    gc_graph gc;
    gc_init(&gc, 6);
    int in[3];
    in[0] = gc_activation(&gc, "x", 2, (int64_t[]){1, 4});
    in[1] = gc_weight(&gc, "min", 0, NULL);
    in[2] = gc_weight(&gc, "max", 0, NULL);
    gc.g->tensors[in[1]].data[0] = 1;
    gc.g->tensors[in[2]].data[0] = -1;
    int node = gc_node(&gc, "Clip", in, 3);
    xcnn_err err = {{0}};
    if (op_setup(&gc, node, &err) == XCNN_OK) {
        op_alloc(&gc, 2);
        const xcnn_node *n = &gc.g->nodes[node];
        for (int i = 0; i < 8; i++) gc.g->tensors[in[0]].data[i] = (float)i - 4;
        n->def->forward(gc.g, n, 2, NULL);
        for (int i = 0; i < 8; i++) gc.g->tensors[n->out[0]].grad[i] = (float)i;
        xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, NULL, NULL};
        n->def->backward(gc.g, n, 2, NULL, &ctx);
        float y0 = gc.g->tensors[n->out[0]].data[7];
        check(y0 == -1.0f, "Clip min > max gives max everywhere (y = %g)", y0);
        check(gc.g->tensors[in[2]].grad[0] == 28.0f && gc.g->tensors[in[1]].grad[0] == 0.0f,
              "Clip min > max: dmax = sum g = 28 (got %g), dmin = 0 (got %g)",
              gc.g->tensors[in[2]].grad[0], gc.g->tensors[in[1]].grad[0]);
        op_release(&gc);
    } else {
        check(0, "Clip setup: %s", err.msg);
    }
    gc_free(&gc);
}

/* ---- the three Relu rules, against their formulas ---- */

static void test_relu_rules(void)
{
    const char *names[3] = {"gradient", "deconvnet", "guided"};
    for (int rule = 0; rule < 3; rule++) {
        gc_graph gc;
        gc_init(&gc, 11);
        int x = gc_activation(&gc, "x", 4, (int64_t[]){1, 3, 4, 5});
        int node = gc_node(&gc, "Relu", &x, 1);
        xcnn_err err = {{0}};
        if (!check(op_setup(&gc, node, &err) == XCNN_OK, "Relu setup: %s", err.msg)) {
            gc_free(&gc);
            continue;
        }
        const int batch = 3, count = 3 * 60;
        op_alloc(&gc, batch);
        const xcnn_node *n = &gc.g->nodes[node];
        xcnn_tensor *xt = &gc.g->tensors[x], *yt = &gc.g->tensors[n->out[0]];
        float want[180], want_flip[180];
        for (int i = 0; i < count; i++) {
            xt->data[i] = test_rng_uniform(&gc.rng, -1, 1);
            yt->grad[i] = test_rng_uniform(&gc.rng, -1, 1);
            xt->grad[i] = 0.25f; /* backward must add to what is there */
        }
        n->def->forward(gc.g, n, batch, NULL);
        xcnn_bwd_ctx ctx = {(xcnn_relu_rule)rule, NULL, NULL};
        n->def->backward(gc.g, n, batch, NULL, &ctx);
        int positive = 0, negative = 0;
        for (int i = 0; i < count; i++) {
            float gi = yt->grad[i], xi = xt->data[i], r;
            if (rule == XCNN_RELU_GRADIENT) r = xi > 0 ? gi : 0;
            else if (rule == XCNN_RELU_DECONVNET) r = gi > 0 ? gi : 0;
            else r = (xi > 0 && gi > 0) ? gi : 0;
            want[i] = 0.25f + r;
            positive += r > 0;
            negative += r < 0;
        }
        char what[128];
        snprintf(what, sizeof what, "Relu rule %s matches its formula (accumulating)",
                 names[rule]);
        check_close(what, max_rel_error(xt->grad, want, (size_t)count), 0);
        check(positive > 0 && (rule == XCNN_RELU_GRADIENT ? negative > 0 : negative == 0),
              "Relu rule %s: %d positive and %d negative gradient entries", names[rule],
              positive, negative);

        /* Deconvnet ignores the sign of x: flip every x, same gradient. */
        if (rule == XCNN_RELU_DECONVNET) {
            for (int i = 0; i < count; i++) {
                want_flip[i] = xt->grad[i];
                xt->data[i] = -xt->data[i];
                xt->grad[i] = 0.25f;
            }
            n->def->forward(gc.g, n, batch, NULL);
            n->def->backward(gc.g, n, batch, NULL, &ctx);
            check_close("Relu deconvnet: the gradient ignores the sign of x",
                        max_rel_error(xt->grad, want_flip, (size_t)count), 0);
        }
        op_release(&gc);
        gc_free(&gc);
    }
}

/* ---- every kind, bit for bit ---- */

/* The formulas, one element at a time (Clip -1..2, LeakyRelu alpha 0.01,
 * HardSigmoid 0.2, 0.5: the defaults and the bounds set below). */
static float ref_forward(int kind, float x)
{
    switch (kind) {
    case 0: return x > 0 ? x : 0.0f;
    case 1: return x > 0 ? x : 0.01f * x;
    case 2: {
        float y = x < -1.0f ? -1.0f : x;
        return y > 2.0f ? 2.0f : y;
    }
    case 3:
        if (x >= 0) return 1.0f / (1.0f + expf(-x));
        return expf(x) / (1.0f + expf(x));
    case 4: {
        float v = 0.2f * x + 0.5f;
        return v < 0 ? 0.0f : (v > 1 ? 1.0f : v);
    }
    case 5: {
        float r6 = x + 3.0f;
        r6 = r6 < 0 ? 0.0f : (r6 > 6 ? 6.0f : r6);
        return x * r6 / 6.0f;
    }
    default: return x;
    }
}

static float ref_backward(int kind, int rule, float x, float y, float g)
{
    switch (kind) {
    case 0:
        if (rule == XCNN_RELU_DECONVNET) return g > 0 ? g : 0.0f;
        if (rule == XCNN_RELU_GUIDED) return (g > 0 && x > 0) ? g : 0.0f;
        return x > 0 ? g : 0.0f;
    case 1: return x > 0 ? g : 0.01f * g;
    case 2: return (x > -1.0f && x < 2.0f) ? g : 0.0f;
    case 3: return g * y * (1.0f - y);
    case 4: {
        float v = 0.2f * x + 0.5f;
        return (v > 0 && v < 1) ? g * 0.2f : 0.0f;
    }
    case 5:
        if (x < -3.0f) return 0.0f;
        if (x <= 3.0f) return g * (x / 3.0f + 0.5f);
        return g;
    default: return g;
    }
}

/*
 * What "the formula's bits" can promise on any machine. IEEE 754 fixes
 * every +, -, *, / and comparison to the bit, except which NaN comes out
 * of an operation on two NaNs (x86 returns the first operand's, and a
 * compiler may swap the operands of a commutative multiply): NaN matches
 * NaN. libm's expf is not correctly rounded, and another libm or a
 * compiler's inlined or vectorised exp may differ from the one linked
 * here by an ulp: the Sigmoid forward gets 1 ulp. A multiply feeding an
 * add may be fused into one FMA (clang's default FP_CONTRACT inside an
 * expression, gcc's -ffp-contract=fast across statements; the Makefile's
 * -std=c11 keeps gcc's off): the kinds whose backward multiplies get the
 * product's rounding, relative to the magnitude of the accumulated terms.
 * Everything else, signed zeros included, is bit for bit.
 */
static int both_nan_or_same_bits(float a, float b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* Distance in units in the last place (ordered integers; -0 == +0). */
static int64_t ulps(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    int64_t la = ia < 0 ? (int64_t)INT32_MIN - ia : ia, lb = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
    return la > lb ? la - lb : lb - la;
}

/* A value that is often special: NaN, signed zeros, infinities,
 * subnormals, the kinks; else uniform in [-5, 5]. */
static float special_value(test_rng *r)
{
    static const float special[] = {NAN, -NAN, 0.0f, -0.0f, INFINITY, -INFINITY, 1e-40f,
                                    -1e-40f, -3.0f, 3.0f, -1.0f, 2.0f, -2.5f, 2.5f};
    int k = test_rng_int(r, 0, 2 * (int)(sizeof special / sizeof special[0]) - 1);
    if (k < (int)(sizeof special / sizeof special[0])) return special[k];
    return test_rng_uniform(r, -5, 5);
}

static void test_bits(void)
{
    static const char *const ops[7] = {"Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid",
                                       "HardSwish", "Identity"};
    static const char *const rules[3] = {"gradient", "deconvnet", "guided"};
    const int batch = 3, per_sample = 2777; /* 8331 elements: 3 chunks of 4096 */
    for (int kind = 0; kind < 7; kind++)
        for (int rule = 0; rule < (kind == 0 ? 3 : 1); rule++) {
            gc_graph gc;
            gc_init(&gc, 31 + (uint64_t)kind);
            int in[3], n_in = kind == 2 ? 3 : 1;
            in[0] = gc_activation(&gc, "x", 2, (int64_t[]){1, per_sample});
            if (kind == 2) {
                in[1] = gc_weight(&gc, "min", 0, NULL);
                in[2] = gc_weight(&gc, "max", 0, NULL);
                gc.g->tensors[in[1]].data[0] = -1.0f;
                gc.g->tensors[in[2]].data[0] = 2.0f;
            }
            int node = gc_node(&gc, ops[kind], in, n_in);
            xcnn_err err = {{0}};
            if (!check(op_setup(&gc, node, &err) == XCNN_OK, "%s setup: %s", ops[kind],
                       err.msg)) {
                gc_free(&gc);
                continue;
            }
            op_alloc(&gc, batch);
            const xcnn_node *n = &gc.g->nodes[node];
            xcnn_tensor *xt = &gc.g->tensors[in[0]], *yt = &gc.g->tensors[n->out[0]];
            size_t count = (size_t)batch * per_sample;
            float *want_y = malloc(count * sizeof(float)), *want_dx = malloc(count * sizeof(float));
            float *acc = malloc(count * sizeof(float));
            for (size_t i = 0; i < count; i++) {
                xt->data[i] = special_value(&gc.rng);
                yt->grad[i] = special_value(&gc.rng);
                xt->grad[i] = test_rng_int(&gc.rng, 0, 1) ? -0.0f
                                                           : test_rng_uniform(&gc.rng, -1, 1);
                acc[i] = xt->grad[i];
                want_y[i] = ref_forward(kind, xt->data[i]);
            }
            n->def->forward(gc.g, n, batch, NULL);
            /* The backward formula from the op's own y (Sigmoid reads it):
             * an ulp of exp there must not count against the backward. */
            for (size_t i = 0; i < count; i++)
                want_dx[i] = acc[i] + ref_backward(kind, rule, xt->data[i], yt->data[i],
                                                   yt->grad[i]);
            xcnn_bwd_ctx ctx = {(xcnn_relu_rule)rule, NULL, NULL};
            n->def->backward(gc.g, n, batch, NULL, &ctx);
            const int64_t fwd_ulps = kind == 3 ? 1 : 0; /* Sigmoid: libm's expf */
            const int fused = kind == 1 || kind == 3 || kind == 4 || kind == 5;
            size_t bad_y = 0, bad_dx = 0, first_y = count, first_dx = count;
            for (size_t i = 0; i < count; i++) {
                float y = yt->data[i], dx = xt->grad[i];
                int ok_y = both_nan_or_same_bits(y, want_y[i]) ||
                           (!isnan(y) && !isnan(want_y[i]) && ulps(y, want_y[i]) <= fwd_ulps);
                double term = (double)want_dx[i] - acc[i];
                int ok_dx = both_nan_or_same_bits(dx, want_dx[i]) ||
                            (fused && isfinite(dx) && isfinite(want_dx[i]) &&
                             fabs((double)dx - want_dx[i]) <=
                                 ldexp(fabs(acc[i]) + fabs(term), -22) + ldexp(1.0, -149));
                if (!ok_y && bad_y++ == 0) first_y = i;
                if (!ok_dx && bad_dx++ == 0) first_dx = i;
            }
            if (!check(bad_y == 0, "%s forward: the formula's bits%s on %zu special values "
                       "(%zu differ)", ops[kind], fwd_ulps ? " within 1 ulp" : "", count, bad_y))
                printf("     first: x %.9g -> %.9g, formula %.9g\n", xt->data[first_y],
                       yt->data[first_y], want_y[first_y]);
            if (!check(bad_dx == 0, "%s%s%s backward: the formula's bits, accumulated (%zu "
                       "differ)", ops[kind], kind == 0 ? " " : "", kind == 0 ? rules[rule] : "",
                       bad_dx))
                printf("     first: x %.9g g %.9g -> %.9g, formula %.9g\n", xt->data[first_dx],
                       yt->grad[first_dx], xt->grad[first_dx], want_dx[first_dx]);
            free(want_y);
            free(want_dx);
            free(acc);
            op_release(&gc);
            gc_free(&gc);
        }
}

/* ---- refusals ---- */

static void test_refusals(void)
{
    gc_graph gc;
    gc_init(&gc, 21);
    int64_t d[2] = {1, 4};
    int x = gc_activation(&gc, "x", 2, d);
    int w = gc_weight(&gc, "w", 2, d);
    int two = gc_weight(&gc, "two", 1, (int64_t[]){2});
    int act_min = gc_activation(&gc, "act_min", 0, NULL);
    int64_t one = 1, zero = 0;
    int t_true = gc_int_const(&gc, "mode_true", 1, &one);
    int t_false = gc_int_const(&gc, "mode_false", 1, &zero);

    int node = gc_node(&gc, "Relu", &w, 1);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Relu of a constant");
    node = gc_node(&gc, "Sigmoid", (int[]){x, x}, 2);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Sigmoid with 2 inputs");
    node = gc_node(&gc, "Clip", (int[]){x, act_min, -1}, 3);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Clip with a run-time min");
    node = gc_node(&gc, "Clip", (int[]){x, -1, two}, 3);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Clip with a 2-element max");
    node = gc_node(&gc, "Dropout", (int[]){x, -1, t_true}, 3);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Dropout with training_mode true");
    node = gc_node(&gc, "Dropout", (int[]){x, -1, x}, 3);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Dropout with a run-time training_mode");

    /* Dropout's mask output is refused; with training_mode false it runs. */
    int outs[2] = {xcnn_graph_add_tensor(gc.g, "y", XCNN_T_ACTIVATION),
                   xcnn_graph_add_tensor(gc.g, "mask", XCNN_T_ACTIVATION)};
    node = xcnn_graph_add_node(gc.g, "drop_mask", "Dropout", (int[]){x}, 1, outs, 2);
    expect_refusal(&gc, node, XCNN_ERR_UNSUPPORTED, "Dropout with a mask output");
    node = gc_node(&gc, "Dropout", (int[]){x, -1, t_false}, 3);
    xcnn_err err = {{0}};
    check(op_setup(&gc, node, &err) == XCNN_OK, "Dropout with training_mode false sets up (%s)",
          err.msg[0] ? err.msg : "ok");
    gc_free(&gc);
}

int main(void)
{
    test_forward_values();
    test_gradchecks();
    test_kinks();
    test_clip_inverted();
    test_relu_rules();
    test_bits();
    test_refusals();
    return check_summary();
}
