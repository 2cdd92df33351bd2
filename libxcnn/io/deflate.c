/*
 * A small deflate compressor (RFC 1951) in a zlib wrapper (RFC 1950), to
 * make our PNGs smaller than stored blocks do.
 *
 * LZ77: at each position, hash the next 3 bytes, follow the chain of
 * earlier positions with the same hash (up to a number of steps set by the
 * level) within the 32 KiB window, and take the longest match of 3..258
 * bytes if any (greedy, no lazy matching). The literals and (length,
 * distance) pairs are written with the fixed Huffman code of RFC 1951
 * 3.2.6, in one final block. If that comes out larger than storing the data
 * (noise), the data is stored instead.
 */
#include <stdlib.h>
#include <string.h>
#include "inflate.h"

#define WSIZE 32768
#define HBITS 15
#define MINMATCH 3
#define MAXMATCH 258

typedef struct {
    unsigned char *buf;
    size_t pos;        /* bytes written  */
    uint64_t bitbuf;
    int bitcnt;
} bit_writer;

/* Append n bits of v, least significant first (the buffer is sized for
 * the worst case in advance). */
static void put_bits(bit_writer *w, unsigned v, int n)
{
    w->bitbuf |= (uint64_t)v << w->bitcnt;
    w->bitcnt += n;
    while (w->bitcnt >= 8) {
        w->buf[w->pos++] = (unsigned char)w->bitbuf;
        w->bitbuf >>= 8;
        w->bitcnt -= 8;
    }
}

/* Huffman codes are sent most significant bit first. */
static void put_code(bit_writer *w, unsigned code, int len)
{
    unsigned r = 0;
    for (int i = 0; i < len; i++) r = (r << 1) | ((code >> i) & 1u);
    put_bits(w, r, len);
}

/* The fixed literal/length code: 0-143 8 bits from 0x30, 144-255 9 bits
 * from 0x190, 256-279 7 bits from 0, 280-287 8 bits from 0xC0. */
static void put_litlen(bit_writer *w, int sym)
{
    if (sym < 144) put_code(w, 0x30u + (unsigned)sym, 8);
    else if (sym < 256) put_code(w, 0x190u + (unsigned)(sym - 144), 9);
    else if (sym < 280) put_code(w, (unsigned)(sym - 256), 7);
    else put_code(w, 0xC0u + (unsigned)(sym - 280), 8);
}

static void put_match(bit_writer *w, int len, size_t dist)
{
    static const short lbase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                    31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
    static const short lext[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                   2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    static const int dbase[30] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                  33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                  1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
    static const short dext[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                   6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
    int l = 28;
    while (lbase[l] > len) l--;
    put_litlen(w, 257 + l);
    put_bits(w, (unsigned)(len - lbase[l]), lext[l]);
    int d = 29;
    while ((size_t)dbase[d] > dist) d--;
    put_code(w, (unsigned)d, 5);
    put_bits(w, (unsigned)(dist - (size_t)dbase[d]), dext[d]);
}

static unsigned hash3(const unsigned char *p)
{
    uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    return (v * 2654435761u) >> (32 - HBITS);
}

/* One fixed-Huffman block of the whole input into w. head/prev: hash
 * chains of positions + 1 (0 = none). */
static void compress_fixed(const unsigned char *in, size_t n, int max_chain, bit_writer *w,
                           size_t *head, size_t *prev)
{
    put_bits(w, 1, 1); /* BFINAL */
    put_bits(w, 1, 2); /* BTYPE 01: fixed Huffman */
    size_t i = 0;
    while (i < n) {
        int best = 0;
        size_t best_dist = 0;
        if (n - i >= MINMATCH) {
            unsigned h = hash3(in + i);
            size_t limit = n - i < MAXMATCH ? n - i : MAXMATCH;
            size_t cand = head[h];
            for (int chain = 0; cand && chain < max_chain; chain++) {
                size_t j = cand - 1;
                if (i - j > WSIZE - 1) break;
                size_t k = 0;
                while (k < limit && in[j + k] == in[i + k]) k++;
                if ((int)k > best) {
                    best = (int)k;
                    best_dist = i - j;
                    if (k == limit) break;
                }
                cand = prev[j % WSIZE];
            }
        }
        size_t step = best >= MINMATCH ? (size_t)best : 1;
        if (best >= MINMATCH) put_match(w, best, best_dist);
        else put_litlen(w, in[i]);
        /* Insert every position we pass into the chains. */
        for (size_t k = 0; k < step; k++, i++) {
            if (n - i < MINMATCH) continue;
            unsigned h = hash3(in + i);
            prev[i % WSIZE] = head[h];
            head[h] = i + 1;
        }
    }
    put_litlen(w, 256);
    if (w->bitcnt) put_bits(w, 0, 8 - w->bitcnt);
}

/* Stored blocks of up to 65535 bytes. */
static void compress_stored(const unsigned char *in, size_t n, bit_writer *w)
{
    size_t done = 0;
    do {
        size_t k = n - done < 65535 ? n - done : 65535;
        unsigned char *o = w->buf + w->pos;
        o[0] = done + k == n; /* BFINAL, BTYPE 00, then pad to the byte */
        o[1] = (unsigned char)(k & 0xff);
        o[2] = (unsigned char)(k >> 8);
        o[3] = (unsigned char)(~k & 0xff);
        o[4] = (unsigned char)((~k >> 8) & 0xff);
        memcpy(o + 5, in + done, k);
        w->pos += 5 + k;
        done += k;
    } while (done < n);
}

xcnn_status xcnn_zlib_encode(const unsigned char *in, size_t in_len, int level,
                             unsigned char **out, size_t *out_len, xcnn_err *err)
{
    if (!out || !out_len || (!in && in_len)) return xcnn_fail(err, XCNN_ERR_ARG, "zlib_encode: NULL argument");
    *out = NULL;
    *out_len = 0;
    /* Worst cases: stored adds 5 bytes per 65535; fixed codes use at most
     * 9 bits per byte. Either fits in n + n/8 + 5*(n/65535 + 1) + header. */
    if (in_len > ((size_t)-1 - 64) / 2) return xcnn_fail(err, XCNN_ERR_LIMIT, "zlib_encode: input too large");
    size_t cap = in_len + in_len / 8 + 5 * (in_len / 65535 + 1) + 16;
    unsigned char *buf = malloc(cap);
    if (!buf) return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory compressing %zu bytes", in_len);
    bit_writer w = {buf, 0, 0, 0};
    buf[w.pos++] = 0x78; /* deflate, 32K window */
    buf[w.pos++] = 0x01; /* no dictionary; (0x78 * 256 + 0x01) % 31 == 0 */
    if (level > 0 && in_len > 0) {
        size_t *head = calloc((size_t)1 << HBITS, sizeof *head);
        size_t *prev = calloc(WSIZE, sizeof *prev);
        if (!head || !prev) {
            free(head);
            free(prev);
            free(buf);
            return xcnn_fail(err, XCNN_ERR_NOMEM, "out of memory compressing %zu bytes", in_len);
        }
        int chain = level >= 9 ? 256 : level >= 6 ? 32 : 4 * level;
        compress_fixed(in, in_len, chain, &w, head, prev);
        free(head);
        free(prev);
    }
    size_t stored = 2 + in_len + 5 * (in_len / 65535 + 1);
    if (level <= 0 || in_len == 0 || w.pos > stored) {
        w.pos = 2;
        w.bitbuf = 0;
        w.bitcnt = 0;
        compress_stored(in, in_len, &w);
    }
    uint32_t a = xcnn_adler32(1, in, in_len);
    for (int k = 3; k >= 0; k--) buf[w.pos++] = (unsigned char)(a >> (8 * k));
    *out = buf;
    *out_len = w.pos;
    return XCNN_OK;
}
