/*
 * LRP (METHODS.md, row lrp): every composite against the float64 PyTorch
 * references of tools/references/lrp.py (max|ours - ref| / max|ref| <=
 * 5e-4), Captum's golden value, LRP-epsilon = input x gradient on a
 * bias-free ReLU net, relevance conserved node by node with zero_bias,
 * the same bits for 1 and 2 threads, and the refusals: models with ops
 * that have no rule, and bad options, each with its message.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../libxcnn/explain/propagation/lrp.h"
#include "../libxcnn/ops/conv.h"
#include "check.h"
#include "fixture.h"
#include "onnx_builder.h"

#define TOL 5e-4

static xcnn_model *load_buf(ob_buf *b)
{
    char err[512];
    xcnn_model *m = NULL;
    if (xcnn_model_load_memory(b->p, b->n, NULL, &m, err, sizeof err) != XCNN_OK)
        printf("     (load: %s)\n", err);
    ob_free(b);
    return m;
}

static void lrp_options(xcnn_explain_options *o, xcnn_lrp_rule rule, int target)
{
    xcnn_explain_options_init(o, XCNN_LRP);
    o->lrp_rule = rule;
    o->target = target;
}

/* ---- the references -------------------------------------------------------- */

typedef struct ref_case {
    const char *stem;
    xcnn_lrp_rule rule;
    int zero_bias;
    float epsilon, gamma, low, high; /* NaN/negative: the defaults */
} ref_case;

static void test_reference(const char *dir, const ref_case *c)
{
    char file[128];
    snprintf(file, sizeof file, "%s.npy", c->stem);
    if (!fixture_exists(dir, file)) {
        check_skip("%s/%s: no reference", dir, file);
        return;
    }
    xcnn_model *m = fixture_model(dir);
    size_t n = 0, nr = 0, ny = 0;
    float *x = fixture_npy(dir, "input.npy", &n), *ref = fixture_npy(dir, file, &nr);
    float *y = fixture_npy(dir, "output.npy", &ny);
    int t = fixture_meta_int(dir, "target", -2);
    if (check(m && x && ref && y && nr == n && t >= 0, "%s: %s loads", dir, c->stem)) {
        float *out = malloc(n * sizeof *out);
        xcnn_explain_options o;
        xcnn_explain_result res;
        lrp_options(&o, c->rule, t);
        o.zero_bias = c->zero_bias;
        if (c->epsilon >= 0) o.epsilon = c->epsilon;
        if (c->gamma >= 0) o.gamma = c->gamma;
        if (!isnan(c->low)) {
            o.low = c->low;
            o.high = c->high;
        }
        xcnn_status st = xcnn_explain(m, x, &o, out, n, &res);
        if (check(st == XCNN_OK, "%s: lrp %s runs (%s)", dir, c->stem,
                  st ? xcnn_model_error(m) : "ok")) {
            char what[256];
            snprintf(what, sizeof what, "%s: lrp %s = the float64 reference", dir, c->stem);
            check_close(what, max_rel_error(out, ref, n), TOL);
            double sum_ref = 0, sum = 0, mag = 0;
            for (size_t i = 0; i < n; i++) {
                sum_ref += ref[i];
                sum += out[i];
                mag += fabs(ref[i]);
            }
            check(fabs(res.total - sum) <= 1e-5 * mag + 1e-30 && fabs(sum - sum_ref) <= 1e-4 * mag,
                  "%s: %s total %.6g = sum of the attribution %.6g = the reference's %.6g "
                  "(score %.6g)", dir, c->stem, res.total, sum, sum_ref, res.score);
            check(res.target == t && fabs(res.score - y[t]) <= 1e-5 * (fabs(y[t]) + 1e-6),
                  "%s: %s score = output[%d]", dir, c->stem, t);
        }
        free(out);
    }
    free(x);
    free(ref);
    free(y);
    xcnn_model_free(m);
}

static void test_references(void)
{
    static const ref_case toy[] = {
        {"lrp_epsilon", XCNN_LRP_EPSILON, 0, -1, -1, NAN, NAN},
        {"lrp_epsilon_e0p5", XCNN_LRP_EPSILON, 0, 0.5f, -1, NAN, NAN},
        {"lrp_epsilon_plus_flat", XCNN_LRP_EPSILON_PLUS_FLAT, 0, -1, -1, NAN, NAN},
        {"lrp_epsilon_gamma_box", XCNN_LRP_EPSILON_GAMMA_BOX, 0, -1, -1, NAN, NAN},
    };
    static const ref_case resnet[] = {
        {"lrp_epsilon_plus_flat", XCNN_LRP_EPSILON_PLUS_FLAT, 0, -1, -1, NAN, NAN},
        {"lrp_epsilon_plus_flat_zb", XCNN_LRP_EPSILON_PLUS_FLAT, 1, -1, -1, NAN, NAN},
        {"lrp_epsilon_gamma_box", XCNN_LRP_EPSILON_GAMMA_BOX, 0, -1, -1, NAN, NAN},
    };
    static const ref_case bn[] = {
        {"lrp_epsilon", XCNN_LRP_EPSILON, 0, -1, -1, NAN, NAN},
        {"lrp_epsilon_zb", XCNN_LRP_EPSILON, 1, -1, -1, NAN, NAN},
        {"lrp_epsilon_plus_flat", XCNN_LRP_EPSILON_PLUS_FLAT, 0, -1, -1, NAN, NAN},
        {"lrp_epsilon_plus_flat_zb", XCNN_LRP_EPSILON_PLUS_FLAT, 1, -1, -1, NAN, NAN},
        {"lrp_epsilon_gamma_box", XCNN_LRP_EPSILON_GAMMA_BOX, 0, -1, -1, NAN, NAN},
        {"lrp_epsilon_gamma_box_zb", XCNN_LRP_EPSILON_GAMMA_BOX, 1, -1, -1, NAN, NAN},
        {"lrp_epsilon_gamma_box_custom", XCNN_LRP_EPSILON_GAMMA_BOX, 0, 0.01f, 0.5f, -3.0f,
         3.5f},
    };
    for (size_t i = 0; i < sizeof toy / sizeof toy[0]; i++)
        test_reference("tests/fixtures/captum_toy", &toy[i]);
    for (size_t i = 0; i < sizeof resnet / sizeof resnet[0]; i++)
        test_reference("tests/fixtures/resnet_narrow", &resnet[i]);
    for (size_t i = 0; i < sizeof bn / sizeof bn[0]; i++)
        test_reference("tests/fixtures/lrp_bn", &bn[i]);
}

/* ---- Captum's golden value --------------------------------------------------- */

/* Captum's SimpleLRPModel: Linear 3->3 (weights 2), ReLU, Linear 3->1
 * (weights 3), no biases; x = [1, 2, 3]. */
static void test_captum_golden(void)
{
    ob_buf gr = ob_new();
    float w1[9], w2[3];
    for (int i = 0; i < 9; i++) w1[i] = 2.0f;
    for (int i = 0; i < 3; i++) w2[i] = 3.0f;
    ob_graph_init(&gr, ob_tensor_f("w1", 2, (int64_t[]){3, 3}, w1));
    ob_graph_init(&gr, ob_tensor_f("w2", 2, (int64_t[]){1, 3}, w2));
    ob_buf t1[] = {ob_attr_int("transB", 1)}, t2[] = {ob_attr_int("transB", 1)};
    ob_graph_node(&gr, ob_node("Gemm", "linear1", IN("x", "w1"), OUT("h"), t1, 1));
    ob_graph_node(&gr, ob_node("Relu", "relu", IN("h"), OUT("a"), NULL, 0));
    ob_graph_node(&gr, ob_node("Gemm", "linear2", IN("a", "w2"), OUT("y"), t2, 1));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 2, (int64_t[]){1, 3}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 2, (int64_t[]){1, 1}));
    ob_buf mb = ob_model(13, &gr);
    xcnn_model *m = load_buf(&mb);
    if (!check(m != NULL, "captum SimpleLRPModel builds")) return;
    float x[3] = {1, 2, 3}, out[3];
    xcnn_explain_options o;
    xcnn_explain_result res;
    lrp_options(&o, XCNN_LRP_EPSILON, 0);
    xcnn_status st = xcnn_explain(m, x, &o, out, 3, &res);
    check(st == XCNN_OK && fabsf(out[0] - 18) < 1e-4f && fabsf(out[1] - 36) < 1e-4f &&
              fabsf(out[2] - 54) < 1e-4f,
          "captum golden: LRP epsilon of SimpleLRPModel at [1,2,3] = [18,36,54] (got "
          "[%g,%g,%g])", out[0], out[1], out[2]);
    check(fabsf(res.total - 108) < 1e-3f && fabsf(res.score - 108) < 1e-3f,
          "captum golden: total %g = score %g = 108", res.total, res.score);
    xcnn_model_free(m);
}

/* ---- LRP-epsilon = input x gradient on a bias-free ReLU net ------------------ */

/* x 1x2x8x8 -> Conv 3x3 pad 1 (2->4) -> Relu -> MaxPool 2 -> Conv 3x3 (4->6)
 * -> Relu -> AveragePool 2 -> GlobalAveragePool -> Flatten -> Gemm (6->3),
 * no biases anywhere; with_bias: both Convs get one. */
static xcnn_model *relu_net(int with_bias)
{
    ob_buf gr = ob_new();
    float w1[4 * 2 * 9], w2[6 * 4 * 9], w3[3 * 6], b1[4], b2[6];
    for (int i = 0; i < 72; i++) w1[i] = sinf(0.9f * (float)i + 0.2f);
    for (int i = 0; i < 216; i++) w2[i] = cosf(0.37f * (float)i + 0.1f);
    for (int i = 0; i < 18; i++) w3[i] = sinf(1.7f * (float)i) + 0.3f;
    for (int i = 0; i < 4; i++) b1[i] = 0.3f * (float)(i - 1);
    for (int i = 0; i < 6; i++) b2[i] = -0.2f * (float)(i - 2);
    ob_graph_init(&gr, ob_tensor_f("w1", 4, (int64_t[]){4, 2, 3, 3}, w1));
    ob_graph_init(&gr, ob_tensor_f("w2", 4, (int64_t[]){6, 4, 3, 3}, w2));
    ob_graph_init(&gr, ob_tensor_f("w3", 2, (int64_t[]){3, 6}, w3));
    ob_graph_init(&gr, ob_tensor_f("b1", 1, (int64_t[]){4}, b1));
    ob_graph_init(&gr, ob_tensor_f("b2", 1, (int64_t[]){6}, b2));
    ob_buf pads[] = {ob_attr_ints("pads", (int64_t[]){1, 1, 1, 1}, 4)};
    ob_buf mp[] = {ob_attr_ints("kernel_shape", (int64_t[]){2, 2}, 2),
                   ob_attr_ints("strides", (int64_t[]){2, 2}, 2)};
    ob_buf ap[] = {ob_attr_ints("kernel_shape", (int64_t[]){2, 2}, 2),
                   ob_attr_ints("strides", (int64_t[]){2, 2}, 2)};
    ob_buf tb[] = {ob_attr_int("transB", 1)};
    if (with_bias)
        ob_graph_node(&gr, ob_node("Conv", "c1", IN("x", "w1", "b1"), OUT("z1"), pads, 1));
    else ob_graph_node(&gr, ob_node("Conv", "c1", IN("x", "w1"), OUT("z1"), pads, 1));
    ob_graph_node(&gr, ob_node("Relu", "r1", IN("z1"), OUT("a1"), NULL, 0));
    ob_graph_node(&gr, ob_node("MaxPool", "mp", IN("a1"), OUT("p1"), mp, 2));
    if (with_bias)
        ob_graph_node(&gr, ob_node("Conv", "c2", IN("p1", "w2", "b2"), OUT("z2"), NULL, 0));
    else ob_graph_node(&gr, ob_node("Conv", "c2", IN("p1", "w2"), OUT("z2"), NULL, 0));
    ob_graph_node(&gr, ob_node("Relu", "r2", IN("z2"), OUT("a2"), NULL, 0));
    ob_graph_node(&gr, ob_node("AveragePool", "ap", IN("a2"), OUT("p2"), ap, 2));
    ob_graph_node(&gr, ob_node("GlobalAveragePool", "gap", IN("p2"), OUT("g"), NULL, 0));
    ob_graph_node(&gr, ob_node("Flatten", "f", IN("g"), OUT("v"), NULL, 0));
    ob_graph_node(&gr, ob_node("Gemm", "fc", IN("v", "w3"), OUT("y"), tb, 1));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, 2, 8, 8}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 0, NULL));
    ob_buf mb = ob_model(13, &gr);
    return load_buf(&mb);
}

static void test_input_x_gradient(void)
{
    xcnn_model *m = relu_net(0);
    if (!check(m != NULL, "bias-free ReLU net builds")) return;
    float x[128], a[128], b[128];
    for (int i = 0; i < 128; i++) x[i] = sinf(0.31f * (float)i) + 0.4f * cosf(1.3f * (float)i);
    xcnn_explain_options o;
    xcnn_explain_result ra, rb;
    lrp_options(&o, XCNN_LRP_EPSILON, 1);
    xcnn_status st = xcnn_explain(m, x, &o, a, 128, &ra);
    xcnn_explain_options_init(&o, XCNN_INPUT_X_GRADIENT);
    o.target = 1;
    xcnn_status st2 = xcnn_explain(m, x, &o, b, 128, &rb);
    double amax = 0;
    /* not amax = fmax(amax, ...): gcc 12.2 for aarch64 crashes vectorising
     * an fmax reduction of values that come from float (test_train.c) */
    for (int i = 0; i < 128; i++)
        if (fabs(a[i]) > amax) amax = fabs(a[i]);
    if (check(st == XCNN_OK && st2 == XCNN_OK && amax > 0, "ReLU net: LRP and input x gradient "
              "run (max |R| %g)", amax))
        check_close("LRP epsilon = input x gradient on a bias-free ReLU/max-pool/avg-pool net",
                    max_rel_error(a, b, 128), 1e-5);
    check(fabs(ra.total - ra.score) <= 1e-5 * fabs(ra.score),
          "bias-free: relevance conserved, total %.7g = score %.7g", ra.total, ra.score);
    xcnn_model_free(m);

    /* A larger epsilon takes its share: the check above can fail. */
    m = relu_net(0);
    if (m) {
        lrp_options(&o, XCNN_LRP_EPSILON, 1);
        o.epsilon = 0.5f;
        st = xcnn_explain(m, x, &o, a, 128, &ra);
        check(st == XCNN_OK && max_rel_error(a, b, 128) > 1e-3,
              "...while epsilon 0.5 moves LRP off input x gradient (difference %.3g)",
              max_rel_error(a, b, 128));
        xcnn_model_free(m);
    }
    /* With biases the equality still holds (R_j / z_j is the gradient at
     * z_j whatever the bias, Ancona et al. 2018); the biases only keep
     * their share of the relevance: the total is no longer the score. */
    m = relu_net(1);
    if (m) {
        lrp_options(&o, XCNN_LRP_EPSILON, 1);
        st = xcnn_explain(m, x, &o, a, 128, &ra);
        xcnn_explain_options_init(&o, XCNN_INPUT_X_GRADIENT);
        o.target = 1;
        st2 = xcnn_explain(m, x, &o, b, 128, &rb);
        if (check(st == XCNN_OK && st2 == XCNN_OK, "ReLU net with biases: both run"))
            check_close("...with biases LRP epsilon is still input x gradient",
                        max_rel_error(a, b, 128), 1e-5);
        check(st == XCNN_OK && fabs(ra.total - ra.score) > 1e-3 * fabs(ra.score),
              "...but the biases keep a share: total %.7g, score %.7g", ra.total, ra.score);
        xcnn_model_free(m);
    }
}

/* ---- zero_bias: relevance conserved node by node ------------------------------
 * Without biases every rule hands on sum_j R_j z_j / stab(z_j): all of R,
 * to the stabilizers, but for an output whose window holds no input that
 * contributes (z_j = 0: a 1x1 Conv reading eight channels that a ReLU has
 * all zeroed at that pixel). Its relevance came from the biases of the
 * forward (kept there: zero_bias changes only the rules) and has nowhere
 * to go. The watch below finds those outputs itself (z+ of the Conv's own
 * weights: resnet_narrow's BatchNorms are folded) and holds every node to
 * sum in = sum out - orphans. */

typedef struct conserve_probe {
    double worst;           /* largest |sum in - (sum out - orphans)| / sum |out| */
    double orphans;         /* relevance of the outputs no input reaches */
    char worst_node[128];
    int nodes, zplus;       /* zplus: find orphans (epsilon-plus-flat) */
    int first;              /* the flat rule's Conv: no orphans */
} conserve_probe;

static conserve_probe *probe_now; /* the probe of the pass running below */

static double grad_sum(const xcnn_tensor *t, double *mag)
{
    double s = 0;
    size_t n = xcnn_tensor_sample_numel(t);
    for (size_t i = 0; i < n; i++) {
        s += t->grad[i];
        if (mag) *mag += fabs(t->grad[i]);
    }
    return s;
}

static double inputs_sum(xcnn_graph *g, const xcnn_node *n)
{
    double s = 0;
    for (int k = 0; k < n->n_in; k++) {
        const xcnn_tensor *t = xcnn_in(g, n, k);
        /* each input once: an Add of a tensor to itself adds twice into one buffer */
        int seen = 0;
        for (int q = 0; q < k; q++) seen |= n->in[q] == n->in[k];
        if (t && t->kind != XCNN_T_CONST && xcnn_tensor_grad(t) && !seen) s += grad_sum(t, NULL);
    }
    return s;
}

/* The relevance of Conv n's outputs whose z+ (no bias) is 0. */
static double conv_orphans(xcnn_graph *g, const xcnn_node *n)
{
    const xcnn_conv_shape *s = n->params;
    const xcnn_window2d *w = &s->win;
    const float *x = xcnn_in(g, n, 0)->data, *W = xcnn_in(g, n, 1)->data;
    const float *R = xcnn_out(g, n, 0)->grad;
    int cg = s->c_in / s->group, mg = s->c_out / s->group, P = w->out_h * w->out_w;
    double lost = 0;
    for (int m = 0; m < s->c_out; m++)
        for (int p = 0; p < P; p++) {
            int oh = p / w->out_w, ow = p % w->out_w, grp = m / mg, reached = 0;
            for (int c = 0; c < cg && !reached; c++)
                for (int i = 0; i < w->k_h; i++)
                    for (int j = 0; j < w->k_w; j++) {
                        int ih = oh * w->stride_h - w->pad_top + i * w->dil_h;
                        int iw = ow * w->stride_w - w->pad_left + j * w->dil_w;
                        if (ih < 0 || ih >= w->in_h || iw < 0 || iw >= w->in_w) continue;
                        float wv = W[(((size_t)m * cg + c) * w->k_h + i) * w->k_w + j];
                        float xv = x[((size_t)(grp * cg + c) * w->in_h + ih) * w->in_w + iw];
                        reached |= (wv > 0 && xv > 0) || (wv < 0 && xv < 0);
                    }
            if (!reached) lost += R[(size_t)m * P + p];
        }
    return lost;
}

static void conserving_rule(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                            const xcnn_bwd_ctx *ctx)
{
    double mag = 0, out = 0, orphans = 0;
    for (int k = 0; k < n->n_out; k++) out += grad_sum(xcnn_out(g, n, k), &mag);
    if (probe_now->zplus && !strcmp(n->op_type, "Conv") && (int)(n - g->nodes) != probe_now->first)
        orphans = conv_orphans(g, n);
    double before = inputs_sum(g, n);
    xcnn_lrp_node_rule(g, n, batch, scratch, ctx);
    double given = inputs_sum(g, n) - before;
    double e = mag > 0 ? fabs(given - (out - orphans)) / mag : fabs(given);
    probe_now->nodes++;
    probe_now->orphans += orphans;
    if (e > probe_now->worst) {
        probe_now->worst = e;
        snprintf(probe_now->worst_node, sizeof probe_now->worst_node, "%s (%s)", n->name,
                 n->op_type);
    }
}

/* One watched pass of the options o on x (xcnn_explain has just run the
 * forward); the input relevance into r. */
static xcnn_status watched_pass(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                                const xcnn_explain_result *res, conserve_probe *probe)
{
    xcnn_lrp_state s;
    xcnn_lrp_prepare(m, x, o, &s);
    size_t k = xcnn_tensor_sample_numel(&m->g->tensors[m->g->output]);
    float *seed = calloc(k, sizeof *seed);
    seed[res->target] = res->score;
    *probe = (conserve_probe){0, 0, "", 0, o->lrp_rule == XCNN_LRP_EPSILON_PLUS_FLAT, s.first};
    probe_now = probe;
    xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, conserving_rule, &s};
    xcnn_err err = {{0}};
    xcnn_status st = xcnn_exec_backward_rules(m, NULL, seed, &ctx, 1, -1, &err);
    free(seed);
    return st;
}

static void test_conservation(const char *dir, xcnn_lrp_rule rule, int expect_orphans)
{
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    if (!check(m && x, "%s: loads for the conservation test", dir)) goto out;
    float *out = malloc(n * sizeof *out);
    xcnn_explain_options o;
    xcnn_explain_result res;
    lrp_options(&o, rule, -1);
    o.zero_bias = 1;
    xcnn_status st = xcnn_explain(m, x, &o, out, n, &res); /* the forward, the target */
    conserve_probe probe;
    if (check(st == XCNN_OK && watched_pass(m, x, &o, &res, &probe) == XCNN_OK,
              "%s: zero-bias %s runs, watched node by node", dir, xcnn_lrp_rule_name(rule))) {
        const float *r = m->g->tensors[m->g->input].grad;
        int same = 1;
        for (size_t i = 0; same && i < n; i++) same = r[i] == out[i];
        check(same && probe.nodes > 10, "%s: the watched pass gives the same bits (%d nodes)",
              dir, probe.nodes);
        /* 2e-5: the Gemm's epsilon (1e-6) over logits of ~0.1 */
        check_close("zero-bias: every node hands on the relevance at its output, less its "
                    "orphans' (worst |sum in - sum out + orphans| / sum |out|)", probe.worst,
                    2e-5);
        printf("     (worst node: %s; orphans %.3g)\n", probe.worst_node, probe.orphans);
        check(expect_orphans ? probe.orphans != 0 : probe.orphans == 0,
              "%s: %s outputs that no input reaches (%.3g of the relevance)", dir,
              expect_orphans ? "has" : "has no", probe.orphans);
        check(fabs(res.total - (res.score - probe.orphans)) <= 2e-5 * fabs(res.score),
              "%s: so the total %.7g is the score %.7g less the orphans' %.3g", dir, res.total,
              res.score, probe.orphans);

        /* without zero_bias the biases take their share: the check can fail */
        o.zero_bias = 0;
        xcnn_explain(m, x, &o, out, n, &res); /* the same forward */
        st = watched_pass(m, x, &o, &res, &probe);
        check(st == XCNN_OK && probe.worst > 1e-3, "...with biases some node does not conserve "
              "(worst %.3g at %s)", probe.worst, probe.worst_node);
    }
    free(out);
out:
    free(x);
    xcnn_model_free(m);
}

/* ---- threads, and the batch the model is reserved for ------------------------ */

static void test_threads(const char *dir)
{
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    if (!check(m && x, "%s: loads for the thread test", dir)) goto out;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    for (int r = 0; r < 3; r++) {
        xcnn_lrp_rule rule = r == 0 ? XCNN_LRP_EPSILON_PLUS_FLAT : XCNN_LRP_EPSILON_GAMMA_BOX;
        xcnn_explain_options o;
        lrp_options(&o, rule, -1);
        o.zero_bias = r == 2;
        xcnn_model_set_threads(m, 1);
        xcnn_status s1 = xcnn_explain(m, x, &o, a, n, NULL);
        xcnn_model_set_threads(m, 2);
        xcnn_model_reserve(m, 3);
        xcnn_status s2 = xcnn_explain(m, x, &o, b, n, NULL);
        xcnn_model_reserve(m, 1);
        check(s1 == XCNN_OK && s2 == XCNN_OK && memcmp(a, b, n * sizeof *a) == 0,
              "%s: %s%s gives the same bits on 1 and 2 threads, batch 1 and 3", dir,
              xcnn_lrp_rule_name(rule), o.zero_bias ? " (zero bias)" : "");
    }
    free(a);
    free(b);
out:
    free(x);
    xcnn_model_free(m);
}

/* ---- the room: blocks of channels and pixels ---------------------------------
 * The room the load gives LRP (m->ex_rule) holds every channel of these
 * small models at once. Shrunk to the least xcnn_lrp_check_model accepts,
 * the Convs run in blocks of a few pixels, and lrp_bn's conv3 in blocks
 * of 3, 3 and 2 channels (weights made again per block): the same
 * products, summed in other groupings. */
static size_t least_room(const xcnn_model *m)
{
    const xcnn_graph *g = m->g;
    size_t room = 0, need;
    for (int i = 0; i < m->n_compute; i++) {
        const xcnn_node *n = &g->nodes[m->compute[i]];
        if (!strcmp(n->op_type, "Conv")) need = xcnn_lrp_conv_min_room(g, n);
        else if (!strcmp(n->op_type, "Gemm")) need = xcnn_lrp_gemm_min_room(g, n);
        else if (strstr(n->op_type, "AveragePool"))
            need = xcnn_tensor_sample_numel(&g->tensors[n->in[0]]);
        else need = 0;
        if (need > room) room = need;
    }
    return room;
}

static void test_small_room(const char *dir, const char *const stems[3])
{
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    int t = fixture_meta_int(dir, "target", -1);
    if (!check(m && x, "%s: loads for the room test", dir)) goto out;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    size_t full = m->ex_rule_floats, least = least_room(m);
    for (int r = 0; r < 3; r++) {
        xcnn_explain_options o;
        lrp_options(&o, (xcnn_lrp_rule)r, t);
        xcnn_status s1 = xcnn_explain(m, x, &o, a, n, NULL);
        m->ex_rule_floats = least;
        xcnn_status s2 = xcnn_explain(m, x, &o, b, n, NULL);
        m->ex_rule_floats = least - 1;
        xcnn_status s3 = xcnn_explain(m, x, &o, b + 0, 0, NULL); /* refused before any pass */
        m->ex_rule_floats = full;
        if (r == XCNN_LRP_EPSILON && s1 != XCNN_OK) continue; /* resnet: Add */
        char what[200];
        snprintf(what, sizeof what, "%s: %s in a room of %zu floats (not %zu) = the whole room's",
                 dir, xcnn_lrp_rule_name((xcnn_lrp_rule)r), least, full);
        if (check(s1 == XCNN_OK && s2 == XCNN_OK, "%s: %s runs in both rooms", dir,
                  xcnn_lrp_rule_name((xcnn_lrp_rule)r)))
            check_close(what, max_rel_error(b, a, n), 1e-5);
        check(s3 == XCNN_ERR_LIMIT, "...and a room one float smaller is refused");
        size_t nr = 0;
        float *ref = stems[r] ? fixture_npy(dir, stems[r], &nr) : NULL;
        if (ref && nr == n) {
            snprintf(what, sizeof what, "%s: %s, small room = the float64 reference", dir,
                     xcnn_lrp_rule_name((xcnn_lrp_rule)r));
            check_close(what, max_rel_error(b, ref, n), TOL);
        }
        free(ref);
    }
    free(a);
    free(b);
out:
    free(x);
    xcnn_model_free(m);
}

/* ---- refusals ----------------------------------------------------------------- */

static void expect_refusal(xcnn_model *m, const float *x, size_t n, const xcnn_explain_options *o,
                           xcnn_status want, const char *word1, const char *word2,
                           const char *what)
{
    float *out = malloc(n * sizeof *out);
    xcnn_status st = xcnn_explain(m, x, o, out, n, NULL);
    const char *e = xcnn_model_error(m);
    check(st == want && strstr(e, word1) && (!word2 || strstr(e, word2)), "%s: refused (%s)",
          what, e);
    free(out);
}

static void test_refused_models(void)
{
    static const char *dirs[] = {"tests/fixtures/plaincnn", "tests/fixtures/rescnn_bn"};
    for (int d = 0; d < 2; d++) {
        xcnn_model *m = fixture_model(dirs[d]);
        size_t n = 0;
        float *x = fixture_npy(dirs[d], "input.npy", &n);
        if (check(m && x, "%s loads", dirs[d]))
            for (int r = 0; r < 3; r++) {
                xcnn_explain_options o;
                lrp_options(&o, (xcnn_lrp_rule)r, -1);
                char what[160];
                snprintf(what, sizeof what, "%s, %s: a Mul of two activations", dirs[d],
                         xcnn_lrp_rule_name((xcnn_lrp_rule)r));
                expect_refusal(m, x, n, &o, XCNN_ERR_UNSUPPORTED, "op Mul", "LRP", what);
            }
        free(x);
        xcnn_model_free(m);
    }
    const char *dir = "tests/fixtures/resnet_narrow";
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    if (check(m && x, "%s loads", dir)) {
        xcnn_explain_options o;
        lrp_options(&o, XCNN_LRP_EPSILON, -1);
        expect_refusal(m, x, n, &o, XCNN_ERR_UNSUPPORTED, "Add", "epsilon-plus-flat",
                       "resnet_narrow, epsilon: a residual Add (Captum has no rule)");
    }
    free(x);
    xcnn_model_free(m);
}

/* x 1x2x4x4 -> [BatchNormalization ->] Conv 1x1 -> [Add const | Softmax] ->
 * GlobalAveragePool -> Flatten */
static xcnn_model *odd_model(const char *what)
{
    ob_buf gr = ob_new();
    float w[6] = {1, -1, 0.5f, 2, -0.5f, 1}, one[2] = {1, 1}, zero[2] = {0, 0};
    float c[3 * 16];
    for (int i = 0; i < 48; i++) c[i] = 0.1f * (float)i;
    ob_graph_init(&gr, ob_tensor_f("w", 4, (int64_t[]){3, 2, 1, 1}, w));
    ob_graph_init(&gr, ob_tensor_f("s", 1, (int64_t[]){2}, one));
    ob_graph_init(&gr, ob_tensor_f("b", 1, (int64_t[]){2}, zero));
    ob_graph_init(&gr, ob_tensor_f("mean", 1, (int64_t[]){2}, zero));
    ob_graph_init(&gr, ob_tensor_f("var", 1, (int64_t[]){2}, one));
    ob_graph_init(&gr, ob_tensor_f("c", 4, (int64_t[]){1, 3, 4, 4}, c));
    const char *conv_in = "x", *pooled = "z";
    if (!strcmp(what, "bn")) {
        ob_graph_node(&gr, ob_node("BatchNormalization", "bn_first",
                                   IN("x", "s", "b", "mean", "var"), OUT("xn"), NULL, 0));
        conv_in = "xn";
    }
    ob_graph_node(&gr, ob_node("Conv", "conv", IN(conv_in, "w"), OUT("z"), NULL, 0));
    if (!strcmp(what, "add")) {
        ob_graph_node(&gr, ob_node("Add", "add_const", IN("z", "c"), OUT("za"), NULL, 0));
        pooled = "za";
    }
    if (!strcmp(what, "softmax")) {
        ob_buf ax[] = {ob_attr_int("axis", 1)};
        ob_graph_node(&gr, ob_node("Softmax", "soft", IN("z"), OUT("zs"), ax, 1));
        pooled = "zs";
    }
    ob_graph_node(&gr, ob_node("GlobalAveragePool", "gap", IN(pooled), OUT("g"), NULL, 0));
    ob_graph_node(&gr, ob_node("Flatten", "f", IN("g"), OUT("y"), NULL, 0));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 4, (int64_t[]){1, 2, 4, 4}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 0, NULL));
    ob_buf mb = ob_model(13, &gr);
    return load_buf(&mb);
}

static void test_refused_ops(void)
{
    float x[32];
    for (int i = 0; i < 32; i++) x[i] = cosf((float)i);
    xcnn_explain_options o;
    xcnn_model *m = odd_model("bn");
    if (check(m != NULL, "BatchNormalization-first model builds")) {
        lrp_options(&o, XCNN_LRP_EPSILON_PLUS_FLAT, 0);
        expect_refusal(m, x, 32, &o, XCNN_ERR_UNSUPPORTED, "bn_first", "BatchNormalization",
                       "a BatchNormalization after no Conv (epsilon-plus-flat)");
        lrp_options(&o, XCNN_LRP_EPSILON, 0);
        float out[32];
        check(xcnn_explain(m, x, &o, out, 32, NULL) == XCNN_OK,
              "...while the epsilon rule gives it a rule of its own");
        xcnn_model_free(m);
    }
    m = odd_model("add");
    if (check(m != NULL, "Add-a-constant model builds")) {
        lrp_options(&o, XCNN_LRP_EPSILON_PLUS_FLAT, 0);
        expect_refusal(m, x, 32, &o, XCNN_ERR_UNSUPPORTED, "add_const", "constant",
                       "an Add of a constant (norm rule needs two activations)");
        xcnn_model_free(m);
    }
    m = odd_model("softmax");
    if (check(m != NULL, "Softmax model builds")) {
        lrp_options(&o, XCNN_LRP_EPSILON_GAMMA_BOX, 0);
        expect_refusal(m, x, 32, &o, XCNN_ERR_UNSUPPORTED, "op Softmax", "soft",
                       "a Softmax inside the net (no rule)");
        xcnn_model_free(m);
    }
}

static void test_bad_options(void)
{
    const char *dir = "tests/fixtures/captum_toy";
    xcnn_model *m = fixture_model(dir);
    size_t n = 0;
    float *x = fixture_npy(dir, "input.npy", &n);
    if (!check(m && x, "%s loads for the option tests", dir)) goto out;
    xcnn_explain_options o;
    lrp_options(&o, (xcnn_lrp_rule)7, 0);
    expect_refusal(m, x, n, &o, XCNN_ERR_ARG, "rule 7", "epsilon-gamma-box", "unknown rule 7");
    lrp_options(&o, XCNN_LRP_EPSILON, 0);
    o.epsilon = NAN;
    expect_refusal(m, x, n, &o, XCNN_ERR_ARG, "epsilon", "finite", "epsilon NaN");
    o.epsilon = INFINITY;
    expect_refusal(m, x, n, &o, XCNN_ERR_ARG, "epsilon", "finite", "epsilon inf");
    lrp_options(&o, XCNN_LRP_EPSILON_GAMMA_BOX, 0);
    o.gamma = -0.5f;
    expect_refusal(m, x, n, &o, XCNN_ERR_ARG, "gamma", ">= 0", "gamma -0.5");
    o.gamma = NAN;
    expect_refusal(m, x, n, &o, XCNN_ERR_ARG, "gamma", ">= 0", "gamma NaN");
    lrp_options(&o, XCNN_LRP_EPSILON_GAMMA_BOX, 0);
    o.high = 1.0f;
    expect_refusal(m, x, n, &o, XCNN_ERR_ARG, "low and high", "both", "high without low");
    o.low = 2.0f;
    expect_refusal(m, x, n, &o, XCNN_ERR_ARG, "low <= high", NULL, "low 2 > high 1");
    o.low = -INFINITY;
    expect_refusal(m, x, n, &o, XCNN_ERR_ARG, "finite", NULL, "low -inf");
    lrp_options(&o, XCNN_LRP_EPSILON_PLUS_FLAT, 0);
    o.zero_bias = 2;
    expect_refusal(m, x, n, &o, XCNN_ERR_ARG, "zero_bias", "0 or 1", "zero_bias 2");
    /* the defaults resolved: epsilon < 0 is 1e-9, NaN bounds the input's box */
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    lrp_options(&o, XCNN_LRP_EPSILON, 0);
    xcnn_status s1 = xcnn_explain(m, x, &o, a, n, NULL);
    o.epsilon = 1e-9f;
    xcnn_status s2 = xcnn_explain(m, x, &o, b, n, NULL);
    check(s1 == XCNN_OK && s2 == XCNN_OK && memcmp(a, b, n * sizeof *a) == 0,
          "epsilon < 0 is the default 1e-9");
    float lo = x[0], hi = x[0];
    for (size_t i = 0; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    lrp_options(&o, XCNN_LRP_EPSILON_GAMMA_BOX, 0);
    s1 = xcnn_explain(m, x, &o, a, n, NULL);
    o.low = lo;
    o.high = hi;
    s2 = xcnn_explain(m, x, &o, b, n, NULL);
    check(s1 == XCNN_OK && s2 == XCNN_OK && memcmp(a, b, n * sizeof *a) == 0,
          "NaN low/high are the input's min %g and max %g", lo, hi);
    o.low = lo - 5;
    s2 = xcnn_explain(m, x, &o, b, n, NULL);
    check(s2 == XCNN_OK && max_rel_error(b, a, n) > 1e-3, "...and other bounds change the "
          "z-box's result (difference %.3g)", max_rel_error(b, a, n));
    free(a);
    free(b);
out:
    free(x);
    xcnn_model_free(m);
}

int main(void)
{
    test_references();
    test_captum_golden();
    test_input_x_gradient();
    test_conservation("tests/fixtures/resnet_narrow", XCNN_LRP_EPSILON_PLUS_FLAT, 1);
    test_conservation("tests/fixtures/lrp_bn", XCNN_LRP_EPSILON_GAMMA_BOX, 0);
    test_threads("tests/fixtures/resnet_narrow");
    test_threads("tests/fixtures/lrp_bn");
    static const char *const bn_stems[3] = {"lrp_epsilon_plus_flat.npy", "lrp_epsilon.npy",
                                            "lrp_epsilon_gamma_box.npy"};
    static const char *const resnet_stems[3] = {"lrp_epsilon_plus_flat.npy", NULL,
                                                "lrp_epsilon_gamma_box.npy"};
    test_small_room("tests/fixtures/lrp_bn", bn_stems);
    test_small_room("tests/fixtures/resnet_narrow", resnet_stems);
    test_refused_models();
    test_refused_ops();
    test_bad_options();
    return check_summary();
}
