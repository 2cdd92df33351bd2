/*
 * Error messages inside the library. Every function that can fail takes an
 * xcnn_err and returns an xcnn_status; the message travels up unchanged to
 * the caller (the model's error string or the load error buffer).
 */
#ifndef XCNN_ERROR_H
#define XCNN_ERROR_H

#include "../../include/xcnn.h"
#include "format.h"

typedef struct xcnn_err {
    char msg[512];
} xcnn_err;

/* Format a message into err (if not NULL) and return status. */
xcnn_status xcnn_fail(xcnn_err *err, xcnn_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
