/* fmcl-compare's sample-quality measures (bench/compare_metrics.c) against
 * closed forms: sliced W2 of a translated or scaled copy (also against a
 * reference holding each point several times), of two 1D Gaussians through
 * points on a line; its symmetry, order invariance and argument checks; the
 * data-vs-data floor shrinking with n and a 10% contraction standing out of
 * it. The board fraction on hand-placed points, on the data itself and on
 * another data set. No device needed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../bench/compare_metrics.h"
#include "data/toy2d.h"
#include "fmcl.h"
#include "testlib.h"

#define N 3001

static double rel(double a, double b) { return fabs(a - b) / fabs(b); }

/* Sliced W2 of a against a reference built from b (m points). */
static double sw2(const float *a, int n, const float *b, int m, int dirs)
{
    cmp_ref r;
    if (!tl_check(cmp_ref_init(&r, b, m, dirs) == 0, "reference of %d points", m)) return -2;
    double d = cmp_sliced_w2(&r, a, n);
    cmp_ref_free(&r);
    return d;
}

/* A translation by c: every projection moves by theta . c, and the squares
 * of cos(phi + pi l / L) average 1/2 over l < L for L >= 2. Against a
 * reference holding each point k times, each sample quantile covers exactly
 * its own k copies, so nothing changes. */
static void translation(const float *x)
{
    enum { K = 3 };
    float *y = malloc(sizeof(float) * 2 * N), *xk = malloc(sizeof(float) * 2 * N * K);
    const double c[2] = {0.7, -1.9};
    for (int i = 0; i < N; i++)
        y[2 * i] = (float)(x[2 * i] + c[0]), y[2 * i + 1] = (float)(x[2 * i + 1] + c[1]);
    for (int i = 0; i < N * K; i++) /* copies interleaved: order must not matter */
        xk[2 * i] = x[2 * (i % N)], xk[2 * i + 1] = x[2 * (i % N) + 1];
    double want = hypot(c[0], c[1]) / sqrt(2.0);
    for (int L = 2; L <= 64; L *= 4) {
        double got = sw2(y, N, x, N, L), got_k = sw2(y, N, xk, N * K, L);
        printf("  translation: L = %2d: %.7f, reference x%d: %.7f, closed form %.7f\n", L, got, K,
               got_k, want);
        tl_check(rel(got, want) < 1e-5, "translation by |c|: %.7f, want %.7f", got, want);
        tl_check(rel(got_k, want) < 1e-5, "translation, reference x%d: %.7f, want %.7f", K, got_k,
                 want);
    }
    double self = sw2(x, N, xk, N * K, 16);
    tl_check(self == 0, "a set against %d copies of itself: %g, want 0", K, self);
    free(y);
    free(xk);
}

/* Scaling by s keeps the order of each projection, so W2^2 along theta is
 * (s - 1)^2 mean (theta . x)^2; averaged over the directions,
 * (s - 1)^2 mean |x|^2 / 2. */
static void scaling(const float *x)
{
    float *y = malloc(sizeof(float) * 2 * N);
    const double s = 1.3;
    double m2 = 0;
    for (int i = 0; i < N; i++) {
        y[2 * i] = (float)(s * x[2 * i]), y[2 * i + 1] = (float)(s * x[2 * i + 1]);
        m2 += ((double)x[2 * i] * x[2 * i] + (double)x[2 * i + 1] * x[2 * i + 1]) / N;
    }
    double got = sw2(x, N, y, N, 16), want = (s - 1) * sqrt(m2 / 2);
    printf("  scaling by %.1f: %.7f, closed form %.7f\n", s, got, want);
    tl_check(rel(got, want) < 1e-5, "scaling: %.7f, want %.7f", got, want);
    free(y);
}

/* Points on the x axis: along theta the projections are cos(theta) times
 * the 1D values, so SW2^2 = W2^2 / 2 (the mean of cos^2). The 1D samples
 * are exact quantiles of N(0, 1) and N(m, s^2), whose W2^2 is
 * m^2 + (1 - s)^2 up to the quantile sums' discretisation. */
static void gaussians(void)
{
    enum { M = 20000 };
    float *a = calloc(2 * M, sizeof(float)), *b = calloc(2 * M, sizeof(float));
    const double m = 0.5, s = 2.0;
    for (int i = 0; i < M; i++) {
        /* Quantile of (i + 0.5) / M by bisection on erfc. */
        double p = (i + 0.5) / M, lo = -10, hi = 10;
        for (int k = 0; k < 100; k++) {
            double z = (lo + hi) / 2;
            if (0.5 * erfc(-z / sqrt(2.0)) < p)
                lo = z;
            else
                hi = z;
        }
        a[2 * (M - 1 - i)] = (float)lo; /* reversed: the order must not matter */
        b[2 * i] = (float)(m + s * lo);
    }
    double got = sw2(a, M, b, M, 32), want = sqrt((m * m + (1 - s) * (1 - s)) / 2);
    printf("  N(0, 1) vs N(%.1f, %.1f^2) on a line: %.5f, closed form %.5f\n", m, s, got, want);
    /* The quantile grid misses the tails' mass beyond +-4 sigma: ~1e-3. */
    tl_check(rel(got, want) < 3e-3, "Gaussians: %.5f, want %.5f", got, want);
    free(a);
    free(b);
}

static void properties(const float *x, const float *z)
{
    double d = sw2(x, N, z, N, 64), e = sw2(z, N, x, N, 64);
    tl_check(d == e, "not symmetric: %.9f vs %.9f", d, e);
    cmp_ref r;
    tl_check(cmp_ref_init(&r, x, 0, 64) == -1 && cmp_ref_init(&r, x, N, 0) == -1,
             "an empty reference must be refused");
    if (tl_check(cmp_ref_init(&r, x, N, 8) == 0, "reference")) {
        tl_check(cmp_sliced_w2(&r, z, 0) == -1 && cmp_sliced_w2(&r, z, N - 1) == -1,
                 "n = 0 and a reference size that is not a multiple of n must return -1");
        cmp_ref_free(&r);
    }
    /* The floor: independent data sets against a reference 16 times as
     * large. With 4x the points it should fall (about halve: an n-sample's
     * W2 decays like 1/sqrt(n) in one dimension for a bounded density). */
    enum { SMALL = 1024, BIG = 4 * SMALL, REF = 16 * BIG };
    float *u = malloc(sizeof(float) * 2 * BIG), *ref = malloc(sizeof(float) * 2 * REF);
    tl_check(fmcl_toy_sample_host(FMCL_TOY_CHECKERBOARD, 7, 1, BIG, u) == FMCL_OK &&
                 fmcl_toy_sample_host(FMCL_TOY_CHECKERBOARD, 7, 2, REF, ref) == FMCL_OK,
             "checkerboard data");
    double small = sw2(u, SMALL, ref, REF, 64), big = sw2(u, BIG, ref, REF, 64);
    printf("  checkerboard data against %d more: n = %d: %.4f, n = %d: %.4f\n", REF, SMALL, small,
           BIG, big);
    tl_check(small > 0 && small < 0.2, "%d data points: %.4f, want in (0, 0.2)", SMALL, small);
    tl_check(big < 0.75 * small, "4x the points should shrink the floor: %.4f vs %.4f", big, small);
    /* A scale error of 10%, far above that floor, must show. */
    for (int i = 0; i < BIG; i++) u[2 * i] *= 0.9f, u[2 * i + 1] *= 0.9f;
    double shrunk = sw2(u, BIG, ref, REF, 64);
    printf("  the same %d points shrunk by 10%%: %.4f\n", BIG, shrunk);
    tl_check(shrunk > 2 * big, "a 10%% contraction: %.4f, not above twice the floor %.4f", shrunk,
             big);
    free(u);
    free(ref);
}

static void board(const float *x)
{
    /* Cell (i, j) of the 4 x 4 board (a, b in [-2, 2)) is dark when i + j
     * is even (i = floor(a)); points at cell centres, in data units. */
    float p[2 * 16 + 2 * 3];
    int k = 0, dark = 0;
    for (int i = -2; i < 2; i++)
        for (int j = -2; j < 2; j++, k++) {
            p[2 * k] = (float)((i + 0.5) / 0.45), p[2 * k + 1] = (float)((j + 0.5) / 0.45);
            dark += ((i + j) % 2 + 2) % 2 == 0;
        }
    p[2 * k] = 5.0f, p[2 * k + 1] = 0.2f; /* beyond the board's edge at 4.44 */
    k++;
    p[2 * k] = NAN, p[2 * k + 1] = 0.f;
    k++;
    p[2 * k] = INFINITY, p[2 * k + 1] = -INFINITY;
    k++;
    double f = cmp_board_fraction(p, k);
    printf("  board: %d of %d hand-placed points on it (want %d)\n", (int)lround(f * k), k, dark);
    tl_check(dark == 8 && lround(f * k) == dark, "board fraction %.4f of %d, want %d", f, k, dark);
    double fx = cmp_board_fraction(x, N);
    tl_check(fx == 1.0, "checkerboard data on its board: %.4f, want 1", fx);
    float g[2 * 2000];
    tl_check(fmcl_toy_sample_host(FMCL_TOY_8GAUSSIANS, 0, 0, 2000, g) == FMCL_OK, "8 Gaussians");
    double fg = cmp_board_fraction(g, 2000);
    printf("  board: checkerboard data %.3f, 8 Gaussians %.3f\n", fx, fg);
    tl_check(fg < 0.8, "8 Gaussians should not look like the board: %.3f", fg);
    tl_check(cmp_board_fraction(p, 0) == 0, "no points: want 0");
}

int main(void)
{
    float *x = malloc(sizeof(float) * 2 * N), *z = malloc(sizeof(float) * 2 * N);
    if (tl_check(x && z && fmcl_toy_sample_host(FMCL_TOY_CHECKERBOARD, 3, 0, N, x) == FMCL_OK &&
                     fmcl_toy_sample_host(FMCL_TOY_CHECKERBOARD, 3, 1, N, z) == FMCL_OK,
                 "checkerboard data")) {
        translation(x);
        scaling(x);
        gaussians();
        properties(x, z);
        board(x);
    }
    free(x);
    free(z);
    return tl_summary();
}
