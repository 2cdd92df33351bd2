/*
 * The .xcnn model format: a graph as libxcnn holds it (graph.h), in one
 * compact, versioned, checksummed, little-endian file whose weights can be
 * used in place (from flash on a device, or from a caller's buffer).
 *
 * Layout of version 1 (every integer little-endian, whatever the host;
 * offsets from the start of the file):
 *
 *   offset  bytes  field
 *        0      8  magic 89 'X' 'C' 'N' 'N' 0D 0A 1A (PNG's trick: a
 *                  text-mode copy or a 7-bit channel breaks it visibly)
 *        8      4  version (1)
 *       12      4  flags: bit 0 inference-only (BatchNorm folded into the
 *                  Convs: the loader sets inference_only); others 0
 *       16      8  file size
 *       24      4  CRC-32 (IEEE, as zlib) of the whole file, these four
 *                  bytes read as zero
 *       28      4  header size (64)
 *       32      4  tensor count          36  4  node count
 *       40      4  metadata entry count  44  4  opset (int32; 0: unknown)
 *       48      4  graph input tensor (int32; -1: none)
 *       52      4  graph output tensor (int32)
 *       56      8  data offset: where the weights start (a multiple of 64)
 *       64         tensor records, node records, metadata records
 *   data offset    the weights, each on a multiple of 64 (zero padding
 *                  between); the file ends with the last one's bytes
 *
 *   string:  u32 length, the bytes, a NUL (usable in place as a C string;
 *            no NUL inside)
 *   tensor:  string name; u8 kind (0 activation, 1 graph input, 2 const);
 *            u8 dtype (1 float32, 7 int64); i8 ndim (-1: activations,
 *            whose shapes the planner computes); u8 0; i64 dims[ndim];
 *            const only: u64 data offset (multiple of 64), u64 data bytes
 *            (elements x 4 or 8). Consts' data come in tensor order, none
 *            overlapping the one before.
 *   node:    string name; string op_type; u32 n_in, n_out, n_attr;
 *            i32 in[n_in] (-1: an omitted optional input); i32 out[n_out];
 *            then each attribute: string name; u8 type (graph.h's
 *            xcnn_attr_type); the value: f32 (FLOAT), i64 (INT), string
 *            (STRING), i32 const tensor index (TENSOR), u32 n + f32[n]
 *            (FLOATS), u32 n + i64[n] (INTS)
 *   meta:    string key; string value (metadata_props: xcnn.labels,
 *            xcnn.preprocess, ...)
 *
 * Nodes are in topological order; the reader checks it (every input is a
 * const, the graph input, or made by an earlier node; every output is an
 * activation made once), so a file cannot hand the planner a cycle.
 */
#ifndef XCNN_FORMAT_H
#define XCNN_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include "graph.h"
#include "../base/mem.h"

#define XCNN_FORMAT_VERSION 1
#define XCNN_FORMAT_HEADER_BYTES 64
/* Every weight's data starts on this boundary from the start of the file. */
#define XCNN_FORMAT_ALIGN 64
/* flags */
#define XCNN_FORMAT_FLAG_INFERENCE_ONLY 1u

/* 1 when data starts with the .xcnn magic (the extension is not looked
 * at), else 0. */
int xcnn_format_is_image(const void *data, size_t size);

/*
 * Encode g: its compute nodes (folded ones left out; a Conv that fuse.c
 * gave a ReLU is written as the Conv and its Relu, which the loader fuses
 * again), the tensors they use, the graph input and output, the opset and
 * metadata, flag inference-only when g->inference_only. *out is malloc'ed,
 * owned by the caller (free()). The same graph gives the same bytes.
 * Errors: XCNN_ERR_ARG (a const with no data, no output), XCNN_ERR_NOMEM.
 */
xcnn_status xcnn_format_encode(const xcnn_graph *g, unsigned char **out, size_t *out_len,
                               xcnn_err *err);

/* xcnn_format_encode into the file path, whole or not at all
 * (io/atomic_file.h). */
xcnn_status xcnn_format_write(const xcnn_graph *g, const char *path, xcnn_err *err);

/*
 * Build a graph from an .xcnn image of size bytes, with graph.c's builders,
 * its memory from mem (NULL: the heap). Every length, offset, count and
 * index is checked against the image and the load limits in opts (NULL:
 * the defaults) before it is used or allocated from; a wrong version, a bad
 * checksum, a truncated or malformed image is refused with a message
 * (XCNN_ERR_UNSUPPORTED, XCNN_ERR_FORMAT, XCNN_ERR_LIMIT).
 *
 * in_place 0: everything is copied; data is not referenced after the
 * call. in_place 1: float weights are not copied: each tensor's data
 * points into data (borrowed: never written, never freed), which must
 * then stay valid and unchanged as long as the graph lives, and be aligned
 * for floats (4 bytes; 64 puts each weight on a cache line; an image not
 * aligned for floats is refused); with a caller buffer (mem not
 * NULL) tensor names point into the image too. On a big-endian host the
 * weights are always copied.
 *
 * An inference-only image gives g->inference_only = 1.
 */
xcnn_status xcnn_format_read(const void *data, size_t size, const xcnn_load_options *opts,
                             xcnn_mem *mem, int in_place, xcnn_graph **out, xcnn_err *err);

#endif
