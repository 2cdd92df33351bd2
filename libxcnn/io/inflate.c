/*
 * Inflate: decoding deflate streams (RFC 1951) and the zlib wrapper
 * (RFC 1950), as found in PNG IDAT chunks and gzip files.
 *
 * A deflate stream is a sequence of blocks; each starts with 3 bits
 * (BFINAL, then BTYPE: 0 stored, 1 fixed Huffman, 2 dynamic Huffman).
 * Huffman blocks are a stream of symbols: 0..255 literal bytes, 256 end of
 * block, 257..285 a match length followed by a distance symbol, each with
 * extra bits; a match copies `length` bytes from `distance` bytes back.
 * Bits are read least significant first; Huffman codes are canonical
 * (determined by their lengths alone) and stored most significant bit
 * first, so a code read bit by bit is compared against canonical ranges.
 *
 * Decoding uses a 9-bit lookup table for short codes and walks the
 * canonical ranges bit by bit for longer ones. All output goes into the
 * caller's buffer, which also serves as the 32 KiB history window.
 */
#include <inttypes.h>
#include <string.h>
#include "inflate.h"

#define MAXBITS 15      /* longest code                          */
#define MAXLCODES 286   /* literal/length symbols that may occur */
#define MAXDCODES 30    /* distance symbols that may occur       */
#define FIXLCODES 288   /* literal/length symbols in the fixed code */
#define FASTBITS 9      /* lookup table for codes of up to 9 bits */

typedef struct {
    const unsigned char *in;
    size_t in_len;
    size_t in_pos;     /* next byte to load; may run past in_len (zeros) */
    uint64_t bitbuf;   /* loaded bits, least significant first           */
    int bitcnt;
    unsigned char *out;
    size_t out_cap, out_pos;
    xcnn_err *err;
} inflate_state;

/* A canonical Huffman code: count[len] codes of each length, symbols in
 * code order, and fast[] indexed by the next FASTBITS input bits giving
 * (length << 9 | symbol), or 0 when the code is longer (or invalid). */
typedef struct {
    short count[MAXBITS + 1];
    short symbol[FIXLCODES];
    uint16_t fast[1 << FASTBITS];
} huffman;

/* Make sure n (<= 32) bits are loaded. Past the end of the input we load
 * zeros; bits_overrun() tells whether any were actually consumed. */
static void need(inflate_state *s, int n)
{
    while (s->bitcnt < n) {
        uint64_t b = s->in_pos < s->in_len ? s->in[s->in_pos] : 0;
        s->in_pos++;
        s->bitbuf |= b << s->bitcnt;
        s->bitcnt += 8;
    }
}

static unsigned bits(inflate_state *s, int n)
{
    need(s, n);
    unsigned v = (unsigned)(s->bitbuf & ((1u << n) - 1));
    s->bitbuf >>= n;
    s->bitcnt -= n;
    return v;
}

/* True if more bits were consumed than the input holds. */
static int bits_overrun(const inflate_state *s)
{
    return s->in_pos > s->in_len && (s->in_pos - s->in_len) * 8 > (size_t)s->bitcnt;
}

static xcnn_status truncated(inflate_state *s)
{
    return xcnn_fail(s->err, XCNN_ERR_FORMAT, "deflate stream is truncated");
}

static unsigned reverse_bits(unsigned code, int len)
{
    unsigned r = 0;
    for (int i = 0; i < len; i++) r = (r << 1) | ((code >> i) & 1u);
    return r;
}

/* Build h from the code lengths of n symbols. Returns 0 for a complete
 * code, > 0 for an incomplete one (codes left unused), < 0 if
 * over-subscribed (more codes of some length than can exist). */
static int build(huffman *h, const short *length, int n)
{
    memset(h->count, 0, sizeof h->count);
    for (int s = 0; s < n; s++) h->count[length[s]]++;
    if (h->count[0] == n) { /* no codes: decoding anything will fail */
        memset(h->fast, 0, sizeof h->fast);
        return 1 << MAXBITS;
    }
    int left = 1;
    for (int len = 1; len <= MAXBITS; len++) {
        left <<= 1;
        left -= h->count[len];
        if (left < 0) return left;
    }
    short offs[MAXBITS + 1];
    offs[1] = 0;
    for (int len = 1; len < MAXBITS; len++) offs[len + 1] = (short)(offs[len] + h->count[len]);
    for (int s = 0; s < n; s++)
        if (length[s]) h->symbol[offs[length[s]]++] = (short)s;

    /* Fast table: walk the codes in canonical order, code value rising. */
    memset(h->fast, 0, sizeof h->fast);
    unsigned code = 0;
    int index = 0;
    for (int len = 1; len <= FASTBITS; len++) {
        for (int k = 0; k < h->count[len]; k++, index++, code++) {
            unsigned r = reverse_bits(code, len);
            for (unsigned fill = r; fill < (1u << FASTBITS); fill += 1u << len)
                h->fast[fill] = (uint16_t)(len << 9 | h->symbol[index]);
        }
        code <<= 1;
    }
    return left;
}

/* Decode one symbol; -1 if the bits match no code (incomplete code). */
static int decode(inflate_state *s, const huffman *h)
{
    need(s, MAXBITS);
    unsigned entry = h->fast[s->bitbuf & ((1u << FASTBITS) - 1)];
    if (entry) {
        int len = (int)(entry >> 9);
        s->bitbuf >>= len;
        s->bitcnt -= len;
        return (int)(entry & 511u);
    }
    /* Long code: compare the code read so far with each length's range. */
    int code = 0, first = 0, index = 0;
    for (int len = 1; len <= MAXBITS; len++) {
        code |= (int)((s->bitbuf >> (len - 1)) & 1u);
        int count = h->count[len];
        if (code - count < first) {
            s->bitbuf >>= len;
            s->bitcnt -= len;
            return h->symbol[index + (code - first)];
        }
        index += count;
        first += count;
        first <<= 1;
        code <<= 1;
    }
    return -1;
}

static xcnn_status stored_block(inflate_state *s)
{
    /* Skip to a byte boundary; the bytes already loaded are given back. */
    s->bitbuf >>= s->bitcnt & 7;
    s->bitcnt -= s->bitcnt & 7;
    s->in_pos -= (size_t)s->bitcnt / 8;
    s->bitbuf = 0;
    s->bitcnt = 0;
    if (s->in_pos + 4 > s->in_len) return truncated(s);
    const unsigned char *p = s->in + s->in_pos;
    unsigned len = p[0] | (unsigned)p[1] << 8;
    unsigned nlen = p[2] | (unsigned)p[3] << 8;
    if (len != (~nlen & 0xffffu))
        return xcnn_fail(s->err, XCNN_ERR_FORMAT,
                         "deflate stored block: length %u does not match its complement", len);
    s->in_pos += 4;
    if (s->in_len - s->in_pos < len) return truncated(s);
    if (s->out_cap - s->out_pos < len)
        return xcnn_fail(s->err, XCNN_ERR_LIMIT, "deflate stream decodes to more than %zu bytes",
                         s->out_cap);
    memcpy(s->out + s->out_pos, s->in + s->in_pos, len);
    s->out_pos += len;
    s->in_pos += len;
    return XCNN_OK;
}

/* Decode literals and matches until end of block. */
static xcnn_status codes(inflate_state *s, const huffman *lencode, const huffman *distcode)
{
    static const short lbase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                    31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
    static const short lext[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                   2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    static const short dbase[30] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                    33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                    1025, 1537, 2049, 3073, 4097, 6145,  8193,  12289, 16385,
                                    24577};
    static const short dext[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                   6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
    for (;;) {
        int sym = decode(s, lencode);
        if (bits_overrun(s)) return truncated(s);
        if (sym < 0) return xcnn_fail(s->err, XCNN_ERR_FORMAT, "deflate: invalid literal/length code");
        if (sym == 256) return XCNN_OK;
        if (sym < 256) {
            if (s->out_pos == s->out_cap)
                return xcnn_fail(s->err, XCNN_ERR_LIMIT,
                                 "deflate stream decodes to more than %zu bytes", s->out_cap);
            s->out[s->out_pos++] = (unsigned char)sym;
            continue;
        }
        sym -= 257;
        if (sym >= 29)
            return xcnn_fail(s->err, XCNN_ERR_FORMAT, "deflate: invalid length symbol %d", sym + 257);
        size_t len = (size_t)lbase[sym] + bits(s, lext[sym]);
        int dsym = decode(s, distcode);
        if (bits_overrun(s)) return truncated(s);
        if (dsym < 0) return xcnn_fail(s->err, XCNN_ERR_FORMAT, "deflate: invalid distance code");
        if (dsym >= 30)
            return xcnn_fail(s->err, XCNN_ERR_FORMAT, "deflate: invalid distance symbol %d", dsym);
        size_t dist = (size_t)dbase[dsym] + bits(s, dext[dsym]);
        if (bits_overrun(s)) return truncated(s);
        if (dist > s->out_pos)
            return xcnn_fail(s->err, XCNN_ERR_FORMAT,
                             "deflate: distance %zu reaches before the start of the output", dist);
        if (s->out_cap - s->out_pos < len)
            return xcnn_fail(s->err, XCNN_ERR_LIMIT, "deflate stream decodes to more than %zu bytes",
                             s->out_cap);
        /* Byte by byte: source and destination may overlap (dist < len). */
        unsigned char *d = s->out + s->out_pos;
        const unsigned char *from = d - dist;
        for (size_t i = 0; i < len; i++) d[i] = from[i];
        s->out_pos += len;
    }
}

static xcnn_status fixed_block(inflate_state *s)
{
    huffman lencode, distcode;
    short lengths[FIXLCODES];
    int i = 0;
    for (; i < 144; i++) lengths[i] = 8;
    for (; i < 256; i++) lengths[i] = 9;
    for (; i < 280; i++) lengths[i] = 7;
    for (; i < FIXLCODES; i++) lengths[i] = 8;
    build(&lencode, lengths, FIXLCODES);
    /* 32 distance codes of 5 bits; 30 and 31 are invalid when decoded. */
    for (i = 0; i < 32; i++) lengths[i] = 5;
    build(&distcode, lengths, 32);
    return codes(s, &lencode, &distcode);
}

/* The one incomplete code deflate allows: a single code of length 1. */
static int single_code(const huffman *h, int n)
{
    return h->count[1] == 1 && n - h->count[0] == 1;
}

/* A dynamic block starts with the code lengths of its two codes, themselves
 * Huffman coded with a small "code length code". */
static xcnn_status dynamic_block(inflate_state *s)
{
    static const short order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    short lengths[MAXLCODES + MAXDCODES];
    huffman lencode, distcode;
    int nlen = (int)bits(s, 5) + 257;
    int ndist = (int)bits(s, 5) + 1;
    int ncode = (int)bits(s, 4) + 4;
    if (bits_overrun(s)) return truncated(s);
    if (nlen > MAXLCODES || ndist > MAXDCODES)
        return xcnn_fail(s->err, XCNN_ERR_FORMAT,
                         "deflate: dynamic block has %d length or %d distance codes (too many)",
                         nlen, ndist);
    int i = 0;
    for (; i < ncode; i++) lengths[order[i]] = (short)bits(s, 3);
    for (; i < 19; i++) lengths[order[i]] = 0;
    if (bits_overrun(s)) return truncated(s);
    if (build(&lencode, lengths, 19) != 0)
        return xcnn_fail(s->err, XCNN_ERR_FORMAT, "deflate: incomplete or over-subscribed code length code");

    for (i = 0; i < nlen + ndist;) {
        int sym = decode(s, &lencode);
        if (bits_overrun(s)) return truncated(s);
        if (sym < 0) return xcnn_fail(s->err, XCNN_ERR_FORMAT, "deflate: invalid code length code");
        if (sym < 16) {
            lengths[i++] = (short)sym;
            continue;
        }
        short len = 0; /* value to repeat */
        int rep;
        if (sym == 16) {
            if (i == 0)
                return xcnn_fail(s->err, XCNN_ERR_FORMAT, "deflate: repeat with no previous length");
            len = lengths[i - 1];
            rep = 3 + (int)bits(s, 2);
        } else if (sym == 17) {
            rep = 3 + (int)bits(s, 3);
        } else {
            rep = 11 + (int)bits(s, 7);
        }
        if (bits_overrun(s)) return truncated(s);
        if (i + rep > nlen + ndist)
            return xcnn_fail(s->err, XCNN_ERR_FORMAT, "deflate: code length repeat runs past the end");
        while (rep--) lengths[i++] = len;
    }
    if (lengths[256] == 0)
        return xcnn_fail(s->err, XCNN_ERR_FORMAT, "deflate: dynamic block has no end-of-block code");

    /* Incomplete codes are allowed only when they hold a single code of
     * length 1 (as zlib); an empty distance code is fine for literal-only
     * blocks, and decoding a distance with it fails. */
    int err = build(&lencode, lengths, nlen);
    if (err < 0 || (err > 0 && !single_code(&lencode, nlen)))
        return xcnn_fail(s->err, XCNN_ERR_FORMAT,
                         "deflate: %s literal/length code", err < 0 ? "over-subscribed" : "incomplete");
    err = build(&distcode, lengths + nlen, ndist);
    if (err < 0 || (err > 0 && distcode.count[0] != ndist && !single_code(&distcode, ndist)))
        return xcnn_fail(s->err, XCNN_ERR_FORMAT, "deflate: %s distance code",
                         err < 0 ? "over-subscribed" : "incomplete");
    return codes(s, &lencode, &distcode);
}

xcnn_status xcnn_inflate(const unsigned char *in, size_t in_len, size_t *in_used,
                         unsigned char *out, size_t out_cap, size_t *out_len, xcnn_err *err)
{
    inflate_state s = {in, in_len, 0, 0, 0, out, out_cap, 0, err};
    if (out_len) *out_len = 0;
    if ((!in && in_len) || (!out && out_cap)) return xcnn_fail(err, XCNN_ERR_ARG, "inflate: NULL buffer");
    int last;
    do {
        last = (int)bits(&s, 1);
        unsigned type = bits(&s, 2);
        if (bits_overrun(&s)) return truncated(&s);
        xcnn_status st;
        if (type == 0) st = stored_block(&s);
        else if (type == 1) st = fixed_block(&s);
        else if (type == 2) st = dynamic_block(&s);
        else st = xcnn_fail(err, XCNN_ERR_FORMAT, "deflate: invalid block type 3");
        if (st) return st;
    } while (!last);
    if (out_len) *out_len = s.out_pos;
    /* Whole bytes still in the bit buffer were not used. */
    if (in_used) *in_used = s.in_pos - (size_t)s.bitcnt / 8;
    return XCNN_OK;
}

uint32_t xcnn_adler32(uint32_t adler, const unsigned char *p, size_t n)
{
    uint32_t a = adler & 0xffff, b = adler >> 16;
    while (n) {
        /* 5552 bytes is the most we can sum before b may overflow 32 bits. */
        size_t k = n < 5552 ? n : 5552;
        n -= k;
        while (k--) {
            a += *p++;
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    return b << 16 | a;
}

xcnn_status xcnn_zlib_decode(const unsigned char *in, size_t in_len, unsigned char *out,
                             size_t out_cap, size_t *out_len, xcnn_err *err)
{
    if (out_len) *out_len = 0;
    if (in_len < 2) return xcnn_fail(err, XCNN_ERR_FORMAT, "zlib stream is truncated");
    unsigned cmf = in[0], flg = in[1];
    if ((cmf & 15) != 8 || (cmf >> 4) > 7)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "zlib header: not deflate with a 32K window");
    if ((cmf * 256 + flg) % 31 != 0)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "zlib header check bits are wrong");
    if (flg & 0x20)
        return xcnn_fail(err, XCNN_ERR_UNSUPPORTED, "zlib stream needs a preset dictionary");
    size_t used = 0, n = 0;
    xcnn_status st = xcnn_inflate(in + 2, in_len - 2, &used, out, out_cap, &n, err);
    if (st) return st;
    const unsigned char *t = in + 2 + used;
    if (in_len - 2 - used < 4) return xcnn_fail(err, XCNN_ERR_FORMAT, "zlib stream lacks its Adler-32");
    uint32_t want = (uint32_t)t[0] << 24 | (uint32_t)t[1] << 16 | (uint32_t)t[2] << 8 | t[3];
    uint32_t got = xcnn_adler32(1, out, n);
    if (want != got)
        return xcnn_fail(err, XCNN_ERR_FORMAT, "zlib Adler-32 mismatch (stored %08" PRIx32 ", computed %08" PRIx32 ")",
                         want, got);
    if (out_len) *out_len = n;
    return XCNN_OK;
}
