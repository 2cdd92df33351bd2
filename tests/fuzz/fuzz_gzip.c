/*
 * libFuzzer harness: compressed bytes -> the decoders in memory: gzip
 * (members, CRC-32, ISIZE), zlib (Adler-32) and raw inflate, each with an
 * output cap of 1 MiB (a bomb must stop at the cap with XCNN_ERR_LIMIT).
 * These are internal functions (libxcnn/inflate.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include "../../libxcnn/io/inflate.h"

#define CAP ((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xcnn_err e = {{0}};
    unsigned char *out = NULL;
    size_t len = 0, used = 0;
    if (xcnn_gzip_decode(data, size, CAP, &out, &len, &e) == XCNN_OK) {
        volatile unsigned sum = 0;
        for (size_t i = 0; i < len; i++) sum += out[i];
        (void)sum;
    }
    free(out);
    unsigned char *buf = malloc(CAP);
    if (!buf) return 0;
    xcnn_zlib_decode(data, size, buf, CAP, &len, &e);
    xcnn_inflate(data, size, &used, buf, CAP, &len, &e);
    free(buf);
    return 0;
}
