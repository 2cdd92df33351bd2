/* placeholder: replaced by the real implementation */
#include "ops.h"
const xcnn_op_def xcnn_op_relu = {"Relu", 0, 0, 0};
const xcnn_op_def xcnn_op_leakyrelu = {"LeakyRelu", 0, 0, 0};
const xcnn_op_def xcnn_op_clip = {"Clip", 0, 0, 0};
const xcnn_op_def xcnn_op_sigmoid = {"Sigmoid", 0, 0, 0};
const xcnn_op_def xcnn_op_hardsigmoid = {"HardSigmoid", 0, 0, 0};
const xcnn_op_def xcnn_op_hardswish = {"HardSwish", 0, 0, 0};
const xcnn_op_def xcnn_op_identity = {"Identity", 0, 0, 0};
const xcnn_op_def xcnn_op_dropout = {"Dropout", 0, 0, 0};
