/*
 * Ablation-CAM (Desai & Ramaswamy 2020; pytorch-grad-cam's AblationCAM,
 * METHODS.md). With A the layer's output (1 x K x h x w), y = f(x)[t]:
 *   y_k = f(x)[t] with channel k of A set to 0
 *   w_k = (y - y_k) / y
 *   cam = relu(sum_k w_k A_k)
 * (pytorch-grad-cam ablates to min - 1e7 where the layer can be negative;
 * we always use 0.) y = 0 is refused: the weights are undefined.
 *
 * The K ablated passes, batched, run one of two ways:
 *   - from the layer (xcnn_exec_forward_from): the ablated copies of A are
 *     written into the layer's batch and only the nodes after it run, when
 *     those read nothing made before the layer (xcnn_exec_forward_from_ok).
 *     At ResNet-18's last block that is GlobalAveragePool, Flatten, Gemm:
 *     the K passes cost less than one whole forward.
 *   - whole forwards of x whose layer is edited as it is made
 *     (xcnn_exec_forward_edit), where a later node reads an earlier value
 *     (inside a residual block: the skip connection).
 * The first forward, for A and y, is a whole gradient-grade forward, the
 * very algorithms forward_edit runs: both ways see the same A, and since
 * every op's result is the same for any batch, give the same bits.
 * Workspace: A in ex_layer, x copies in ex_path (edit), y_k and then w_k
 * in ex_layer_acc (K doubles).
 */
#include <math.h>
#include <string.h>
#include "cam_family.h"
#include "../../base/format.h"

typedef struct ablate_state {
    int k0;      /* sample b zeroes channel k0 + b */
    size_t hw;
} ablate_state;

static void ablate(xcnn_tensor *layer, int batch, void *state)
{
    const ablate_state *s = state;
    size_t n = xcnn_tensor_sample_numel(layer);
    for (int b = 0; b < batch; b++)
        memset(layer->data + (size_t)b * n + (size_t)(s->k0 + b) * s->hw, 0,
               s->hw * sizeof(float));
}

static xcnn_status ablationcam_check(xcnn_model *m, const float *x,
                                     const xcnn_explain_options *o, xcnn_err *err)
{
    (void)x;
    int t;
    return xcnn_ex_family_check(m, o, "ablationcam", 0, &t, err);
}

xcnn_status xcnn_ex_ablationcam_run(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                                    int edit, float *out, xcnn_explain_result *res,
                                    xcnn_err *err)
{
    int t;
    xcnn_status st = xcnn_ex_cam_layer(m, o->layer, &t, err);
    if (st) return st;
    xcnn_graph *g = m->g;
    xcnn_tensor *lt = &g->tensors[t];
    if (!edit && !xcnn_exec_forward_from_ok(m, t))
        return xcnn_fail(err, XCNN_ERR_ARG, "ablationcam: a forward from '%s' would read values "
                         "made before it", lt->name);
    xcnn_format(res->layer, sizeof res->layer, "%s", lt->name);
    st = xcnn_ex_forward_target(m, x, o, res, err);
    if (st) return st;
    size_t classes = xcnn_ex_output_numel(m), in_n = xcnn_ex_input_numel(m);
    double y = g->tensors[g->output].data[res->target];
    if (y == 0)
        return xcnn_fail(err, XCNN_ERR_NUMERIC, "ablationcam: the score f(x)[%d] is 0, and the "
                         "weights (y - y_k) / y divide by it: pick another target or method",
                         res->target);

    int K = (int)lt->dims[1];
    size_t hw = (size_t)(lt->dims[2] * lt->dims[3]), n_layer = (size_t)K * hw;
    float *A = m->ex_layer;
    double *wk = m->ex_layer_acc;
    memcpy(A, lt->data, n_layer * sizeof(float));
    /* from the layer, a pass is only the few nodes after it: as many as
     * the arena holds; whole forwards by the usual pass size */
    int nb = edit ? xcnn_ex_pass_batch(m) : m->max_batch;
    for (int k0 = 0; k0 < K; k0 += nb) {
        int n = K - k0 < nb ? K - k0 : nb;
        ablate_state s = {k0, hw};
        if (edit) {
            for (int b = 0; b < n; b++) memcpy(m->ex_path + (size_t)b * in_n, x, in_n * sizeof(float));
            st = xcnn_exec_forward_edit(m, m->ex_path, n, t, ablate, &s, err);
        } else {
            for (int b = 0; b < n; b++) memcpy(lt->data + (size_t)b * n_layer, A, n_layer * sizeof(float));
            ablate(lt, n, &s);
            st = xcnn_exec_forward_from(m, t, n, err);
        }
        if (st)
            return xcnn_ex_context(st, err, "ablationcam, channels %d..%d of '%s' set to 0", k0,
                                   k0 + n - 1, lt->name);
        const float *yk = g->tensors[g->output].data;
        for (int b = 0; b < n; b++)
            wk[k0 + b] = (y - yk[(size_t)b * classes + (size_t)res->target]) / y;
    }
    float *map = xcnn_ex_family_map(m, o, out);
    for (size_t p = 0; p < hw; p++) {
        double c = 0;
        for (int k = 0; k < K; k++) c += wk[k] * A[(size_t)k * hw + p];
        map[p] = xcnn_ex_family_relu(c);
    }
    return xcnn_ex_family_finish(m, "ablationcam", lt, map, o, out, err);
}

static xcnn_status ablationcam_run(xcnn_model *m, const float *x, const xcnn_explain_options *o,
                                   float *out, xcnn_explain_result *res, xcnn_err *err)
{
    int t;
    xcnn_status st = xcnn_ex_cam_layer(m, o->layer, &t, err);
    if (st) return st;
    return xcnn_ex_ablationcam_run(m, x, o, !xcnn_exec_forward_from_ok(m, t), out, res, err);
}

const xcnn_ex_method xcnn_ex_ablationcam = {"ablationcam", ablationcam_check,
                                            xcnn_ex_family_shape, ablationcam_run};
