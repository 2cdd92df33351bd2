/*
 * Line plots for the CLI's reports (plot.h). The pieces:
 *
 *   ticks   a step of 1, 2 or 5 x 10^k near one tick every 80 px (x) or
 *           50 px (y); each range widened to whole steps;
 *   lines   anti-aliased strokes 2 px wide: a pixel's coverage is
 *           clamp(1.5 - d, 0, 1), d the distance from its centre to the
 *           segment; a series' coverage is the maximum over its segments
 *           (so joints are not painted twice), blended once in its colour;
 *   styles  ten colours (Tableau 10), then the same ten dashed, then dotted;
 *   legend  in whichever inside corner of the plot covers the fewest
 *           drawn pixels (top right first on ties); outside on the right
 *           when it is taller than half the plot.
 *
 * Text is the 8 x 13 bitmap font of tools/demo_font.h; vertical text (the
 * y label, layer names under the x axis) is the same glyphs turned a
 * quarter counter-clockwise, read upwards.
 */
#include "plot.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../demo_font.h"

#define LINE_HALF 1.0   /* half the line width, px */
#define DOT_RADIUS 3.0  /* markers */
#define ROW 16          /* legend row height */
#define SAMPLE 24       /* legend line sample length */
#define NAME_MAX_CHARS 22

static const unsigned char palette[10][3] = {
    {78, 121, 167}, {242, 142, 43}, {225, 87, 89}, {118, 183, 178}, {89, 161, 79},
    {237, 201, 72}, {176, 122, 161}, {255, 157, 167}, {156, 117, 95}, {186, 176, 172}};

/* Dash patterns by k / 10: on and off lengths in px (0: solid). */
static const double dashes[3][2] = {{0, 0}, {7, 5}, {2, 4}};

void plot_colour(int k, unsigned char rgb[3])
{
    memcpy(rgb, palette[(k < 0 ? 0 : k) % 10], 3);
}

void plot_clear(plot_canvas *c)
{
    memset(c->rgb, 255, (size_t)c->w * c->h * 3);
}

static void put(plot_canvas *c, int x, int y, unsigned char r, unsigned char g, unsigned char b)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    unsigned char *p = c->rgb + ((size_t)y * c->w + x) * 3;
    p[0] = r, p[1] = g, p[2] = b;
}

void plot_text(plot_canvas *c, int x, int y, const char *s, unsigned char shade)
{
    for (; *s; s++, x += DEMO_FONT_W) {
        int ch = (unsigned char)*s;
        if (ch < 32 || ch > 126) ch = '?';
        for (int r = 0; r < DEMO_FONT_H; r++)
            for (int b = 0; b < DEMO_FONT_W; b++)
                if (demo_font[ch - 32][r] & (0x80 >> b)) put(c, x + b, y + r, shade, shade, shade);
    }
}

/* Text turned a quarter counter-clockwise: it starts at the bottom
 * (y_bottom) and reads upwards; the glyphs' tops face left, at column x. */
static void text_up(plot_canvas *c, int x, int y_bottom, const char *s, unsigned char shade)
{
    for (int i = 0; s[i]; i++) {
        int ch = (unsigned char)s[i];
        if (ch < 32 || ch > 126) ch = '?';
        for (int r = 0; r < DEMO_FONT_H; r++)
            for (int b = 0; b < DEMO_FONT_W; b++)
                if (demo_font[ch - 32][r] & (0x80 >> b))
                    put(c, x + r, y_bottom - i * DEMO_FONT_W - b, shade, shade, shade);
    }
}

static void hline(plot_canvas *c, int x0, int x1, int y, unsigned char v)
{
    for (int x = x0; x <= x1; x++) put(c, x, y, v, v, v);
}

static void vline(plot_canvas *c, int x, int y0, int y1, unsigned char v)
{
    for (int y = y0; y <= y1; y++) put(c, x, y, v, v, v);
}

/* ---- ticks ----------------------------------------------------------- */

/* 1, 2 or 5 times a power of ten, the nearest to raw by ratio. */
static double nice_step(double raw)
{
    double e = pow(10.0, floor(log10(raw)));
    double f = raw / e;
    return (f < 1.4142 ? 1 : f < 3.1623 ? 2 : f < 7.0711 ? 5 : 10) * e;
}

typedef struct axis {
    double lo, hi, step;
    int decimals; /* -1: %.3g */
} axis;

/* The range widened to whole steps of about `ticks` steps in all. */
static int make_axis(double lo, double hi, int ticks, axis *a)
{
    if (!isfinite(lo) || !isfinite(hi) || !isfinite(hi - lo)) return -1;
    if (hi <= lo) {
        double d = lo != 0 ? fabs(lo) * 0.1 : 0.5;
        lo -= d, hi += d;
    }
    a->step = nice_step((hi - lo) / (ticks < 1 ? 1 : ticks));
    if (!isfinite(a->step) || a->step <= 0) return -1;
    a->lo = floor(lo / a->step + 1e-9) * a->step;
    a->hi = ceil(hi / a->step - 1e-9) * a->step;
    double big = fabs(a->lo) > fabs(a->hi) ? fabs(a->lo) : fabs(a->hi);
    if (big >= 1e6 || a->step < 1e-4) a->decimals = -1;
    else a->decimals = a->step >= 1 ? 0 : (int)ceil(-log10(a->step) - 1e-9);
    return 0;
}

static void tick_text(const axis *a, double v, char *buf, size_t size)
{
    if (fabs(v) < a->step * 1e-6) v = 0; /* no "-0.0" */
    if (a->decimals < 0) snprintf(buf, size, "%.3g", v);
    else snprintf(buf, size, "%.*f", a->decimals, v);
}

static int tick_count(const axis *a)
{
    return (int)floor((a->hi - a->lo) / a->step + 0.5) + 1;
}

/* ---- strokes into a coverage buffer over the plot area --------------- */

typedef struct area {
    float *cov; /* pw x ph, 0..1 */
    int pw, ph;
} area;

static void cover(area *ar, int x, int y, double a)
{
    if (a <= 0) return;
    float *p = ar->cov + (size_t)y * ar->pw + x;
    if (a > *p) *p = (float)(a > 1 ? 1 : a);
}

static void segment(area *ar, double x0, double y0, double x1, double y1)
{
    double r = LINE_HALF + 1;
    double lx = fmin(x0, x1) - r, hx = fmax(x0, x1) + r;
    double ly = fmin(y0, y1) - r, hy = fmax(y0, y1) + r;
    if (hx < 0 || hy < 0 || lx > ar->pw - 1 || ly > ar->ph - 1) return;
    int ix0 = lx < 0 ? 0 : (int)lx, ix1 = hx > ar->pw - 1 ? ar->pw - 1 : (int)hx;
    int iy0 = ly < 0 ? 0 : (int)ly, iy1 = hy > ar->ph - 1 ? ar->ph - 1 : (int)hy;
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    for (int y = iy0; y <= iy1; y++)
        for (int x = ix0; x <= ix1; x++) {
            double px = x - x0, py = y - y0;
            double t = len2 > 0 ? (px * dx + py * dy) / len2 : 0;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double ex = px - t * dx, ey = py - t * dy;
            cover(ar, x, y, LINE_HALF + 0.5 - sqrt(ex * ex + ey * ey));
        }
}

static void dot(area *ar, double cx, double cy)
{
    int r = (int)DOT_RADIUS + 1;
    for (int y = (int)floor(cy) - r; y <= (int)ceil(cy) + r; y++)
        for (int x = (int)floor(cx) - r; x <= (int)ceil(cx) + r; x++)
            if (x >= 0 && y >= 0 && x < ar->pw && y < ar->ph)
                cover(ar, x, y, DOT_RADIUS + 0.5 - hypot(x - cx, y - cy));
}

/* A segment in the dash pattern, *phase the length drawn before it. */
static void dashed(area *ar, double x0, double y0, double x1, double y1, int style,
                   double *phase)
{
    double on = dashes[style][0], period = on + dashes[style][1];
    double len = hypot(x1 - x0, y1 - y0);
    if (on == 0 || len == 0 || len > 1e5) { /* solid; or off any canvas */
        segment(ar, x0, y0, x1, y1);
        *phase += len;
        return;
    }
    for (double t = 0; t < len;) {
        double ph = fmod(*phase + t, period);
        double run = ph < on ? on - ph : period - ph;
        double e = t + run < len ? t + run : len;
        if (ph < on)
            segment(ar, x0 + (x1 - x0) * t / len, y0 + (y1 - y0) * t / len,
                    x0 + (x1 - x0) * e / len, y0 + (y1 - y0) * e / len);
        t = e;
    }
    *phase += len;
}

/* Paint the coverage in a colour over the area at (ox, oy), and clear it. */
static void blend(plot_canvas *c, area *ar, int ox, int oy, const unsigned char col[3])
{
    for (int y = 0; y < ar->ph; y++)
        for (int x = 0; x < ar->pw; x++) {
            float *a = ar->cov + (size_t)y * ar->pw + x;
            if (*a <= 0) continue;
            int cx = ox + x, cy = oy + y;
            if (cx >= 0 && cy >= 0 && cx < c->w && cy < c->h) {
                unsigned char *p = c->rgb + ((size_t)cy * c->w + cx) * 3;
                for (int k = 0; k < 3; k++)
                    p[k] = (unsigned char)lrint(p[k] * (1 - *a) + col[k] * *a);
            }
            *a = 0;
        }
}

/* Data to area pixels; far values clamped so the arithmetic stays finite. */
static double to_px(double v, const axis *a, int n, int flip)
{
    double t = (v - a->lo) / (a->hi - a->lo);
    if (flip) t = 1 - t;
    double p = t * (n - 1);
    return p < -1e6 ? -1e6 : p > 1e6 ? 1e6 : p;
}

/* ---- the plot -------------------------------------------------------- */

static void data_range(const plot_spec *p, int y, double *lo, double *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (int s = 0; s < p->n_series; s++)
        for (int i = 0; i < p->series[s].n; i++) {
            double v = y ? p->series[s].y[i] : p->series[s].x[i];
            double other = y ? p->series[s].x[i] : p->series[s].y[i];
            if (!isfinite(v) || !isfinite(other)) continue;
            *lo = v < *lo ? v : *lo;
            *hi = v > *hi ? v : *hi;
        }
    if (*lo > *hi) *lo = 0, *hi = 1; /* nothing to show */
}

/* The name of x tick i, cut from the front to NAME_MAX_CHARS ("..." + end). */
static void x_name(const plot_spec *p, int i, char *buf, size_t size)
{
    const char *s = p->x_names[i] ? p->x_names[i] : "";
    size_t n = strlen(s);
    if (n > NAME_MAX_CHARS) snprintf(buf, size, "...%s", s + n - (NAME_MAX_CHARS - 3));
    else snprintf(buf, size, "%s", s);
}

static int fail(char *err, size_t size, const char *msg)
{
    if (err && size) snprintf(err, size, "%s", msg);
    return -1;
}

/* Drawn pixels (neither white nor the grid's grey) in a rectangle. */
static long ink(const plot_canvas *c, int x0, int y0, int w, int h)
{
    long n = 0;
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) {
            const unsigned char *q = c->rgb + ((size_t)y * c->w + x) * 3;
            if (!(q[0] == q[1] && q[1] == q[2] && q[0] >= 225)) n++;
        }
    return n;
}

/* The legend box's size: 8 px padding, a sample line, the longest label. */
static void legend_size(const plot_spec *p, int *lw, int *lh)
{
    int rows = 0;
    size_t chars = 0;
    for (int s = 0; s < p->n_series; s++)
        if (p->series[s].label) {
            rows++;
            size_t n = strlen(p->series[s].label);
            chars = n > chars ? n : chars;
        }
    *lw = rows ? 8 + SAMPLE + 6 + (int)chars * DEMO_FONT_W + 8 : 0;
    *lh = rows ? rows * ROW + 8 : 0;
}

/* The legend in the box (bx, by, lw, lh) of the canvas; rows that do not
 * fit are left out, labels cut at the box's edge. */
static void legend_box(plot_canvas *c, int bx, int by, int lw, int lh, const plot_spec *p)
{
    area ar = {calloc((size_t)lw * lh, sizeof(float)), lw, lh};
    if (!ar.cov) return; /* no legend rather than no plot */
    for (int y = by; y < by + lh; y++)
        memset(c->rgb + ((size_t)y * c->w + bx) * 3, 255, (size_t)lw * 3);
    hline(c, bx, bx + lw - 1, by, 160);
    hline(c, bx, bx + lw - 1, by + lh - 1, 160);
    vline(c, bx, by, by + lh - 1, 160);
    vline(c, bx + lw - 1, by, by + lh - 1, 160);
    int row = 0;
    for (int s = 0; s < p->n_series && (row + 1) * ROW + 4 <= lh; s++) {
        if (!p->series[s].label) continue;
        double ay = 4 + row * ROW + ROW / 2 - 1, phase = 0; /* the row's middle, in the box */
        dashed(&ar, 8, ay, 8 + SAMPLE, ay, (s / 10) % 3, &phase);
        if (p->series[s].markers) dot(&ar, 8 + SAMPLE / 2.0, ay);
        unsigned char col[3];
        plot_colour(s, col);
        blend(c, &ar, bx, by, col);
        int room = (lw - 4 - (8 + SAMPLE + 6)) / DEMO_FONT_W;
        char buf[128];
        snprintf(buf, sizeof buf, "%.*s", room < 0 ? 0 : room > 127 ? 127 : room,
                 p->series[s].label);
        plot_text(c, bx + 8 + SAMPLE + 6, by + (int)ay - DEMO_FONT_H / 2, buf, 0);
        row++;
    }
    free(ar.cov);
}

/* A legend inside the plot, in the inside corner with the fewest drawn
 * pixels (top right, bottom right, top left, bottom left on ties). */
static void legend_inside(plot_canvas *c, int left, int top, int pw, int ph, const plot_spec *p)
{
    int lw, lh;
    legend_size(p, &lw, &lh);
    if (lw > pw - 16) lw = pw - 16;
    if (lh > ph - 16) lh = ph - 16;
    if (lw < 8 + SAMPLE || lh < ROW) return; /* no room at all */
    const int cx[4] = {pw - 8 - lw, pw - 8 - lw, 8, 8};
    const int cy[4] = {8, ph - 8 - lh, 8, ph - 8 - lh};
    int best = 0;
    long least = -1;
    for (int k = 0; k < 4; k++) {
        long n = ink(c, left + cx[k], top + cy[k], lw, lh);
        if (least < 0 || n < least) least = n, best = k;
    }
    legend_box(c, left + cx[best], top + cy[best], lw, lh, p);
}

int plot_draw(plot_canvas *c, int x0, int y0, int w, int h, const plot_spec *p,
              plot_frame *frame, char *err, size_t err_size)
{
    if (!c || !c->rgb || !p || (p->n_series && !p->series) || p->n_series < 0 ||
        (p->n_x_names && !p->x_names) || p->n_x_names < 0)
        return fail(err, err_size, "plot: missing arguments");
    if (p->n_series > PLOT_MAX_SERIES)
        return fail(err, err_size, "plot: more series than the legend can tell apart");
    if (x0 < 0 || y0 < 0 || w < 0 || h < 0 || x0 > c->w - w || y0 > c->h - h)
        return fail(err, err_size, "plot: the rectangle is outside the canvas");
    for (int s = 0; s < p->n_series; s++)
        if (p->series[s].n < 0 || (p->series[s].n && (!p->series[s].x || !p->series[s].y)))
            return fail(err, err_size, "plot: a series has no points array");

    /* The y axis first: its labels' width sets the left margin. */
    double lo, hi;
    int top = y0 + (p->title ? 8 + DEMO_FONT_H + 8 : 12);
    int name_room = 0;
    if (p->n_x_names) {
        for (int i = 0; i < p->n_x_names; i++) {
            char buf[NAME_MAX_CHARS + 1];
            x_name(p, i, buf, sizeof buf);
            int n = (int)strlen(buf) * DEMO_FONT_W;
            name_room = n > name_room ? n : name_room;
        }
    }
    int bottom = y0 + h - 1 - (p->x_label ? DEMO_FONT_H + 8 : 4) - 6 -
                 (p->n_x_names ? name_room : DEMO_FONT_H) - 4;
    int ph = bottom - top + 1;
    if (ph < 40) return fail(err, err_size, "plot: too little height");
    axis ya, xa;
    if (p->y_lo < p->y_hi) lo = p->y_lo, hi = p->y_hi;
    else data_range(p, 1, &lo, &hi);
    if (make_axis(lo, hi, ph / 50, &ya)) return fail(err, err_size, "plot: y range not finite");
    int label_w = 0;
    for (int t = 0; t < tick_count(&ya); t++) {
        char buf[64];
        tick_text(&ya, ya.lo + t * ya.step, buf, sizeof buf);
        int n = (int)strlen(buf) * DEMO_FONT_W;
        label_w = n > label_w ? n : label_w;
    }
    int left = x0 + 4 + (p->y_label ? DEMO_FONT_H + 8 : 0) + label_w + 10;
    /* A legend taller than half the plot goes outside it, on the right. */
    int lw, lh;
    legend_size(p, &lw, &lh);
    int outside = lh > ph / 2 && lh <= ph && lw < w / 2;
    int right = x0 + w - 1 - 16 - (outside ? lw + 4 : 0);
    int pw = right - left + 1;
    if (pw < 60) return fail(err, err_size, "plot: too little width");
    if (p->n_x_names) {
        xa.lo = 0, xa.hi = p->n_x_names > 1 ? p->n_x_names - 1 : 1, xa.step = 1, xa.decimals = 0;
    } else {
        if (p->x_lo < p->x_hi) lo = p->x_lo, hi = p->x_hi;
        else data_range(p, 0, &lo, &hi);
        if (make_axis(lo, hi, pw / 80, &xa))
            return fail(err, err_size, "plot: x range not finite");
    }

    area ar = {calloc((size_t)pw * ph, sizeof(float)), pw, ph};
    if (!ar.cov) return fail(err, err_size, "plot: out of memory");

    /* Grid and ticks. */
    for (int t = 0; t < tick_count(&ya); t++) {
        char buf[64];
        double v = ya.lo + t * ya.step;
        int y = top + (int)lrint(to_px(v, &ya, ph, 1));
        hline(c, left + 1, right - 1, y, 230);
        hline(c, left - 4, left - 1, y, 0);
        tick_text(&ya, v, buf, sizeof buf);
        plot_text(c, left - 6 - (int)strlen(buf) * DEMO_FONT_W, y - DEMO_FONT_H / 2, buf, 0);
    }
    if (p->n_x_names) {
        /* every name if they fit side by side, else every k-th */
        int k = 1;
        while (p->n_x_names > 1 && (double)pw * k / (p->n_x_names - 1) < DEMO_FONT_H + 2) k++;
        for (int i = 0; i < p->n_x_names; i += k) {
            char buf[NAME_MAX_CHARS + 1];
            int x = left + (int)lrint(to_px(i, &xa, pw, 0));
            vline(c, x, top + 1, bottom - 1, 230);
            vline(c, x, bottom + 1, bottom + 4, 0);
            x_name(p, i, buf, sizeof buf);
            text_up(c, x - DEMO_FONT_H / 2, bottom + 6 + (int)strlen(buf) * DEMO_FONT_W, buf, 0);
        }
    } else {
        for (int t = 0; t < tick_count(&xa); t++) {
            char buf[64];
            double v = xa.lo + t * xa.step;
            int x = left + (int)lrint(to_px(v, &xa, pw, 0));
            vline(c, x, top + 1, bottom - 1, 230);
            vline(c, x, bottom + 1, bottom + 4, 0);
            tick_text(&xa, v, buf, sizeof buf);
            plot_text(c, x - (int)strlen(buf) * DEMO_FONT_W / 2, bottom + 6, buf, 0);
        }
    }

    /* The series, each blended once. */
    for (int s = 0; s < p->n_series; s++) {
        const plot_series *sr = &p->series[s];
        double phase = 0, px = 0, py = 0;
        int have = 0;
        for (int i = 0; i < sr->n; i++) {
            if (!isfinite(sr->x[i]) || !isfinite(sr->y[i])) {
                have = 0; /* a gap */
                continue;
            }
            double qx = to_px(sr->x[i], &xa, pw, 0), qy = to_px(sr->y[i], &ya, ph, 1);
            if (have) dashed(&ar, px, py, qx, qy, (s / 10) % 3, &phase);
            else if (sr->n == 1 || !sr->markers) segment(&ar, qx, qy, qx, qy);
            if (sr->markers) dot(&ar, qx, qy);
            px = qx, py = qy, have = 1;
        }
        unsigned char col[3];
        plot_colour(s, col);
        blend(c, &ar, left, top, col);
    }

    /* The frame over the lines' ends, then the legend inside it. */
    hline(c, left, right, top, 0);
    hline(c, left, right, bottom, 0);
    vline(c, left, top, bottom, 0);
    vline(c, right, top, bottom, 0);
    free(ar.cov);
    if (outside) legend_box(c, right + 12, top, lw, lh, p);
    else legend_inside(c, left, top, pw, ph, p);
    if (frame) {
        frame->left = left, frame->top = top, frame->right = right, frame->bottom = bottom;
        frame->x_lo = xa.lo, frame->x_hi = xa.hi, frame->y_lo = ya.lo, frame->y_hi = ya.hi;
        frame->x_ticks = p->n_x_names ? p->n_x_names : tick_count(&xa);
        frame->y_ticks = tick_count(&ya);
    }

    if (p->title) {
        int n = (int)strlen(p->title) * DEMO_FONT_W;
        int x = left + (pw - n) / 2;
        plot_text(c, x < x0 + 2 ? x0 + 2 : x, y0 + 8, p->title, 0);
    }
    if (p->x_label) {
        int n = (int)strlen(p->x_label) * DEMO_FONT_W;
        plot_text(c, left + (pw - n) / 2, y0 + h - 1 - 4 - DEMO_FONT_H, p->x_label, 0);
    }
    if (p->y_label) {
        int n = (int)strlen(p->y_label) * DEMO_FONT_W;
        text_up(c, x0 + 4, top + (ph + n) / 2, p->y_label, 0);
    }
    return 0;
}
