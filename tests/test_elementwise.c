/*
 * Erf, Sqrt, Pow, Gelu (ops/elementwise.c): forward values against the
 * float64 formulas (libm's double erf, sqrt, pow, tanh: the float64
 * reference torch would give), backward by finite differences (Pow's
 * exponent too), the fast loops bit for bit against the reference at 1
 * and 4 threads, DeepLIFT's f and f' (xcnn_elementwise_eval), and setup
 * refusals.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "check.h"
#include "gradcheck.h"
#include "op_test.h"
#include "onnx_builder.h"
#include "../libxcnn/ops/ops.h"
#include "../include/xcnn.h"

/* The float64 formulas, written here from the definitions. */
static double ref_value(const char *op, const char *approx, double x, double p)
{
    if (!strcmp(op, "Erf")) return erf(x);
    if (!strcmp(op, "Sqrt")) return sqrt(x);
    if (!strcmp(op, "Pow")) return pow(x, p);
    if (approx && !strcmp(approx, "tanh"))
        return 0.5 * x * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
    return 0.5 * x * (1 + erf(x / sqrt(2.0)));
}

/* One node on x [1, count] (+ Pow's exponent p); returns its index, the
 * input tensor in *xi. */
static int make_node(gc_graph *gc, const char *op, const char *approx, int64_t count, float p,
                     int *xi)
{
    int in[2], n_in = 1;
    in[0] = *xi = gc_activation(gc, "x", 2, (int64_t[]){1, count});
    if (!strcmp(op, "Pow")) {
        in[1] = gc_weight(gc, "p", 0, NULL);
        gc->g->tensors[in[1]].data[0] = p;
        n_in = 2;
    }
    int node = gc_node(gc, op, in, n_in);
    if (approx) xcnn_node_add_attr_string(&gc->g->nodes[node], "approximate", approx);
    return node;
}

static void test_forward_values(void)
{
    struct { const char *op, *approx; float lo, hi, p; } cases[] = {
        {"Erf", NULL, -4, 4, 0},      {"Sqrt", NULL, 0, 9, 0},
        {"Pow", NULL, -3, 3, 2},      {"Pow", NULL, -3, 3, 3},
        {"Pow", NULL, 0.1f, 3, 0.5f}, {"Pow", NULL, 0.1f, 3, -1.5f},
        {"Gelu", NULL, -6, 6, 0},     {"Gelu", "tanh", -6, 6, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gc_graph gc;
        gc_init(&gc, 3 + c);
        int x;
        const int64_t count = 1000;
        int node = make_node(&gc, cases[c].op, cases[c].approx, count, cases[c].p, &x);
        xcnn_err err = {{0}};
        if (!check(op_setup(&gc, node, &err) == XCNN_OK, "%s setup (%s)", cases[c].op, err.msg)) {
            gc_free(&gc);
            continue;
        }
        op_alloc(&gc, 1);
        float *xv = gc.g->tensors[x].data, want[1000];
        for (int i = 0; i < count; i++) {
            xv[i] = test_rng_uniform(&gc.rng, cases[c].lo, cases[c].hi);
            want[i] = (float)ref_value(cases[c].op, cases[c].approx, xv[i], cases[c].p);
        }
        const xcnn_node *n = &gc.g->nodes[node];
        n->def->forward(gc.g, n, 1, NULL);
        char what[96];
        snprintf(what, sizeof what, "%s%s%s p=%g forward vs float64 over [%g, %g]", cases[c].op,
                 cases[c].approx ? " " : "", cases[c].approx ? cases[c].approx : "",
                 (double)cases[c].p, (double)cases[c].lo, (double)cases[c].hi);
        check_close(what, max_rel_error(gc.g->tensors[n->out[0]].data, want, (size_t)count),
                    1e-6);
        op_release(&gc);
        gc_free(&gc);
    }
}

static void gradcheck_one(const char *op, const char *approx, float lo, float hi, float p,
                          uint64_t seed)
{
    gc_graph gc;
    gc_init(&gc, seed);
    gc.lo = lo;
    gc.hi = hi;
    int in[2], n_in = 1;
    in[0] = gc_activation(&gc, "x", 4, (int64_t[]){1, 2, 3, 5});
    if (!strcmp(op, "Pow")) {
        in[1] = gc_weight(&gc, "p", 1, (int64_t[]){1});
        gc.g->tensors[in[1]].data[0] = p;
        n_in = 2;
    }
    int node = gc_node(&gc, op, in, n_in);
    if (approx) xcnn_node_add_attr_string(&gc.g->nodes[node], "approximate", approx);
    char label[96];
    snprintf(label, sizeof label, "%s%s%s p=%g gradcheck", op, approx ? " " : "",
             approx ? approx : "", (double)p);
    gradcheck_run(&gc, node, 2, label, 1e-2);
    gc_free(&gc);
}

static void test_gradients(void)
{
    gradcheck_one("Erf", NULL, -2.5f, 2.5f, 0, 1);
    gradcheck_one("Sqrt", NULL, 0.3f, 4, 0, 2);
    gradcheck_one("Pow", NULL, 0.2f, 2, 2, 3); /* x > 0: dp = sum g y ln(x) */
    gradcheck_one("Pow", NULL, 0.2f, 2, 3, 4);
    gradcheck_one("Pow", NULL, 0.2f, 2, 0.5f, 5);
    gradcheck_one("Pow", NULL, 0.5f, 2, -1.5f, 6);
    gradcheck_one("Gelu", NULL, -4, 4, 0, 7);
    gradcheck_one("Gelu", "tanh", -4, 4, 0, 8);
}

/* The parallel loops against the serial reference: every output and
 * input gradient bit for bit, with 1 and 4 threads, over several chunks. */
static void test_reference_bits(void)
{
    const char *ops[4] = {"Erf", "Sqrt", "Pow", "Gelu"};
    for (int k = 0; k < 4; k++) {
        const int64_t count = 3 * 4096 + 77;
        float *out[3], *grad[3];
        for (int run = 0; run < 3; run++) { /* reference, 1 thread, 4 threads */
#ifdef _OPENMP
            omp_set_num_threads(run == 2 ? 4 : 1);
#endif
            gc_graph gc;
            gc_init(&gc, 40);
            int x;
            int node = make_node(&gc, ops[k], NULL, count, 2.5f, &x);
            xcnn_err err = {{0}};
            gc.g->reference = run == 0;
            out[run] = calloc((size_t)count, sizeof(float));
            grad[run] = calloc((size_t)count, sizeof(float));
            if (op_setup(&gc, node, &err) == XCNN_OK) {
                op_alloc(&gc, 1);
                xcnn_tensor *tx = &gc.g->tensors[x];
                for (int i = 0; i < count; i++) tx->data[i] = test_rng_uniform(&gc.rng, 0.01f, 5);
                const xcnn_node *n = &gc.g->nodes[node];
                xcnn_tensor *y = &gc.g->tensors[n->out[0]];
                n->def->forward(gc.g, n, 1, NULL);
                for (int i = 0; i < count; i++) y->grad[i] = test_rng_uniform(&gc.rng, -1, 1);
                xcnn_bwd_ctx ctx = {XCNN_RELU_GRADIENT, NULL, NULL};
                n->def->backward(gc.g, n, 1, NULL, &ctx);
                memcpy(out[run], y->data, (size_t)count * sizeof(float));
                memcpy(grad[run], tx->grad, (size_t)count * sizeof(float));
                op_release(&gc);
            }
            gc_free(&gc);
        }
        size_t bytes = (size_t)count * sizeof(float);
        check(!memcmp(out[0], out[1], bytes) && !memcmp(out[0], out[2], bytes) &&
                  !memcmp(grad[0], grad[1], bytes) && !memcmp(grad[0], grad[2], bytes),
              "%s: forward and backward bit-identical to the reference at 1 and 4 threads",
              ops[k]);
        for (int run = 0; run < 3; run++) {
            free(out[run]);
            free(grad[run]);
        }
    }
#ifdef _OPENMP
    omp_set_num_threads(omp_get_num_procs());
#endif
}

/* DeepLIFT's f and f' in double: f against the formula, f' against a
 * central difference of f. */
static void test_eval(void)
{
    const char *ops[4] = {"Erf", "Sqrt", "Pow", "Gelu"};
    for (int k = 0; k < 4; k++) {
        gc_graph gc;
        gc_init(&gc, 50);
        int x;
        int node = make_node(&gc, ops[k], NULL, 4, 3.0f, &x);
        xcnn_err err = {{0}};
        if (op_setup(&gc, node, &err) != XCNN_OK) {
            check(0, "%s setup: %s", ops[k], err.msg);
            gc_free(&gc);
            continue;
        }
        double worst_f = 0, worst_d = 0;
        for (double v = 0.25; v < 3; v += 0.25) {
            double y, s, yp, ym, dummy;
            xcnn_elementwise_eval(gc.g, &gc.g->nodes[node], v, &y, &s);
            xcnn_elementwise_eval(gc.g, &gc.g->nodes[node], v + 1e-6, &yp, &dummy);
            xcnn_elementwise_eval(gc.g, &gc.g->nodes[node], v - 1e-6, &ym, &dummy);
            double f = fabs(y - ref_value(ops[k], NULL, v, 3.0)) / fabs(y);
            double d = fabs(s - (yp - ym) / 2e-6) / fabs(s);
            if (f > worst_f) worst_f = f;
            if (d > worst_d) worst_d = d;
        }
        char what[96];
        snprintf(what, sizeof what, "%s: DeepLIFT's f in double", ops[k]);
        check_close(what, worst_f, 1e-15);
        snprintf(what, sizeof what, "%s: DeepLIFT's f' against a difference of f", ops[k]);
        check_close(what, worst_d, 1e-7);
        gc_free(&gc);
    }
    /* another op's node is not evaluated */
    gc_graph gc;
    gc_init(&gc, 51);
    int x = gc_activation(&gc, "x", 2, (int64_t[]){1, 4});
    int node = gc_node(&gc, "Relu", (int[]){x}, 1);
    xcnn_err err = {{0}};
    double y, s;
    check(op_setup(&gc, node, &err) == XCNN_OK &&
              xcnn_elementwise_eval(gc.g, &gc.g->nodes[node], 1.0, &y, &s) == 0,
          "xcnn_elementwise_eval answers 0 for a Relu node");
    gc_free(&gc);
}

static void test_refusals(void)
{
    gc_graph gc;
    gc_init(&gc, 60);
    int x = gc_activation(&gc, "x", 2, (int64_t[]){1, 4});
    int x2 = gc_activation(&gc, "x2", 2, (int64_t[]){1, 4});
    int w = gc_weight(&gc, "w", 1, (int64_t[]){4});
    int w2 = gc_weight(&gc, "w2", 1, (int64_t[]){2});
    int nanp = gc_weight(&gc, "nan_p", 0, NULL);
    gc.g->tensors[nanp].data[0] = NAN;
    int ip = gc_int_const(&gc, "int_p", 1, (int64_t[]){2});
    expect_refusal(&gc, gc_node(&gc, "Erf", (int[]){w}, 1), XCNN_ERR_UNSUPPORTED,
                   "Erf of a constant");
    expect_refusal(&gc, gc_node(&gc, "Sqrt", (int[]){x, x}, 2), XCNN_ERR_SHAPE,
                   "Sqrt with two inputs");
    expect_refusal(&gc, gc_node(&gc, "Pow", (int[]){x}, 1), XCNN_ERR_SHAPE,
                   "Pow without an exponent");
    expect_refusal(&gc, gc_node(&gc, "Pow", (int[]){x, x2}, 2), XCNN_ERR_UNSUPPORTED,
                   "Pow with an activation exponent");
    expect_refusal(&gc, gc_node(&gc, "Pow", (int[]){x, w2}, 2), XCNN_ERR_UNSUPPORTED,
                   "Pow with an exponent of 2 elements");
    expect_refusal(&gc, gc_node(&gc, "Pow", (int[]){x, ip}, 2), XCNN_ERR_UNSUPPORTED,
                   "Pow with an int64 exponent");
    expect_refusal(&gc, gc_node(&gc, "Pow", (int[]){x, nanp}, 2), XCNN_ERR_NUMERIC,
                   "Pow with a NaN exponent");
    int gelu = gc_node(&gc, "Gelu", (int[]){x}, 1);
    xcnn_node_add_attr_string(&gc.g->nodes[gelu], "approximate", "sigmoid");
    expect_refusal(&gc, gelu, XCNN_ERR_UNSUPPORTED, "Gelu approximate=\"sigmoid\"");
    gc_free(&gc);
}

/* Through the loader: x ** 0.5 of a negative input is NaN; the forward
 * says so, naming the node (no silent NaN). */
static void test_nan_named(void)
{
    float p[1] = {0.5f}, x[4] = {1, 4, -1, 9};
    ob_buf gr = ob_new();
    ob_graph_init(&gr, ob_tensor_f("p", 0, NULL, p));
    ob_graph_node(&gr, ob_node("Pow", "root", IN("x", "p"), OUT("y"), NULL, 0));
    ob_graph_input(&gr, ob_value_info("x", OB_FLOAT, 2, (int64_t[]){1, 4}));
    ob_graph_output(&gr, ob_value_info("y", OB_FLOAT, 2, (int64_t[]){1, 4}));
    ob_buf b = ob_model(17, &gr);
    xcnn_model *m = NULL;
    char err[512] = "ok";
    if (!check(xcnn_model_load_memory(b.p, b.n, NULL, &m, err, sizeof err) == XCNN_OK,
               "Pow model loads (%s)", err)) {
        ob_free(&b);
        return;
    }
    ob_free(&b);
    float y[4];
    xcnn_status st = xcnn_forward(m, x, 1, y);
    const char *msg = xcnn_model_error(m);
    check(st == XCNN_ERR_NUMERIC && strstr(msg, "'root'"),
          "sqrt of a negative input: XCNN_ERR_NUMERIC naming the node (%s)", msg);
    xcnn_model_free(m);
}

int main(void)
{
    test_forward_values();
    test_gradients();
    test_reference_bits();
    test_eval();
    test_refusals();
    test_nan_named();
    return check_summary();
}
