/* placeholder: replaced by the real implementation */
#include "ops.h"
const xcnn_op_def xcnn_op_maxpool = {"MaxPool", 0, 0, 0};
const xcnn_op_def xcnn_op_averagepool = {"AveragePool", 0, 0, 0};
const xcnn_op_def xcnn_op_globalaveragepool = {"GlobalAveragePool", 0, 0, 0};
