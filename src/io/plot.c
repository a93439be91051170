/* PNG figures of 2D flows: density panels, trajectories and loss curves,
 * drawn on a raster.h canvas, encoded by stb_image_write and written
 * atomically. Non-finite inputs are skipped and their count printed in the
 * figure, never drawn. */
#include "fmcl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"
#include "io/raster.h"

/* libstb exports this, but stb_image_write.h declares it only in its
 * implementation part. The result comes from malloc (STBIW_MALLOC's default). */
unsigned char *stbi_write_png_to_mem(const unsigned char *pixels, int stride_bytes, int x, int y,
                                     int n, int *out_len);

static const fmcl_rgb WHITE = {255, 255, 255}, INK = {38, 38, 38}, MUTED = {105, 105, 115};
static const fmcl_rgb AXES_BG = {234, 234, 242}, LEGEND_EDGE = {200, 200, 208};
static const fmcl_rgb START = {31, 119, 180}, END = {230, 85, 13}, PATH = {75, 85, 105};
static const fmcl_rgb RAW = {110, 160, 215}, SMOOTH = {20, 75, 150};

#define TITLE_SCALE 2.f
#define LABEL_SCALE 1.5f
#define PANEL 512 /* density panel side in pixels */
#define HBINS 256 /* finest histogram, coarsened while too sparse */
#define MAX_TICKS 64

/* ---- axes ---------------------------------------------------------------- */

typedef struct {
    int x, y, w, h;        /* plot rectangle [x, x + w) x [y, y + h) */
    double x0, x1, y0, y1; /* data shown; y in log10 units on a log axis */
} axes;

static float ax_px(const axes *a, double x)
{
    return a->x + (float)((x - a->x0) / (a->x1 - a->x0) * a->w);
}
static float ax_py(const axes *a, double y)
{
    return a->y + a->h - (float)((y - a->y0) / (a->y1 - a->y0) * a->h);
}

typedef struct {
    int n;
    double v[MAX_TICKS];   /* in axis units */
    char s[MAX_TICKS][16]; /* label; "" marks a minor tick */
} ticks;

static void tick_add(ticks *t, double v, const char *label)
{
    if (t->n < MAX_TICKS) {
        t->v[t->n] = v;
        snprintf(t->s[t->n++], sizeof t->s[0], "%s", label);
    }
}

/* About target ticks at multiples of 1, 2 or 5 times a power of ten, at
 * least min_step apart, labelled with the decimals the step needs. */
static void lin_ticks(ticks *t, double lo, double hi, int target, double min_step)
{
    double raw = (hi - lo) / target, p = pow(10.0, floor(log10(raw))), m = raw / p;
    double step = (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
    if (step < min_step) step = min_step;
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    int sci = step < 1e-4 || fmax(fabs(lo), fabs(hi)) >= 1e7; /* too long as decimals */
    t->n = 0;
    for (double k = ceil(lo / step - 1e-9); k <= floor(hi / step + 1e-9); k++) {
        char s[16];
        double v = k == 0 ? 0.0 : k * step;
        if (sci)
            snprintf(s, sizeof s, "%.3g", v);
        else
            snprintf(s, sizeof s, "%.*f", dec, v);
        tick_add(t, v, s);
    }
}

/* Widest label in pixels. */
static float ticks_width(const ticks *t)
{
    float w = 0;
    for (int i = 0; i < t->n; i++) w = fmaxf(w, fmcl_canvas_text_width(t->s[i], LABEL_SCALE));
    return w;
}

/* Linear ticks whose labels leave gaps between them across room pixels. */
static void lin_ticks_fit(ticks *t, double lo, double hi, int target, double min_step, float room)
{
    for (;; target--) {
        lin_ticks(t, lo, hi, target, min_step);
        if (target <= 2 || (ticks_width(t) + 16.f) * t->n <= room) return;
    }
}

/* Ticks of a log10 axis over [l0, l1]: decades when two fit (2..9 between
 * them as minor ticks), else 1-2-5 or 1..9 mantissas, else linear ticks. */
static void log_ticks(ticks *t, double l0, double l1)
{
    static const int sets[3][9] = {{1}, {1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
    static const int nset[3] = {1, 3, 9};
    int e0 = (int)floor(l0), e1 = (int)ceil(l1);
    for (int k = 0; k < 3; k++) {
        int count = 0;
        for (int e = e0; e <= e1; e++)
            for (int j = 0; j < nset[k]; j++) {
                double v = log10(sets[k][j]) + e;
                count += v >= l0 - 1e-9 && v <= l1 + 1e-9;
            }
        if (count < 2) continue;
        int stride = k == 0 ? (count + 6) / 7 : 1; /* at most about 7 labels */
        t->n = 0;
        for (int e = e0; e <= e1; e++)
            for (int m = 1; m <= 9; m++) {
                double v = log10(m) + e;
                if (v < l0 - 1e-9 || v > l1 + 1e-9) continue;
                int major = 0;
                for (int j = 0; j < nset[k]; j++) major |= sets[k][j] == m;
                major &= k > 0 || ((e % stride) + stride) % stride == 0;
                char s[16] = "";
                if (major && e >= -4 && e <= 4)
                    snprintf(s, sizeof s, "%.*f", e < 0 ? -e : 0, m * pow(10.0, e));
                else if (major)
                    snprintf(s, sizeof s, "%de%d", m, e);
                int minor = k == 1 || (k == 0 && (m == 1 ? count <= 30 : e1 - e0 <= 5));
                if (major || minor) tick_add(t, v, s);
            }
        return;
    }
    /* Less than a factor of two shown: linear ticks in value space. */
    ticks lin;
    lin_ticks(&lin, pow(10.0, l0), pow(10.0, l1), 4, 0);
    t->n = 0;
    for (int i = 0; i < lin.n; i++)
        if (lin.v[i] > 0) tick_add(t, log10(lin.v[i]), lin.s[i]);
}

/* Grid style (trajectories, loss): light background, white grid lines.
 * Frame style (densities): the image is drawn first, then a thin frame with
 * outward tick marks. ylabels = 0 leaves the y labels out (shared axis). */
static void draw_axes(fmcl_canvas *c, const axes *a, const ticks *tx, const ticks *ty, int grid,
                      int ylabels)
{
    float cap = fmcl_canvas_text_cap(LABEL_SCALE), gap = grid ? 8.f : 10.f;
    if (grid) fmcl_canvas_fill(c, a->x, a->y, a->x + a->w, a->y + a->h, AXES_BG, 1.f);
    for (int i = 0; i < tx->n; i++) {
        float px = ax_px(a, tx->v[i]);
        int col = (int)floorf(px), major = tx->s[i][0] != 0;
        col = col < a->x - 1 ? a->x - 1 : col > a->x + a->w ? a->x + a->w : col;
        if (grid)
            fmcl_canvas_fill(c, col, a->y, col + 1, a->y + a->h, WHITE, major ? 1.f : 0.5f);
        else
            fmcl_canvas_fill(c, col, a->y + a->h, col + 1, a->y + a->h + (major ? 5 : 3), INK, 1.f);
        fmcl_canvas_text(c, px, a->y + a->h + gap + cap / 2, tx->s[i], LABEL_SCALE, INK, 0.5f, 0);
    }
    for (int i = 0; i < ty->n; i++) {
        float py = ax_py(a, ty->v[i]);
        int row = (int)floorf(py), major = ty->s[i][0] != 0;
        row = row < a->y - 1 ? a->y - 1 : row > a->y + a->h ? a->y + a->h : row;
        if (grid)
            fmcl_canvas_fill(c, a->x, row, a->x + a->w, row + 1, WHITE, major ? 1.f : 0.5f);
        else
            fmcl_canvas_fill(c, a->x - (major ? 5 : 3), row, a->x, row + 1, INK, 1.f);
        if (ylabels) fmcl_canvas_text(c, a->x - gap, py, ty->s[i], LABEL_SCALE, INK, 1.f, 0);
    }
    if (!grid) {
        fmcl_canvas_fill(c, a->x - 1, a->y - 1, a->x + a->w + 1, a->y, INK, 1.f);
        fmcl_canvas_fill(c, a->x - 1, a->y + a->h, a->x + a->w + 1, a->y + a->h + 1, INK, 1.f);
        fmcl_canvas_fill(c, a->x - 1, a->y, a->x, a->y + a->h, INK, 1.f);
        fmcl_canvas_fill(c, a->x + a->w, a->y, a->x + a->w + 1, a->y + a->h, INK, 1.f);
    }
}

/* Text centred at (x, y), shrunk (to scale 1 at least) to fit width. */
static void text_fit(fmcl_canvas *c, float x, float y, const char *s, float scale, float width,
                     fmcl_rgb col)
{
    float w = fmcl_canvas_text_width(s, scale);
    if (w > width) scale = fmaxf(1.f, scale * width / w);
    fmcl_canvas_text(c, x, y, s, scale, col, 0.5f, 0);
}

/* Title and a smaller grey line of facts above the plot rectangle. */
static void draw_title(fmcl_canvas *c, const axes *a, const char *title, const char *sub)
{
    float cx = a->x + a->w / 2.f, room = a->w + 40.f;
    text_fit(c, cx, a->y - 38, title, TITLE_SCALE, room, INK);
    text_fit(c, cx, a->y - 15, sub, LABEL_SCALE, room, MUTED);
}

/* "12,345": counts are easier to read grouped. */
static void fmt_count(char *out, size_t len, long long v)
{
    char d[32];
    int n = snprintf(d, sizeof d, "%lld", v), o = 0;
    for (int i = 0; i < n && o + 2 < (int)len; i++) {
        if (i > 0 && d[i - 1] != '-' && (n - i) % 3 == 0) out[o++] = ',';
        out[o++] = d[i];
    }
    out[o] = 0;
}

/* Appends ", <count> <what>" when count > 0. */
static void add_fact(char *s, size_t len, long long count, const char *what)
{
    if (count > 0) {
        char num[32];
        fmt_count(num, sizeof num, count);
        size_t used = strlen(s);
        snprintf(s + used, len - used, "%s%s %s", used ? ", " : "", num, what);
    }
}

/* ---- legend ---------------------------------------------------------------- */

typedef struct {
    int n;
    const char *label[3];
    fmcl_rgb col[3];
    int line[3]; /* 0 marker, else line width */
    float alpha[3];
    int counts[4]; /* points in each corner's box: TL, TR, BL, BR */
    int w, h;
} legend;

static void legend_size(legend *l)
{
    float tw = 0;
    for (int i = 0; i < l->n; i++) tw = fmaxf(tw, fmcl_canvas_text_width(l->label[i], LABEL_SCALE));
    l->w = (int)tw + 44;
    l->h = l->n * 20 + 12;
}

/* Counts a point (pixels) against the corner boxes the legend may take. */
static void legend_avoid(legend *l, const axes *a, float px, float py)
{
    int left = (px < a->x + l->w + 20), right = (px > a->x + a->w - l->w - 20);
    int top = (py < a->y + l->h + 20), bottom = (py > a->y + a->h - l->h - 20);
    l->counts[0] += left && top;
    l->counts[1] += right && top;
    l->counts[2] += left && bottom;
    l->counts[3] += right && bottom;
}

/* Draws the legend in the corner with the fewest points (ties: top right). */
static void legend_draw(fmcl_canvas *c, const axes *a, const legend *l)
{
    static const int order[4] = {1, 0, 3, 2};
    int best = 1;
    for (int k = 0; k < 4; k++)
        if (l->counts[order[k]] < l->counts[best]) best = order[k];
    int x = best & 1 ? a->x + a->w - l->w - 10 : a->x + 10;
    int y = best & 2 ? a->y + a->h - l->h - 10 : a->y + 10;
    fmcl_canvas_clip(c, 0, 0, c->w, c->h);
    fmcl_canvas_fill(c, x, y, x + l->w, y + l->h, WHITE, 0.88f);
    fmcl_canvas_fill(c, x, y, x + l->w, y + 1, LEGEND_EDGE, 1.f);
    fmcl_canvas_fill(c, x, y + l->h - 1, x + l->w, y + l->h, LEGEND_EDGE, 1.f);
    fmcl_canvas_fill(c, x, y, x + 1, y + l->h, LEGEND_EDGE, 1.f);
    fmcl_canvas_fill(c, x + l->w - 1, y, x + l->w, y + l->h, LEGEND_EDGE, 1.f);
    for (int i = 0; i < l->n; i++) {
        float cy = y + 16.f + 20.f * i;
        if (l->line[i])
            fmcl_canvas_line(c, x + 10.f, cy, x + 30.f, cy, (float)l->line[i]);
        else
            fmcl_canvas_disc(c, x + 20.f, cy, 3.5f);
        fmcl_canvas_paint(c, l->col[i], l->line[i] ? fmaxf(l->alpha[i], 0.6f) : l->alpha[i]);
        fmcl_canvas_text(c, x + 38.f, cy, l->label[i], LABEL_SCALE, INK, 0.f, 0);
    }
}

/* ---- output ---------------------------------------------------------------- */

fmcl_status fmcl_plot_save_png(const char *path, fmcl_canvas *c, char *err, size_t errlen)
{
    int len = 0;
    unsigned char *png = stbi_write_png_to_mem(c->px, c->w * 3, c->w, c->h, 3, &len);
    fmcl_canvas_free(c);
    if (!png)
        return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory encoding the PNG for %s",
                         path);
    const void *data[1] = {png};
    size_t lens[1] = {(size_t)len};
    fmcl_status s = fmcl_write_file_atomic(path, data, lens, 1, err, errlen);
    free(png);
    return s;
}

static fmcl_status new_canvas(fmcl_canvas *c, int w, int h, const char *path, char *err,
                              size_t errlen)
{
    if (fmcl_canvas_init(c, w, h, WHITE) != 0)
        return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory drawing %s", path);
    return FMCL_OK;
}

static fmcl_status check_common(const char *fn, const char *path, char *err, size_t errlen)
{
    if (!path || !*path)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "%s: no output path; give a .png file name",
                         fn);
    return FMCL_OK;
}

static fmcl_status check_square(const char *fn, float lo, float hi, char *err, size_t errlen)
{
    if (!(isfinite(lo) && isfinite(hi) && lo < hi))
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "%s: the square shown needs finite lo < hi (got lo = %g, hi = %g)", fn, lo,
                         hi);
    return FMCL_OK;
}

static fmcl_status check_points(const char *fn, const char *what, const float *p, int n, char *err,
                                size_t errlen)
{
    if (n < 0 || (n > 0 && !p))
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "%s: %s has n = %d and %s pointer; n must be >= 0 with data for n > 0", fn,
                         what, n, p ? "a" : "no");
    return FMCL_OK;
}

/* ---- densities -------------------------------------------------------------- */

typedef struct {
    unsigned *h; /* HBINS x HBINS counts, row 0 at y = lo */
    long long shown, nonfinite, outside;
} hist;

static void hist_fill(hist *hs, const float *pts, int n, float lo, float hi)
{
    double scale = HBINS / ((double)hi - lo);
    for (int i = 0; i < n; i++) {
        float x = pts[2 * i], y = pts[2 * i + 1];
        if (!isfinite(x) || !isfinite(y)) {
            hs->nonfinite++;
            continue;
        }
        double fx = (x - (double)lo) * scale, fy = (y - (double)lo) * scale;
        if (!(fx >= 0 && fx <= HBINS && fy >= 0 && fy <= HBINS)) {
            hs->outside++;
            continue;
        }
        int ix = fx >= HBINS ? HBINS - 1 : (int)fx, iy = fy >= HBINS ? HBINS - 1 : (int)fy;
        hs->h[iy * HBINS + ix]++;
        hs->shown++;
    }
}

/* Sums f x f blocks: a bins x bins histogram, bins = HBINS / f. */
static void hist_coarse(const hist *hs, int f, unsigned *out)
{
    int bins = HBINS / f;
    memset(out, 0, sizeof *out * (size_t)bins * bins);
    for (int y = 0; y < HBINS; y++)
        for (int x = 0; x < HBINS; x++) out[(y / f) * bins + x / f] += hs->h[y * HBINS + x];
}

/* Bins per side: halved (down to 64) while the occupied bins average fewer
 * than 4 points, so that a sparse cloud reads as a density, not speckle. */
static int hist_bins(const hist *hs, unsigned *tmp)
{
    int bins = HBINS;
    for (; bins > 64; bins /= 2) {
        hist_coarse(hs, HBINS / bins, tmp);
        long long occupied = 0;
        for (int i = 0; i < bins * bins; i++) occupied += tmp[i] > 0;
        if (hs->shown >= 4 * occupied) break;
    }
    return bins;
}

/* log(1 + count) normalised to the panel's largest bin; empty bins take
 * the colormap's dark end. */
static void hist_draw(fmcl_canvas *c, const axes *a, const unsigned *cnt, int bins)
{
    unsigned top = 0;
    for (int i = 0; i < bins * bins; i++) top = cnt[i] > top ? cnt[i] : top;
    double norm = top ? 1.0 / log1p((double)top) : 0;
    int bs = PANEL / bins;
    for (int by = 0; by < bins; by++)
        for (int bx = 0; bx < bins; bx++) {
            fmcl_rgb col = fmcl_viridis((float)(log1p((double)cnt[by * bins + bx]) * norm));
            int y0 = a->y + (bins - 1 - by) * bs, x0 = a->x + bx * bs;
            fmcl_canvas_fill(c, x0, y0, x0 + bs, y0 + bs, col, 1.f);
        }
}

static fmcl_status density_figure(const char *path, int panels, const char *const *titles,
                                  const float *const *pts, const int *n, float lo, float hi,
                                  char *err, size_t errlen)
{
    ticks t;
    lin_ticks_fit(&t, lo, hi, 6, 0, PANEL);
    const int gap = 32, mt = 72, mb = 44, lw = (int)ticks_width(&t);
    const int ml = lw + 22 > 64 ? lw + 22 : 64, mr = lw / 2 + 8 > 28 ? lw / 2 + 8 : 28;
    hist hs[2];
    memset(hs, 0, sizeof hs);
    unsigned *tmp = malloc(sizeof *tmp * HBINS * HBINS);
    int ok = tmp != NULL;
    for (int p = 0; p < panels; p++) {
        hs[p].h = calloc((size_t)HBINS * HBINS, sizeof *hs[p].h);
        ok &= hs[p].h != NULL;
    }
    fmcl_canvas c;
    fmcl_status s = ok ? new_canvas(&c, ml + panels * PANEL + (panels - 1) * gap + mr,
                                    mt + PANEL + mb, path, err, errlen)
                       : fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory drawing %s", path);
    if (s == FMCL_OK) {
        /* One binning for all panels (the coarsest any needs), so they compare. */
        int bins = HBINS;
        for (int p = 0; p < panels; p++) {
            hist_fill(&hs[p], pts[p], n[p], lo, hi);
            if (hs[p].shown > 0) {
                int b = hist_bins(&hs[p], tmp);
                bins = b < bins ? b : bins;
            }
        }
        for (int p = 0; p < panels; p++) {
            axes a = {ml + p * (PANEL + gap), mt, PANEL, PANEL, lo, hi, lo, hi};
            hist_coarse(&hs[p], HBINS / bins, tmp);
            hist_draw(&c, &a, tmp, bins);
            draw_axes(&c, &a, &t, &t, 0, p == 0);
            char sub[160] = "n = ";
            fmt_count(sub + 4, sizeof sub - 4, n[p]);
            strcat(sub, n[p] > 0 ? ", log scale" : " (nothing to show)");
            add_fact(sub, sizeof sub, hs[p].nonfinite, "non-finite skipped");
            add_fact(sub, sizeof sub, hs[p].outside, "outside view");
            draw_title(&c, &a, titles[p], sub);
        }
        s = fmcl_plot_save_png(path, &c, err, errlen);
    }
    for (int p = 0; p < panels; p++) free(hs[p].h);
    free(tmp);
    return s;
}

fmcl_status fmcl_plot_densities(const char *path, const float *data, int n_data,
                                const float *samples, int n_samples, float lo, float hi, char *err,
                                size_t errlen)
{
    const char *fn = "fmcl_plot_densities";
    fmcl_status s = check_common(fn, path, err, errlen);
    if (s == FMCL_OK) s = check_points(fn, "data", data, n_data, err, errlen);
    if (s == FMCL_OK) s = check_points(fn, "samples", samples, n_samples, err, errlen);
    if (s == FMCL_OK) s = check_square(fn, lo, hi, err, errlen);
    if (s != FMCL_OK) return s;
    const char *titles[2] = {"data", "samples"};
    const float *pts[2] = {data, samples};
    int n[2] = {n_data, n_samples};
    return density_figure(path, 2, titles, pts, n, lo, hi, err, errlen);
}

fmcl_status fmcl_plot_density(const char *path, const char *title, const float *pts, int n,
                              float lo, float hi, char *err, size_t errlen)
{
    const char *fn = "fmcl_plot_density";
    fmcl_status s = check_common(fn, path, err, errlen);
    if (s == FMCL_OK) s = check_points(fn, "points", pts, n, err, errlen);
    if (s == FMCL_OK) s = check_square(fn, lo, hi, err, errlen);
    if (s != FMCL_OK) return s;
    const char *titles[1] = {title && *title ? title : "samples"};
    return density_figure(path, 1, titles, &pts, &n, lo, hi, err, errlen);
}

fmcl_status fmcl_plot_heatmap(const char *path, const char *title, const char *sub, const float *v,
                              int g, float lo, float hi, char *err, size_t errlen)
{
    const char *fn = "fmcl_plot_heatmap";
    fmcl_status s = check_common(fn, path, err, errlen);
    if (s == FMCL_OK && (g < 1 || g > PANEL || !v))
        s = fmcl_errf(err, errlen, FMCL_ERR_ARG,
                      "%s: needs 1 to %d cells per side and their "
                      "values (got %d)",
                      fn, PANEL, g);
    if (s == FMCL_OK) s = check_square(fn, lo, hi, err, errlen);
    if (s != FMCL_OK) return s;
    float vmin = INFINITY, vmax = -INFINITY;
    long long bad = 0;
    for (int i = 0; i < g * g; i++) {
        if (!isfinite(v[i])) {
            bad++;
            continue;
        }
        vmin = fminf(vmin, v[i]);
        vmax = fmaxf(vmax, v[i]);
    }
    ticks t;
    lin_ticks_fit(&t, lo, hi, 6, 0, PANEL);
    const int lw = (int)ticks_width(&t), ml = lw + 22 > 64 ? lw + 22 : 64;
    const int mr = lw / 2 + 8 > 28 ? lw / 2 + 8 : 28;
    fmcl_canvas c;
    if ((s = new_canvas(&c, ml + PANEL + mr, 72 + PANEL + 44, path, err, errlen)) != FMCL_OK)
        return s;
    axes a = {ml, 72, PANEL, PANEL, lo, hi, lo, hi};
    float scale = vmax > vmin ? 1.f / (vmax - vmin) : 0.f;
    for (int i = 0; i < g; i++) /* row i of the grid: pixel rows from the bottom */
        for (int j = 0; j < g; j++) {
            float x = v[i * g + j];
            fmcl_rgb col = fmcl_viridis(isfinite(x) ? (x - vmin) * scale : 0.f);
            fmcl_canvas_fill(&c, a.x + j * PANEL / g, a.y + PANEL - (i + 1) * PANEL / g,
                             a.x + (j + 1) * PANEL / g, a.y + PANEL - i * PANEL / g, col, 1.f);
        }
    draw_axes(&c, &a, &t, &t, 0, 1);
    char line[200];
    snprintf(line, sizeof line, "%s", sub ? sub : "");
    add_fact(line, sizeof line, bad, "non-finite cells");
    draw_title(&c, &a, title && *title ? title : "values", line);
    return fmcl_plot_save_png(path, &c, err, errlen);
}

/* ---- trajectories ----------------------------------------------------------- */

fmcl_status fmcl_plot_trajectories(const char *path, const float *traj, int n_states, int n_points,
                                   int n_show, float lo, float hi, char *err, size_t errlen)
{
    const char *fn = "fmcl_plot_trajectories";
    fmcl_status s = check_common(fn, path, err, errlen);
    if (s == FMCL_OK && (n_states < 1 || n_points < 0 || n_show < 0))
        s = fmcl_errf(err, errlen, FMCL_ERR_ARG,
                      "%s: need n_states >= 1, n_points >= 0 and n_show >= 0 (got %d, %d, %d)", fn,
                      n_states, n_points, n_show);
    if (s == FMCL_OK && n_points > 0 && !traj)
        s = fmcl_errf(err, errlen, FMCL_ERR_ARG, "%s: traj is NULL with %d points", fn, n_points);
    if (s == FMCL_OK) s = check_square(fn, lo, hi, err, errlen);
    if (s != FMCL_OK) return s;

    const int side = 560, mt = 72, mb = 44;
    ticks t;
    lin_ticks_fit(&t, lo, hi, 6, 0, side);
    const int lw = (int)ticks_width(&t);
    const int ml = lw + 22 > 64 ? lw + 22 : 64, mr = lw / 2 + 8 > 28 ? lw / 2 + 8 : 28;
    fmcl_canvas c;
    if ((s = new_canvas(&c, ml + side + mr, mt + side + mb, path, err, errlen)) != FMCL_OK)
        return s;
    axes a = {ml, mt, side, side, lo, hi, lo, hi};
    draw_axes(&c, &a, &t, &t, 1, 1);
    fmcl_canvas_clip(&c, a.x, a.y, a.x + a.w, a.y + a.h);

    /* Each path is one stroke (no dark joints), faint enough that many
     * overlapping paths show where the flow concentrates. */
    int k = n_show < n_points ? n_show : n_points;
    float alpha = k > 0 ? fminf(0.5f, fmaxf(0.05f, 3.f / sqrtf((float)k))) : 0.f;
    long long nonfinite = 0;
    for (int p = 0; p < k; p++) {
        float px = 0, py = 0;
        int prev = 0;
        for (int st = 0; st < n_states; st++) {
            const float *q = traj + ((size_t)st * n_points + p) * 2;
            int fin = isfinite(q[0]) && isfinite(q[1]);
            nonfinite += !fin;
            float x = fin ? ax_px(&a, q[0]) : 0, y = fin ? ax_py(&a, q[1]) : 0;
            if (fin && prev) fmcl_canvas_line(&c, px, py, x, y, 1.f);
            prev = fin;
            px = x;
            py = y;
        }
        fmcl_canvas_paint(&c, PATH, alpha);
    }

    legend l = {3,
                {"noise (t = 0)", "path", "sample (t = 1)"},
                {START, PATH, END},
                {0, 1, 0},
                {0.9f, alpha, 0.9f},
                {0, 0, 0, 0},
                0,
                0};
    legend_size(&l);
    float radius = k <= 200 ? 3.f : k <= 1000 ? 2.2f : 1.6f;
    for (int end = 0; end < 2; end++)
        for (int p = 0; p < k; p++) {
            const float *q = traj + ((size_t)(end ? n_states - 1 : 0) * n_points + p) * 2;
            if (!isfinite(q[0]) || !isfinite(q[1])) continue;
            float x = ax_px(&a, q[0]), y = ax_py(&a, q[1]);
            legend_avoid(&l, &a, x, y);
            fmcl_canvas_disc(&c, x, y, radius);
            fmcl_canvas_paint(&c, end ? END : START, 0.9f);
        }
    legend_draw(&c, &a, &l);

    char sub[160], num[32];
    fmt_count(num, sizeof num, k);
    int len = snprintf(sub, sizeof sub, "%s of ", num);
    fmt_count(num, sizeof num, n_points);
    snprintf(sub + len, sizeof sub - (size_t)len, "%s paths, %d states", num, n_states);
    add_fact(sub, sizeof sub, nonfinite, "non-finite skipped");
    draw_title(&c, &a, "trajectories", sub);
    return fmcl_plot_save_png(path, &c, err, errlen);
}

/* ---- loss -------------------------------------------------------------------- */

fmcl_status fmcl_plot_loss(const char *path, const float *loss, int n, char *err, size_t errlen)
{
    const char *fn = "fmcl_plot_loss";
    fmcl_status s = check_common(fn, path, err, errlen);
    if (s == FMCL_OK) s = check_points(fn, "loss", loss, n, err, errlen);
    if (s != FMCL_OK) return s;

    /* Smoothing in log space (a running geometric mean) matches the log axis;
     * the weights are renormalised so the first steps are not pulled to 0. */
    double *sm = malloc(sizeof *sm * (size_t)(n > 0 ? n : 1));
    if (!sm) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory drawing %s", path);
    double span = n / 50.0 > 1.0 ? n / 50.0 : 1.0, beta = 1.0 - 1.0 / span;
    double acc = 0, wsum = 0, lmin = INFINITY, lmax = -INFINITY, best = INFINITY;
    long long skipped = 0;
    int best_step = 0;
    for (int i = 0; i < n; i++) {
        if (isfinite(loss[i]) && loss[i] > 0.f) {
            double l = log10(loss[i]);
            acc = beta * acc + (1 - beta) * l;
            wsum = beta * wsum + (1 - beta);
            lmin = fmin(lmin, l);
            lmax = fmax(lmax, l);
            if (loss[i] < best) {
                best = loss[i];
                best_step = i + 1;
            }
        } else {
            skipped++;
        }
        sm[i] = wsum > 0 ? acc / wsum : NAN;
    }
    if (!(lmin <= lmax)) {
        lmin = -1;
        lmax = 1;
    }
    double pad = fmax(0.05 * (lmax - lmin), 0.15);

    const int w = 800, h = 480, mr = 40, mt = 72, mb = 64;
    ticks tx, ty;
    log_ticks(&ty, lmin - pad, lmax + pad);
    const int lw = (int)ticks_width(&ty), ml = lw + 44 > 84 ? lw + 44 : 84;
    lin_ticks_fit(&tx, 0, n < 5 ? 5 : n, 6, 1, (float)(w - ml - mr));
    fmcl_canvas c;
    if ((s = new_canvas(&c, w, h, path, err, errlen)) != FMCL_OK) {
        free(sm);
        return s;
    }
    axes a = {ml, mt, w - ml - mr, h - mt - mb, 0, n < 5 ? 5 : n, lmin - pad, lmax + pad};
    draw_axes(&c, &a, &tx, &ty, 1, 1);
    float cap = fmcl_canvas_text_cap(LABEL_SCALE);
    fmcl_canvas_text(&c, a.x + a.w / 2.f, a.y + a.h + 8 + cap * 2.5f + 8, "step", LABEL_SCALE, INK,
                     0.5f, 0);
    fmcl_canvas_text(&c, 18.f, a.y + a.h / 2.f, "loss (log scale)", LABEL_SCALE, INK, 0.5f, 1);

    legend l = {
        2, {"per step", "smoothed"}, {RAW, SMOOTH}, {1, 2, 0}, {0.5f, 1.f, 0}, {0, 0, 0, 0}, 0, 0};
    legend_size(&l);
    fmcl_canvas_clip(&c, a.x, a.y, a.x + a.w, a.y + a.h);
    for (int i = 0; i < n; i++) {
        if (!(isfinite(loss[i]) && loss[i] > 0.f)) continue;
        float x = ax_px(&a, i + 1), y = ax_py(&a, log10(loss[i]));
        legend_avoid(&l, &a, x, y);
        if (i > 0 && isfinite(loss[i - 1]) && loss[i - 1] > 0.f)
            fmcl_canvas_line(&c, ax_px(&a, i), ax_py(&a, log10(loss[i - 1])), x, y, 1.f);
        else
            fmcl_canvas_disc(&c, x, y, 1.f);
    }
    fmcl_canvas_paint(&c, RAW, 0.5f);
    for (int i = 1; i < n; i++)
        if (isfinite(sm[i - 1]))
            fmcl_canvas_line(&c, ax_px(&a, i), ax_py(&a, sm[i - 1]), ax_px(&a, i + 1),
                             ax_py(&a, sm[i]), 2.f);
    if (n > 0 && isfinite(sm[n - 1])) /* marks the latest value, and a lone step */
        fmcl_canvas_disc(&c, ax_px(&a, n), ax_py(&a, sm[n - 1]), 3.f);
    fmcl_canvas_paint(&c, SMOOTH, 1.f);
    legend_draw(&c, &a, &l);

    char sub[200], num[32], at[32];
    fmt_count(num, sizeof num, n);
    fmt_count(at, sizeof at, best_step);
    if (isfinite(best))
        snprintf(sub, sizeof sub, "%s step%s, last %.3g (smoothed), lowest %.3g at step %s", num,
                 n == 1 ? "" : "s", pow(10.0, sm[n - 1]), best, at);
    else
        snprintf(sub, sizeof sub, "%s step%s, no finite positive loss to show", num,
                 n == 1 ? "" : "s");
    add_fact(sub, sizeof sub, skipped, "skipped (non-finite or <= 0)");
    draw_title(&c, &a, "training loss", sub);
    free(sm);
    return fmcl_plot_save_png(path, &c, err, errlen);
}
