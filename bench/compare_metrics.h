/* Sample-quality measures of the OT-vs-diffusion comparison
 * (bench/compare_paths.c), on n x 2 row-major point sets. */
#ifndef FMCL_COMPARE_METRICS_H
#define FMCL_COMPARE_METRICS_H

/* A reference set for sliced W2: its projections on the directions
 * theta_l = (cos(pi l / L), sin(pi l / L)), l < L = n_dirs, each sorted once
 * so that many sample sets can be scored against it cheaply. */
typedef struct {
    int m, n_dirs;
    double *proj; /* n_dirs x m */
} cmp_ref;

/* 0, or -1 when m < 1, n_dirs < 1 or memory runs out (r is then empty and
 * safe to free). */
int cmp_ref_init(cmp_ref *r, const float *pts, int m, int n_dirs);
void cmp_ref_free(cmp_ref *r);

/* Sliced 2-Wasserstein distance between n points a and the reference:
 * sqrt(mean over the directions of W2^2 of the projections). In one
 * dimension, with m = k n, W2^2 = (1/m) sum_j (a_(j / k) - r_(j))^2 over the
 * sorted values: each sample quantile covers k reference quantiles. The
 * directions are evenly spaced, so there is no randomness, and for
 * n_dirs >= 2 a translation by c gives exactly |c| / sqrt(2). Returns -1
 * when n < 1, m is not a multiple of n, or memory runs out. */
double cmp_sliced_w2(const cmp_ref *r, const float *a, int n);

/* Fraction of the n points on the checkerboard's support: with a = 0.45 x,
 * b = 0.45 y, |a|, |b| <= 2 and floor(a) + floor(b) even (the 8 dark cells
 * the built-in set draws from, as in tests/test_e2e.c). Non-finite points
 * are off it. 0 when n < 1. */
double cmp_board_fraction(const float *x, int n);

#endif
