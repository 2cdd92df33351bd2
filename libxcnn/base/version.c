/* The library's version, as compiled in: a program built against one
 * header and run against another shared library can tell the two apart
 * (XCNN_VERSION_STRING is the header's, xcnn_version() the library's). */
#include "../../include/xcnn.h"

const char *xcnn_version(void)
{
    return XCNN_VERSION_STRING;
}

int xcnn_version_number(void)
{
    return XCNN_VERSION;
}
