/*
 * libFuzzer harness: ONNX bytes -> xcnn_model_load_memory (parse, fold,
 * plan, arena) and, when the model is small, one forward and one backward
 * pass on a zero input, so that the ops also meet the shapes a hostile
 * file can plan. Anything but a clean status is a bug: a crash, a
 * sanitizer report, a leak, or a hang (libFuzzer's -timeout).
 */
#include <stdint.h>
#include <stdlib.h>
#include "../../include/xcnn.h"

/* Only run what finishes in well under a millisecond or so. */
#define RUN_MAX_ARENA_BYTES ((size_t)16 << 20)
#define RUN_MAX_FLOPS 2e6

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Caps well below the defaults keep the fuzzer's memory in check; the
     * library must refuse (XCNN_ERR_LIMIT) rather than allocate more. */
    xcnn_load_options opts = {.max_file_bytes = (uint64_t)1 << 20, .max_tensor_elems = (uint64_t)1 << 20, .max_nodes = 1000};
    xcnn_model *m = NULL;
    char err[256];
    if (xcnn_model_load_memory(data, size, &opts, &m, err, sizeof err) != XCNN_OK) return 0;
    if (cheap(m)) {
        xcnn_tensor_view in, out;
        xcnn_model_input(m, &in);
        xcnn_model_output(m, &out);
        float *x = calloc(in.numel ? in.numel : 1, sizeof(float));
        if (x && xcnn_forward(m, x, 1, NULL) == XCNN_OK) {
            int target = 0;
            if (out.numel > 0) xcnn_backward(m, &target, NULL, NULL);
        }
        free(x);
    }
    xcnn_model_free(m);
    return 0;
}
