/* Error formatting and status names. */
#include <stdarg.h>
#include <stdio.h>
#include "error.h"

xcnn_status xcnn_fail(xcnn_err *err, xcnn_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        xcnn_vformat(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* Names come from files: a newline or escape in one must not turn
         * a one-line message into several, or into terminal commands. */
        for (char *c = err->msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    }
    return status;
}

const char *xcnn_status_name(xcnn_status s)
{
    switch (s) {
    case XCNN_OK: return "ok";
    case XCNN_ERR_ARG: return "invalid argument";
    case XCNN_ERR_IO: return "i/o error";
    case XCNN_ERR_FORMAT: return "format error";
    case XCNN_ERR_UNSUPPORTED: return "unsupported";
    case XCNN_ERR_SHAPE: return "shape error";
    case XCNN_ERR_NOMEM: return "out of memory";
    case XCNN_ERR_LIMIT: return "over limit";
    case XCNN_ERR_NUMERIC: return "not a finite number";
    case XCNN_ERR_NOT_FOUND: return "not found";
    case XCNN_ERR_BUSY: return "model is in use by another thread";
    }
    return "unknown status";
}
