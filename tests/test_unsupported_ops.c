/*
 * A model with ops libxcnn does not run is refused with ONE message that
 * names every such op, with its count and its first node (core/plan.c),
 * so that porting a model is not a round of guessing per op: op types
 * libxcnn has never heard of, ones downstream of them (whose shapes are
 * unknown), a folder-only op (Gather) on run-time data; a message bounded
 * in length for hundreds of such nodes; other errors before any of them
 * still reported as themselves.
 */
#include <string.h>
#include "check.h"
#include "onnx_builder.h"
#include "../include/xcnn.h"

static xcnn_status load(ob_buf *g, char *err, size_t size)
{
    ob_buf m = ob_model(13, g);
    xcnn_model *model = NULL;
    xcnn_status st = xcnn_model_load_memory(m.p, m.n, NULL, &model, err, size);
    ob_free(&m);
    xcnn_model_free(model);
    return st;
}

static void io(ob_buf *g)
{
    ob_graph_input(g, ob_value_info("x", 1, 4, (int64_t[]){1, 2, 4, 4}));
    ob_graph_output(g, ob_value_info("y", 1, 4, (int64_t[]){1, 2, 4, 4}));
}

static void test_all_named(void)
{
    ob_buf g = ob_new();
    io(&g);
    ob_graph_init(&g, ob_tensor_i64("idx", 1, (int64_t[]){2}, (int64_t[]){1, 0}));
    ob_graph_node(&g, ob_node("Relu", "relu", IN("x"), OUT("r"), NULL, 0));
    ob_graph_node(&g, ob_node("RoiAlign", "roi_first", IN("r"), OUT("a1"), NULL, 0));
    ob_graph_node(&g, ob_node("Relu", "relu2", IN("a1"), OUT("a2"), NULL, 0));
    ob_graph_node(&g, ob_node("RoiAlign", "roi_second", IN("a2"), OUT("a3"), NULL, 0));
    ob_graph_node(&g, ob_node("Einsum", "einsum", IN("r"), OUT("b"), NULL, 0));
    ob_buf ax[] = {ob_attr_int("axis", 1)};
    ob_graph_node(&g, ob_node("Gather", "gather_data", IN("r", "idx"), OUT("c"), ax, 1));
    ob_graph_node(&g, ob_node("Add", "add1", IN("a3", "b"), OUT("d"), NULL, 0));
    ob_graph_node(&g, ob_node("Add", "add2", IN("d", "c"), OUT("y"), NULL, 0));
    char err[1024] = "";
    xcnn_status st = load(&g, err, sizeof err);
    check(st == XCNN_ERR_UNSUPPORTED, "a model with RoiAlign, Einsum and Gather on data is "
          "refused as unsupported (status %d)", (int)st);
    check(strstr(err, "3 unsupported ops (4 nodes)") != NULL,
          "one message counts 3 op types and 4 nodes: %s", err);
    check(strstr(err, "RoiAlign (x2, first 'roi_first')") != NULL,
          "RoiAlign counted twice, the second downstream of the first, first node named");
    check(strstr(err, "Einsum (x1, first 'einsum')") != NULL, "Einsum named with its node");
    check(strstr(err, "Gather (x1, first 'gather_data')") != NULL,
          "a folder-only op on run-time data (Gather) named too");
    check(strstr(err, "RoiAlign") < strstr(err, "Einsum") &&
          strstr(err, "Einsum") < strstr(err, "Gather"), "op types in the order met");
}

static void test_one(void)
{
    ob_buf g = ob_new();
    io(&g);
    ob_graph_node(&g, ob_node("Relu", "relu", IN("x"), OUT("r"), NULL, 0));
    ob_graph_node(&g, ob_node("Mish", "mish", IN("r"), OUT("y"), NULL, 0));
    char err[1024] = "";
    xcnn_status st = load(&g, err, sizeof err);
    check(st == XCNN_ERR_UNSUPPORTED && !strcmp(err, "1 unsupported op (1 node): Mish (x1, "
                                                     "first 'mish')"),
          "one unsupported node: '%s'", err);
}

/* 300 nodes of 20 op types with 100-character names: the message stays
 * within the error's room, names what fits and counts the rest. */
static void test_bounded(void)
{
    ob_buf g = ob_new();
    io(&g);
    char prev[32] = "x";
    for (int i = 0; i < 300; i++) {
        char op[128], name[128], out[32];
        snprintf(op, sizeof op, "UnknownOperatorWithAVeryLongName%02d_%060d", i % 20, 0);
        snprintf(name, sizeof name, "/a/very/deep/module/path/that/goes/on/and/on/node_%03d"
                 "/and/on/and/on/and/on/and/on", i);
        snprintf(out, sizeof out, i == 299 ? "y" : "t%d", i);
        ob_graph_node(&g, ob_node(op, name, IN(prev), OUT(out), NULL, 0));
        memcpy(prev, out, sizeof out);
    }
    char err[4096] = "";
    xcnn_status st = load(&g, err, sizeof err);
    check(st == XCNN_ERR_UNSUPPORTED && !strncmp(err, "20 unsupported ops (300 nodes): ", 32),
          "300 unknown nodes of 20 types counted: %.60s...", err);
    check(strlen(err) < 512 && strstr(err, "more") != NULL,
          "the message is bounded (%zu characters) and says how many it did not name: %s",
          strlen(err), strstr(err, ", and") ? strstr(err, ", and") : "(none)");
    check(strstr(err, "(x15, first '") != NULL, "each type named with its count (15 nodes)");
}

/* More op types than the planner keeps room for: "more than 32". */
static void test_many_types(void)
{
    ob_buf g = ob_new();
    io(&g);
    char prev[32] = "x";
    for (int i = 0; i < 50; i++) {
        char op[32], out[32];
        snprintf(op, sizeof op, "Unknown%02d", i);
        snprintf(out, sizeof out, i == 49 ? "y" : "t%d", i);
        ob_graph_node(&g, ob_node(op, NULL, IN(prev), OUT(out), NULL, 0));
        memcpy(prev, out, sizeof out);
    }
    char err[4096] = "";
    xcnn_status st = load(&g, err, sizeof err);
    check(st == XCNN_ERR_UNSUPPORTED && !strncmp(err, "more than 32 unsupported ops (50 nodes): "
                                                      "Unknown00 (x1", 54) &&
          strstr(err, ", and over ") && strlen(err) < 512,
          "50 op types: 'more than 32', the first named, 'and over N more': %s", err);
}

/* An error in a supported node before any unsupported one is itself. */
static void test_other_error_first(void)
{
    ob_buf g = ob_new();
    io(&g);
    ob_graph_init(&g, ob_tensor_i64("bad", 1, (int64_t[]){2}, (int64_t[]){1, 7}));
    ob_graph_node(&g, ob_node("Reshape", "reshape", IN("x", "bad"), OUT("r"), NULL, 0));
    ob_graph_node(&g, ob_node("Mish", "mish", IN("r"), OUT("y"), NULL, 0));
    char err[1024] = "";
    xcnn_status st = load(&g, err, sizeof err);
    check(st == XCNN_ERR_SHAPE && strstr(err, "reshape") && !strstr(err, "unsupported"),
          "a bad Reshape before an unknown op is reported as itself: %s", err);
}

int main(void)
{
    test_all_named();
    test_one();
    test_bounded();
    test_many_types();
    test_other_error_first();
    return check_summary();
}
