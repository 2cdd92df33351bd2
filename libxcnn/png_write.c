/*
 * Writing 8-bit RGB PNG files with no zlib: the image data goes into
 * "stored" (uncompressed) deflate blocks, which every PNG reader accepts.
 * A PNG is the signature, then chunks (length, type, data, CRC-32):
 * IHDR (size, bit depth 8, colour type 2 = RGB), IDAT (a zlib stream of
 * the rows, each prefixed by filter type 0), IEND.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "png_write.h"

/* CRC-32 (ISO 3309, as PNG and gzip use), bit by bit: no table, no state. */
static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static int write_chunk(FILE *f, const char *type, const unsigned char *data, uint32_t len)
{
    unsigned char hdr[8];
    put_be32(hdr, len);
    memcpy(hdr + 4, type, 4);
    uint32_t crc = crc32_update(0, hdr + 4, 4);
    crc = crc32_update(crc, data, len);
    unsigned char tail[4];
    put_be32(tail, crc);
    return fwrite(hdr, 1, 8, f) == 8 && (len == 0 || fwrite(data, 1, len, f) == len) &&
           fwrite(tail, 1, 4, f) == 4;
}

xcnn_status xcnn_png_write_rgb(const char *path, const unsigned char *rgb, int width, int height,
                               xcnn_err *err)
{
    if (width <= 0 || height <= 0 || width > 16384 || height > 16384)
        return xcnn_fail(err, XCNN_ERR_ARG, "PNG size %dx%d is out of range", width, height);
    size_t row = (size_t)width * 3 + 1;
    size_t raw = row * (size_t)height;
    size_t blocks = (raw + 65534) / 65535;
    size_t zlen = 2 + raw + blocks * 5 + 4;
    unsigned char *z = malloc(zlen);
    if (!z) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory writing '%s'", path);

    /* zlib header: deflate, 32K window, no dictionary, check bits. */
    size_t o = 0;
    z[o++] = 0x78;
    z[o++] = 0x01;
    uint32_t a = 1, b = 0; /* Adler-32 of the uncompressed bytes */
    size_t done = 0;
    size_t y = 0, x = 0;   /* position in the virtual filtered image */
    while (done < raw) {
        size_t n = raw - done < 65535 ? raw - done : 65535;
        z[o++] = done + n == raw ? 1 : 0; /* BFINAL, BTYPE = 00 stored */
        z[o++] = (unsigned char)(n & 0xff);
        z[o++] = (unsigned char)(n >> 8);
        z[o++] = (unsigned char)(~n & 0xff);
        z[o++] = (unsigned char)((~n >> 8) & 0xff);
        for (size_t i = 0; i < n; i++) {
            unsigned char byte = x == 0 ? 0 : rgb[y * (size_t)width * 3 + (x - 1)];
            if (++x == row) {
                x = 0;
                y++;
            }
            z[o++] = byte;
            a = (a + byte) % 65521;
            b = (b + a) % 65521;
        }
        done += n;
    }
    put_be32(z + o, (b << 16) | a);
    o += 4;

    FILE *f = fopen(path, "wb");
    if (!f) {
        free(z);
        return xcnn_fail(err, XCNN_ERR_IO, "cannot write '%s'", path);
    }
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[13];
    put_be32(ihdr, (uint32_t)width);
    put_be32(ihdr + 4, (uint32_t)height);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* colour type RGB */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* filter method */
    ihdr[12] = 0; /* no interlace */
    int ok = fwrite(sig, 1, 8, f) == 8 && write_chunk(f, "IHDR", ihdr, 13) &&
             write_chunk(f, "IDAT", z, (uint32_t)o) && write_chunk(f, "IEND", NULL, 0);
    ok = (fclose(f) == 0) && ok;
    free(z);
    if (!ok) return xcnn_fail(err, XCNN_ERR_IO, "error writing '%s'", path);
    return XCNN_OK;
}
