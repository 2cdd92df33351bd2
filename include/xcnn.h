/*
 * libxcnn: CNN inference and gradient-based explanations in plain C11.
 *
 * The whole public API is in this header. Conventions:
 *  - every function returns an xcnn_status; XCNN_OK is 0.
 *  - a failed call on a model leaves a readable message in
 *    xcnn_model_error(model); a failed load writes it into the caller's
 *    buffer. The library never prints, exits or aborts.
 *  - the caller owns what it allocates; the library frees what it
 *    allocates in the matching *_free.
 *  - no global mutable state: two models may be used from two threads at
 *    once. One model is used by one thread at a time: every call that
 *    takes a model and can fail holds it for its duration (an atomic
 *    flag in the model), and a call made meanwhile from another thread
 *    returns XCNN_ERR_BUSY at once, having changed nothing, not even
 *    xcnn_model_error (which belongs to the call in progress): its
 *    message is xcnn_status_name(XCNN_ERR_BUSY). The calls that cannot
 *    fail (xcnn_model_error, _max_batch, _arena_bytes, _weight_bytes,
 *    _metadata, _node_count, _default_cam_layer) take no flag: what they
 *    read changes only in xcnn_model_reserve. xcnn_model_free must not
 *    race with anything.
 *  - memory is allocated when a model is loaded or reserved
 *    (xcnn_model_reserve); xcnn_forward, xcnn_backward and the explainers
 *    allocate nothing.
 *
 * Tensors are float32, NCHW, C order. Dimension 0 of every activation is the
 * batch: a model is loaded for batch 1 and may be reserved for more.
 */
#ifndef XCNN_H
#define XCNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, here and nowhere else: the Makefile reads these
 * three lines for the shared library's name (libxcnn.so.MAJOR, the soname,
 * changes when the ABI breaks) and for xcnn.pc. */
#define XCNN_VERSION_MAJOR 0
#define XCNN_VERSION_MINOR 1
#define XCNN_VERSION_PATCH 0
#define XCNN_VERSION_STR_(x) #x
#define XCNN_VERSION_STR(x) XCNN_VERSION_STR_(x)
#define XCNN_VERSION_STRING                                                   \
    XCNN_VERSION_STR(XCNN_VERSION_MAJOR) "." XCNN_VERSION_STR(XCNN_VERSION_MINOR) \
    "." XCNN_VERSION_STR(XCNN_VERSION_PATCH)
/* One number for comparisons: MAJOR * 10000 + MINOR * 100 + PATCH. */
#define XCNN_VERSION (XCNN_VERSION_MAJOR * 10000 + XCNN_VERSION_MINOR * 100 + XCNN_VERSION_PATCH)
#define XCNN_MAX_DIMS 8

typedef enum xcnn_status {
    XCNN_OK = 0,
    XCNN_ERR_ARG = 1,         /* bad argument from the caller              */
    XCNN_ERR_IO = 2,          /* file could not be opened, read or written */
    XCNN_ERR_FORMAT = 3,      /* malformed file (truncated, bad lengths)   */
    XCNN_ERR_UNSUPPORTED = 4, /* valid, but an op/attribute/dtype we lack  */
    XCNN_ERR_SHAPE = 5,       /* shapes that do not fit together          */
    XCNN_ERR_NOMEM = 6,       /* allocation failed                         */
    XCNN_ERR_LIMIT = 7,       /* over a configured size cap                */
    XCNN_ERR_NUMERIC = 8,     /* NaN or Inf: in an input, or made by the
                                 network (output, gradient, attribution)  */
    XCNN_ERR_NOT_FOUND = 9,   /* unknown tensor / layer name               */
    XCNN_ERR_BUSY = 10        /* the model is in use by another thread:
                                 the call did nothing (see below)          */
} xcnn_status;

/* A short name for a status code ("format error", ...). Never NULL. */
const char *xcnn_status_name(xcnn_status s);

/* The version of the library linked in, which may differ from the header's
 * when a program runs against a newer shared library: "0.1.0", and
 * XCNN_VERSION's number. Never NULL. */
const char *xcnn_version(void);
int xcnn_version_number(void);

/* Opaque model handle: graph, weights and the planned arena. */
typedef struct xcnn_model xcnn_model;

/* Limits checked while loading, before anything is allocated from a size
 * read in the file. Zero fields mean "use the default". */
typedef struct xcnn_load_options {
    uint64_t max_file_bytes;   /* default 1 GiB                          */
    uint64_t max_tensor_elems; /* default 256 Mi elements per tensor    */
    uint64_t max_nodes;        /* default 100000                         */
    /* The most bytes xcnn_model_arena_bytes may reach: activations and
     * their gradients for max_batch inputs, the ops' scratch space and
     * the weight gradients. Checked before allocating, at load (batch 1),
     * by xcnn_model_reserve and by xcnn_model_enable_param_grads: over it
     * they return XCNN_ERR_LIMIT and leave the model as it was. Default
     * 4 GiB, whatever the machine: a batch number alone (a typo, a
     * hostile request) cannot make the library ask for more. ResNet-18 at
     * 224x224 loaded for explanations takes 74 MB at batch 1 and 67 MB
     * more per batch item (batches up to 61 fit), loaded inference_only
     * 12 MB and 4.6 MB more per item. */
    uint64_t max_arena_bytes;
    /* Sizes for graph-input dimensions the file leaves symbolic (models
     * exported with a dynamic height and width, as PaddleOCR's): dimension
     * i >= 1 takes input_dims[i] when it is symbolic or missing. 0 means
     * not given (a symbolic dimension is then refused). A value that
     * differs from a size fixed in the file is refused. input_dims[0] is
     * ignored: the batch is set at run time. */
    int64_t input_dims[XCNN_MAX_DIMS];
    /* 1: plan no gradient buffers (about half the arena). Forward works;
     * backward and the explainers return XCNN_ERR_ARG. For servers and
     * `xcnn predict`. Convs that run on converted weights (Winograd
     * transforms, packed W^T) convert them at load and free the
     * originals, so those weights' tensor views have data NULL. Layers'
     * outputs share memory by lifetime: after a forward only the input's
     * and the output's views hold their values. */
    int inference_only;
    /* The batch to plan for at load (0: 1); xcnn_model_reserve changes it
     * later on heap models. A model in a static buffer keeps it for life. */
    int max_batch;
    /* A layer name: keep gradients only from this layer to the output.
     * Grad-CAM at this layer (or a later one) works, with the same bits as
     * in a full load; layers below it share memory by lifetime as in
     * inference_only, so a model fits a microcontroller's RAM; the other
     * explainers, and backward passes below the layer, return
     * XCNN_ERR_ARG. "" means the model's default CAM layer
     * (xcnn_model_default_cam_layer). NULL: gradients everywhere. */
    const char *explain_layer;
} xcnn_load_options;

/* Load an ONNX model from a file. On success *out owns the model; free it
 * with xcnn_model_free. On failure *out is NULL and err (if not NULL)
 * receives a one-line message naming the problem (node, op, tensor). */
xcnn_status xcnn_model_load(const char *path, const xcnn_load_options *opts,
                            xcnn_model **out, char *err, size_t err_size);

/* The same from memory; the bytes are not referenced after the call. */
xcnn_status xcnn_model_load_memory(const void *data, size_t size,
                                   const xcnn_load_options *opts,
                                   xcnn_model **out, char *err, size_t err_size);

/*
 * A model in one buffer the caller owns, for devices with no heap (and for
 * anyone who wants to see every byte). `model` must be an .xcnn image
 * (`xcnn convert MODEL.onnx OUT.xcnn`); an ONNX file is refused (its
 * protobuf needs the heap to parse).
 *
 * xcnn_model_plan: the exact bytes that buffer must hold for this model
 * and these options (inference_only, max_batch, explain_layer honoured),
 * start alignment included. It allocates from the heap while it measures.
 *
 * xcnn_model_load_static: everything the model needs is carved from
 * `buffer`: the model, its graph, the ops' params, the arena and the
 * explainers' workspace. The weights are used in place: `model` must stay
 * valid, unchanged, for the model's life, aligned for floats (on a 64-byte
 * boundary each weight starts a cache line), and may be read-only memory
 * (flash): the library never writes it. Nothing is allocated from the heap
 * during this call or in any later call on the model. Forward, backward
 * and the explainers give the same bits as on a heap-loaded model.
 * XCNN_ERR_NOMEM when the buffer is too small (the message gives the size
 * xcnn_model_plan would). Such a model cannot grow: xcnn_model_reserve
 * past its max_batch and xcnn_model_enable_param_grads return
 * XCNN_ERR_LIMIT, and it cannot be trained (its weights are read-only).
 * xcnn_model_free releases nothing (the buffer is the caller's; reuse it
 * once the model is freed).
 */
xcnn_status xcnn_model_plan(const void *model, size_t size, const xcnn_load_options *opts,
                            size_t *bytes, char *err, size_t err_size);
xcnn_status xcnn_model_load_static(const void *model, size_t size,
                                   const xcnn_load_options *opts, void *buffer,
                                   size_t buffer_size, xcnn_model **out, char *err,
                                   size_t err_size);

void xcnn_model_free(xcnn_model *m);

/* The message of the last failed call on this model ("" if none). */
const char *xcnn_model_error(const xcnn_model *m);

/* Set the OpenMP thread count used by this model: 0 (the library
 * default) to 1024; anything else is XCNN_ERR_ARG and changes nothing.
 * Results are bit-identical for every thread count. */
xcnn_status xcnn_model_set_threads(xcnn_model *m, int threads);

/* Plan memory for batches of up to max_batch inputs. Allocates; call it at
 * setup time, not in a loop. A fresh model is reserved for batch 1.
 * XCNN_ERR_ARG for max_batch < 1, XCNN_ERR_LIMIT when the arena would
 * pass xcnn_load_options.max_arena_bytes (checked before allocating),
 * XCNN_ERR_NOMEM when the allocation fails; after any failure the model
 * keeps its previous batch and arena and runs as before. */
xcnn_status xcnn_model_reserve(xcnn_model *m, int max_batch);
int xcnn_model_max_batch(const xcnn_model *m);

/* Allocate gradient buffers for the weights (Conv, Gemm, BatchNorm ...),
 * so that xcnn_backward also fills them. Off by default: explanations only
 * need input gradients. */
xcnn_status xcnn_model_enable_param_grads(xcnn_model *m);

/* Bytes held by the arena (activations, gradients, scratch) and by weights. */
size_t xcnn_model_arena_bytes(const xcnn_model *m);
size_t xcnn_model_weight_bytes(const xcnn_model *m);

/* A metadata_props value of the ONNX file ("xcnn.labels",
 * "xcnn.preprocess", ...), or NULL if the key is absent. */
const char *xcnn_model_metadata(const xcnn_model *m, const char *key);

/* What the load accepted without using it, one line each (index 0, 1, ...;
 * NULL past the last, or for m NULL): attributes that cannot change the
 * result, e.g. "node 'drop' (Dropout): attribute 'ratio' ignored: Dropout
 * is the identity at inference". Attributes that could change it, or that
 * libxcnn does not know, are refused at load instead. Valid until
 * xcnn_model_free. `xcnn info` prints them. */
const char *xcnn_model_warning(const xcnn_model *m, int index);

/* --- Shapes ---------------------------------------------------------- */

/* A read-only view of one tensor. For activations dims[0] is the batch of
 * the last forward pass. data/grad point into the model and stay valid
 * until the next reserve or free; grad is NULL when there is no gradient
 * buffer (weights without enable_param_grads, integer shape constants). */
typedef struct xcnn_tensor_view {
    const char *name;
    int ndim;
    int64_t dims[XCNN_MAX_DIMS];
    size_t numel;        /* product of dims */
    int is_weight;       /* 1 for initializers and Constant nodes   */
    const float *data;
    const float *grad;
    /* Where the values live in the model's arena: data's byte offset from
     * the arena's start, and the bytes planned for them (max_batch
     * samples, rounded up to 64). Tensors whose ranges overlap share
     * memory. In a model loaded for explanations none do: each tensor has
     * its own slice, its values then its gradient. In an inference_only
     * load layer outputs share memory by lifetime (see xcnn_load_options).
     * -1 and 0 for tensors outside the arena: weights, constants, and
     * tensors that an inference_only load fused away. */
    int64_t arena_offset;
    size_t arena_bytes;
    /* The gradient's byte offset in the arena (arena_bytes long), or -1
     * where it has none there (inference_only; weights, whose gradients
     * from xcnn_model_enable_param_grads live in a buffer of their own). */
    int64_t grad_offset;
} xcnn_tensor_view;

/* The model input and output (the graph's first input and first output). */
xcnn_status xcnn_model_input(const xcnn_model *m, xcnn_tensor_view *out);
xcnn_status xcnn_model_output(const xcnn_model *m, xcnn_tensor_view *out);

/* Look a tensor up by its ONNX name. XCNN_ERR_NOT_FOUND if absent. */
xcnn_status xcnn_model_tensor(const xcnn_model *m, const char *name,
                              xcnn_tensor_view *out);

/* --- Nodes (layers) -------------------------------------------------- */

typedef struct xcnn_node_info {
    const char *name;     /* ONNX node name (may be "" in the file; then we
                             name it "<op>_<index>")                      */
    const char *op_type;  /* "Conv", "Relu", ...                          */
    const char *output;   /* name of its first output tensor              */
    int64_t n_params;     /* weight elements this node reads              */
    double flops;         /* forward FLOPs for batch 1 (multiply-add = 2) */
    /* With xcnn_model_set_profiling on: the seconds this node took in the
     * last forward pass and in the last backward pass run on the model
     * (xcnn_forward, xcnn_backward, or an explainer's batched pass); 0 for
     * a node that pass did not run (a backward that stopped early, a
     * branch the gradient never reached). 0 when profiling is off. */
    double forward_seconds;
    double backward_seconds;
} xcnn_node_info;

/* Compute nodes in forward order (shape-only subgraphs folded at load are
 * not listed). */
int xcnn_model_node_count(const xcnn_model *m);
xcnn_status xcnn_model_node(const xcnn_model *m, int index, xcnn_node_info *out);

/* Time every node of the passes run on this model (on = 1), or stop (0:
 * the times read 0 again). The times appear in xcnn_node_info. Off by
 * default; while off the passes never read the clock. Switching it on
 * allocates two doubles per node: call it at setup, not in a loop.
 * Passes the explainers run one sample per thread (several threads,
 * xcnn_model_reserve > 1) are not timed; xcnn_forward and xcnn_backward
 * always are. `xcnn info --trace` prints these times. */
xcnn_status xcnn_model_set_profiling(xcnn_model *m, int on);

/* --- Running --------------------------------------------------------- */

/* Run the network on `batch` inputs laid out contiguously (batch x C x H x W
 * floats). If output is not NULL, batch x K output values are copied there.
 * Every intermediate tensor stays readable until the next call. An output
 * holding a NaN or an Inf (an overflow inside the network) is
 * XCNN_ERR_NUMERIC, naming the first node that gave one; output is then
 * not written. */
xcnn_status xcnn_forward(xcnn_model *m, const float *input, int batch,
                         float *output);

/* How backward treats ReLU nodes (explainers; every other op keeps its
 * true gradient). */
typedef enum xcnn_relu_rule {
    XCNN_RELU_GRADIENT = 0,  /* the true gradient                          */
    XCNN_RELU_DECONVNET = 1, /* g_in = max(g_out, 0)                       */
    XCNN_RELU_GUIDED = 2     /* g_in = max(g_out, 0) * [x_in > 0]          */
} xcnn_relu_rule;

typedef struct xcnn_backward_options {
    xcnn_relu_rule relu_rule;
    /* If not NULL: stop once the gradient at this tensor is complete (the
     * nodes before it are not run; the input gradient is then not valid). */
    const char *stop_at;
} xcnn_backward_options;

/* Backward pass after xcnn_forward, starting from output element
 * targets[b] of batch item b (d output[b][targets[b]] / d everything).
 * targets may be NULL when seed is given: then seed (batch x K floats) is
 * the gradient at the output. opts may be NULL (true gradient, full pass).
 * Afterwards every tensor's grad, the input's included, is readable.
 * A seed, or a gradient at the input (at stop_at when given), holding a
 * NaN or an Inf is XCNN_ERR_NUMERIC, naming the first tensor, going back
 * from the output, whose gradient holds one.
 * After xcnn_explain with XCNN_GRADCAM, whose forward below its layer
 * computes values only, a backward that goes below that layer is refused
 * (XCNN_ERR_ARG) until the next xcnn_forward. */
xcnn_status xcnn_backward(xcnn_model *m, const int *targets, const float *seed,
                          const xcnn_backward_options *opts);

/* --- Explanations ---------------------------------------------------- */
/* The exact definitions, which follow Captum, are in the README. Every
 * method writes into a caller-provided buffer, allocates nothing, and can
 * be called again and again on new inputs. */

typedef enum xcnn_method {
    XCNN_SALIENCY = 0,           /* abs(dy/dx) (or signed with no_abs)       */
    XCNN_INPUT_X_GRADIENT = 1,   /* x * dy/dx                                */
    XCNN_DECONVNET = 2,          /* ReLU backward: max(g, 0)                 */
    XCNN_GUIDED_BACKPROP = 3,    /* ReLU backward: max(g, 0) * [x > 0]       */
    XCNN_INTEGRATED_GRADIENTS = 4,
    XCNN_SMOOTHGRAD = 5,
    XCNN_GRADCAM = 6,            /* output 1x1xhxw (1x1xHxW with upsample)   */
    XCNN_GUIDED_GRADCAM = 7,
    /* The second round (METHODS.md; the README's method table). */
    XCNN_DEEPLIFT = 8,           /* Rescale rule; baseline (default zeros)   */
    XCNN_DEEPLIFT_SHAP = 9,      /* mean of deeplift over baselines[]        */
    XCNN_GRADIENT_SHAP = 10,     /* expected gradients over baselines[]      */
    XCNN_LRP = 11,               /* layer-wise relevance, lrp_rule           */
    XCNN_OCCLUSION = 12,         /* sliding window (Captum's Occlusion)      */
    XCNN_RISE = 13,              /* random masks; output 1x1xHxW             */
    XCNN_CAM = 14,               /* Zhou et al.: GAP + Gemm models; 1x1xhxw  */
    XCNN_GRADCAM_PLUS_PLUS = 15, /* the CAM family, pytorch-grad-cam's       */
    XCNN_XGRADCAM = 16,          /* definitions: output 1x1xhxw, or 1x1xHxW  */
    XCNN_LAYERCAM = 17,          /* with upsample                            */
    XCNN_HIRESCAM = 18,
    XCNN_SCORECAM = 19,
    XCNN_EIGENCAM = 20,
    XCNN_ABLATIONCAM = 21
} xcnn_method;
#define XCNN_METHOD_COUNT 22

/* The LRP composites (METHODS.md). */
typedef enum xcnn_lrp_rule {
    XCNN_LRP_EPSILON_PLUS_FLAT = 0,  /* Zennit EpsilonPlusFlat, canonized (default) */
    XCNN_LRP_EPSILON = 1,            /* Captum LRP: epsilon everywhere          */
    XCNN_LRP_EPSILON_GAMMA_BOX = 2   /* Zennit EpsilonGammaBox, canonized       */
} xcnn_lrp_rule;

typedef enum xcnn_ig_rule {
    XCNN_IG_GAUSS_LEGENDRE = 0,
    XCNN_IG_RIEMANN_LEFT = 1,
    XCNN_IG_RIEMANN_RIGHT = 2,
    XCNN_IG_RIEMANN_MIDDLE = 3,
    XCNN_IG_RIEMANN_TRAPEZOID = 4  /* Captum's rule: weights sum to (n-1)/n */
} xcnn_ig_rule;

typedef struct xcnn_explain_options {
    xcnn_method method;
    int target;            /* output index; -1 (default): the arg-max      */
    int no_abs;            /* saliency: keep the sign (default 0)          */
    /* integrated gradients */
    int steps;             /* default 50                                   */
    xcnn_ig_rule ig_rule;  /* default Gauss-Legendre                       */
    const float *baseline; /* input-shaped; NULL (default): zeros          */
    /* smoothgrad */
    int samples;           /* default 25                                   */
    float stdev;           /* absolute; < 0 (default): 0.15*(max(x)-min(x))*/
    uint64_t seed;         /* default 0; same seed, same result            */
    const float *noise;    /* optional samples x input-size noise to use
                              instead of drawing it (to reproduce another
                              implementation's samples); default NULL      */
    /* grad-cam */
    const char *layer;     /* tensor or node name; NULL (default):
                              xcnn_model_default_cam_layer's. A node's
                              output: the model input is refused         */
    int no_relu;           /* default 0 (ReLU on, as the paper)            */
    int upsample;          /* bilinear to the input's HxW (default 0)      */
    /* The methods below read `baseline`, `samples`, `stdev`, `seed`,
     * `noise` and `layer` above too, as METHODS.md says; the defaults set
     * by xcnn_explain_options_init depend on the method (samples: 25 for
     * smoothgrad, 5 for gradient-shap, 4000 for rise; stdev: 0 for
     * gradient-shap). */
    /* deeplift-shap, gradient-shap: n_baselines inputs, one after the
     * other (n_baselines x input-size floats) */
    const float *baselines;
    int n_baselines;
    /* gradient-shap: draws to use instead of the seeded generator (to
     * reproduce another implementation's samples), each NULL for "draw":
     * draw_index[k] the baseline of sample k, draw_alpha[k] its a, and
     * `noise` (samples x input-size) its e. */
    const int *draw_index;
    const float *draw_alpha;
    /* lrp */
    xcnn_lrp_rule lrp_rule; /* default XCNN_LRP_EPSILON_PLUS_FLAT          */
    float epsilon;         /* < 0 (default): 1e-9 for XCNN_LRP_EPSILON, 1e-6
                              in the composites                            */
    float gamma;           /* default 0.25 (epsilon-gamma-box)             */
    float low, high;       /* z-box bounds of the first layer's input; NaN
                              (default): the input's min and max           */
    int zero_bias;         /* biases left out of the rules (default 0)    */
    /* occlusion: window c x h x w (c 0: every channel; h, w required,
     * default 0 = refused), strides along height and width (default 1),
     * the value the window is set to (default 0) */
    int window[3];
    int stride[2];
    float fill;
    /* rise: masks (n_masks x H x W, used as given) or drawn: `samples`
     * masks of cells x cells Bernoulli(p1) cells */
    const float *masks;
    int n_masks;
    int cells;             /* default 7                                    */
    float p1;              /* default 0.5                                  */
    /* the CAM family: min-max scale each map (pytorch-grad-cam's scaling)
     * before any upsample (default 0: raw maps) */
    int normalize;
} xcnn_explain_options;

/* Fill o with the defaults above for `method`. */
void xcnn_explain_options_init(xcnn_explain_options *o, xcnn_method method);

/* What a call computed besides the attribution. */
typedef struct xcnn_explain_result {
    int target;            /* the output index explained                   */
    float score;           /* the model's output at target for the input   */
    float delta;           /* integrated gradients, deeplift(-shap):
                              sum(attr) - (f(x)[t] - f(baseline)[t])
                              (deeplift-shap: with the baselines' mean
                              score)                                       */
    float total;           /* lrp: sum of the relevance at the input, to
                              hold against score                           */
    int ndim;              /* shape written to `out`                       */
    int64_t dims[4];
    char layer[256];       /* grad-cam: the layer tensor used              */
} xcnn_explain_result;

/* The number of floats xcnn_explain writes for these options (so the
 * caller can size `out`), and its shape. */
xcnn_status xcnn_explain_shape(xcnn_model *m, const xcnn_explain_options *o, int *ndim,
                               int64_t dims[4]);

/* Explain one input (C x H x W floats, batch 1). out receives the
 * attribution; out_len is its capacity in floats. result may be NULL.
 * Every number returned is finite: a NaN or an Inf in any pass (at the
 * input, a path point, a noisy sample), in the attribution or in the
 * delta is XCNN_ERR_NUMERIC, and the message says where (the node, the
 * baseline, the stdev). Options that cannot give floats are refused
 * before any pass: a baseline so far from the input that their difference
 * overflows, a smoothgrad stdev whose noise would. An inference_only model
 * is refused (XCNN_ERR_ARG): every method needs gradients.
 * Integrated gradients and smoothgrad run their points in batches of up to
 * xcnn_model_max_batch(m) (reserve a larger batch for speed), but of no
 * more inputs than keep about 96 MB of activations in flight: past the
 * caches, bigger passes only add memory traffic (ResNet-18: 2 per pass).
 * The result does not depend on the batch, to the bit. */
xcnn_status xcnn_explain(xcnn_model *m, const float *input, const xcnn_explain_options *o,
                         float *out, size_t out_len, xcnn_explain_result *result);

/* Explain n inputs (n x C x H x W floats, one after another) with the same
 * options: out receives n attributions one after another (each as
 * xcnn_explain_shape says; out_len is out's capacity in floats), results
 * n results (not NULL). o->target applies to every input (-1: each its
 * own arg-max). Saliency, input x gradient, deconvnet, guided backprop and
 * Grad-CAM run the inputs through the network together, in batches of up
 * to xcnn_model_max_batch(m) bounded as integrated gradients' passes are
 * (reserve a larger batch for speed); the other methods run one input
 * after another. Each attribution and result is the one xcnn_explain
 * gives that input alone, to the bit. On a failure the message starts
 * "input i: "; the inputs before *done (if done is not NULL) have their
 * attributions and results, the others are undefined. */
xcnn_status xcnn_explain_batch(xcnn_model *m, const float *inputs, int n,
                               const xcnn_explain_options *o, float *out, size_t out_len,
                               xcnn_explain_result *results, int *done);

/* Name of the layer Grad-CAM (and every CAM method) uses by default: the
 * last 4-D activation with h*w > 1 laid out N, C, H, W (not one a
 * Transpose made channels-last, as in ConvNeXt's blocks); NULL if the
 * model has none. One exception: when that activation has one channel per
 * class and no Gemm or MatMul follows it (the classes are read off it by
 * pooling alone: a score map, as SqueezeNet's classifier makes), the
 * layers with that channel count are skipped back to the last such
 * activation with another count, the feature extractor before the
 * classifier (SqueezeNet: the last Fire module's output, features[-1]). */
const char *xcnn_model_default_cam_layer(const xcnn_model *m);

/* --- Small utilities ------------------------------------------------- */

/* Read a float32 .npy file (C order, little-endian). *data is malloc'ed and
 * owned by the caller (free()). The header is read as numpy reads it (a
 * Python dict of exactly descr, fortran_order and shape); what numpy
 * refuses is XCNN_ERR_FORMAT, and so is a key given twice. Big-endian,
 * Fortran-order and other dtypes are XCNN_ERR_UNSUPPORTED. */
xcnn_status xcnn_npy_read(const char *path, float **data, int *ndim,
                          int64_t dims[XCNN_MAX_DIMS], char *err, size_t err_size);
/* Write a float32 .npy file of shape dims[0..ndim) (ndim 0..8; dims may
 * be NULL for ndim 0). Refused before anything is written: a negative
 * dimension or NULL pointer (XCNN_ERR_ARG; data may be NULL only for an
 * empty array), more than 2^28 elements (XCNN_ERR_LIMIT: the reader's
 * limit). err receives a message on every failure. */
xcnn_status xcnn_npy_write(const char *path, const float *data, int ndim,
                           const int64_t *dims, char *err, size_t err_size);

/* Write a heatmap PNG of an attribution (channels x h x w floats): the
 * absolute value summed over channels, normalised to its maximum, coloured
 * with viridis and resized (bilinear) to H x W. If image is not NULL
 * (image_channels x H x W, 1 or 3 channels) the map is blended over it in
 * grey. Small images are scaled up to at least 224 pixels. */
xcnn_status xcnn_heatmap_png(const char *path, const float *attr, int channels, int h, int w,
                             const float *image, int image_channels, int H, int W,
                             char *err, size_t err_size);

/* The same heatmap drawn into rgb (OH x OW pixels, 3 bytes each, caller's
 * buffer) instead of a file: for composing figures. Sizes over the image
 * caps of xcnn_image.h (16384 a side, 64 Mi pixels) are XCNN_ERR_LIMIT,
 * other bad arguments XCNN_ERR_ARG (no message: there is no buffer; the
 * same call through xcnn_heatmap_png says which argument). */
xcnn_status xcnn_heatmap_rgb(const float *attr, int channels, int h, int w, const float *image,
                             int image_channels, int H, int W, unsigned char *rgb, int OH, int OW);

#ifdef __cplusplus
}
#endif
#endif /* XCNN_H */
