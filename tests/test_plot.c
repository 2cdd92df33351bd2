/*
 * The CLI's line plots (tools/cli/plot.c, compiled in here: the CLI's
 * objects are not in the library): the frame and its ticks where the
 * layout says, each series in its colour through the points it was given,
 * gaps at NaN, the legend in the empty corner, names under the axis, the
 * same bytes twice, a PNG that decodes back to the same pixels, and the
 * refusals.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "../include/xcnn_image.h"
#include "../tools/cli/plot.c"

#define W 480
#define H 320

static const unsigned char *px(const plot_canvas *c, int x, int y)
{
    return c->rgb + ((size_t)y * c->w + x) * 3;
}

static int is_grey(const plot_canvas *c, int x, int y, int v)
{
    const unsigned char *q = px(c, x, y);
    return q[0] == v && q[1] == v && q[2] == v;
}

static int is_colour(const plot_canvas *c, int x, int y, int k)
{
    unsigned char col[3];
    plot_colour(k, col);
    return !memcmp(px(c, x, y), col, 3);
}

/* Pixels of series k's exact colour within r of (x, y). */
static int colour_near(const plot_canvas *c, int x, int y, int r, int k)
{
    int n = 0;
    for (int yy = y - r; yy <= y + r; yy++)
        for (int xx = x - r; xx <= x + r; xx++)
            if (xx >= 0 && yy >= 0 && xx < c->w && yy < c->h && is_colour(c, xx, yy, k)) n++;
    return n;
}

static int count_grey(const plot_canvas *c, int x0, int y0, int x1, int y1, int v)
{
    int n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) n += is_grey(c, x, y, v);
    return n;
}

static int dark_in(const plot_canvas *c, int x0, int y0, int x1, int y1)
{
    int n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) n += px(c, x, y)[0] < 100 && is_grey(c, x, y, px(c, x, y)[0]);
    return n;
}

int main(void)
{
    char err[256];
    unsigned char *buf = malloc((size_t)W * H * 3), *again = malloc((size_t)W * H * 3);
    if (!buf || !again) return 1;
    plot_canvas c = {buf, W, H};

    /* Two lines across the square [0, 1]^2: up and down. */
    double xs[11], up[11], down[11];
    for (int i = 0; i <= 10; i++) xs[i] = i / 10.0, up[i] = i / 10.0, down[i] = 1 - i / 10.0;
    plot_series two[2] = {{"rising", xs, up, 11, 0}, {"falling", xs, down, 11, 0}};
    plot_spec p = {"Two lines", "fraction", "score", two, 2, 0, 1, 0, 1, NULL, 0};
    plot_frame f;
    plot_clear(&c);
    int rc = plot_draw(&c, 0, 0, W, H, &p, &f, err, sizeof err);
    check(rc == 0, "a plot of two series draws (%s)", rc ? err : "ok");
    check(f.x_lo == 0 && f.x_hi == 1 && f.y_lo == 0 && f.y_hi == 1,
          "the ranges stay [0, 1] x [0, 1] (got [%g, %g] x [%g, %g])", f.x_lo, f.x_hi, f.y_lo,
          f.y_hi);
    check(f.left > 20 && f.right < W - 1 && f.top > 10 && f.bottom < H - 20,
          "margins for labels on every side (frame %d..%d x %d..%d)", f.left, f.right, f.top,
          f.bottom);
    int frame_ok = 1;
    for (int y = f.top; y <= f.bottom; y++)
        frame_ok &= is_grey(&c, f.left, y, 0) && is_grey(&c, f.right, y, 0);
    for (int x = f.left; x <= f.right; x++)
        frame_ok &= is_grey(&c, x, f.top, 0) && is_grey(&c, x, f.bottom, 0);
    check(frame_ok, "the frame is black on all four sides");
    /* y ticks: 4 px marks left of the frame, one per tick, 0.2 apart */
    int marks = 0;
    for (int y = f.top; y <= f.bottom; y++) marks += is_grey(&c, f.left - 2, y, 0);
    check(f.y_ticks == 6 && marks == 6, "six y ticks (0, 0.2, .., 1): %d marks, %d ticks", marks,
          f.y_ticks);
    check(dark_in(&c, 0, f.top - 8, f.left - 6, f.bottom + 8) > 6 * 20,
          "numbers left of the y ticks");
    check(dark_in(&c, f.left, f.bottom + 6, f.right, f.bottom + 6 + DEMO_FONT_H) > 20,
          "numbers under the x ticks");
    check(dark_in(&c, f.left, 0, f.right, f.top - 2) > 40, "a title above the frame");
    check(dark_in(&c, 0, f.top, 4 + DEMO_FONT_H, f.bottom) > 30, "the y label, upwards, at the left");
    check(dark_in(&c, f.left, H - 4 - DEMO_FONT_H, f.right, H - 1) > 30, "the x label at the bottom");
    /* The series pass through their points: not the ends (under the frame),
     * the crossing (the second series on top) nor the top right (the
     * legend: every corner has a line, and it took the first). */
    int pw = f.right - f.left, ph = f.bottom - f.top, through = 1;
    for (int i = 1; i < 8; i++) {
        if (i == 5) continue;
        int x = f.left + (int)lrint(i / 10.0 * pw);
        through &= colour_near(&c, x, f.bottom - (int)lrint(up[i] * ph), 1, 0) > 0;
        through &= colour_near(&c, x, f.bottom - (int)lrint(down[i] * ph), 1, 1) > 0;
    }
    check(through, "each series in its colour at each of its points");
    check(colour_near(&c, f.left + pw / 10, f.bottom - ph * 9 / 10, 3, 0) == 0 &&
              colour_near(&c, f.left + pw / 10, f.bottom - ph / 10, 3, 1) == 0,
          "and not where the other one is");
    /* Anti-aliased: the line's edge pixels are blends, neither white nor the colour. */
    int blends = 0;
    for (int y = f.top + 1; y < f.bottom; y++) {
        const unsigned char *q = px(&c, f.left + pw / 3, y);
        blends += !is_colour(&c, f.left + pw / 3, y, 0) && !is_colour(&c, f.left + pw / 3, y, 1) &&
                  !(q[0] == q[1] && q[1] == q[2]);
    }
    check(blends >= 2, "anti-aliased edges (%d blended pixels in one column)", blends);
    /* Legend: the grey box with both sample lines and labels. */
    check(count_grey(&c, f.left, f.top, f.right, f.bottom, 160) > 100, "a legend box");

    /* Determinism: the same plot, the same bytes. */
    plot_canvas c2 = {again, W, H};
    plot_clear(&c2);
    plot_draw(&c2, 0, 0, W, H, &p, NULL, err, sizeof err);
    check(!memcmp(buf, again, (size_t)W * H * 3), "the same plot twice gives the same bytes");

    /* PNG: decodes back to the same pixels, and two writes are one file. */
    char path[64], path2[64];
    snprintf(path, sizeof path, "test_plot_%ld.png", (long)getpid());
    snprintf(path2, sizeof path2, "test_plot_%ld_b.png", (long)getpid());
    xcnn_image img = {W, H, 3, buf}, img2 = {W, H, 3, again}, back = {0, 0, 0, NULL};
    int wr = xcnn_image_write_png(path, &img, err, sizeof err) == XCNN_OK &&
             xcnn_image_write_png(path2, &img2, err, sizeof err) == XCNN_OK;
    check(wr, "writes the PNG (%s)", wr ? "ok" : err);
    int rd = wr && xcnn_image_read(path, &back, err, sizeof err) == XCNN_OK;
    check(rd && back.width == W && back.height == H && back.channels == 3 &&
              !memcmp(back.pixels, buf, (size_t)W * H * 3),
          "the PNG decodes to %dx%dx%d, pixel for pixel", back.width, back.height, back.channels);
    xcnn_image_free(&back);
    FILE *fa = fopen(path, "rb"), *fb = fopen(path2, "rb");
    int same = fa && fb;
    while (same) {
        int a = fgetc(fa), b = fgetc(fb);
        if (a != b) same = 0;
        if (a == EOF || b == EOF) break;
    }
    check(same, "two writes of one plot are the same file, byte for byte");
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    remove(path);
    remove(path2);

    /* Legend placement: flat lines low down leave the top right empty. */
    double low1[11], low2[11];
    for (int i = 0; i <= 10; i++) low1[i] = 0.1, low2[i] = 0.2;
    plot_series flat[2] = {{"a", xs, low1, 11, 0}, {"b", xs, low2, 11, 0}};
    plot_spec pf = {NULL, NULL, NULL, flat, 2, 0, 1, 0, 1, NULL, 0};
    plot_clear(&c);
    plot_draw(&c, 0, 0, W, H, &pf, &f, err, sizeof err);
    int mx = (f.left + f.right) / 2, my = (f.top + f.bottom) / 2;
    int tr = count_grey(&c, mx, f.top + 1, f.right - 1, my, 160);
    int rest = count_grey(&c, f.left + 1, my, f.right - 1, f.bottom - 1, 160) +
               count_grey(&c, f.left + 1, f.top + 1, mx - 1, my, 160);
    check(tr > 50 && rest == 0, "the legend sits in the empty top right (%d grey there, %d elsewhere)",
          tr, rest);
    /* ... and in the bottom right when the lines run high. */
    for (int i = 0; i <= 10; i++) low1[i] = 0.9, low2[i] = 0.8;
    plot_clear(&c);
    plot_draw(&c, 0, 0, W, H, &pf, &f, err, sizeof err);
    int br = count_grey(&c, mx, my, f.right - 1, f.bottom - 1, 160);
    check(br > 50, "and in the bottom right when the lines run high (%d grey)", br);

    /* Ten labelled series: a legend taller than half the plot goes beside it. */
    double tens[10][11];
    plot_series ten[10];
    for (int k = 0; k < 10; k++) {
        for (int i = 0; i <= 10; i++) tens[k][i] = k / 10.0;
        ten[k] = (plot_series){"series", xs, tens[k], 11, 0};
    }
    plot_spec pt = {NULL, NULL, NULL, ten, 10, 0, 1, 0, 1, NULL, 0};
    plot_clear(&c);
    plot_draw(&c, 0, 0, W, H, &pt, &f, err, sizeof err);
    int beside = count_grey(&c, f.right + 1, 0, W - 1, H - 1, 160);
    int within = count_grey(&c, f.left + 1, f.top + 1, f.right - 1, f.bottom - 1, 160);
    check(beside > 100 && within == 0,
          "a tall legend goes beside the plot (%d grey there, %d inside)", beside, within);
    check(colour_near(&c, f.right + 20, f.top + 4 + 9 * ROW + ROW / 2 - 1, 2, 9) > 0,
          "with the tenth series' sample line in its colour");

    /* A NaN is a gap: nothing of the colour between its neighbours. */
    double gy[11];
    for (int i = 0; i <= 10; i++) gy[i] = 0.5;
    gy[5] = NAN;
    plot_series gap = {NULL, xs, gy, 11, 0};
    plot_spec pg = {NULL, NULL, NULL, &gap, 1, 0, 1, 0, 1, NULL, 0};
    plot_clear(&c);
    plot_draw(&c, 0, 0, W, H, &pg, &f, err, sizeof err);
    pw = f.right - f.left, ph = f.bottom - f.top;
    int yy = f.bottom - ph / 2;
    check(colour_near(&c, f.left + pw / 2, yy, 2, 0) == 0 &&
              colour_near(&c, f.left + pw * 3 / 10, yy, 1, 0) > 0,
          "a NaN leaves a gap; the line is drawn on either side");

    /* Auto range, from the data, widened to whole steps. */
    double big[3] = {3, 17, 42};
    plot_series sb = {"b", xs, big, 3, 1};
    plot_spec pa = {NULL, NULL, NULL, &sb, 1, 0, 0, 0, 0, NULL, 0};
    plot_clear(&c);
    rc = plot_draw(&c, 0, 0, W, H, &pa, &f, err, sizeof err);
    check(rc == 0 && f.y_lo <= 3 && f.y_hi >= 42 && f.y_hi <= 50 && f.x_lo == 0 && f.x_hi >= 0.2,
          "a range from the data: y [%g, %g], x [%g, %g]", f.y_lo, f.y_hi, f.x_lo, f.x_hi);

    /* Names under the x axis, upright text turned: dark pixels below the frame. */
    const char *names[4] = {"classifier", "layer3.0.conv2", "layer2.0.conv1", "stem.conv.a.very.long.name"};
    double nx[4] = {0, 1, 2, 3}, ny[4] = {1, 0.5, 0.2, 0.1};
    plot_series sn = {"spearman", nx, ny, 4, 1};
    plot_spec pn = {"sanity", "layer", "rho", &sn, 1, 0, 0, -1, 1, names, 4};
    plot_clear(&c);
    rc = plot_draw(&c, 0, 0, W, H, &pn, &f, err, sizeof err);
    check(rc == 0 && f.x_ticks == 4, "a plot with four named x ticks (%s)", rc ? err : "ok");
    /* the spans of dark rows under the first and the last tick */
    int t0 = -1, t1 = -1, l0 = -1, l1 = -1;
    for (int y = f.bottom + 6; y < H - DEMO_FONT_H - 6; y++) {
        if (dark_in(&c, f.left - 8, y, f.left + 8, y)) t1 = y, t0 = t0 < 0 ? y : t0;
        if (dark_in(&c, f.right - 8, y, f.right + 8, y)) l1 = y, l0 = l0 < 0 ? y : l0;
    }
    int tall = t0 < 0 ? 0 : t1 - t0 + 1, last = l0 < 0 ? 0 : l1 - l0 + 1;
    check(tall >= 9 * DEMO_FONT_W && tall <= 10 * DEMO_FONT_W,
          "the first name, 'classifier', runs down from the axis (%d rows)", tall);
    check(last >= (NAME_MAX_CHARS - 1) * DEMO_FONT_W && last <= NAME_MAX_CHARS * DEMO_FONT_W,
          "a long name is cut to %d characters (%d rows)", NAME_MAX_CHARS, last);
    check(colour_near(&c, f.left + (f.right - f.left) / 3, f.bottom - (int)lrint((0.5 - f.y_lo) /
                      (f.y_hi - f.y_lo) * (f.bottom - f.top)), 3, 0) >= 9,
          "a marker at the second point");

    /* Twelve series: the 11th and 12th reuse colours 0 and 1, dashed. */
    double ys[12][11];
    plot_series many[12];
    for (int s = 0; s < 12; s++) {
        for (int i = 0; i <= 10; i++) ys[s][i] = (s + 1) / 13.0;
        many[s] = (plot_series){"s", xs, ys[s], 11, 0};
    }
    plot_spec pm = {NULL, NULL, NULL, many, 12, 0, 1, 0, 1, NULL, 0};
    plot_clear(&c);
    rc = plot_draw(&c, 0, 0, W, H, &pm, &f, err, sizeof err);
    ph = f.bottom - f.top;
    int row = f.bottom - (int)lrint(11 / 13.0 * ph), on = 0, off = 0;
    for (int x = f.left + 40; x < f.left + 140; x++) {
        if (is_colour(&c, x, row, 0)) on++;
        else off++; /* a gap, or its anti-aliased ends */
    }
    check(rc == 0 && on > 30 && off > 20, "series 11 is colour 0 dashed (%d on, %d off)", on, off);

    /* Refusals. */
    plot_series lots[PLOT_MAX_SERIES + 1];
    for (int s = 0; s <= PLOT_MAX_SERIES; s++) lots[s] = (plot_series){"s", xs, up, 11, 0};
    plot_spec pl = {NULL, NULL, NULL, lots, PLOT_MAX_SERIES + 1, 0, 1, 0, 1, NULL, 0};
    err[0] = 0;
    check(plot_draw(&c, 0, 0, W, H, &pl, NULL, err, sizeof err) == -1 && strstr(err, "series"),
          "more than %d series refused: %s", PLOT_MAX_SERIES, err);
    err[0] = 0;
    check(plot_draw(&c, 0, 0, 50, 30, &p, NULL, err, sizeof err) == -1 && strstr(err, "little"),
          "a rectangle too small refused: %s", err);
    err[0] = 0;
    check(plot_draw(&c, W - 10, 0, 100, 100, &p, NULL, err, sizeof err) == -1 &&
              strstr(err, "outside"),
          "a rectangle past the canvas refused: %s", err);
    plot_spec pi = p;
    pi.y_lo = -INFINITY;
    pi.y_hi = 1;
    err[0] = 0;
    check(plot_draw(&c, 0, 0, W, H, &pi, NULL, err, sizeof err) == -1 && strstr(err, "finite"),
          "an infinite range refused: %s", err);
    double huge[2] = {-1e308, 1e308};
    plot_series sh = {"h", xs, huge, 2, 0};
    plot_spec ph2 = {NULL, NULL, NULL, &sh, 1, 0, 0, 0, 0, NULL, 0};
    err[0] = 0;
    check(plot_draw(&c, 0, 0, W, H, &ph2, NULL, err, sizeof err) == -1 && strstr(err, "finite"),
          "data spanning more than a double refused: %s", err);

    free(buf);
    free(again);
    return check_summary();
}
