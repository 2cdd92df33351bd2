/* placeholder: replaced by the ONNX loader */
#include "onnx.h"
xcnn_status xcnn_onnx_parse(const uint8_t *data, size_t size, const xcnn_load_options *opts,
                            xcnn_graph **out, xcnn_err *err)
{
    (void)data; (void)size; (void)opts; *out = NULL;
    return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "ONNX loader not built yet");
}
