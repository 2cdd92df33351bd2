/*
 * Conv's plan on a build whose size_t is 32 bits: one sample's col is
 * kcol x npix floats, and a conv whose int sizes are all fine can pass
 * 2^32 bytes of it (512 channels, 3x3, a 512 x 512 plane: 4608 x 262144
 * floats = 4.5 GiB). The plan counts it in uint64_t and refuses it with
 * XCNN_ERR_LIMIT (ops/conv_fast.c, too_many_floats) instead of wrapping
 * to a short buffer. On 64-bit builds the same conv plans (nothing is
 * allocated for the activations here: setup only sizes them), and the
 * reference path (make REFERENCE=1) needs no col at all.
 */
#include <stdint.h>
#include <string.h>
#include "check.h"
#include "op_test.h"
#include "../libxcnn/ops/ops.h"

int main(void)
{
    gc_graph gc;
    gc_init(&gc, 1);
    int x = gc_activation(&gc, "x", 4, (int64_t[]){1, 512, 512, 512});
    int w = gc_weight(&gc, "w", 4, (int64_t[]){1, 512, 3, 3});
    int node = gc_node(&gc, "Conv", (int[]){x, w}, 2);
    xcnn_node *n = &gc.g->nodes[node];
    xcnn_node_add_attr_ints(n, "kernel_shape", (int64_t[]){3, 3}, 2);
    xcnn_node_add_attr_ints(n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    xcnn_err err = {{0}};
    xcnn_status st = op_setup(&gc, node, &err);
    uint64_t col = (uint64_t)512 * 9 * 512 * 512;
    int refuse = col * sizeof(float) > SIZE_MAX && !gc.g->reference;
    if (refuse)
        check(st == XCNN_ERR_LIMIT && strstr(err.msg, "size_t") && strstr(err.msg, "Conv"),
              "conv plan: a col of %llu floats is refused on this %d-bit build: %s",
              (unsigned long long)col, (int)(8 * sizeof(size_t)), err.msg);
    else
        check(st == XCNN_OK, "conv plan: a col of %llu floats is planned on this %d-bit "
              "build%s (%s)", (unsigned long long)col, (int)(8 * sizeof(size_t)),
              gc.g->reference ? " (reference path: no col)" : "", st ? err.msg : "ok");
    gc_free(&gc);
    return check_summary();
}
