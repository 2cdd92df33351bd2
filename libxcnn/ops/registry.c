/* The op registry: ONNX op_type -> implementation. An op that is not listed
 * here is refused at load with its node's name. */
#include <string.h>
#include "ops.h"

static const xcnn_op_def *const all_ops[] = {
    &xcnn_op_conv,      &xcnn_op_batchnorm,   &xcnn_op_maxpool,  &xcnn_op_averagepool,
    &xcnn_op_globalaveragepool, &xcnn_op_relu, &xcnn_op_leakyrelu, &xcnn_op_clip,
    &xcnn_op_sigmoid,   &xcnn_op_hardsigmoid, &xcnn_op_hardswish, &xcnn_op_identity,
    &xcnn_op_dropout,   &xcnn_op_add,         &xcnn_op_sub,      &xcnn_op_mul,
    &xcnn_op_div,       &xcnn_op_gemm,        &xcnn_op_matmul,   &xcnn_op_flatten,
    &xcnn_op_reshape,   &xcnn_op_pad,         &xcnn_op_concat,   &xcnn_op_softmax,
    &xcnn_op_erf,       &xcnn_op_sqrt,        &xcnn_op_pow,      &xcnn_op_gelu,
    &xcnn_op_layernorm,
    &xcnn_op_transpose, &xcnn_op_reducemean, &xcnn_op_slice,
};

const xcnn_op_def *xcnn_op_find(const char *op_type)
{
    for (size_t i = 0; i < sizeof all_ops / sizeof all_ops[0]; i++)
        if (all_ops[i]->setup && strcmp(all_ops[i]->op_type, op_type) == 0)
            return all_ops[i];
    return NULL;
}
