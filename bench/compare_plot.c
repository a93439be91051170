/* fmcl-compare's figure (compare.h): a grid of sample histograms, one row
 * per path and fixed-step solver, one column per NFE, plus a column with
 * dopri5's samples and the held-out data; under it the exact NLL and the
 * training loss over the steps. Drawn on a raster.h canvas, written as PNG
 * atomically. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "io/atomic.h"
#include "io/raster.h"

/* libstb exports this; stb_image_write.h declares it only in its
 * implementation part. */
unsigned char *stbi_write_png_to_mem(const unsigned char *pixels, int stride_bytes, int x, int y,
                                     int n, int *out_len);

static const fmcl_rgb WHITE = {255, 255, 255}, INK = {38, 38, 38}, MUTED = {105, 105, 115};
static const fmcl_rgb AXES_BG = {234, 234, 242};
static const fmcl_rgb PATH_COL[2] = {{31, 119, 180}, {230, 85, 13}};

#define PANEL 96    /* histogram side in pixels */
#define BINS 48     /* histogram bins per side */
#define EXTENT 4.8f /* the square [-EXTENT, EXTENT]^2 shown; the board reaches 4.44 */
#define GAP 8
#define CAPTION 18 /* room under a panel for its numbers */
#define LEFT 118   /* row labels */
#define TOP 78     /* title and column headers */
#define ROWS (2 * CMP_FIXED)
#define COLS (CMP_NFES + 1)
#define SPLIT 36 /* extra room before the dopri5 column */
#define CHART_H 170
#define CHART_TOP 40 /* title above a chart */
#define CHART_BOTTOM 34

static void histogram(fmcl_canvas *c, int x0, int y0, const float *pts, int n)
{
    unsigned cnt[BINS * BINS] = {0}, top = 0;
    for (int i = 0; i < n; i++) {
        double fx = (pts[2 * i] + EXTENT) / (2 * EXTENT) * BINS;
        double fy = (pts[2 * i + 1] + EXTENT) / (2 * EXTENT) * BINS;
        if (fx >= 0 && fx < BINS && fy >= 0 && fy < BINS) /* NaN fails too */
            cnt[(int)fy * BINS + (int)fx]++;
    }
    for (int i = 0; i < BINS * BINS; i++) top = cnt[i] > top ? cnt[i] : top;
    double norm = top ? 1.0 / log1p((double)top) : 0;
    const int bs = PANEL / BINS;
    for (int by = 0; by < BINS; by++)
        for (int bx = 0; bx < BINS; bx++) {
            fmcl_rgb col = fmcl_viridis((float)(log1p((double)cnt[by * BINS + bx]) * norm));
            int y = y0 + (BINS - 1 - by) * bs, x = x0 + bx * bs;
            fmcl_canvas_fill(c, x, y, x + bs, y + bs, col, 1.f);
        }
}

static int col_x(int col) { return LEFT + col * (PANEL + GAP) + (col == CMP_NFES ? SPLIT : 0); }

static void panel(fmcl_canvas *c, int row, int col, const float *pts, int n, const char *caption)
{
    int x = col_x(col), y = TOP + row * (PANEL + CAPTION + GAP);
    histogram(c, x, y, pts, n);
    fmcl_canvas_text(c, x + PANEL / 2.f, y + PANEL + 9.f, caption, 1.f, INK, 0.5f, 0);
}

/* Ticks at 1, 2 or 5 times a power of ten, about five across [lo, hi]. */
static double tick_step(double lo, double hi)
{
    double raw = (hi - lo) / 5, p = pow(10.0, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

typedef struct {
    int x, y, w, h;
    double x0, x1, y0, y1; /* y in log10 units when logy */
    int logy;
} chart;

static float cx(const chart *a, double x)
{
    return a->x + (float)((x - a->x0) / (a->x1 - a->x0) * a->w);
}
static float cy(const chart *a, double y)
{
    if (a->logy) y = log10(y);
    return a->y + a->h - (float)((y - a->y0) / (a->y1 - a->y0) * a->h);
}

static void chart_frame(fmcl_canvas *c, const chart *a, const char *title)
{
    fmcl_canvas_fill(c, a->x, a->y, a->x + a->w, a->y + a->h, AXES_BG, 1.f);
    fmcl_canvas_text(c, a->x + a->w / 2.f, a->y - 16.f, title, 1.5f, INK, 0.5f, 0);
    char s[32];
    double st = tick_step(a->x0, a->x1);
    for (double v = ceil(a->x0 / st) * st; v <= a->x1 + 1e-9; v += st) {
        int px = (int)cx(a, v);
        fmcl_canvas_fill(c, px, a->y, px + 1, a->y + a->h, WHITE, 1.f);
        snprintf(s, sizeof s, "%.0f", v);
        fmcl_canvas_text(c, (float)px, a->y + a->h + 10.f, s, 1.f, INK, 0.5f, 0);
    }
    fmcl_canvas_text(c, (float)a->x, a->y + a->h + 24.f, "training step", 1.f, MUTED, 0.f, 0);
    if (a->logy) { /* 1, 2, 5 times powers of ten; every mantissa within a decade */
        static const int m125[3] = {1, 2, 5}, m19[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        const int *ms = a->y1 - a->y0 < 1 ? m19 : m125, nm = a->y1 - a->y0 < 1 ? 9 : 3;
        for (int e = (int)floor(a->y0); e <= (int)ceil(a->y1); e++)
            for (int k = 0; k < nm; k++) {
                double v = ms[k] * pow(10.0, e);
                if (log10(v) < a->y0 || log10(v) > a->y1) continue;
                int py = (int)cy(a, v);
                fmcl_canvas_fill(c, a->x, py, a->x + a->w, py + 1, WHITE, 1.f);
                snprintf(s, sizeof s, "%g", v);
                fmcl_canvas_text(c, a->x - 6.f, (float)py, s, 1.f, INK, 1.f, 0);
            }
        return;
    }
    st = tick_step(a->y0, a->y1);
    for (double v = ceil(a->y0 / st) * st; v <= a->y1 + 1e-9; v += st) {
        int py = (int)cy(a, v);
        fmcl_canvas_fill(c, a->x, py, a->x + a->w, py + 1, WHITE, 1.f);
        snprintf(s, sizeof s, "%g", fabs(v) < 1e-9 ? 0.0 : v);
        fmcl_canvas_text(c, a->x - 6.f, (float)py, s, 1.f, INK, 1.f, 0);
    }
}

static void polyline(fmcl_canvas *c, const chart *a, const double *x, const double *y, int n,
                     fmcl_rgb col)
{
    fmcl_canvas_clip(c, a->x, a->y, a->x + a->w, a->y + a->h);
    for (int i = 0; i + 1 < n; i++)
        fmcl_canvas_line(c, cx(a, x[i]), cy(a, y[i]), cx(a, x[i + 1]), cy(a, y[i + 1]), 2.f);
    for (int i = 0; n <= 12 && i < n; i++) fmcl_canvas_disc(c, cx(a, x[i]), cy(a, y[i]), 3.f);
    fmcl_canvas_paint(c, col, 1.f);
    fmcl_canvas_clip(c, 0, 0, c->w, c->h);
}

/* Under the chart at the right, where no curve goes. */
static void legend(fmcl_canvas *c, const chart *a, const cmp_path paths[2])
{
    for (int p = 0; p < 2; p++) {
        float y = a->y + a->h + 24.f, x = a->x + a->w - 92.f + 52.f * p;
        fmcl_canvas_line(c, x, y, x + 16.f, y, 2.f);
        fmcl_canvas_paint(c, PATH_COL[p], 1.f);
        fmcl_canvas_text(c, x + 21.f, y, paths[p].path == FMCL_PATH_OT ? "OT" : "VP", 1.5f, INK,
                         0.f, 0);
    }
}

/* Exact NLL at each evaluation, with the data's own NLL dashed; -1 when
 * out of memory. */
static int nll_chart(fmcl_canvas *c, chart *a, const cmp_path paths[2])
{
    double lo = 3.6817, hi = lo; /* the checkerboard's NLL */
    for (int p = 0; p < 2; p++)
        for (int k = 1; k < paths[p].n_evals; k++) { /* the untrained model is off the scale */
            double v = paths[p].evals[k].nll;
            lo = isfinite(v) && v < lo ? v : lo;
            hi = isfinite(v) && v > hi ? v : hi;
        }
    a->x0 = 0;
    a->x1 = paths[0].evals[paths[0].n_evals - 1].step;
    a->y0 = lo - 0.05 * (hi - lo + 0.1);
    a->y1 = hi + 0.05 * (hi - lo + 0.1);
    chart_frame(c, a, "exact NLL of held-out points (nats)");
    fmcl_canvas_clip(c, a->x, a->y, a->x + a->w, a->y + a->h);
    for (float x = (float)a->x; x < a->x + a->w; x += 10.f)
        fmcl_canvas_line(c, x, cy(a, 3.6817), x + 5.f, cy(a, 3.6817), 1.f);
    fmcl_canvas_paint(c, MUTED, 1.f);
    fmcl_canvas_text(c, a->x + 6.f, cy(a, 3.6817) - 8.f, "data", 1.f, MUTED, 0.f, 0);
    int n = paths[0].n_evals - 1;
    double *x = malloc(sizeof *x * (size_t)(2 * n + 1));
    if (!x) return -1;
    double *y = x + n;
    for (int p = 0; p < 2; p++) {
        for (int k = 0; k < n; k++)
            x[k] = paths[p].evals[k + 1].step, y[k] = paths[p].evals[k + 1].nll;
        polyline(c, a, x, y, n, PATH_COL[p]);
    }
    free(x);
    legend(c, a, paths);
    return 0;
}

/* Training loss in means over windows of 1/50 of the run, log scale. */
static void loss_chart(fmcl_canvas *c, chart *a, const cmp_path paths[2])
{
    int steps = paths[0].evals[paths[0].n_evals - 1].step, win = steps / 50 > 1 ? steps / 50 : 1;
    double x[2][51], y[2][51], lo = INFINITY, hi = -INFINITY;
    int n = 0;
    for (int p = 0; p < 2; p++) {
        n = 0;
        for (int s = 0; s + win <= steps && n < 51; s += win, n++) {
            x[p][n] = s + win / 2.0;
            y[p][n] = cmp_loss_mean(&paths[p], s, s + win);
            if (isfinite(y[p][n]) && y[p][n] > 0) {
                lo = fmin(lo, log10(y[p][n]));
                hi = fmax(hi, log10(y[p][n]));
            }
        }
    }
    a->x0 = 0;
    a->x1 = steps;
    if (!(lo <= hi)) lo = 0, hi = 1;
    a->y0 = lo - 0.05 * (hi - lo + 0.1);
    a->y1 = hi + 0.05 * (hi - lo + 0.1);
    a->logy = 1;
    chart_frame(c, a, "training loss (log scale)");
    for (int p = 0; p < 2; p++) polyline(c, a, x[p], y[p], n, PATH_COL[p]);
    legend(c, a, paths);
}

fmcl_status cmp_plot(const char *path, const cmp_opts *o, const cmp_data *d,
                     const cmp_path paths[2], const int nfes[CMP_NFES], char *err, size_t errlen)
{
    const int grid_w = col_x(CMP_NFES) + PANEL + 24, grid_h = TOP + ROWS * (PANEL + CAPTION + GAP);
    const int w = grid_w + 12, h = grid_h + CHART_TOP + CHART_H + CHART_BOTTOM + 10;
    fmcl_canvas c;
    if (fmcl_canvas_init(&c, w, h, WHITE) != 0)
        return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory drawing %s", path);
    char s[160];
    fmcl_canvas_text(&c, w / 2.f, 16.f, "OT vs VP diffusion paths: samples against NFE", 2.f, INK,
                     0.5f, 0);
    snprintf(s, sizeof s, "MLP 3-%dx%d-2, %d steps, batch %d, lr %g; numbers: sliced W2 / on board",
             o->width, o->depth, o->steps, o->batch, o->lr);
    fmcl_canvas_text(&c, w / 2.f, 36.f, s, 1.f, MUTED, 0.5f, 0);
    for (int j = 0; j < COLS; j++) {
        if (j < CMP_NFES)
            snprintf(s, sizeof s, "NFE %d", nfes[j]);
        else
            snprintf(s, sizeof s, "dopri5");
        fmcl_canvas_text(&c, col_x(j) + PANEL / 2.f, TOP - 12.f, s, 1.5f, INK, 0.5f, 0);
    }
    for (int p = 0; p < 2; p++)
        for (int r = 0; r < CMP_FIXED; r++) {
            int row = p * CMP_FIXED + r;
            float y = TOP + row * (PANEL + CAPTION + GAP) + PANEL / 2.f;
            snprintf(s, sizeof s, "%s %s", paths[p].path == FMCL_PATH_OT ? "OT" : "VP",
                     cmp_solver_names[r]);
            fmcl_canvas_text(&c, LEFT - 10.f, y, s, 1.5f, PATH_COL[p], 1.f, 0);
            for (int j = 0; j < CMP_NFES; j++) {
                const cmp_samples *a = &paths[p].fixed[r][j];
                if (!a->pts) {
                    fmcl_canvas_text(&c, col_x(j) + PANEL / 2.f, y, "-", 2.f, MUTED, 0.5f, 0);
                    continue;
                }
                snprintf(s, sizeof s, "%.3f / %.2f", a->sw2, a->board);
                panel(&c, row, j, a->pts, d->n_samples, s);
            }
        }
    for (int p = 0; p < 2; p++) {
        const cmp_samples *a = &paths[p].dopri5;
        snprintf(s, sizeof s, "NFE %d: %.3f / %.2f", a->nfe, a->sw2, a->board);
        panel(&c, p * CMP_FIXED, CMP_NFES, a->pts, d->n_samples, s);
    }
    snprintf(s, sizeof s, "data: %.3f / %.2f", d->floor_sw2, d->floor_board);
    panel(&c, 1, CMP_NFES, d->floor, d->n_samples, s);

    const int chart_w = (w - 2 * 70 - 40) / 2;
    chart a = {.x = 70, .y = grid_h + CHART_TOP, .w = chart_w, .h = CHART_H};
    chart b = {.x = 70 + chart_w + 70, .y = grid_h + CHART_TOP, .w = chart_w, .h = CHART_H};
    if (nll_chart(&c, &a, paths) != 0) {
        fmcl_canvas_free(&c);
        return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory drawing %s", path);
    }
    loss_chart(&c, &b, paths);

    int len = 0;
    unsigned char *png = stbi_write_png_to_mem(c.px, c.w * 3, c.w, c.h, 3, &len);
    fmcl_canvas_free(&c);
    if (!png) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory encoding %s", path);
    const void *data[1] = {png};
    size_t lens[1] = {(size_t)len};
    fmcl_status st = fmcl_write_file_atomic(path, data, lens, 1, err, errlen);
    free(png);
    return st;
}
