/* PNG figures (pure CPU): each picture is written, decoded with stb_image and
 * checked for content where the inputs put it. The plot area is found in the
 * decoded image (the bounding box of its most common non-white colour), so
 * the checks do not depend on plot.c's layout constants. Bad paths and bad
 * arguments must fail without leaving files behind.
 *
 * Usage: test_plot [folder]   (a folder keeps the pictures for a look) */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image.h>

#include "testlib.h"

static char dir[512];

typedef struct {
    int w, h;
    unsigned char *p;
} image;

typedef struct {
    int x0, y0, x1, y1; /* inclusive pixel box */
    unsigned bg;        /* its colour, 0xRRGGBB */
} area;

static const char *at(const char *name)
{
    static char buf[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static int load(const char *path, image *im)
{
    int comp;
    im->p = stbi_load(path, &im->w, &im->h, &comp, 3);
    return tl_check(im->p != NULL, "decode %s: %s", path, im->p ? "" : stbi_failure_reason());
}

static unsigned rgb(const image *im, int x, int y)
{
    const unsigned char *q = im->p + 3 * ((size_t)y * im->w + x);
    return (unsigned)q[0] << 16 | (unsigned)q[1] << 8 | q[2];
}

static int lum(unsigned c)
{
    return (int)((c >> 16) * 299 + ((c >> 8) & 255) * 587 + (c & 255) * 114) / 1000;
}
static int red(unsigned c) { return (int)(c >> 16); }
static int blue(unsigned c) { return (int)(c & 255); }

static int cmp_u(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

/* The plot areas: the commonest non-white colour is their background; each
 * run of columns holding it is one area, boxed by where that colour is.
 * Returns how many, max + 1 when there are more than max. */
static int find_areas(const image *im, area *out, int max)
{
    size_t n = 0;
    unsigned *v = malloc(sizeof *v * (size_t)im->w * im->h), bg = 0;
    for (int y = 0; v && y < im->h; y++)
        for (int x = 0; x < im->w; x++)
            if (rgb(im, x, y) != 0xffffff) v[n++] = rgb(im, x, y);
    qsort(v, n, sizeof *v, cmp_u);
    size_t best = 0, run = 0;
    for (size_t i = 0; i < n; i++) {
        run = i > 0 && v[i] == v[i - 1] ? run + 1 : 1;
        if (run > best) {
            best = run;
            bg = v[i];
        }
    }
    free(v);
    /* A few columns without it (vertical grid lines) do not end an area. */
    int count = 0, gap = 99;
    for (int x = 0; x < im->w; x++) {
        int y0 = im->h, y1 = -1;
        for (int y = 0; y < im->h; y++)
            if (rgb(im, x, y) == bg) {
                y0 = y < y0 ? y : y0;
                y1 = y;
            }
        if (y1 < 0) {
            gap++;
        } else if (gap > 3) {
            if (count == max) return max + 1;
            out[count++] = (area){x, y0, x, y1, bg};
            gap = 0;
        } else {
            area *a = &out[count - 1];
            a->x1 = x;
            a->y0 = y0 < a->y0 ? y0 : a->y0;
            a->y1 = y1 > a->y1 ? y1 : a->y1;
            gap = 0;
        }
    }
    return count;
}

static area find_area(const image *im)
{
    area a[1] = {{0, 0, -1, -1, 0}};
    int n = find_areas(im, a, 1);
    tl_check(n == 1, "one plot area, found %d", n);
    return a[0];
}

/* Pixel of data point (x, y) when the area shows [lo, hi]^2 (y up). */
static void to_px(const area *a, double lo, double hi, double x, double y, int *px, int *py)
{
    *px = a->x0 + (int)floor((x - lo) / (hi - lo) * (a->x1 - a->x0 + 1));
    *py = a->y1 - (int)floor((y - lo) / (hi - lo) * (a->y1 - a->y0 + 1));
    *px = *px > a->x1 ? a->x1 : *px;
    *py = *py < a->y0 ? a->y0 : *py;
}

static int square_area(const area *a, const char *what)
{
    int w = a->x1 - a->x0 + 1, h = a->y1 - a->y0 + 1;
    return tl_check(w >= 300 && abs(w - h) <= 1,
                    "%s: plot area %dx%d at (%d, %d) should be a square of 300+ px", what, w, h,
                    a->x0, a->y0);
}

/* Darker than the area's background by 20 levels somewhere in the 3x3 around (x, y). */
static int dark_near(const image *im, const area *a, int x, int y)
{
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++)
            if (lum(rgb(im, x + dx, y + dy)) < lum(a->bg) - 20) return 1;
    return 0;
}

/* A tight cluster at (1, 1) plus non-finite points in the data panel, no
 * samples: the brightest pixel sits on (1, 1), the sample panel is empty. */
static void test_cluster(void)
{
    enum { N = 2000 };
    static float d[2 * N];
    tl_fill(d, 2 * N, 0.995f, 1.005f, 11);
    d[0] = NAN;
    d[7] = INFINITY;
    const char *path = at("cluster.png");
    char err[512] = "";
    int s = fmcl_plot_densities(path, d, N, NULL, 0, -3.f, 3.f, err, sizeof err);
    image im;
    if (!tl_check(s == FMCL_OK, "densities: %d %s", s, err) || !load(path, &im)) return;
    area pa[2], l, r;
    tl_check(find_areas(&im, pa, 2) == 2, "two panels");
    l = pa[0];
    r = pa[1];
    square_area(&l, "data panel");
    square_area(&r, "sample panel");
    tl_check(l.bg == r.bg, "both panels share the empty colour (%06x vs %06x)", l.bg, r.bg);

    int bx = -1, by = -1, best = -1;
    for (int y = l.y0; y <= l.y1; y++)
        for (int x = l.x0; x <= l.x1; x++)
            if (lum(rgb(&im, x, y)) > best) {
                best = lum(rgb(&im, x, y));
                bx = x;
                by = y;
            }
    int ex, ey;
    to_px(&l, -3, 3, 1, 1, &ex, &ey);
    tl_check(abs(bx - ex) <= 4 && abs(by - ey) <= 4 && best > lum(l.bg) + 100,
             "brightest data pixel (%d, %d) lum %d, want near (%d, %d)", bx, by, best, ex, ey);
    int far = 0;
    for (int y = l.y0; y <= l.y1; y++)
        for (int x = l.x0; x <= l.x1; x++)
            far += rgb(&im, x, y) != l.bg && (abs(x - ex) > 6 || abs(y - ey) > 6);
    tl_check(far == 0, "%d data-panel pixels away from the cluster differ from empty", far);
    int bright = 0;
    for (int y = r.y0; y <= r.y1; y++)
        for (int x = r.x0; x <= r.x1; x++) bright += rgb(&im, x, y) != r.bg;
    tl_check(bright == 0, "empty sample panel has %d non-empty pixels", bright);
    stbi_image_free(im.p);
}

/* A single panel with its cluster at (-2, 0.5): x and y are not swapped. */
static void test_single(int *width)
{
    enum { N = 500 };
    static float p[2 * N];
    for (int i = 0; i < N; i++) {
        p[2 * i] = -2.f;
        p[2 * i + 1] = 0.5f;
    }
    const char *path = at("single.png");
    char err[512] = "";
    int s = fmcl_plot_density(path, "one cluster \xc3\xa9\n", p, N, -3.f, 3.f, err, sizeof err);
    image im;
    if (!tl_check(s == FMCL_OK, "density: %d %s", s, err) || !load(path, &im)) return;
    *width = im.w;
    area a = find_area(&im);
    square_area(&a, "single panel");
    int ex, ey, bx = 0, by = 0, best = -1;
    to_px(&a, -3, 3, -2, 0.5, &ex, &ey);
    for (int y = a.y0; y <= a.y1; y++)
        for (int x = a.x0; x <= a.x1; x++)
            if (lum(rgb(&im, x, y)) > best) {
                best = lum(rgb(&im, x, y));
                bx = x;
                by = y;
            }
    tl_check(abs(bx - ex) <= 4 && abs(by - ey) <= 4,
             "single: brightest (%d, %d), want near (%d, %d)", bx, by, ex, ey);
    stbi_image_free(im.p);
}

/* A checkerboard-like cloud as both data and samples: the two panels must
 * be pixel for pixel the same, and filled squares brighter than empty ones. */
static void test_checkerboard(int single_width)
{
    enum { N = 40000 };
    float *p = malloc(sizeof *p * 2 * N), *u = malloc(sizeof *u * 2 * N);
    tl_fill(u, 2 * N, 0.f, 1.f, 5);
    for (int i = 0; i < N; i++) {
        int cx = (int)(u[2 * i] * 8) % 8, cy = (int)(u[2 * i + 1] * 4) % 4 * 2 + cx % 2;
        p[2 * i] = -4.f + cx + (u[2 * i] * 8 - floorf(u[2 * i] * 8));
        p[2 * i + 1] = -4.f + cy + (u[2 * i + 1] * 4 - floorf(u[2 * i + 1] * 4));
    }
    const char *path = at("checkerboard.png");
    char err[512] = "";
    int s = fmcl_plot_densities(path, p, N, p, N, -4.5f, 4.5f, err, sizeof err);
    image im;
    if (tl_check(s == FMCL_OK, "checkerboard: %d %s", s, err) && load(path, &im)) {
        area pa[2], l, r;
        tl_check(find_areas(&im, pa, 2) == 2, "two panels");
        l = pa[0];
        r = pa[1];
        tl_check(im.w > single_width + (l.x1 - l.x0),
                 "two panels (%d px) wider than one (%d px) by a panel", im.w, single_width);
        int diff = 0;
        for (int y = l.y0; y <= l.y1; y++)
            for (int x = 0; x <= l.x1 - l.x0; x++)
                diff += rgb(&im, l.x0 + x, y) != rgb(&im, r.x0 + x, y);
        tl_check(l.x1 - l.x0 == r.x1 - r.x0 && diff == 0, "same points, %d pixels differ", diff);
        int full = 0, empty = 0; /* centres of the 64 unit squares */
        for (int cy = 0; cy < 8; cy++)
            for (int cx = 0; cx < 8; cx++) {
                int x, y;
                to_px(&l, -4.5, 4.5, -3.5 + cx, -3.5 + cy, &x, &y);
                int sum = 0;
                for (int k = -3; k <= 3; k++)
                    sum += lum(rgb(&im, x + k, y)) + lum(rgb(&im, x, y + k));
                if ((cx + cy) % 2)
                    empty += sum == 14 * lum(l.bg);
                else
                    full += sum > 14 * (lum(l.bg) + 40);
            }
        tl_check(full == 32 && empty == 32, "filled squares bright %d/32, empty squares dark %d/32",
                 full, empty);
        stbi_image_free(im.p);
    }

    /* Trajectories and loss on realistic data, for a look with a folder argument. */
    enum { S = 33, P = 1500 };
    float *t = malloc(sizeof *t * 2 * S * P), *g = malloc(sizeof *g * 2 * P);
    tl_fill(g, 2 * P, 0.f, 1.f, 9);
    for (int i = 0; i < P; i++)
        for (int k = 0; k < S; k++) {
            float tt = k / (S - 1.f), bx = sqrtf(-2.f * logf(g[2 * i] + 1e-6f));
            float z0 = bx * cosf(6.2831853f * g[2 * i + 1]),
                  z1 = bx * sinf(6.2831853f * g[2 * i + 1]);
            t[2 * (k * P + i)] = (1 - tt) * z0 + tt * p[2 * i];
            t[2 * (k * P + i) + 1] = (1 - tt) * z1 + tt * p[2 * i + 1];
        }
    s = fmcl_plot_trajectories(at("trajectories.png"), t, S, P, 400, -4.5f, 4.5f, err, sizeof err);
    tl_check(s == FMCL_OK, "trajectories: %d %s", s, err);
    float *loss = malloc(sizeof *loss * 3000);
    tl_fill(loss, 3000, -0.3f, 0.3f, 3);
    for (int i = 0; i < 3000; i++) loss[i] = (1.5f * expf(-i / 300.f) + 0.02f) * expf(loss[i]);
    s = fmcl_plot_loss(at("loss.png"), loss, 3000, err, sizeof err);
    tl_check(s == FMCL_OK, "loss: %d %s", s, err);
    if (load(at("loss.png"), &im)) {
        area a = find_area(&im);
        tl_check(a.x1 - a.x0 > 400 && a.y1 - a.y0 > 200, "loss plot area %dx%d", a.x1 - a.x0,
                 a.y1 - a.y0);
        stbi_image_free(im.p);
    }
    free(loss);
    free(t);
    free(g);
    free(p);
    free(u);
}

/* Path 0 runs (-2,-2) -> (2,2); path 1 runs (-2,1) -> (2,1) with its middle
 * state non-finite; path 2 is not among the n_show = 2 drawn. */
static void test_trajectories(void)
{
    enum { S = 11, P = 3 };
    float t[S * P * 2];
    for (int k = 0; k < S; k++) {
        float f = k / (S - 1.f);
        float *q = t + 2 * P * k;
        q[0] = q[1] = -2.f + 4.f * f;
        q[2] = -2.f + 4.f * f;
        q[3] = k == S / 2 ? NAN : 1.f;
        q[4] = 2.5f;
        q[5] = -0.5f + f;
    }
    const char *path = at("paths.png");
    char err[512] = "";
    int s = fmcl_plot_trajectories(path, t, S, P, 2, -3.f, 3.f, err, sizeof err);
    image im;
    if (!tl_check(s == FMCL_OK, "trajectories: %d %s", s, err) || !load(path, &im)) return;
    area a = find_area(&im);
    square_area(&a, "trajectories");
    int x, y, miss = 0;
    for (int k = 2; k <= 18; k++) { /* along the diagonal, clear of the end markers */
        double v = -2 + 4 * k / 20.0;
        to_px(&a, -3, 3, v, v, &x, &y);
        miss += !dark_near(&im, &a, x, y);
    }
    tl_check(miss == 0, "diagonal path: %d of 17 points without a line", miss);
    to_px(&a, -3, 3, -1.5, 1, &x, &y);
    tl_check(dark_near(&im, &a, x, y), "horizontal path drawn before its non-finite state");
    to_px(&a, -3, 3, 0, 1, &x, &y);
    tl_check(!dark_near(&im, &a, x, y), "no line through the non-finite state");
    to_px(&a, -3, 3, 2.5, 0, &x, &y);
    tl_check(!dark_near(&im, &a, x, y + 3), "path 2 is not drawn (n_show = 2)");
    to_px(&a, -3, 3, 2, -2, &x, &y);
    tl_check(!dark_near(&im, &a, x, y), "nothing at (2, -2)");
    unsigned c0, c1;
    to_px(&a, -3, 3, -2, -2, &x, &y);
    c0 = rgb(&im, x, y);
    to_px(&a, -3, 3, 2, 2, &x, &y);
    c1 = rgb(&im, x, y);
    tl_check(blue(c0) > red(c0) + 60 && red(c1) > blue(c1) + 60 && c0 != c1,
             "start marker %06x and end marker %06x in their own colours", c0, c1);
    to_px(&a, -3, 3, 2, 1, &x, &y);
    tl_check(red(rgb(&im, x, y)) > blue(rgb(&im, x, y)) + 60,
             "end of path 1 in the end colour (%06x)", rgb(&im, x, y));
    stbi_image_free(im.p);
}

/* An exponential decay is a straight line on the log axis: the darkest
 * pixel per column (the smoothed curve) falls linearly with the step. */
static void test_loss(void)
{
    enum { N = 400 };
    float loss[N];
    for (int i = 0; i < N; i++) loss[i] = 10.f * expf(-i / 60.f);
    loss[200] = NAN;
    loss[201] = -1.f;
    const char *path = at("decay.png");
    char err[512] = "";
    int s = fmcl_plot_loss(path, loss, N, err, sizeof err);
    image im;
    if (!tl_check(s == FMCL_OK, "loss: %d %s", s, err) || !load(path, &im)) return;
    area a = find_area(&im);
    int row[3];
    const double frac[3] = {0.2, 0.45, 0.7};
    for (int k = 0; k < 3; k++) {
        int x = a.x0 + (int)(frac[k] * (a.x1 - a.x0)), best = 256;
        row[k] = -1;
        for (int y = a.y0; y <= a.y1; y++)
            if (lum(rgb(&im, x, y)) < best) {
                best = lum(rgb(&im, x, y));
                row[k] = y;
            }
    }
    tl_check(row[2] - row[0] > 100, "curve falls: rows %d -> %d", row[0], row[2]);
    double mid = row[0] + (row[2] - row[0]) * (0.45 - 0.2) / (0.7 - 0.2);
    tl_check(fabs(row[1] - mid) <= 3, "straight on the log axis: row %d, want %.1f", row[1], mid);
    stbi_image_free(im.p);
}

static int entries(const char *d)
{
    int n = 0;
    DIR *dp = opendir(d);
    for (struct dirent *e; dp && (e = readdir(dp));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (dp) closedir(dp);
    return n;
}

/* Errors: a folder that does not exist, a folder as the target, bad
 * arguments. None may leave a file. */
static void test_errors(void)
{
    float p[4] = {0, 0, 1, 1}, t[4] = {0, 0, 1, 1};
    char err[512], sub[600], missing[600];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(missing, sizeof missing, "%s/no-such-folder/x.png", dir);
    mkdir(sub, 0755);
    int before = entries(dir), s;

    err[0] = 0;
    s = fmcl_plot_densities(missing, p, 2, p, 2, -1, 1, err, sizeof err);
    tl_check(s == FMCL_ERR_IO && err[0], "missing folder: %d '%s'", s, err);
    err[0] = 0;
    s = fmcl_plot_loss(sub, p, 4, err, sizeof err);
    tl_check(s == FMCL_ERR_IO && err[0], "folder as target: %d '%s'", s, err);
    tl_check(entries(dir) == before && entries(sub) == 0,
             "no temporary files left (%d -> %d entries)", before, entries(dir));

    const char *bad = at("bad.png");
    struct {
        int s;
        const char *what;
    } c[] = {
        {fmcl_plot_densities(bad, p, 2, p, 2, 1, 1, err, sizeof err), "lo == hi"},
        {fmcl_plot_densities(bad, p, -1, p, 2, -1, 1, err, sizeof err), "n_data < 0"},
        {fmcl_plot_densities(bad, NULL, 2, p, 2, -1, 1, err, sizeof err), "data NULL"},
        {fmcl_plot_density(bad, "x", p, 2, NAN, 1, err, sizeof err), "lo NaN"},
        {fmcl_plot_density(NULL, "x", p, 2, -1, 1, err, sizeof err), "path NULL"},
        {fmcl_plot_trajectories(bad, t, 0, 2, 2, -1, 1, err, sizeof err), "n_states 0"},
        {fmcl_plot_trajectories(bad, t, 1, 2, -1, -1, 1, err, sizeof err), "n_show < 0"},
        {fmcl_plot_trajectories(bad, t, 1, 2, 2, 2, -2, err, sizeof err), "lo > hi"},
        {fmcl_plot_loss(bad, p, -3, err, sizeof err), "loss n < 0"},
        {fmcl_plot_loss("", p, 3, err, sizeof err), "empty path"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        tl_check(c[i].s == FMCL_ERR_ARG, "%s: got %d, want FMCL_ERR_ARG", c[i].what, c[i].s);
    tl_check(access(bad, F_OK) != 0 && entries(dir) == before, "bad arguments wrote nothing");
    rmdir(sub);

    /* Empty inputs are pictures too, and a file is replaced in place. */
    tl_check(fmcl_plot_loss(bad, NULL, 0, err, sizeof err) == FMCL_OK, "empty loss: %s", err);
    tl_check(fmcl_plot_trajectories(bad, NULL, 5, 0, 3, -1, 1, err, sizeof err) == FMCL_OK,
             "no trajectories: %s", err);
    image im;
    if (load(bad, &im)) {
        tl_check(im.w > 300 && im.h > 300, "empty trajectories picture %dx%d", im.w, im.h);
        stbi_image_free(im.p);
    }
    remove(bad);
}

int main(int argc, char **argv)
{
    int keep = argc > 1;
    if (keep) {
        snprintf(dir, sizeof dir, "%s", argv[1]);
        mkdir(dir, 0755);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/fmcl_plot_XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
    }
    int single_width = 0;
    test_cluster();
    test_single(&single_width);
    test_checkerboard(single_width);
    test_trajectories();
    test_loss();
    test_errors();
    if (!keep) {
        const char *names[] = {"cluster.png", "single.png", "checkerboard.png", "trajectories.png",
                               "loss.png",    "paths.png",  "decay.png"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) remove(at(names[i]));
        tl_check(rmdir(dir) == 0, "temporary folder %s left empty", dir);
    }
    return tl_summary();
}
