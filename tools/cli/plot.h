/*
 * A small line-plot renderer for the CLI's reports (xcnn evaluate
 * --out-dir): axes with ticks and numbers, axis labels, a title, several
 * coloured series and a legend, into an RGB buffer the caller writes with
 * xcnn_image_write_png. Text is the demo's 8x13 bitmap font
 * (tools/demo_font.h). Self-contained: libc and libm only, no state; the
 * same plot gives the same bytes.
 */
#ifndef XCNN_CLI_PLOT_H
#define XCNN_CLI_PLOT_H

#include <stddef.h>

/* An RGB image, 3 bytes a pixel, rows top to bottom. */
typedef struct plot_canvas {
    unsigned char *rgb;
    int w, h;
} plot_canvas;

/* One line: n points (x[i], y[i]); a NaN y leaves a gap. */
typedef struct plot_series {
    const char *label; /* in the legend; NULL: not listed */
    const double *x, *y;
    int n;
    int markers;       /* 1: a dot at every point */
} plot_series;

typedef struct plot_spec {
    const char *title, *x_label, *y_label;
    const plot_series *series;
    int n_series;
    /* The axes' ranges; lo >= hi (e.g. both 0): from the data. Either way
     * widened to whole tick steps. */
    double x_lo, x_hi, y_lo, y_hi;
    /* Optional names for x = 0, 1, .., n_x_names - 1, written upwards
     * under the axis instead of numbers (the layers of a sanity check). */
    const char *const *x_names;
    int n_x_names;
} plot_spec;

/* The largest series count with its own colour and dash; more are
 * refused (a legend past that is unreadable). */
#define PLOT_MAX_SERIES 30

/* Fill the canvas white. */
void plot_clear(plot_canvas *c);

/* Text in the bitmap font, left-aligned at (x, y) (top-left corner),
 * clipped to the canvas; shade 0 black .. 255 white. */
void plot_text(plot_canvas *c, int x, int y, const char *s, unsigned char shade);

/* The colour of series k (what the legend shows). */
void plot_colour(int k, unsigned char rgb[3]);

/* Where plot_draw put the axes: the frame's pixel columns and rows (the
 * data range's ends lie on them) and the ranges after widening. */
typedef struct plot_frame {
    int left, top, right, bottom;
    double x_lo, x_hi, y_lo, y_hi;
    int x_ticks, y_ticks;
} plot_frame;

/* Draw the plot into the rectangle (x0, y0, w, h) of c; *frame (may be
 * NULL) receives the layout. Returns 0, or -1 with a message in err when
 * the rectangle is too small for it, a range is not finite, there are
 * more than PLOT_MAX_SERIES series, or memory runs out (one float per
 * pixel of the plot area, freed before return). */
int plot_draw(plot_canvas *c, int x0, int y0, int w, int h, const plot_spec *p,
              plot_frame *frame, char *err, size_t err_size);

#endif
