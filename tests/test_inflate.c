/* Inflate, zlib, gzip and our deflate: streams made by Python's zlib at
 * levels 0, 1, 6, 9 (tests/data/png, from tools/make_png_tests.py), round
 * trips through xcnn_zlib_encode, hand-made malformed streams (one per
 * error the decoder knows), truncations and random mutations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "../libxcnn/io/inflate.h"

#define DATA "tests/data/png/"

/* The same bytes as stream_input() in tools/make_png_tests.py. */
static unsigned char *stream_input(size_t n)
{
    static const char *words[9] = {"the ", "cat ", "sat ", "on ", "a ", "mat, ", "quickly\n",
                                   "\0\1\2", "zzzzzzzz"};
    static const size_t wlen[9] = {4, 4, 4, 3, 2, 5, 8, 3, 8};
    unsigned char *out = malloc(n + 64);
    size_t len = 0;
    uint32_t x = 12345;
    while (len < n) {
        x = (x * 1103515245u + 12345u) & 0x7fffffffu;
        uint32_t r = x >> 16;
        if (r % 7 == 0) {
            out[len++] = (unsigned char)(r & 255);
        } else if (r % 11 == 0 && len > 30000) {
            for (int k = 0; k < 40; k++, len++) out[len] = out[len - 30000];
        } else {
            memcpy(out + len, words[r % 9], wlen[r % 9]);
            len += wlen[r % 9];
        }
    }
    return out;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    unsigned char *d = NULL;
    xcnn_err e;
    if (xcnn_read_file(path, 1 << 24, &d, n, &e) != XCNN_OK) return NULL;
    return d;
}

/* --- A bit writer for hand-made streams ------------------------------- */

typedef struct {
    unsigned char b[4096];
    size_t n;
    int bit;
} bw;

static void put(bw *w, unsigned v, int nbits)
{
    for (int i = 0; i < nbits; i++) {
        if (w->bit == 0) w->b[w->n++] = 0;
        w->b[w->n - 1] |= (unsigned char)(((v >> i) & 1u) << w->bit);
        w->bit = (w->bit + 1) & 7;
    }
}

/* A Huffman code, most significant bit first. */
static void put_code(bw *w, unsigned code, int len)
{
    for (int i = len - 1; i >= 0; i--) put(w, (code >> i) & 1u, 1);
}

/* Dynamic block header whose code length code gives 4-bit codes to the
 * 16 symbols 0..13, 16 and 18 (a complete code; code = symbol for 0..13,
 * 14 for "16", 15 for "18"). */
static void dyn_header(bw *w, int last, int nlen, int ndist)
{
    static const int order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    put(w, (unsigned)last, 1);
    put(w, 2, 2);
    put(w, (unsigned)(nlen - 257), 5);
    put(w, (unsigned)(ndist - 1), 5);
    put(w, 18 - 4, 4); /* 18 code length codes: up to symbol 1 */
    for (int i = 0; i < 18; i++) {
        int s = order[i];
        put(w, (s <= 13 || s == 16 || s == 18) ? 4 : 0, 3);
    }
}

static void cl(bw *w, int sym) /* one code length symbol (0..13, 16, 18) */
{
    put_code(w, sym <= 13 ? (unsigned)sym : sym == 16 ? 14u : 15u, 4);
}

static xcnn_status inflate_bw(const bw *w, unsigned char *out, size_t cap, size_t *n, xcnn_err *e)
{
    return xcnn_inflate(w->b, w->n, NULL, out, cap, n, e);
}

/* Expect a failure with status st and a message containing `what`. */
static void expect_fail(const bw *w, xcnn_status st, const char *what, const char *name)
{
    unsigned char out[1024];
    size_t n = 0;
    xcnn_err e = {{0}};
    xcnn_status got = inflate_bw(w, out, sizeof out, &n, &e);
    check(got == st && strstr(e.msg, what) != NULL, "%s: %s", name, e.msg);
}

static void malformed_streams(void)
{
    bw w;
    unsigned char out[1024];
    size_t n;
    xcnn_err e = {{0}};

    memset(&w, 0, sizeof w);
    put(&w, 1, 1);
    put(&w, 3, 2);
    expect_fail(&w, XCNN_ERR_FORMAT, "block type 3", "block type 3 refused");

    memset(&w, 0, sizeof w);
    put(&w, 1, 1);
    put(&w, 0, 2);
    put(&w, 0, 5);
    put(&w, 5, 16);
    put(&w, 0xfff0, 16);
    expect_fail(&w, XCNN_ERR_FORMAT, "complement", "stored LEN/NLEN mismatch refused");

    /* Fixed block: 'a', then a match of 3 at distance 1 is fine ("aaaa"),
     * at distance 2 it reaches before the start. */
    for (int dist = 1; dist <= 2; dist++) {
        memset(&w, 0, sizeof w);
        put(&w, 1, 1);
        put(&w, 1, 2);
        put_code(&w, 0x30 + 'a', 8);
        put_code(&w, 1, 7);              /* length symbol 257: 3 */
        put_code(&w, (unsigned)(dist - 1), 5); /* distance symbols 0, 1: 1, 2 */
        put_code(&w, 0, 7);              /* end of block */
        if (dist == 1) {
            n = 0;
            xcnn_status st = inflate_bw(&w, out, sizeof out, &n, &e);
            check(st == XCNN_OK && n == 4 && memcmp(out, "aaaa", 4) == 0,
                  "overlapping match at distance 1 gives aaaa");
        } else {
            expect_fail(&w, XCNN_ERR_FORMAT, "before the start", "distance too far back refused");
        }
    }

    memset(&w, 0, sizeof w);
    put(&w, 1, 1);
    put(&w, 1, 2);
    put_code(&w, 0xC0 + 6, 8); /* length symbol 286 */
    expect_fail(&w, XCNN_ERR_FORMAT, "length symbol 286", "length symbol 286 refused");

    memset(&w, 0, sizeof w);
    put(&w, 1, 1);
    put(&w, 1, 2);
    put_code(&w, 0x30, 8);
    put_code(&w, 1, 7);
    put_code(&w, 30, 5); /* distance symbol 30 */
    expect_fail(&w, XCNN_ERR_FORMAT, "distance symbol 30", "distance symbol 30 refused");

    /* Code length code with all 19 lengths 1: over-subscribed. */
    memset(&w, 0, sizeof w);
    put(&w, 1, 1);
    put(&w, 2, 2);
    put(&w, 0, 5);
    put(&w, 0, 5);
    put(&w, 15, 4);
    for (int i = 0; i < 19; i++) put(&w, 1, 3);
    expect_fail(&w, XCNN_ERR_FORMAT, "code length code", "over-subscribed code length code refused");

    /* Code length code with a single code of length 2: incomplete. */
    memset(&w, 0, sizeof w);
    put(&w, 1, 1);
    put(&w, 2, 2);
    put(&w, 0, 5);
    put(&w, 0, 5);
    put(&w, 0, 4);
    put(&w, 2, 3);
    put(&w, 0, 3);
    put(&w, 0, 3);
    put(&w, 0, 3);
    expect_fail(&w, XCNN_ERR_FORMAT, "code length code", "incomplete code length code refused");

    memset(&w, 0, sizeof w);
    put(&w, 1, 1);
    put(&w, 2, 2);
    put(&w, 30, 5); /* 287 literal/length codes */
    put(&w, 0, 5);
    put(&w, 0, 4);
    expect_fail(&w, XCNN_ERR_FORMAT, "too many", "287 literal/length codes refused");

    memset(&w, 0, sizeof w);
    dyn_header(&w, 1, 257, 1);
    cl(&w, 16);
    expect_fail(&w, XCNN_ERR_FORMAT, "no previous", "repeat with no previous length refused");

    memset(&w, 0, sizeof w);
    dyn_header(&w, 1, 257, 1);
    cl(&w, 18);
    put(&w, 127, 7); /* 138 zeros */
    cl(&w, 18);
    put(&w, 127, 7); /* 276 > 258 */
    expect_fail(&w, XCNN_ERR_FORMAT, "past the end", "repeat past the last length refused");

    /* All 257 literal/length codes of length 1: over-subscribed. */
    memset(&w, 0, sizeof w);
    dyn_header(&w, 1, 257, 1);
    for (int i = 0; i < 258; i++) cl(&w, 1);
    expect_fail(&w, XCNN_ERR_FORMAT, "over-subscribed literal", "over-subscribed literal/length code refused");

    /* Literals 0 and 1 only, no end-of-block code. */
    memset(&w, 0, sizeof w);
    dyn_header(&w, 1, 257, 1);
    cl(&w, 1);
    cl(&w, 1);
    for (int i = 2; i < 258; i++) cl(&w, 0);
    expect_fail(&w, XCNN_ERR_FORMAT, "end-of-block", "code without end-of-block refused");

    /* Only end-of-block, length 2: incomplete. With length 1 it is the one
     * incomplete code allowed, and the block is empty (and valid). */
    for (int len = 1; len <= 2; len++) {
        memset(&w, 0, sizeof w);
        dyn_header(&w, 1, 257, 1);
        for (int i = 0; i < 256; i++) cl(&w, 0);
        cl(&w, len);
        cl(&w, 0); /* no distance codes */
        put_code(&w, 0, len);
        if (len == 2) {
            expect_fail(&w, XCNN_ERR_FORMAT, "incomplete literal", "incomplete literal/length code refused");
        } else {
            n = 99;
            check(inflate_bw(&w, out, sizeof out, &n, &e) == XCNN_OK && n == 0,
                  "single end-of-block code of length 1 accepted (empty block)");
        }
    }

    /* Literals 'a' and end-of-block (length 1 each) and no distance code:
     * fine for literals. Then three codes of length 2 (incomplete), a match
     * when there is no distance code, and two distance codes of length 2
     * (incomplete). */
    memset(&w, 0, sizeof w);
    dyn_header(&w, 1, 257, 1);
    for (int i = 0; i < 257; i++) cl(&w, i == 'a' || i == 256 ? 1 : 0);
    cl(&w, 0);
    put_code(&w, 0, 1); /* 'a' */
    put_code(&w, 0, 1); /* 'a' */
    put_code(&w, 1, 1); /* end */
    n = 0;
    check(inflate_bw(&w, out, sizeof out, &n, &e) == XCNN_OK && n == 2 && out[0] == 'a' && out[1] == 'a',
          "literal-only dynamic block with an empty distance code");
    memset(&w, 0, sizeof w);
    dyn_header(&w, 1, 258, 1);
    for (int i = 0; i < 258; i++) cl(&w, i == 'a' || i == 256 || i == 257 ? 2 : 0);
    cl(&w, 0);
    put_code(&w, 0, 2); /* 'a': 3 codes of 4 possible, an incomplete code */
    expect_fail(&w, XCNN_ERR_FORMAT, "incomplete literal", "three codes of length 2 refused (incomplete)");
    memset(&w, 0, sizeof w);
    dyn_header(&w, 1, 258, 1);
    for (int i = 0; i < 258; i++) cl(&w, i == 'a' ? 1 : i == 256 || i == 257 ? 2 : 0);
    cl(&w, 0);
    put_code(&w, 0, 1);  /* 'a' */
    put_code(&w, 3, 2);  /* length symbol 257 (code 11) */
    put_code(&w, 0, 1);
    expect_fail(&w, XCNN_ERR_FORMAT, "invalid distance code", "match with an empty distance code refused");
    memset(&w, 0, sizeof w);
    dyn_header(&w, 1, 258, 2);
    for (int i = 0; i < 258; i++) cl(&w, i == 'a' ? 1 : i == 256 || i == 257 ? 2 : 0);
    cl(&w, 2);
    cl(&w, 2);
    expect_fail(&w, XCNN_ERR_FORMAT, "incomplete distance", "incomplete distance code refused");

    /* Output limit: "aaaa" into 3 bytes. */
    memset(&w, 0, sizeof w);
    put(&w, 1, 1);
    put(&w, 1, 2);
    put_code(&w, 0x30 + 'a', 8);
    put_code(&w, 1, 7);
    put_code(&w, 0, 5);
    put_code(&w, 0, 7);
    xcnn_status st = inflate_bw(&w, out, 3, &n, &e);
    check(st == XCNN_ERR_LIMIT, "output one byte short: limit error: %s", e.msg);
    st = inflate_bw(&w, out, 4, &n, &e);
    check(st == XCNN_OK && n == 4, "output exactly the right size: ok");
}

static void zlib_header_errors(const unsigned char *z, size_t zn)
{
    unsigned char *bad = malloc(zn), *out = malloc(40000);
    size_t n;
    xcnn_err e = {{0}};
    memcpy(bad, z, zn);
    bad[0] = 0x79; /* CM 9 */
    check(xcnn_zlib_decode(bad, zn, out, 40000, &n, &e) == XCNN_ERR_FORMAT, "zlib CM 9 refused: %s", e.msg);
    memcpy(bad, z, zn);
    bad[1] ^= 1;
    check(xcnn_zlib_decode(bad, zn, out, 40000, &n, &e) == XCNN_ERR_FORMAT && strstr(e.msg, "check"),
          "zlib FCHECK wrong refused: %s", e.msg);
    unsigned char dict[2] = {0x78, 0x20};
    dict[1] = (unsigned char)(dict[1] + (31 - (0x78 * 256 + dict[1]) % 31) % 31);
    check(xcnn_zlib_decode(dict, 2, out, 40000, &n, &e) == XCNN_ERR_UNSUPPORTED,
          "zlib preset dictionary refused: %s", e.msg);
    memcpy(bad, z, zn);
    bad[zn - 1] ^= 0x40;
    check(xcnn_zlib_decode(bad, zn, out, 40000, &n, &e) == XCNN_ERR_FORMAT && strstr(e.msg, "Adler"),
          "zlib Adler-32 mismatch refused: %s", e.msg);
    free(bad);
    free(out);
}

/* Decode Python's zlib streams; every truncation must fail. */
static void python_streams(const unsigned char *ref)
{
    for (int level = 0; level <= 9; level += level == 0 ? 1 : level == 1 ? 5 : 3) {
        char path[256];
        snprintf(path, sizeof path, DATA "zlib_l%d.z", level);
        size_t zn = 0;
        unsigned char *z = read_all(path, &zn);
        if (!check(z != NULL, "read %s", path)) continue;
        size_t want = level == 0 ? 4000 : 40000, n = 0;
        unsigned char *out = malloc(want);
        xcnn_err e = {{0}};
        xcnn_status st = xcnn_zlib_decode(z, zn, out, want, &n, &e);
        check(st == XCNN_OK && n == want && memcmp(out, ref, want) == 0,
              "Python zlib level %d: %zu bytes -> %zu, identical (%s)", level, zn, n, e.msg);
        /* Truncations: every length near both ends, every 37th between. */
        int bad = 0, tried = 0;
        for (size_t len = 0; len < zn; len += len < 64 || zn - len < 64 ? 1 : 37, tried++) {
            st = xcnn_zlib_decode(z, len, out, want, &n, &e);
            if (st != XCNN_ERR_FORMAT) bad++;
        }
        check(bad == 0, "level %d: %d truncations give a format error (%d do not)", level, tried, bad);
        /* Every single-byte change: an error, or (padding bits) the same data. */
        bad = 0;
        size_t step = zn / 100 + 1;
        for (size_t i = 0; i < zn; i += step) {
            for (int bit = 0; bit < 8; bit++) {
                z[i] ^= (unsigned char)(1 << bit);
                st = xcnn_zlib_decode(z, zn, out, want, &n, &e);
                if (st == XCNN_OK && (n != want || memcmp(out, ref, want) != 0)) bad++;
                if (st != XCNN_OK && e.msg[0] == 0) bad++;
                z[i] ^= (unsigned char)(1 << bit);
            }
        }
        check(bad == 0, "level %d: every bit flip gives an error or the same data (%d bad)", level, bad);
        if (level == 9) {
            st = xcnn_zlib_decode(z, zn, out, want - 1, &n, &e);
            check(st == XCNN_ERR_LIMIT, "output buffer one byte short: %s", e.msg);
            zlib_header_errors(z, zn);
        }
        free(out);
        free(z);
    }
}

static void gzip_files(const unsigned char *ref)
{
    size_t zn = 0, n = 0;
    unsigned char *out = NULL;
    xcnn_err e = {{0}};
    unsigned char *z = read_all(DATA "fields.gz", &zn);
    if (check(z != NULL, "read fields.gz")) {
        xcnn_status st = xcnn_gzip_decode(z, zn, 1 << 20, &out, &n, &e);
        check(st == XCNN_OK && n == 5000 && memcmp(out, ref, 5000) == 0,
              "gzip with FEXTRA, FNAME, FCOMMENT, FHCRC: %s", e.msg);
        free(out);
        z[12] ^= 1; /* inside FEXTRA: the header CRC no longer matches */
        check(xcnn_gzip_decode(z, zn, 1 << 20, &out, &n, &e) == XCNN_ERR_FORMAT && strstr(e.msg, "header CRC"),
              "gzip header CRC mismatch refused: %s", e.msg);
        z[12] ^= 1;
        z[zn - 6] ^= 1;
        check(xcnn_gzip_decode(z, zn, 1 << 20, &out, &n, &e) == XCNN_ERR_FORMAT && strstr(e.msg, "CRC-32"),
              "gzip data CRC mismatch refused: %s", e.msg);
        z[zn - 6] ^= 1;
        z[zn - 4] ^= 1;
        xcnn_status st2 = xcnn_gzip_decode(z, zn, 1 << 20, &out, &n, &e);
        check(st2 == XCNN_ERR_FORMAT && strstr(e.msg, "length"), "gzip ISIZE mismatch refused: %s", e.msg);
        z[zn - 4] ^= 1;
        check(xcnn_gzip_decode(z, zn, 4999, &out, &n, &e) == XCNN_ERR_LIMIT, "gzip over max_out refused: %s",
              e.msg);
        int bad = 0;
        for (size_t len = 0; len < zn; len++) {
            out = NULL;
            if (xcnn_gzip_decode(z, len, 1 << 20, &out, &n, &e) != XCNN_ERR_FORMAT || out) bad++;
        }
        check(bad == 0, "all %zu gzip truncations refused (%d not)", zn, bad);
        unsigned char *z2 = malloc(zn + 3);
        memcpy(z2, z, zn);
        memcpy(z2 + zn, "abc", 3);
        check(xcnn_gzip_decode(z2, zn + 3, 1 << 20, &out, &n, &e) == XCNN_ERR_FORMAT && strstr(e.msg, "trailing"),
              "gzip trailing garbage refused: %s", e.msg);
        free(z2);
        free(z);
    }
    z = read_all(DATA "multi.gz", &zn);
    if (check(z != NULL, "read multi.gz")) {
        /* The last member's ISIZE undersizes the buffer: it must grow. */
        xcnn_status st = xcnn_gzip_decode(z, zn, 1 << 20, &out, &n, &e);
        check(st == XCNN_OK && n == 12000 && memcmp(out, ref, 12000) == 0,
              "gzip with 4 members (one empty, one stored): %zu bytes (%s)", n, e.msg);
        free(out);
        check(xcnn_gzip_decode(z, zn, 11999, &out, &n, &e) == XCNN_ERR_LIMIT, "multi-member over max_out: %s",
              e.msg);
        free(z);
    }
}

/* Our compressor, checked by our decompressor (and the tests above check
 * the decompressor against Python's zlib). */
static void deflate_round_trips(const unsigned char *ref)
{
    test_rng r = {99};
    unsigned char *noise = malloc(70000);
    for (int i = 0; i < 70000; i++) noise[i] = (unsigned char)test_rng_next(&r);
    const unsigned char *inputs[3] = {ref, noise, ref};
    size_t sizes[3] = {40000, 70000, 0};
    const char *names[3] = {"text-like 40000", "noise 70000", "empty"};
    for (int k = 0; k < 3; k++) {
        for (int level = 0; level <= 9; level += level == 0 ? 1 : level == 1 ? 5 : 3) {
            unsigned char *z = NULL;
            size_t zn = 0, n = 0;
            xcnn_err e = {{0}};
            xcnn_status st = xcnn_zlib_encode(inputs[k], sizes[k], level, &z, &zn, &e);
            unsigned char *back = malloc(sizes[k] + 1);
            st = st ? st : xcnn_zlib_decode(z, zn, back, sizes[k], &n, &e);
            check(st == XCNN_OK && n == sizes[k] && (n == 0 || memcmp(back, inputs[k], n) == 0),
                  "deflate level %d, %s: %zu -> %zu bytes, round trip (%s)", level, names[k], sizes[k],
                  zn, e.msg);
            if (k == 0 && level == 6)
                check(zn < sizes[k] / 2, "level 6 compresses text-like data to under half (%zu)", zn);
            if (k == 1)
                check(zn <= sizes[k] + 5 * (sizes[k] / 65535 + 1) + 6, "noise is stored, not expanded (%zu)", zn);
            free(back);
            free(z);
        }
    }
    free(noise);
}

/* Random bytes and random mutations: no crash, no hang, and an error
 * always has a message. */
static void fuzz(const unsigned char *ref)
{
    test_rng r = {7};
    unsigned char in[600], out[4096];
    int bad = 0, ok = 0;
    unsigned char *z = NULL;
    size_t zn = 0;
    xcnn_err e = {{0}};
    xcnn_zlib_encode(ref, 3000, 6, &z, &zn, &e);
    for (int it = 0; it < 20000; it++) {
        size_t len;
        if (it % 2 == 0) { /* random bytes, often starting with a dynamic block */
            len = (size_t)test_rng_int(&r, 0, (int)sizeof in);
            for (size_t i = 0; i < len; i++) in[i] = (unsigned char)test_rng_next(&r);
            if (len && it % 4 == 0) in[0] = (unsigned char)((in[0] & ~6u) | 4u);
        } else { /* our stream of the test input, a few bytes changed, cut */
            len = zn - 2 < sizeof in ? zn - 2 : sizeof in;
            memcpy(in, z + 2, len);
            for (int k = test_rng_int(&r, 1, 4); k > 0; k--)
                in[test_rng_int(&r, 0, (int)len - 1)] ^= (unsigned char)(1u << test_rng_int(&r, 0, 7));
        }
        size_t n = 0;
        e.msg[0] = 0;
        xcnn_status st = xcnn_inflate(in, len, NULL, out, sizeof out, &n, &e);
        if (st == XCNN_OK) ok++;
        else if (e.msg[0] == 0 || (st != XCNN_ERR_FORMAT && st != XCNN_ERR_LIMIT)) bad++;
    }
    check(bad == 0, "20000 random and mutated streams: no crash, %d decoded, errors all with messages (%d bad)",
          ok, bad);
    free(z);
}

int main(void)
{
    unsigned char *ref = stream_input(40000);
    check(xcnn_adler32(1, (const unsigned char *)"Wikipedia", 9) == 0x11E60398, "Adler-32 of 'Wikipedia'");
    check(xcnn_crc32(0, (const unsigned char *)"123456789", 9) == 0xCBF43926, "CRC-32 check value");
    check(xcnn_crc32(xcnn_crc32(0, (const unsigned char *)"1234", 4), (const unsigned char *)"56789", 5) ==
              0xCBF43926,
          "CRC-32 chained");
    malformed_streams();
    python_streams(ref);
    gzip_files(ref);
    deflate_round_trips(ref);
    fuzz(ref);
    free(ref);
    return check_summary();
}
