/*
 * Grayscale PNG export for training samples (28x28 Fashion-MNIST): the
 * training API's name for png_write.c's writer with one channel.
 */
#include <stdio.h>
#include "../../include/xcnn_train.h"
#include "png_write.h"
#include "../base/format.h"

xcnn_status xcnn_png_write_gray(const char *path, const unsigned char *gray, int width,
                                int height, char *errbuf, size_t err_size)
{
    xcnn_err e = {{0}};
    xcnn_status st = (!path || !gray)
                         ? xcnn_fail(&e, XCNN_ERR_ARG, "PNG writer: NULL argument")
                         : xcnn_png_write(path, gray, width, height, 1, &e);
    if (st && errbuf && err_size) xcnn_format(errbuf, err_size, "%s", e.msg);
    return st;
}
