/* fmcl_bench_plot: a bar chart of several results' speeds relative to the
 * first's, one group of horizontal bars per figure, on a log2 axis centred
 * at 1x (a bar to the right is faster than the first result, to the left
 * slower). Drawn on an io/raster.h canvas. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/workloads.h"
#include "io/atomic.h"
#include "io/raster.h"

static const fmcl_rgb WHITE = {255, 255, 255}, INK = {38, 38, 38}, MUTED = {105, 105, 115};
static const fmcl_rgb AXES_BG = {234, 234, 242};
static const fmcl_rgb PALETTE[8] = {{31, 119, 180},  {255, 127, 14},  {44, 160, 44},
                                    {214, 39, 40},   {148, 103, 189}, {140, 86, 75},
                                    {227, 119, 194}, {127, 127, 127}};

#define MAX_RESULTS 32
#define LEFT 330   /* row labels */
#define PLOT_W 480 /* the bars' axis */
#define RIGHT 70   /* room for the ratio after the longest bar */
#define BAR 12     /* one bar's height */
#define GROUP_GAP 12
#define LINE 18    /* a legend line */
#define LABEL 1.5f /* text scales of the 5x7 font */
#define SMALL 1.2f
#define MAX_POW 6 /* the axis spans at most 1/64x to 64x; longer bars are cut */

typedef struct {
    int n, rows;
    fmcl_bench_row base[FMCL_BENCH_ROWS];
    double speed[FMCL_BENCH_ROWS][MAX_RESULTS]; /* 0: no bar */
    int lo, hi;                                 /* the axis, in powers of 2 */
} chart;

/* Each result's rows against the first's, matched by name. */
static void measure(chart *ch, const fmcl_bench_result *const *results, int n)
{
    ch->n = n;
    ch->rows = fmcl_bench_rows(results[0], ch->base);
    ch->lo = -1, ch->hi = 1;
    for (int i = 0; i < n; i++) {
        fmcl_bench_row rows[FMCL_BENCH_ROWS];
        int m = fmcl_bench_rows(results[i], rows);
        for (int r = 0; r < ch->rows; r++) {
            ch->speed[r][i] = 0;
            for (int k = 0; k < m; k++) {
                if (strcmp(rows[k].name, ch->base[r].name) != 0) continue;
                fmcl_bench_comparison c = fmcl_bench_compare(&ch->base[r], &rows[k]);
                if (!c.comparable) break;
                ch->speed[r][i] = c.speed;
                double l = log2(c.speed);
                if (floor(l) < ch->lo) ch->lo = (int)fmax(floor(l), -MAX_POW);
                if (ceil(l) > ch->hi) ch->hi = (int)fmin(ceil(l), MAX_POW);
                break;
            }
        }
    }
}

static float axis_x(const chart *ch, double speed)
{
    double l = fmin(fmax(log2(speed), ch->lo), ch->hi);
    return LEFT + (float)((l - ch->lo) / (ch->hi - ch->lo) * PLOT_W);
}

static int group_height(const chart *ch) { return ch->n * BAR > 28 ? ch->n * BAR : 28; }

static void draw_axis(fmcl_canvas *c, const chart *ch, int top, int bottom)
{
    fmcl_canvas_fill(c, LEFT, top, LEFT + PLOT_W, bottom, AXES_BG, 1.f);
    for (int p = ch->lo; p <= ch->hi; p++) {
        float x = axis_x(ch, ldexp(1.0, p));
        char label[16];
        if (p >= 0)
            snprintf(label, sizeof label, "%gx", ldexp(1.0, p));
        else
            snprintf(label, sizeof label, "1/%gx", ldexp(1.0, -p));
        fmcl_canvas_fill(c, (int)x, top, (int)x + (p == 0 ? 2 : 1), bottom, p == 0 ? INK : WHITE,
                         1.f);
        fmcl_canvas_text(c, x, top - 10.f, label, LABEL, INK, 0.5f, 0);
    }
}

static void draw_groups(fmcl_canvas *c, const chart *ch, int y)
{
    float one = axis_x(ch, 1.0);
    for (int r = 0; r < ch->rows; r++) {
        int h = group_height(ch);
        fmcl_canvas_text(c, LEFT - 10.f, y + 8.f, ch->base[r].name, LABEL, INK, 1.f, 0);
        fmcl_canvas_text(c, LEFT - 10.f, y + 22.f, ch->base[r].workload, SMALL, MUTED, 1.f, 0);
        for (int i = 0; i < ch->n; i++) {
            int y0 = y + i * BAR, y1 = y0 + BAR - 1;
            double sp = ch->speed[r][i];
            if (sp <= 0) {
                fmcl_canvas_text(c, one + 6.f, y0 + BAR / 2.f, "n/a", SMALL, MUTED, 0.f, 0);
                continue;
            }
            float x = axis_x(ch, sp);
            int x0 = (int)fminf(one, x), x1 = (int)fmaxf(one, x);
            fmcl_canvas_fill(c, x0, y0, x1 > x0 ? x1 : x0 + 2, y1, PALETTE[i % 8], 1.f);
            char v[24];
            snprintf(v, sizeof v, "%.2fx", sp);
            /* After the bar's end; a slower bar's label goes before its start, or
             * where the axis leaves no room there, after the 1x line. */
            int after = x >= one || x0 - 4.f - fmcl_canvas_text_width(v, SMALL) < LEFT;
            fmcl_canvas_text(c,
                             x >= one ? x1 + 4.f
                             : after  ? one + 4.f
                                      : x0 - 4.f,
                             y0 + BAR / 2.f, v, SMALL, INK, after ? 0.f : 1.f, 0);
        }
        y += h + GROUP_GAP;
    }
}

fmcl_status fmcl_bench_plot(const char *path, const fmcl_bench_result *const *results,
                            const char *const *labels, int n, char *err, size_t errlen)
{
    if (!path || !*path || !results || !labels || n < 1 || n > MAX_RESULTS)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "fmcl_bench_plot: a .png path and 1 to %d results with labels",
                         MAX_RESULTS);
    chart *ch = malloc(sizeof *ch);
    if (!ch) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory drawing %s", path);
    measure(ch, results, n);
    int legend = 58, axis_top = legend + n * LINE + 30;
    int height = axis_top + 8 + ch->rows * (group_height(ch) + GROUP_GAP) + 10;
    fmcl_canvas c;
    if (fmcl_canvas_init(&c, LEFT + PLOT_W + RIGHT, height, WHITE) != 0) {
        free(ch);
        return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory drawing %s", path);
    }
    fmcl_canvas_text(&c, (LEFT + PLOT_W + RIGHT) / 2.f, 20.f,
                     "fmcl bench: speed relative to the first result", 2.f, INK, 0.5f, 0);
    fmcl_canvas_text(&c, (LEFT + PLOT_W + RIGHT) / 2.f, 42.f,
                     "log scale; n/a: not measured, or another workload", LABEL, MUTED, 0.5f, 0);
    for (int i = 0; i < n; i++) {
        float y = legend + i * LINE + LINE / 2.f;
        fmcl_canvas_fill(&c, 20, (int)y - 5, 32, (int)y + 5, PALETTE[i % 8], 1.f);
        char line[256];
        snprintf(line, sizeof line, "[%d] %s", i + 1, labels[i]);
        float room = LEFT + PLOT_W + RIGHT - 50.f, w = fmcl_canvas_text_width(line, LABEL);
        fmcl_canvas_text(&c, 40.f, y, line, w > room ? fmaxf(1.f, LABEL * room / w) : LABEL, INK,
                         0.f, 0);
    }
    draw_axis(&c, ch, axis_top, height - 10);
    draw_groups(&c, ch, axis_top + 8);
    free(ch);
    return fmcl_plot_save_png(path, &c, err, errlen);
}
