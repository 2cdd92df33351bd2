/*
 * Lesson 05: Grad-CAM by hand, on a real trained network.
 *
 * Question: where in the image did the network look to say "Sneaker"?
 * Grad-CAM (Selvaraju et al. 2017) answers from one layer: A, its output,
 * K channels of h x w ("feature maps": channel k lights up where some
 * pattern k is), and dy/dA, how the class score y would move with each.
 *
 *   weight of channel k:   w_k = mean over the h*w positions of dy/dA_k
 *                          (how much the class wants pattern k, overall)
 *   map:                   cam = relu( sum_k w_k * A_k )
 *                          (where the wanted patterns are; relu keeps the
 *                          places that speak FOR the class)
 *
 * The model is data/fashion_resnet.onnx, trained by libxcnn on
 * Fashion-MNIST (28x28 gray clothes, 10 classes), and the image
 * data/fashion/9_Sneaker.png. We take A and dy/dA from xcnn_forward +
 * xcnn_backward through xcnn_model_tensor, build the cam ourselves, and
 * compare with xcnn_explain(XCNN_GRADCAM).
 *
 * To see the A maps this lesson talks about, run `make demo` and open
 * build/demo/layers.png: the input, one channel of the activations after
 * each stage (28x28, then 14x14, then 7x7 at layer3.0.relu, the layer
 * used here), and the Grad-CAM they add up to.
 *
 * Run from the repository root, or give the data folder: 05_gradcam_by_hand DIR
 */
#include <stdlib.h>
#include <string.h>
#include "lesson.h"
#include "../../include/xcnn.h"
#include "../../include/xcnn_image.h"

/* The image as the model wants it: the recipe (gray, 28x28, scaled and
 * normalised) is stored in the model's "xcnn.preprocess" metadata. */
static int load_input(xcnn_model *m, const char *path, float *x, int H, int W)
{
    char err[256];
    xcnn_image img;
    xcnn_preprocess p;
    xcnn_preprocess_init(&p);
    const char *spec = xcnn_model_metadata(m, "xcnn.preprocess");
    if ((spec && xcnn_preprocess_parse(spec, &p, err, sizeof err) != XCNN_OK) ||
        xcnn_image_read(path, &img, err, sizeof err) != XCNN_OK) {
        printf("  %s\n", err);
        return 0;
    }
    int ok = xcnn_image_to_tensor(&img, &p, 1, H, W, x, err, sizeof err) == XCNN_OK;
    if (!ok) printf("  %s\n", err);
    xcnn_image_free(&img);
    return ok;
}

/* Class k's name: line k of the "xcnn.labels" metadata. */
static void class_name(const xcnn_model *m, int k, char *out, size_t size)
{
    const char *s = xcnn_model_metadata(m, "xcnn.labels");
    snprintf(out, size, "class %d", k);
    for (int line = 0; s && *s; line++) {
        size_t len = strcspn(s, "\n");
        if (line == k) snprintf(out, size, "%.*s", (int)len, s);
        s += len + (s[len] == '\n');
    }
}

/* Grad-CAM from a layer's activations A and gradients dA (1 x K x h x w),
 * into cam (h*w, double). Also: is dA the same at every position of a
 * channel? (Then w_k is just that value.) */
static int cam_by_hand(const xcnn_tensor_view *v, double *cam)
{
    int K = (int)v->dims[1], hw = (int)(v->dims[2] * v->dims[3]), flat = 1;
    for (int p = 0; p < hw; p++) cam[p] = 0;
    for (int k = 0; k < K; k++) {
        const float *A = v->data + (size_t)k * hw, *dA = v->grad + (size_t)k * hw;
        double wk = 0;
        for (int p = 0; p < hw; p++) {
            wk += dA[p];
            flat &= dA[p] == dA[0];
        }
        wk /= hw;
        for (int p = 0; p < hw; p++) cam[p] += wk * A[p];
    }
    for (int p = 0; p < hw; p++) cam[p] = cam[p] > 0 ? cam[p] : 0;
    return flat;
}

/* The cam as a picture: darkest ' ' to brightest '@', two characters per
 * position so that it looks square. */
static void draw(const double *cam, int h, int w)
{
    const char *shades = " .:-=+*#%@";
    double top = 1e-30;
    for (int p = 0; p < h * w; p++) top = fmax(top, cam[p]);
    for (int r = 0; r < h; r++) {
        printf("    |");
        for (int c = 0; c < w; c++) {
            char ch = shades[(int)(9.0 * cam[r * w + c] / top + 0.5)];
            printf("%c%c", ch, ch);
        }
        printf("|\n");
    }
}

/* One layer: cam by hand vs xcnn_explain. Returns the relative error
 * (or 1 if a call failed). */
static double one_layer(xcnn_model *m, const float *x, int target, const char *layer)
{
    xcnn_tensor_view v;
    static double cam[64 * 64];
    static float lib[64 * 64];
    /* forward, backward from the target class, then read the layer */
    if (xcnn_forward(m, x, 1, NULL) != XCNN_OK || xcnn_backward(m, &target, NULL, NULL) ||
        xcnn_model_tensor(m, layer, &v) || v.ndim != 4 || v.dims[2] * v.dims[3] > 64 * 64)
        return 1;
    int h = (int)v.dims[2], w = (int)v.dims[3];
    int flat = cam_by_hand(&v, cam);
    printf("  layer %s: A is %dx%dx%d; dy/dA %s over each channel's positions\n", layer,
           (int)v.dims[1], h, w, flat ? "is constant" : "varies");

    /* The library: same layer and target, at the layer's own size. */
    xcnn_explain_options o;
    xcnn_explain_options_init(&o, XCNN_GRADCAM);
    o.layer = layer;
    o.target = target;
    o.upsample = 0;
    xcnn_explain_result res;
    if (xcnn_explain(m, x, &o, lib, (size_t)h * w, &res) != XCNN_OK) return 1;
    draw(cam, h, w);
    printf("    cam row %d by hand:     ", h / 2);
    for (int c = 0; c < w && c < 8; c++) printf(" %7.4f", cam[h / 2 * w + c]);
    printf("\n    cam row %d xcnn_explain:", h / 2);
    for (int c = 0; c < w && c < 8; c++) printf(" %7.4f", lib[h / 2 * w + c]);
    printf("\n");
    return rel_err(lib, cam, (size_t)h * w);
}

int main(int argc, char **argv)
{
    lesson L = {"05", 0, 0};
    const char *dir = argc > 1 ? argv[1] : "data";
    char path[1024], err[256], name[64];
    printf("lesson 05: Grad-CAM by hand\n");
    snprintf(path, sizeof path, "%s/fashion_resnet.onnx", dir);
    xcnn_model *m = NULL;
    if (xcnn_model_load(path, NULL, &m, err, sizeof err) != XCNN_OK) {
        printf("lesson 05: FAIL (%s; run from the repository root)\n", err);
        return 1;
    }
    static float x[28 * 28], logits[10];
    snprintf(path, sizeof path, "%s/fashion/9_Sneaker.png", dir);
    if (!load_input(m, path, x, 28, 28) || xcnn_forward(m, x, 1, logits) != XCNN_OK) {
        printf("lesson 05: FAIL (no input)\n");
        xcnn_model_free(m);
        return 1;
    }
    int target = 0;
    for (int k = 1; k < 10; k++)
        if (logits[k] > logits[target]) target = k;
    class_name(m, target, name, sizeof name);
    printf("  %s -> predicted %s (logit %.3f)\n", path, name, logits[target]);

    /* The image itself, 14x14 (every other pixel), drawn the same way. */
    static double img[14 * 14];
    float low = x[0];
    for (int p = 0; p < 28 * 28; p++) low = fminf(low, x[p]);
    for (int r = 0; r < 14; r++)
        for (int c = 0; c < 14; c++) img[r * 14 + c] = x[2 * r * 28 + 2 * c] - low;
    draw(img, 14, 14);

    /* The last block's output (7x7): only global average pooling and the
     * linear layer follow, so dy/dA_k is the class's linear weight for
     * channel k / 49 at every position (Grad-CAM = the older CAM here). */
    double e1 = one_layer(m, x, target, "layer3.0.relu");
    lesson_check(&L, "layer3 (7x7): xcnn_explain = cam by hand", e1, 1e-4);
    /* An earlier block (14x14): now the gradient varies over positions.
     * (xcnn_explain runs the layers below the cam layer with a faster
     * convolution that rounds differently in the last bits.) */
    double e2 = one_layer(m, x, target, "layer2.0.relu");
    lesson_check(&L, "layer2 (14x14): xcnn_explain = cam by hand", e2, 1e-4);
    xcnn_model_free(m);
    return lesson_end(&L);
}
