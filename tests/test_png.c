/* Image reading: the PNG test set of tools/make_png_tests.py (every colour
 * type, bit depth, filter type, interlace, tRNS), PNM read and write, and
 * damaged files: each truncation, bad CRCs, bad zlib and Huffman data,
 * huge sizes, palette indices out of range, missing chunks, too much data.
 * Damaged data is always passed in a buffer of its exact size, so that
 * valgrind sees any read past the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "../include/xcnn_image.h"
#include "../libxcnn/io/inflate.h"

#define DATA "tests/data/png/"
static const char *tmp;

static unsigned char *read_all(const char *path, size_t *n)
{
    unsigned char *d = NULL;
    xcnn_err e;
    if (xcnn_read_file(path, 1 << 24, &d, n, &e) != XCNN_OK) return NULL;
    return d;
}

/* Decode a copy of data[0..n) held in a buffer of exactly n bytes. */
static xcnn_status decode(const unsigned char *data, size_t n, xcnn_image *img, char *err, size_t es)
{
    unsigned char *copy = malloc(n ? n : 1);
    if (n) memcpy(copy, data, n);
    xcnn_status st = xcnn_image_read_memory(copy, n, "test.png", img, err, es);
    free(copy);
    return st;
}

/* --- Building PNGs ----------------------------------------------------- */

typedef struct {
    unsigned char *d;
    size_t n, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->d = realloc(b->d, b->cap);
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void put_be32(buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    put(b, p, 4);
}

static void chunk(buf *b, const char *type, const unsigned char *data, uint32_t len)
{
    put_be32(b, len);
    size_t at = b->n;
    put(b, type, 4);
    if (len) put(b, data, len);
    put_be32(b, xcnn_crc32(0, b->d + at, (size_t)len + 4));
}

static void ihdr(buf *b, uint32_t w, uint32_t h, int depth, int ctype, int interlace)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    put(b, sig, 8);
    unsigned char d[13] = {(unsigned char)(w >> 24), (unsigned char)(w >> 16), (unsigned char)(w >> 8),
                           (unsigned char)w, (unsigned char)(h >> 24), (unsigned char)(h >> 16),
                           (unsigned char)(h >> 8), (unsigned char)h, (unsigned char)depth,
                           (unsigned char)ctype, 0, 0, (unsigned char)interlace};
    chunk(b, "IHDR", d, 13);
}

/* A PNG from filtered rows `raw`, compressed with our deflate. */
static buf make_png(uint32_t w, uint32_t h, int depth, int ctype, const unsigned char *plte, int plte_n,
                    const unsigned char *raw, size_t raw_n)
{
    buf b = {0};
    ihdr(&b, w, h, depth, ctype, 0);
    if (plte) chunk(&b, "PLTE", plte, (uint32_t)(3 * plte_n));
    unsigned char *z = NULL;
    size_t zn = 0;
    xcnn_zlib_encode(raw, raw_n, 6, &z, &zn, NULL);
    chunk(&b, "IDAT", z, (uint32_t)zn);
    free(z);
    chunk(&b, "IEND", NULL, 0);
    return b;
}

/* Offset of the length field of the first chunk of this type, or 0. */
static size_t find_chunk(const unsigned char *png, size_t n, const char *type)
{
    for (size_t p = 8; p + 12 <= n;) {
        uint32_t len = (uint32_t)png[p] << 24 | (uint32_t)png[p + 1] << 16 | (uint32_t)png[p + 2] << 8 | png[p + 3];
        if (memcmp(png + p + 4, type, 4) == 0) return p;
        p += (size_t)len + 12;
    }
    return 0;
}

static void fix_crc(unsigned char *png, size_t at)
{
    uint32_t len = (uint32_t)png[at] << 24 | (uint32_t)png[at + 1] << 16 | (uint32_t)png[at + 2] << 8 | png[at + 3];
    uint32_t c = xcnn_crc32(0, png + at + 4, (size_t)len + 4);
    unsigned char *t = png + at + 8 + len;
    t[0] = (unsigned char)(c >> 24);
    t[1] = (unsigned char)(c >> 16);
    t[2] = (unsigned char)(c >> 8);
    t[3] = (unsigned char)c;
}

/* Expect status st and a message containing `what`; the image is empty. */
static void expect(const unsigned char *d, size_t n, xcnn_status st, const char *what, const char *name)
{
    xcnn_image img;
    char err[512] = "";
    xcnn_status got = decode(d, n, &img, err, sizeof err);
    check(got == st && strstr(err, what) != NULL && img.pixels == NULL, "%s: %s", name, err);
    xcnn_image_free(&img);
}

/* --- Tests ------------------------------------------------------------- */

static void test_set(void)
{
    FILE *m = fopen(DATA "manifest.txt", "r");
    if (!check(m != NULL, "open " DATA "manifest.txt")) return;
    char name[128];
    int w, h, ch, files = 0;
    while (fscanf(m, "%127s %d %d %d", name, &w, &h, &ch) == 4) {
        char path[256];
        size_t n = 0;
        snprintf(path, sizeof path, DATA "%s.bin", name);
        unsigned char *want = read_all(path, &n);
        snprintf(path, sizeof path, DATA "%s.png", name);
        xcnn_image img;
        char err[512] = "";
        xcnn_status st = xcnn_image_read(path, &img, err, sizeof err);
        size_t diff = 0;
        if (st == XCNN_OK && want && n == (size_t)w * h * ch && img.width == w && img.height == h &&
            img.channels == ch)
            for (size_t i = 0; i < n; i++) diff += img.pixels[i] != want[i];
        else
            diff = (size_t)-1;
        check(diff == 0, "%-14s %2dx%-2d %d channels: pixels as expected (%zu differ) %s", name, w, h, ch,
              diff == (size_t)-1 ? 0 : diff, err);
        xcnn_image_free(&img);
        free(want);
        files++;
    }
    fclose(m);
    check(files >= 40, "%d test images", files);
}

static void truncations(void)
{
    const char *files[] = {"c3_d4_i", "c6_d16", "c0_d1_3x2_i", "c2_d8_1x1_i", "c2_d16_trns_i", "pil_rgb"};
    for (int f = 0; f < 6; f++) {
        char path[256];
        size_t n = 0;
        snprintf(path, sizeof path, DATA "%s.png", files[f]);
        unsigned char *d = read_all(path, &n);
        if (!check(d != NULL, "read %s", path)) continue;
        int bad = 0;
        for (size_t len = 0; len < n; len++) {
            xcnn_image img;
            char err[512] = "";
            xcnn_status st = decode(d, len, &img, err, sizeof err);
            if (st == XCNN_OK || err[0] == 0 || img.pixels) bad++;
            xcnn_image_free(&img);
        }
        check(bad == 0, "%s: all %zu truncations refused with a message (%d not)", files[f], n, bad);
        free(d);
    }
}

static void corruptions(void)
{
    size_t n = 0;
    unsigned char *d = read_all(DATA "c2_d8_i.png", &n);
    if (!check(d != NULL, "read c2_d8_i.png")) return;
    xcnn_image ref;
    char err[512] = "";
    check(decode(d, n, &ref, err, sizeof err) == XCNN_OK, "c2_d8_i.png decodes");

    /* A flipped bit in each chunk (its data, or its CRC if it has none). */
    int bad = 0, chunks = 0;
    for (size_t p = 8; p + 12 <= n; chunks++) {
        uint32_t len = (uint32_t)d[p] << 24 | (uint32_t)d[p + 1] << 16 | (uint32_t)d[p + 2] << 8 | d[p + 3];
        size_t at = len ? p + 8 + len / 2 : p + 8;
        xcnn_image img;
        d[at] ^= 0x10;
        err[0] = 0;
        if (decode(d, n, &img, err, sizeof err) != XCNN_ERR_FORMAT || !strstr(err, "CRC")) bad++;
        d[at] ^= 0x10;
        xcnn_image_free(&img);
        p += (size_t)len + 12;
    }
    check(bad == 0 && chunks >= 4, "a bad CRC in each of %d chunks refused (%d not): %s", chunks, bad, err);

    /* Every bit of the IDAT data flipped, CRC fixed: an error or the same image. */
    size_t at = find_chunk(d, n, "IDAT");
    uint32_t len = (uint32_t)d[at + 2] << 8 | d[at + 3];
    bad = 0;
    int errors = 0;
    for (uint32_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            d[at + 8 + i] ^= (unsigned char)(1 << bit);
            fix_crc(d, at);
            xcnn_image img;
            err[0] = 0;
            xcnn_status st = decode(d, n, &img, err, sizeof err);
            if (st == XCNN_OK) bad += memcmp(img.pixels, ref.pixels, (size_t)ref.width * ref.height * 3) != 0;
            else if (err[0] == 0) bad++;
            else errors++;
            xcnn_image_free(&img);
            d[at + 8 + i] ^= (unsigned char)(1 << bit);
        }
    }
    fix_crc(d, at);
    check(bad == 0 && errors > 0, "%u IDAT bytes x 8 bit flips: %d errors, the rest decode identically (%d bad)",
          len, errors, bad);

    d[at + 8] = 0x79; /* zlib CM 9 */
    fix_crc(d, at);
    expect(d, n, XCNN_ERR_FORMAT, "zlib", "bad zlib header refused");
    d[at + 8] = 0x78;
    fix_crc(d, at);

    /* IDAT length past the end of the file. */
    unsigned char save[4];
    memcpy(save, d + at, 4);
    d[at] = 0x7f;
    d[at + 1] = 0xff;
    expect(d, n, XCNN_ERR_FORMAT, "runs past the end", "chunk length past EOF refused");
    d[at] = 0xff;
    expect(d, n, XCNN_ERR_FORMAT, "runs past the end", "chunk length 0xffff.... refused");
    memcpy(d + at, save, 4);

    /* A chunk type that is not letters. */
    d[at + 5] = '1';
    expect(d, n, XCNN_ERR_FORMAT, "chunk type", "chunk type with a digit refused");
    d[at + 5] = 'D';
    xcnn_image_free(&ref);
    free(d);
}

static void built_files(void)
{
    xcnn_image img;
    char err[512] = "";
    /* A correct file from the builder first: the refusals below are meaningful. */
    static const unsigned char plte[6] = {10, 20, 30, 200, 100, 50};
    unsigned char raw[3] = {0, 1, 0};
    buf b = make_png(2, 1, 8, 3, plte, 2, raw, 3);
    xcnn_status st = decode(b.d, b.n, &img, err, sizeof err);
    check(st == XCNN_OK && img.channels == 3 && img.pixels[0] == 200 && img.pixels[5] == 30,
          "built palette PNG (our deflate) decodes: %s", err);
    xcnn_image_free(&img);
    free(b.d);

    raw[1] = 5;
    b = make_png(2, 1, 8, 3, plte, 2, raw, 3);
    expect(b.d, b.n, XCNN_ERR_FORMAT, "palette index 5 out of range", "palette index out of range refused");
    free(b.d);
    unsigned char raw1[2] = {0, 0x40}; /* 1-bit: index 0 then 1 */
    b = make_png(2, 1, 1, 3, plte, 1, raw1, 2);
    expect(b.d, b.n, XCNN_ERR_FORMAT, "palette index 1", "1-bit palette index out of range refused");
    free(b.d);
    b = make_png(2, 1, 8, 3, NULL, 0, raw, 3);
    expect(b.d, b.n, XCNN_ERR_FORMAT, "no PLTE", "palette PNG without PLTE refused");
    free(b.d);

    unsigned char rows[9] = {0, 1, 2, 0, 3, 4, 0, 9, 9}; /* 2x2 gray, then an extra row */
    b = make_png(2, 2, 8, 0, NULL, 0, rows, 6);
    st = decode(b.d, b.n, &img, err, sizeof err);
    check(st == XCNN_OK && img.pixels[0] == 1 && img.pixels[1] == 2, "built 2x2 gray decodes");
    xcnn_image_free(&img);
    free(b.d);
    rows[3] = 5;
    b = make_png(2, 2, 8, 0, NULL, 0, rows, 6);
    expect(b.d, b.n, XCNN_ERR_FORMAT, "invalid filter type 5", "filter type 5 refused");
    free(b.d);
    rows[3] = 0;
    b = make_png(2, 2, 8, 0, NULL, 0, rows, 9);
    expect(b.d, b.n, XCNN_ERR_FORMAT, "longer than", "too much image data refused");
    free(b.d);
    b = make_png(2, 2, 8, 0, NULL, 0, rows, 3);
    expect(b.d, b.n, XCNN_ERR_FORMAT, "truncated", "too little image data refused");
    free(b.d);

    /* A decompression bomb: 1x1 pixel, 16 MiB of zeros. */
    size_t big = (size_t)16 << 20;
    unsigned char *zeros = calloc(big, 1);
    b = make_png(1, 1, 8, 0, NULL, 0, zeros, big);
    free(zeros);
    expect(b.d, b.n, XCNN_ERR_FORMAT, "longer than the 2 bytes", "decompression bomb stopped after 2 bytes");
    free(b.d);

    /* Bad Huffman data: a dynamic block whose code length code is empty. */
    memset(&b, 0, sizeof b);
    ihdr(&b, 1, 1, 8, 0, 0);
    static const unsigned char huff[8] = {0x78, 0x01, 0x05, 0, 0, 0, 0, 0};
    chunk(&b, "IDAT", huff, 8);
    chunk(&b, "IEND", NULL, 0);
    expect(b.d, b.n, XCNN_ERR_FORMAT, "code length code", "bad Huffman data refused");
    free(b.d);

    /* Sizes and header fields. */
    struct { uint32_t w, h; int depth, ctype; xcnn_status st; const char *what; } hdrs[] = {
        {20000, 1, 8, 0, XCNN_ERR_LIMIT, "over the limit"},
        {16384, 16384, 8, 2, XCNN_ERR_LIMIT, "over the limit"},
        {0, 5, 8, 0, XCNN_ERR_FORMAT, "invalid PNG size"},
        {0x80000000u, 1, 8, 0, XCNN_ERR_FORMAT, "invalid PNG size"},
        {4, 4, 4, 2, XCNN_ERR_FORMAT, "colour type 2 with bit depth 4"},
        {4, 4, 16, 3, XCNN_ERR_FORMAT, "colour type 3 with bit depth 16"},
        {4, 4, 8, 5, XCNN_ERR_FORMAT, "colour type 5"},
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        memset(&b, 0, sizeof b);
        ihdr(&b, hdrs[i].w, hdrs[i].h, hdrs[i].depth, hdrs[i].ctype, 0);
        chunk(&b, "IDAT", huff, 8);
        chunk(&b, "IEND", NULL, 0);
        char name[128];
        snprintf(name, sizeof name, "IHDR %ux%u depth %d colour %d refused", hdrs[i].w, hdrs[i].h,
                 hdrs[i].depth, hdrs[i].ctype);
        expect(b.d, b.n, hdrs[i].st, hdrs[i].what, name);
        free(b.d);
    }

    memset(&b, 0, sizeof b);
    ihdr(&b, 1, 1, 8, 0, 0);
    chunk(&b, "IEND", NULL, 0);
    expect(b.d, b.n, XCNN_ERR_FORMAT, "no IDAT", "PNG without IDAT refused");
    free(b.d);

    memset(&b, 0, sizeof b);
    ihdr(&b, 1, 1, 8, 0, 0);
    chunk(&b, "ABCD", huff, 3);
    chunk(&b, "IEND", NULL, 0);
    expect(b.d, b.n, XCNN_ERR_UNSUPPORTED, "critical PNG chunk 'ABCD'", "unknown critical chunk refused");
    free(b.d);

    /* tEXt before IHDR. */
    memset(&b, 0, sizeof b);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    put(&b, sig, 8);
    chunk(&b, "tEXt", huff, 3);
    expect(b.d, b.n, XCNN_ERR_FORMAT, "not IHDR", "IHDR not first refused");
    free(b.d);

    memset(&b, 0, sizeof b);
    ihdr(&b, 2, 1, 8, 3, 0);
    chunk(&b, "PLTE", plte, 6);
    chunk(&b, "tRNS", plte, 3);
    expect(b.d, b.n, XCNN_ERR_FORMAT, "tRNS has 3 entries", "tRNS longer than the palette refused");
    free(b.d);
}

static int read_tmp(const char *content, size_t n, xcnn_image *img, char *err, size_t es)
{
    FILE *f = fopen(tmp, "wb");
    fwrite(content, 1, n, f);
    fclose(f);
    return xcnn_image_read(tmp, img, err, es);
}

static void pnm(void)
{
    xcnn_image img, back;
    char err[512] = "";
    unsigned char px[2 * 3 * 3];
    for (int i = 0; i < 18; i++) px[i] = (unsigned char)(i * 14 + 3);
    for (int ch = 1; ch <= 3; ch += 2) {
        xcnn_image src = {3, 2, ch, px};
        xcnn_status st = xcnn_image_write_pnm(tmp, &src, err, sizeof err);
        st = st ? st : xcnn_image_read(tmp, &back, err, sizeof err);
        check(st == XCNN_OK && back.width == 3 && back.height == 2 && back.channels == ch &&
                  memcmp(back.pixels, px, (size_t)(6 * ch)) == 0,
              "P%d write and read back (%d channel%s)", ch == 1 ? 5 : 6, ch, ch > 1 ? "s" : "");
        xcnn_image_free(&back);
    }
    xcnn_image rgba = {3, 1, 4, px};
    check(xcnn_image_write_pnm(tmp, &rgba, err, sizeof err) == XCNN_ERR_ARG, "RGBA PNM write refused: %s", err);

    const char p2[] = "P2\n# a comment\n3 1 # another\n15\n0 15\n 7\n";
    check(read_tmp(p2, sizeof p2 - 1, &img, err, sizeof err) == XCNN_OK && img.channels == 1 &&
              img.pixels[0] == 0 && img.pixels[1] == 255 && img.pixels[2] == 119,
          "P2 with comments, maxval 15 scaled (7 -> 119)");
    xcnn_image_free(&img);
    const char p3[] = "P3 2 1 255 1 2 3 4 5 6";
    check(read_tmp(p3, sizeof p3 - 1, &img, err, sizeof err) == XCNN_OK && img.channels == 3 &&
              img.pixels[5] == 6,
          "P3 ASCII RGB");
    xcnn_image_free(&img);
    const char p5[] = "P5 2 1 65535\n\xff\xff\x80\x00";
    check(read_tmp(p5, sizeof p5 - 1, &img, err, sizeof err) == XCNN_OK && img.pixels[0] == 255 &&
              img.pixels[1] == 128,
          "P5 16-bit samples scaled");
    xcnn_image_free(&img);

    struct { const char *data; xcnn_status st; const char *what; } bad[] = {
        {"P6 2 2 255\nabcdefghijk", XCNN_ERR_FORMAT, "truncated"},
        {"P5 2 1 100\n\x10\x70", XCNN_ERR_FORMAT, "exceeds maxval"},
        {"P2 2 1 10 3", XCNN_ERR_FORMAT, "truncated"},
        {"P5 2 1", XCNN_ERR_FORMAT, "header"},
        {"P5 0 1 255\n", XCNN_ERR_FORMAT, "invalid"},
        {"P5 2 1 70000\n", XCNN_ERR_FORMAT, "invalid"},
        {"P5 99999 99999 255\n", XCNN_ERR_LIMIT, "limit"},
        {"P5 99999999999999 1 255\n", XCNN_ERR_LIMIT, "limit"},
        {"P5 1 1 255x", XCNN_ERR_FORMAT, "whitespace"},
        {"P4 8 1\n\xff", XCNN_ERR_UNSUPPORTED, "not a PNG, PPM or PGM"},
        {"\xff\xd8\xff\xe0 JFIF", XCNN_ERR_UNSUPPORTED, "JPEG"},
        {"hello", XCNN_ERR_UNSUPPORTED, tmp},
        {"", XCNN_ERR_UNSUPPORTED, tmp},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        xcnn_status st = read_tmp(bad[i].data, strlen(bad[i].data), &img, err, sizeof err);
        check(st == bad[i].st && strstr(err, bad[i].what) && !img.pixels, "bad file %zu refused: %s", i, err);
        xcnn_image_free(&img);
    }
    xcnn_status st = xcnn_image_read("build/no/such/file.png", &img, err, sizeof err);
    check(st == XCNN_ERR_IO && strstr(err, "build/no/such/file.png"), "missing file: %s", err);
}

int main(void)
{
    tmp = test_tmp_path("test_png.tmp");
    test_set();
    truncations();
    corruptions();
    built_files();
    pnm();
    remove(tmp);
    return check_summary();
}
