/*
 * Compressed streams without zlib: inflate (RFC 1951 deflate, RFC 1950
 * zlib wrapper), gzip members (RFC 1952), the two checksums they use, and a
 * small compressor (fixed Huffman + LZ77) for the PNG writer.
 *
 * Everything works on whole buffers in memory. Decoders write into an
 * output buffer of a size the caller chooses and fail with XCNN_ERR_LIMIT
 * when the stream wants more: a file cannot make us allocate more than we
 * decided to (decompression bombs). Malformed input gives XCNN_ERR_FORMAT,
 * never a crash or an endless loop.
 */
#ifndef XCNN_INFLATE_H
#define XCNN_INFLATE_H

#include <stddef.h>
#include <stdint.h>
#include "../base/error.h"
#include "../../include/xcnn_image.h"

/* Adler-32 (zlib trailer). Start with a = 1. */
uint32_t xcnn_adler32(uint32_t adler, const unsigned char *p, size_t n);

/* CRC-32 as PNG and gzip use it. Start with crc = 0; chain calls by
 * passing the previous result. */
uint32_t xcnn_crc32(uint32_t crc, const unsigned char *p, size_t n);

/* Raw deflate: decode in[0..in_len) into out[0..out_cap). On success
 * *out_len is the number of bytes produced and *in_used (if not NULL) the
 * number of input bytes up to the end of the final block (its last partial
 * byte included), so that a trailer can be read after it.
 * Errors: XCNN_ERR_FORMAT (malformed or truncated stream), XCNN_ERR_LIMIT
 * (the stream decodes to more than out_cap bytes). */
xcnn_status xcnn_inflate(const unsigned char *in, size_t in_len, size_t *in_used,
                         unsigned char *out, size_t out_cap, size_t *out_len, xcnn_err *err);

/* A zlib stream: 2-byte header, deflate data, Adler-32 (checked). Bytes
 * after the trailer are ignored. Same errors as xcnn_inflate, and
 * XCNN_ERR_UNSUPPORTED for a preset dictionary. */
xcnn_status xcnn_zlib_decode(const unsigned char *in, size_t in_len, unsigned char *out,
                             size_t out_cap, size_t *out_len, xcnn_err *err);

/* A gzip file (one or more members, concatenated). *out is malloc'ed,
 * owned by the caller, and holds *out_len bytes; at most max_out bytes are
 * ever produced (XCNN_ERR_LIMIT beyond). CRC-32 and length are checked. */
xcnn_status xcnn_gzip_decode(const unsigned char *in, size_t in_len, size_t max_out,
                             unsigned char **out, size_t *out_len, xcnn_err *err);

/* Compress into a zlib stream (deflate with fixed Huffman codes and LZ77
 * matches found with hash chains; level 0 stores). *out is malloc'ed,
 * owned by the caller. Errors: XCNN_ERR_NOMEM. */
xcnn_status xcnn_zlib_encode(const unsigned char *in, size_t in_len, int level,
                             unsigned char **out, size_t *out_len, xcnn_err *err);

/* --- The readers built on these (internal) ----------------------------- */

/* Read a whole file into a malloc'ed buffer (*data, *size); more than
 * max_bytes is XCNN_ERR_LIMIT. (png_read.c) */
xcnn_status xcnn_read_file(const char *path, size_t max_bytes, unsigned char **data, size_t *size,
                           xcnn_err *err);

/* Decode a PNG / a PNM (P2, P3, P5, P6) held in memory into *out; name is
 * used in messages. (png_read.c, pnm.c) */
xcnn_status xcnn_png_decode(const unsigned char *data, size_t size, const char *name,
                            xcnn_image *out, xcnn_err *err);
xcnn_status xcnn_pnm_decode(const unsigned char *data, size_t size, const char *name,
                            xcnn_image *out, xcnn_err *err);

#endif
