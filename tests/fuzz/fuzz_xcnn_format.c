/*
 * libFuzzer harness for the .xcnn format (libxcnn/graph/xcnn_format.c).
 *
 * An .xcnn input (by its magic) has its header's size and CRC-32 fixed up
 * to match the bytes, so that mutations get past the checksum to the
 * tables; it is then read copied and in place (from a 64-byte-aligned
 * copy), and loaded whole by xcnn_model_load_memory (read, fold, plan,
 * arena); a small model that loads is run forward and backward. Anything
 * but a clean status is a bug: a crash, a sanitizer report, a leak, a hang.
 *
 * Any other input is parsed as ONNX; whatever parses must convert: encode
 * to .xcnn, read back (copied and in place), and encode again to the same
 * bytes. A failure there traps (the writer and reader disagree).
 *
 * Seeds: the fixtures' ONNX models and their .xcnn conversions.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn.h"
#include "../../libxcnn/graph/onnx.h"
#include "../../libxcnn/graph/xcnn_format.h"
#include "../../libxcnn/io/inflate.h"

#define RUN_MAX_ARENA_BYTES ((size_t)16 << 20)
#define RUN_MAX_FLOPS 2e6

static const xcnn_load_options OPTS = {.max_file_bytes = (uint64_t)1 << 20,
                                       .max_tensor_elems = (uint64_t)1 << 20,
                                       .max_nodes = 1000};

static int cheap(const xcnn_model *m)
{
    if (xcnn_model_arena_bytes(m) > RUN_MAX_ARENA_BYTES) return 0;
    double flops = 0;
    for (int i = 0; i < xcnn_model_node_count(m); i++) {
        xcnn_node_info ni;
        if (xcnn_model_node(m, i, &ni) != XCNN_OK) return 0;
        flops += ni.flops;
    }
    return flops <= RUN_MAX_FLOPS;
}

static void run(xcnn_model *m)
{
    if (!cheap(m)) return;
    xcnn_tensor_view in, out;
    xcnn_model_input(m, &in);
    xcnn_model_output(m, &out);
    float *x = calloc(in.numel ? in.numel : 1, sizeof(float));
    if (x && xcnn_forward(m, x, 1, NULL) == XCNN_OK && out.numel > 0) {
        int target = 0;
        xcnn_backward(m, &target, NULL, NULL); /* refused when inference-only */
    }
    free(x);
}

/* Read p both ways; the graphs are only built and freed. */
static xcnn_status read_both(const unsigned char *p, size_t n, const xcnn_load_options *o)
{
    xcnn_err err;
    xcnn_graph *g = NULL;
    xcnn_status st = xcnn_format_read(p, n, o, NULL, 0, &g, &err);
    xcnn_graph_free(g);
    unsigned char *al = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
    if (!al) return st;
    memcpy(al, p, n);
    g = NULL;
    xcnn_status st2 = xcnn_format_read(al, n, o, NULL, 1, &g, &err);
    if (st2 == XCNN_OK && st != XCNN_OK) __builtin_trap(); /* in place accepts what a copy refuses */
    xcnn_graph_free(g);
    free(al);
    return st;
}

static void from_xcnn(const uint8_t *data, size_t size)
{
    unsigned char *p = malloc(size ? size : 1);
    if (!p) return;
    memcpy(p, data, size);
    if (size >= XCNN_FORMAT_HEADER_BYTES) { /* size and checksum as the bytes are */
        for (int i = 0; i < 8; i++) p[16 + i] = (unsigned char)((uint64_t)size >> (8 * i));
        memset(p + 24, 0, 4);
        uint32_t crc = xcnn_crc32(0, p, size);
        for (int i = 0; i < 4; i++) p[24 + i] = (unsigned char)(crc >> (8 * i));
    }
    read_both(p, size, &OPTS);
    xcnn_model *m = NULL;
    char err[256];
    if (xcnn_model_load_memory(p, size, &OPTS, &m, err, sizeof err) == XCNN_OK) {
        run(m);
        xcnn_model_free(m);
    }
    free(p);
}

static void from_onnx(const uint8_t *data, size_t size)
{
    xcnn_err err;
    xcnn_graph *g = NULL;
    if (xcnn_onnx_parse(data, size, &OPTS, &g, &err) != XCNN_OK) return;
    unsigned char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    if (xcnn_format_encode(g, &a, &na, &err) != XCNN_OK) __builtin_trap();
    xcnn_graph_free(g);
    /* The padding may take it past OPTS' file cap: the defaults here. */
    if (read_both(a, na, NULL) != XCNN_OK) __builtin_trap();
    g = NULL;
    if (xcnn_format_read(a, na, NULL, NULL, 0, &g, &err) != XCNN_OK ||
        xcnn_format_encode(g, &b, &nb, &err) != XCNN_OK || na != nb || memcmp(a, b, na))
        __builtin_trap();
    xcnn_graph_free(g);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (xcnn_format_is_image(data, size)) from_xcnn(data, size);
    else from_onnx(data, size);
    return 0;
}
