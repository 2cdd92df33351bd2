/*
 * libFuzzer harness: image bytes (PNG, PGM/PPM, anything) ->
 * xcnn_image_read_memory. On success every pixel is read back, so a size
 * that disagrees with the allocation shows up under ASan.
 *
 * A mutated PNG almost always fails its chunk CRC, which would keep the
 * fuzzer out of the decoder; so each PNG input is also tried with every
 * chunk's CRC recomputed (the zlib Adler-32 inside IDAT is still checked,
 * but only after inflating, which is what we want to reach).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../include/xcnn_image.h"
#include "../../libxcnn/io/inflate.h"

static void decode(const uint8_t *data, size_t size)
{
    xcnn_image img;
    char err[256];
    if (xcnn_image_read_memory(data, size, "fuzz", &img, err, sizeof err) == XCNN_OK) {
        size_t n = (size_t)img.width * (size_t)img.height * (size_t)img.channels;
        volatile unsigned sum = 0;
        for (size_t i = 0; i < n; i++) sum += img.pixels[i];
        (void)sum;
        xcnn_image_free(&img);
    }
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Rewrite the CRC of every whole chunk after the 8-byte signature. */
static void fix_crcs(uint8_t *p, size_t size)
{
    size_t i = 8;
    while (i + 12 <= size) {
        uint32_t len = be32(p + i);
        if (len > size - i - 12) break;
        uint32_t crc = xcnn_crc32(0, p + i + 4, (size_t)len + 4);
        uint8_t *c = p + i + 8 + len;
        c[0] = (uint8_t)(crc >> 24);
        c[1] = (uint8_t)(crc >> 16);
        c[2] = (uint8_t)(crc >> 8);
        c[3] = (uint8_t)crc;
        i += (size_t)len + 12;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    decode(data, size);
    if (size > 8 && memcmp(data, sig, 8) == 0) {
        uint8_t *copy = malloc(size);
        if (!copy) return 0;
        memcpy(copy, data, size);
        fix_crcs(copy, size);
        decode(copy, size);
        free(copy);
    }
    return 0;
}
