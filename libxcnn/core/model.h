/*
 * The model handle behind the public API: a planned graph plus the arena
 * that holds every activation, gradient and the op scratch space.
 */
#ifndef XCNN_MODEL_H
#define XCNN_MODEL_H

#include <stdatomic.h>
#include "../graph/graph.h"

/* Arena slices start on a cache line: 64 bytes, one AVX-512 vector. */
#define XCNN_ALIGN_FLOATS 16

/* xcnn_load_options.max_arena_bytes when not given: 4 GiB (see xcnn.h). */
#define XCNN_DEFAULT_MAX_ARENA_BYTES ((uint64_t)4 << 30)

/* One sample of a batch, seen as a batch of 1 by a thread of its own
 * (xcnn_exec_sample_passes): the model's graph with a copy of its tensor
 * table pointed at that sample's slices, and its own scratch and backward
 * bookkeeping. Weights are shared, read only. */
typedef struct xcnn_sample_view {
    xcnn_graph g;          /* the model's graph, but tensors below        */
    xcnn_tensor *tensors;  /* the model's table, pointed at one sample    */
    float *scratch_mem;    /* its own scratch (view 0: the model's)       */
    float *scratch;
    unsigned char *reached, *cleared;
} xcnn_sample_view;

struct xcnn_model {
    /* Where the model's memory comes from (base/mem.h): NULL for the heap;
     * &mem_state for one caller buffer (xcnn_model_load_static), or for
     * xcnn_model_plan's measuring load. The model struct itself, its graph,
     * the op params, the arena and the workspace all come from it. */
    xcnn_mem *mem;
    xcnn_mem mem_state;
    xcnn_graph *g;
    int *compute;          /* indices of the nodes that run (not folded)   */
    int n_compute;
    int max_batch;         /* arena planned for this many inputs           */
    int param_grads;       /* weight gradient buffers allocated?           */
    int inference_only;    /* no gradient buffers at all (load option)     */
    /* xcnn_load_options.explain_layer: the tensor from which on gradients
     * are kept (backward passes stop at it or after it), or -1. */
    int grad_from;
    /* Activations share memory by lifetime (inference_only, or below
     * grad_from): a layer's values are gone once no later node reads them. */
    int shared_values;
    uint64_t max_elems;    /* xcnn_load_options.max_tensor_elems           */
    uint64_t max_arena_bytes; /* xcnn_load_options.max_arena_bytes (resolved) */
    int threads;           /* 0: OpenMP default                            */
    /* 1 while a public call holds the model (xcnn_model_enter): a second
     * thread's call is refused instead of interleaving with the first's
     * passes, which would silently mix two inputs' activations. */
    atomic_int busy;
    float *arena;          /* one allocation: activations, grads, scratch  */
    float *arena_mem;      /* what was allocated (arena is its 64-byte-aligned start) */
    size_t arena_bytes;
    float *scratch;        /* inside the arena                             */
    size_t scratch_floats;
    float *param_grad_mem; /* gradients of weights, when enabled           */
    size_t param_grad_bytes;
    size_t weight_bytes;
    unsigned char *reached;/* per tensor: did a gradient reach it (backward) */
    unsigned char *cleared;/* per tensor: gradient zeroed in this backward   */
    /* Explainer workspace, sized with the arena (explain.c) */
    float *ex_path;        /* max_batch inputs: path points, noisy inputs  */
    double *ex_acc;        /* one input: running sums in double            */
    int *ex_targets;       /* max_batch targets                            */
    float *ex_cam;         /* the largest h*w of any 4-D activation        */
    size_t ex_cam_floats;
    int ex_cut;            /* tensor after the model's affine entry, or -1
                              (xcnn_model_affine_entry; integrated gradients)  */
    double *ex_cut_acc;    /* one sample of ex_cut: sums of its gradients  */
    float *ex_cut_seed;    /*   and those sums in float                    */
    /* The second round of methods (METHODS.md) shares these; each
     * method's file says what it keeps where. */
    float *ex_path2;       /* max_batch inputs more: masks, noisy points   */
    double *ex_acc2;       /* one input more, in double                    */
    float *ex_layer;       /* the largest activation of one sample         */
    double *ex_layer_acc;  /*   and as many doubles                        */
    size_t ex_layer_floats;
    int *ex_index;         /* one input's worth of ints: orders, ranks   */
    float *ex_rule;        /* LRP's modified weights and columns
                              (xcnn_workspace_rule_floats)                 */
    size_t ex_rule_floats;
    xcnn_sample_view *views; /* one per thread for sample passes (explain.c) */
    int n_views;
    int ops_warm;          /* a gradient-keeping forward of every node has run:
                              the ops made the weight forms they make on first
                              use (sample passes share them) */
    int values_warm;       /* a values-only forward of every node has run
                              (xcnn_exec_forward_values to the output): the
                              forms sample forwards use are made */
    int warm_from;         /* nodes from this index on have run a backward too
                              (INT_MAX: none); exec.c, sample passes      */
    int have_forward;      /* a forward pass has run since the last reserve */
    int have_backward;
    double *prof_room;     /* a static model's profile, made at load (set_profiling
                              cannot allocate there)                       */
    double *prof_seconds;  /* xcnn_model_set_profiling: per compute node, its
                              last forward time, then (n_compute on) its last
                              backward time; NULL while profiling is off   */
    char error[512];
};

/* plan.c: fold shape subgraphs and set up every op (shapes at batch 1);
 * refuse non-finite weights and attributes, and any tensor over max_elems. */
xcnn_status xcnn_plan(xcnn_graph *g, uint64_t max_elems, xcnn_err *err);

/* fuse.c: Conv+BatchNormalization and Conv+Relu fusion, for models loaded
 * inference_only (no explainer will read the tensors in between). */
xcnn_status xcnn_fuse(xcnn_graph *g, xcnn_err *err);

/* arena.c: (re)allocate the arena for max_batch inputs. Refused with
 * XCNN_ERR_LIMIT, before allocating, over m->max_arena_bytes; on any
 * failure the model keeps its old arena and batch. */
xcnn_status xcnn_arena_reserve(xcnn_model *m, int max_batch, xcnn_err *err);
xcnn_status xcnn_arena_enable_param_grads(xcnn_model *m, xcnn_err *err);

/* workspace.c: the explainers' workspace. Its batch-sized buffers (path
 * points, targets) are made by xcnn_workspace_alloc before a reserve lets
 * go of anything, so that a failed reserve keeps the old ones, and handed
 * to the model by xcnn_workspace_reserve once the new arena is in place
 * (w is emptied); the buffers sized by the graph are made there once. */
typedef struct xcnn_workspace_batch {
    float *path, *path2;
    int *targets;
} xcnn_workspace_batch;
/* The floats LRP's rules need besides the arena (m->ex_rule): sized from
 * the graph's Conv and Gemm nodes (explain/lrp*.c use it). */
size_t xcnn_workspace_rule_floats(const xcnn_model *m);
xcnn_status xcnn_workspace_alloc(const xcnn_model *m, int max_batch, xcnn_workspace_batch *w,
                                 xcnn_err *err);
xcnn_status xcnn_workspace_reserve(xcnn_model *m, xcnn_workspace_batch *w, xcnn_err *err);

/*
 * The model's affine entry: when the input is read by one Conv only (fixed
 * weights, no fused activation), the tensor that Conv makes, else -1. The
 * input gradient is then that Conv's backward of the cut's gradient, which
 * is linear: a weighted sum of input gradients is the Conv's backward of
 * the weighted sum of the cut's gradients (integrated_gradients.c).
 */
int xcnn_model_affine_entry(const xcnn_model *m);

/* exec.c */
xcnn_status xcnn_exec_forward(xcnn_model *m, const float *input, int batch, xcnn_err *err);
/*
 * A forward whose values up to tensor `layer` (its producer and every node
 * before it) no backward will read: ops there may use algorithms whose
 * rounding differs from the gradient-grade ones (Conv: Winograd F(4x4)).
 * Grad-CAM's pass, whose backward stops at its layer. Until the next
 * forward, a backward that would go below `layer` is refused. layer -1:
 * xcnn_exec_forward.
 */
xcnn_status xcnn_exec_forward_values(xcnn_model *m, const float *input, int batch, int layer,
                                     xcnn_err *err);
/* stop: tensor index whose gradient completes the pass, -1 for a full pass. */
xcnn_status xcnn_exec_backward(xcnn_model *m, const int *targets, const float *seed,
                               xcnn_relu_rule rule, int stop, xcnn_err *err);
/*
 * A backward over the first `batch` samples of the last forward (at most
 * its batch; the later samples' values stay readable, which is how
 * DeepLIFT reads its reference pass), with ctx's rules: node_rule in place
 * of every op's backward when set (explain/rules.h). Otherwise as
 * xcnn_exec_backward.
 */
xcnn_status xcnn_exec_backward_rules(xcnn_model *m, const int *targets, const float *seed,
                                     const xcnn_bwd_ctx *ctx, int batch, int stop, xcnn_err *err);
/*
 * A forward of `batch` inputs in which, right after the node that makes
 * tensor `layer` has run, edit(layer, batch, state) may change its values
 * (Ablation-CAM zeroes a channel per sample). Everything after sees the
 * edited values. A full-gradient forward (values_below 0).
 */
typedef void (*xcnn_forward_edit)(xcnn_tensor *layer, int batch, void *state);
xcnn_status xcnn_exec_forward_edit(xcnn_model *m, const float *input, int batch, int layer,
                                   xcnn_forward_edit edit, void *state, xcnn_err *err);
/*
 * Only the nodes after `layer`'s producer, on `batch` samples whose values
 * at `layer` the caller has written into its data. Exact only when those
 * nodes read nothing made before `layer` but constants:
 * xcnn_exec_forward_from_ok says so (1), and forward_from refuses
 * otherwise. The output is checked for NaN and Inf as in a forward.
 */
int xcnn_exec_forward_from_ok(const xcnn_model *m, int layer);
xcnn_status xcnn_exec_forward_from(xcnn_model *m, int layer, int batch, xcnn_err *err);
/*
 * The backward of the nodes up to tensor `cut`'s producer, seeded with the
 * gradient `seed` at cut (`batch` samples, at most the last forward's);
 * it leaves the input gradient. Those nodes see whatever values the last
 * forward left, so this is only exact when no later node reads a value
 * made before cut and their input gradients do not read values at all:
 * affine nodes such as a Conv (xcnn_model_affine_entry checks; weight
 * gradients are not computed here).
 */
xcnn_status xcnn_exec_backward_from(xcnn_model *m, int cut, const float *seed, int batch,
                                    xcnn_err *err);
/*
 * A full backward from tensor `from` (a layer output, not the model
 * output's only way in): the gradient `seed` (`batch` samples of from's
 * shape, at most the last forward's batch) goes into from's gradient and
 * every node up to from's producer runs its ordinary backward, down to the
 * input. Nodes after from's producer do not run and tensors they make keep
 * what they hold; weight gradients are not computed. The gradient of an
 * objective defined at an inner layer (feature visualisation, evaluate/).
 */
xcnn_status xcnn_exec_backward_at(xcnn_model *m, int from, const float *seed, int batch,
                                  xcnn_err *err);
/*
 * Forward and backward of `batch` inputs, each sample on a thread of its
 * own with the ops running single-threaded inside it (the samples of a
 * pass spread over the threads, one whole pass each, instead of every op
 * split over the threads). Backward from targets[b], with `rule`, to
 * `stop` (-1: the input), as xcnn_exec_backward. Every sample's values
 * and gradients are those of a batched pass, bit for bit (each op's
 * result is the same for any thread count). Without several threads and
 * views, or before the first forward has made the ops' lazily made weight
 * forms, it runs the batched pass instead.
 */
xcnn_status xcnn_exec_sample_passes(xcnn_model *m, const float *input, int batch,
                                    const int *targets, xcnn_relu_rule rule, int stop,
                                    xcnn_err *err);
/* The same, where a target of -1 is the arg-max of that
 * sample's own output (its first largest), written into targets[b]: the
 * one-backward explainers of many inputs resolve their targets inside the
 * passes instead of running a forward first. */
xcnn_status xcnn_exec_sample_passes_picking(xcnn_model *m, const float *input, int batch,
                                            int *targets, xcnn_relu_rule rule, int stop,
                                            xcnn_err *err);
/* xcnn_exec_forward_values(m, input, batch, output) with the samples of the
 * batch on threads of their own, each a whole values-only forward with its
 * ops single-threaded (the forward-only explainers' batches: occlusion,
 * RISE, Score-CAM). Each sample's values are the batched forward's, bit for
 * bit. Without views, or before a batched values-only forward to the
 * output has made the ops' values-only forms, it runs that batched forward. */
xcnn_status xcnn_exec_sample_forwards(xcnn_model *m, const float *input, int batch,
                                      xcnn_err *err);
/* (Re)make m->views for the model's threads and max_batch (arena.c). */
xcnn_status xcnn_exec_reserve_views(xcnn_model *m, xcnn_err *err);
void xcnn_exec_free_views(xcnn_model *m);

/* model.c: the tensor a user means by `name`: a tensor name, else a
 * running node's name (its first output). -1 if neither. */
int xcnn_model_find_layer(const xcnn_model *m, const char *name);

/*
 * The in-use flag. Every public call that takes a model and can fail runs
 * between xcnn_model_enter and xcnn_model_leave; enter returns 0 (take
 * nothing, return XCNN_ERR_BUSY, write nothing into the model, its error
 * buffer included) when another thread holds it. A test-and-set, not a
 * lock: misuse is reported, never waited for. Acquire/release order makes
 * what one holder wrote visible to the next. The const casts are for
 * calls that only read the graph: the model itself is never const
 * (it comes from malloc).
 */
static inline int xcnn_model_enter(const xcnn_model *m)
{
    return atomic_exchange_explicit(&((xcnn_model *)m)->busy, 1, memory_order_acquire) == 0;
}

static inline void xcnn_model_leave(const xcnn_model *m)
{
    atomic_store_explicit(&((xcnn_model *)m)->busy, 0, memory_order_release);
}

/* xcnn_forward and xcnn_backward for a caller that already holds the
 * model (the trainer: one flag over a whole step). Errors go into
 * m->error. */
xcnn_status xcnn_model_forward_held(xcnn_model *m, const float *input, int batch, float *output);
xcnn_status xcnn_model_backward_held(xcnn_model *m, const int *targets, const float *seed,
                                     const xcnn_backward_options *opts);

#endif
