/*
 * The graph: tensors and nodes, as the ONNX loader builds them and the
 * executor walks them. Internal to the library (not installed).
 *
 * Life of a graph:
 *   1. onnx.c parses a file into tensors (initializers, inputs, node
 *      outputs) and nodes with their raw ONNX attributes, in topological
 *      order (a cycle or a dangling input is refused there).
 *   2. plan.c walks the nodes once: shape-only nodes whose inputs are
 *      known constants are evaluated (fold.c) and marked folded; every
 *      other node's op setup() validates its attributes and inputs and
 *      computes its output shapes with batch 1.
 *   3. plan.c gives every activation a slice of one arena sized for
 *      max_batch, plus a gradient slice.
 *   4. exec.c runs forward() over the nodes in order and backward() in
 *      reverse.
 */
#ifndef XCNN_GRAPH_H
#define XCNN_GRAPH_H

#include <stddef.h>
#include <stdint.h>
#include "../../include/xcnn.h"
#include "../base/error.h"
#include "../base/mem.h"

/* ONNX TensorProto.DataType codes we keep. Everything else is refused. */
typedef enum xcnn_dtype {
    XCNN_DT_FLOAT = 1,
    XCNN_DT_INT64 = 7
} xcnn_dtype;

typedef enum xcnn_tensor_kind {
    XCNN_T_ACTIVATION = 0, /* produced by a node; lives in the arena        */
    XCNN_T_INPUT = 1,      /* graph input; lives in the arena               */
    XCNN_T_CONST = 2       /* initializer, Constant node or folded value    */
} xcnn_tensor_kind;

typedef struct xcnn_tensor {
    char *name;
    xcnn_tensor_kind kind;
    xcnn_dtype dtype;
    int ndim;                     /* -1 while not yet known               */
    int64_t dims[XCNN_MAX_DIMS];  /* activations: dims[0] is the batch, 1
                                     during planning                      */
    float *data;     /* CONST float: owned (the graph's memory), or
                        borrowed. others: arena slice                     */
    int64_t *idata;  /* CONST int64: owned (malloc). NULL otherwise       */
    float *grad;     /* arena slice, or NULL when no gradient is kept     */
    int grad_on;     /* set by the executor: accumulate into grad?        */
    int producer;    /* index of producing node, -1 for inputs/consts     */
    int borrowed;    /* CONST: data points into the caller's model bytes
                        (an .xcnn image used in place, maybe in flash):
                        never written, never freed                        */
} xcnn_tensor;

/* A raw ONNX attribute as read from the file. */
typedef enum xcnn_attr_type {
    XCNN_ATTR_FLOAT = 1,
    XCNN_ATTR_INT = 2,
    XCNN_ATTR_STRING = 3,
    XCNN_ATTR_TENSOR = 4, /* value is in tensor (index into graph tensors) */
    XCNN_ATTR_FLOATS = 6,
    XCNN_ATTR_INTS = 7
} xcnn_attr_type;

typedef struct xcnn_attr {
    char *name;
    xcnn_attr_type type;
    float f;
    int64_t i;
    char *s;           /* NUL-terminated copy of the string value          */
    int64_t *ints;
    float *floats;
    int n;             /* count of ints/floats                             */
    int tensor;        /* for XCNN_ATTR_TENSOR: tensor index, else -1      */
} xcnn_attr;

struct xcnn_op_def;

typedef struct xcnn_node {
    char *name;        /* never NULL; "<op>_<index>" when unnamed          */
    char *op_type;
    const struct xcnn_op_def *def;   /* set by plan; NULL when folded      */
    int n_in;
    int *in;           /* tensor indices; -1 for an omitted optional input */
    int n_out;
    int *out;
    int n_attr;
    xcnn_attr *attr;
    void *params;      /* op-specific, from setup(); from xcnn_node_alloc  */
    xcnn_mem *mem;     /* its graph's memory (attributes, params)          */
    size_t scratch_floats; /* scratch this op needs for forward/backward
                              of any batch, from setup()                   */
    int64_t n_params;  /* weight elements read, from setup()               */
    double flops;      /* forward FLOPs at batch 1, from setup()           */
    int folded;        /* evaluated at load (shape subgraph), or fused into
                          its producer (fuse.c): not run                   */
    /* The activation fuse.c folded into it, on its output */
    int fused_relu;    /* a Relu (NaN gives 0): Conv, Add                  */
    int fused_clip;    /* a Clip to [clip_lo, clip_hi] (ReLU6; NaN stays):
                          Conv only                                        */
    float clip_lo, clip_hi;
    /* An Add fuse.c folded into it (Conv only): in[3] is the Add's other
     * input, of the output's shape, added before the activation */
    int fused_add;
    /* A MaxPool fuse.c folded into it (Conv only, after its activation):
     * the output is the pool's; the folded MaxPool node keeps its window */
    int fused_pool;
} xcnn_node;

typedef struct xcnn_graph {
    xcnn_mem *mem;     /* where everything below comes from: NULL for the
                          heap, else a caller's buffer (base/mem.h)        */
    xcnn_tensor *tensors;
    int n_tensors, cap_tensors;
    xcnn_node *nodes;  /* topological order */
    int n_nodes, cap_nodes;
    int input;         /* tensor index of the (single) graph input          */
    int output;        /* tensor index of the (first) graph output          */
    int batch;         /* batch of the current forward pass                 */
    size_t scratch_floats; /* scratch the model's arena holds (0 outside a
                          model): ops may use more than their own
                          scratch_floats when it is there (batching)      */
    int inference_only;/* 1: no backward will ever run, so ops may pick
                          forward-only algorithms whose rounding differs
                          (Conv: Winograd F(4x4, 3x3)); set before setup */
    int values_below;  /* nodes [0, values_below) ran a values-only forward
                          (xcnn_exec_forward_values): no backward runs
                          through them, so they may round
                          differently (Conv: F(4x4)); 0 for whole passes  */
    int training;      /* 1 while training: BatchNormalization uses and
                          updates batch statistics (set by the trainer)     */
    int reference;     /* 1: every op runs its reference, the plain loops
                          written under its maths in its ops/ file, never a fast
                          path. Starts as XCNN_REFERENCE_BUILD; read by
                          setup() and by every pass, so a test may clear it
                          before setup and set it again to run both paths
                          on one node (not after xcnn_conv_prepare_inference
                          has released weights)                            */
    int n_meta;        /* ONNX metadata_props: key/value strings (labels,
                          preprocessing); owned                            */
    char **meta_key, **meta_value;
    int opset;         /* default-domain opset version of the file (0: unknown,
                          treat as the newest); ops whose inputs or defaults
                          changed between opsets read it                   */
    int n_warnings;    /* what the load accepted but does not use, one line
                          each (xcnn_node_check_attrs); owned              */
    char **warnings;
} xcnn_graph;

/* make REFERENCE=1 (-DXCNN_REFERENCE): every graph starts with
 * reference set, so the whole library runs on the reference paths. */
#ifdef XCNN_REFERENCE
#define XCNN_REFERENCE_BUILD 1
#else
#define XCNN_REFERENCE_BUILD 0
#endif

/* Options of one backward pass, seen by every op's backward(). */
typedef struct xcnn_bwd_ctx xcnn_bwd_ctx;
/* A method's backward for one node (DeepLIFT's multipliers, LRP's
 * relevance): called instead of the node's op backward, with the same
 * contract (read the outputs' grad, ADD into the inputs' grad). */
typedef void (*xcnn_node_rule)(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                               const xcnn_bwd_ctx *ctx);
struct xcnn_bwd_ctx {
    xcnn_relu_rule relu_rule;
    /* NULL: every node runs its op's backward. Otherwise an explainer's
     * rule table stands behind it (explain/rules.h): the backward calls
     * node_rule for every node, which picks the node's rule (or the op's
     * own backward, for ops whose rule is their gradient). */
    xcnn_node_rule node_rule;
    void *state; /* the method's: reference values, parameters      */
};

/*
 * One attribute an op understands. Every op lists all of its attributes
 * (xcnn_op_def.attrs, fold.c's table for the ops only the folder runs),
 * and the load checks every node's attributes against its op's list in
 * one place (xcnn_node_check_attrs, called by plan.c): an attribute that
 * is not on the list, or has another type, or comes from an older opset
 * than the file's, is refused. An op reads its attributes through
 * xcnn_attr_* above, which fall back to the default on a missing or
 * mistyped attribute: without this check, a misspelt or newer attribute
 * (a Conv's "groups") would silently compute something else.
 */
typedef struct xcnn_attr_spec {
    const char *name;      /* NULL ends a list                             */
    xcnn_attr_type type;
    int last_opset;        /* 0: every opset. N: the ONNX spec has the
                              attribute up to opset N only; later opsets
                              take the value as an input (Clip's min), so
                              in a newer file (or one with no opset) the
                              attribute would go unread: refused there    */
    const char *unused;    /* NULL: the op reads it. Otherwise it cannot
                              change the result and is accepted unread;
                              this says why (xcnn_model_warning shows it) */
} xcnn_attr_spec;

/* Check node n's attributes against spec (a list ending in {NULL}; NULL
 * for an op with no attributes): each known, of its type, given once,
 * and of the file's opset. Unused-but-harmless attributes are noted in
 * g->warnings. Errors name the node, the op and the attribute. */
xcnn_status xcnn_node_check_attrs(xcnn_graph *g, const xcnn_node *n, const xcnn_attr_spec *spec,
                                  xcnn_err *err);

/*
 * One op. setup() runs once at load; forward()/backward() run per call and
 * must not allocate. Inputs are g->tensors[n->in[i]], outputs
 * g->tensors[n->out[i]]; activations hold `batch` samples along dim 0.
 *
 * backward() reads the output gradient(s) and ACCUMULATES (+=) into the
 * gradient of every input for which xcnn_tensor_grad() is not NULL: that is
 * how gradients of branches that meet in a DAG add up. Weight gradients are
 * summed over the batch.
 */
typedef struct xcnn_op_def {
    const char *op_type;
    xcnn_status (*setup)(xcnn_graph *g, xcnn_node *n, xcnn_err *err);
    void (*forward)(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch);
    void (*backward)(xcnn_graph *g, const xcnn_node *n, int batch, float *scratch,
                     const xcnn_bwd_ctx *ctx);
    const xcnn_attr_spec *attrs; /* every attribute it understands; NULL:
                                    none (see xcnn_attr_spec)            */
    unsigned in_place; /* bit q: elementwise in input q, so forward() may
                      write its output over that input when it has the
                      output's shape (y[i] is made from element i of it,
                      read before y[i] is written). Shared-memory plans
                      then give both one slice (arena.c)                   */
} xcnn_op_def;

/* XCNN_PARALLEL_MIN and _COPY, the one-thread thresholds: base/threads.h. */
#include "../base/threads.h"

/* The registry (ops/registry.c): NULL for an op we do not support. */
const xcnn_op_def *xcnn_op_find(const char *op_type);

/* ---- graph building (graph.c) ---- */
xcnn_graph *xcnn_graph_new(void);
/* A graph whose memory comes from mem (NULL: the heap, as xcnn_graph_new). */
xcnn_graph *xcnn_graph_new_in(xcnn_mem *mem);
void xcnn_graph_free(xcnn_graph *g);
/* Room for this many tensors and nodes, so that adding them moves
 * nothing (a buffer cannot give back a grown array's old room). */
xcnn_status xcnn_graph_reserve(xcnn_graph *g, int n_tensors, int n_nodes, xcnn_err *err);
/* Memory from the graph's allocator: 64-byte aligned from a buffer;
 * malloc's alignment from the heap. free with xcnn_graph_free_mem. */
void *xcnn_graph_alloc(xcnn_graph *g, size_t bytes);
void *xcnn_graph_calloc(xcnn_graph *g, size_t count, size_t size);
void xcnn_graph_free_mem(xcnn_graph *g, void *p);
/* The same for an op's setup (the node knows its graph's memory). */
void *xcnn_node_calloc(const xcnn_node *n, size_t count, size_t size);
void xcnn_node_free_mem(const xcnn_node *n, void *p);
/* A const tensor's float data that the graph may write (fuse.c folds a
 * BatchNormalization into a Conv's weights): a borrowed tensor is first
 * copied into the graph's memory. NULL when out of memory. */
float *xcnn_tensor_writable(xcnn_graph *g, xcnn_tensor *t);
/* Add a tensor with a copy of `name`; returns its index or -1 (no memory). */
int xcnn_graph_add_tensor(xcnn_graph *g, const char *name, xcnn_tensor_kind kind);
/* Index of the tensor with this name, or -1. */
int xcnn_graph_find_tensor(const xcnn_graph *g, const char *name);
/* How many inputs of running (not folded) nodes are tensor t; *last (if
 * not NULL) gets the index of the last node reading it. */
int xcnn_graph_readers(const xcnn_graph *g, int t, int *last);
/* Append a node (copies of name/op_type, arrays of n_in/n_out ints).
 * Returns its index or -1. */
int xcnn_graph_add_node(xcnn_graph *g, const char *name, const char *op_type,
                        const int *in, int n_in, const int *out, int n_out);
/* Append an attribute to node n (takes ownership of nothing: copies). */
int xcnn_node_add_attr_int(xcnn_node *n, const char *name, int64_t v);
int xcnn_node_add_attr_float(xcnn_node *n, const char *name, float v);
int xcnn_node_add_attr_ints(xcnn_node *n, const char *name, const int64_t *v, int count);
int xcnn_node_add_attr_floats(xcnn_node *n, const char *name, const float *v, int count);
int xcnn_node_add_attr_string(xcnn_node *n, const char *name, const char *v);

/* ---- attribute lookup for ops ---- */
const xcnn_attr *xcnn_attr_get(const xcnn_node *n, const char *name);
int64_t xcnn_attr_int(const xcnn_node *n, const char *name, int64_t dflt);
float xcnn_attr_float(const xcnn_node *n, const char *name, float dflt);
/* Pointer to the ints and their count (0 and NULL when absent). */
const int64_t *xcnn_attr_ints(const xcnn_node *n, const char *name, int *count);
const char *xcnn_attr_string(const xcnn_node *n, const char *name, const char *dflt);

/* ---- tensor helpers ---- */
/* Product of dims (1 for a scalar). */
size_t xcnn_tensor_numel(const xcnn_tensor *t);
/* Elements of one sample (product of dims[1..]) for activations. */
size_t xcnn_tensor_sample_numel(const xcnn_tensor *t);
/* Set shape; returns XCNN_ERR_SHAPE on a negative dim or > XCNN_MAX_DIMS,
 * XCNN_ERR_LIMIT if the element count overflows. */
xcnn_status xcnn_tensor_set_shape(xcnn_tensor *t, int ndim, const int64_t *dims,
                                  xcnn_err *err);
/* ONNX Reshape's target shape: `want` (count entries; 0 copies the input's
 * dim unless allowzero, one -1 is inferred) resolved against input x into
 * dims. Errors (negative dims, two -1, overflow, element counts that do
 * not match) name node n. Shared by the Reshape op and the load-time
 * folder, so both refuse the same shapes. */
xcnn_status xcnn_reshape_dims(const xcnn_node *n, const xcnn_tensor *x, const int64_t *want,
                              int count, int allowzero, int64_t dims[XCNN_MAX_DIMS],
                              xcnn_err *err);

/* "1x64x56x56" into buf. */
const char *xcnn_shape_str(const xcnn_tensor *t, char *buf, size_t size);

static inline xcnn_tensor *xcnn_in(xcnn_graph *g, const xcnn_node *n, int i)
{
    return (i < n->n_in && n->in[i] >= 0) ? &g->tensors[n->in[i]] : NULL;
}
static inline xcnn_tensor *xcnn_out(xcnn_graph *g, const xcnn_node *n, int i)
{
    return &g->tensors[n->out[i]];
}
/* The gradient buffer to accumulate into, or NULL if not wanted now. */
static inline float *xcnn_tensor_grad(const xcnn_tensor *t)
{
    return (t && t->grad_on) ? t->grad : NULL;
}

#endif /* XCNN_GRAPH_H */
