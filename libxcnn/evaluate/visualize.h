/*
 * Feature visualisation's steps, for visualize.c and its tests
 * (tests/test_visualize.c reads the spectrum and the gradient between
 * steps). Private to evaluate/.
 */
#ifndef XCNN_EVALUATE_VISUALIZE_H
#define XCNN_EVALUATE_VISUALIZE_H

#include "../../include/xcnn_eval.h"
#include "../base/error.h"

typedef struct xcnn_vis {
    int C, H, W, K;         /* the input; K = W/2 + 1 spectrum columns      */
    int layer, channel;     /* tensor index; -1: the energy mean(A^2)       */
    size_t layer_n, plane;  /* the layer's elements a sample, a channel's   */
    double lr;
    uint64_t rng;           /* the generator's state after the last draw    */
    int step;               /* Adam steps taken                             */
    int dy, dx;             /* the last step's roll                         */
    double objective;       /* the last step's objective                    */
    size_t n_spec;          /* C H K 2 doubles: S and the arrays like it    */
    double *S, *adam_m, *adam_v;
    double *grad;           /* the last step's dJ/dS (before its update)    */
    double *scale;          /* H x K: 1 / max(f, 1/max(H, W))               */
    double *img;            /* C x H x W: sigmoid(decorrelate(irfft2(...))) */
    double *pre;            /* C x H x W: the image's gradient in a step    */
    double *work;
    float *input, *seed;    /* the model's input; the gradient at the layer */
    double mean[3], inv_std[3];
    double mix[9];          /* the normalised decorrelation matrix (C = 3)  */
} xcnn_vis;

/* Check the options and the model, allocate, draw S. On failure nothing is
 * left allocated. */
xcnn_status xcnn_vis_begin(xcnn_model *m, const xcnn_visualize_options *o, const float *mean,
                           const float *std, xcnn_vis *v, xcnn_err *err);
/* v->img (C x H x W) from the spectrum S (v->n_spec doubles). */
void xcnn_vis_image(xcnn_vis *v, const double *S);
/* gS = the gradient with respect to S of sum(gimg * img), img = v->img
 * from the last xcnn_vis_image; gimg (C x H x W) is overwritten. */
void xcnn_vis_image_grad(xcnn_vis *v, double *gimg, double *gS);
/* One step: roll, forward, objective, backward, Adam. */
xcnn_status xcnn_vis_step(xcnn_model *m, xcnn_vis *v, xcnn_err *err);
void xcnn_vis_end(xcnn_vis *v);

#endif
