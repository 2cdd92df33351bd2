/*
 * Writing 8-bit grayscale PNG files (colour type 0) with no zlib, as
 * png_write.c does for RGB: the rows (each prefixed by filter type 0) go
 * into "stored" deflate blocks inside a zlib stream, which every PNG
 * reader accepts. Used to export dataset samples (28x28 Fashion-MNIST).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../include/xcnn_train.h"

/* CRC-32 of PNG chunks, bit by bit: no table, no state. */
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
    unsigned char hdr[8], tail[4];
    put_be32(hdr, len);
    memcpy(hdr + 4, type, 4);
    uint32_t crc = crc32_update(crc32_update(0, hdr + 4, 4), data, len);
    put_be32(tail, crc);
    return fwrite(hdr, 1, 8, f) == 8 && (len == 0 || fwrite(data, 1, len, f) == len) &&
           fwrite(tail, 1, 4, f) == 4;
}

/* The zlib stream of the filtered rows in stored blocks; returns its
 * length, 0 when out of memory. */
static size_t zlib_stored(const unsigned char *gray, int width, int height, unsigned char **out)
{
    size_t row = (size_t)width + 1, raw = row * (size_t)height;
    size_t blocks = (raw + 65534) / 65535;
    unsigned char *z = malloc(2 + raw + blocks * 5 + 4);
    if (!z) return 0;
    size_t o = 0, done = 0;
    uint32_t a = 1, b = 0; /* Adler-32 of the uncompressed bytes */
    z[o++] = 0x78;         /* deflate, 32K window */
    z[o++] = 0x01;         /* no dictionary, check bits */
    while (done < raw) {
        size_t n = raw - done < 65535 ? raw - done : 65535;
        z[o++] = done + n == raw ? 1 : 0; /* BFINAL, BTYPE 00 = stored */
        z[o++] = (unsigned char)(n & 0xff);
        z[o++] = (unsigned char)(n >> 8);
        z[o++] = (unsigned char)(~n & 0xff);
        z[o++] = (unsigned char)((~n >> 8) & 0xff);
        for (size_t i = done; i < done + n; i++) {
            size_t y = i / row, x = i % row;
            unsigned char byte = x == 0 ? 0 : gray[y * (size_t)width + (x - 1)];
            z[o++] = byte;
            a = (a + byte) % 65521;
            b = (b + a) % 65521;
        }
        done += n;
    }
    put_be32(z + o, (b << 16) | a);
    *out = z;
    return o + 4;
}

xcnn_status xcnn_png_write_gray(const char *path, const unsigned char *gray, int width,
                                int height, char *err, size_t err_size)
{
    if (!path || !gray || width <= 0 || height <= 0 || width > 16384 || height > 16384) {
        if (err && err_size) snprintf(err, err_size, "PNG: bad arguments (size %dx%d)", width, height);
        return XCNN_ERR_ARG;
    }
    unsigned char *z = NULL;
    size_t zlen = zlib_stored(gray, width, height, &z);
    if (!zlen) {
        if (err && err_size) snprintf(err, err_size, "out of memory writing '%s'", path);
        return XCNN_ERR_NOMEM;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(z);
        if (err && err_size) snprintf(err, err_size, "cannot write '%s'", path);
        return XCNN_ERR_IO;
    }
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[13];
    put_be32(ihdr, (uint32_t)width);
    put_be32(ihdr + 4, (uint32_t)height);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 0;  /* colour type 0: grayscale */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* filter method */
    ihdr[12] = 0; /* no interlace */
    int ok = fwrite(sig, 1, 8, f) == 8 && write_chunk(f, "IHDR", ihdr, 13) &&
             write_chunk(f, "IDAT", z, (uint32_t)zlen) && write_chunk(f, "IEND", NULL, 0);
    ok = (fclose(f) == 0) && ok;
    free(z);
    if (!ok) {
        if (err && err_size) snprintf(err, err_size, "error writing '%s'", path);
        return XCNN_ERR_IO;
    }
    return XCNN_OK;
}
