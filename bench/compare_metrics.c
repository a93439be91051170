/* Sliced W2 and the checkerboard's support fraction (compare_metrics.h). */
#include "compare_metrics.h"

#include <math.h>
#include <stdlib.h>

static const double PI = 3.14159265358979323846;

static int cmp_double(const void *p, const void *q)
{
    double a = *(const double *)p, b = *(const double *)q;
    return (a > b) - (a < b);
}

/* out[i] = theta_l . pts[i], sorted. */
static void project(double *out, const float *pts, int n, int l, int n_dirs)
{
    double c = cos(PI * l / n_dirs), s = sin(PI * l / n_dirs);
    for (int i = 0; i < n; i++) out[i] = c * pts[2 * i] + s * pts[2 * i + 1];
    qsort(out, (size_t)n, sizeof *out, cmp_double);
}

int cmp_ref_init(cmp_ref *r, const float *pts, int m, int n_dirs)
{
    r->m = m;
    r->n_dirs = n_dirs;
    r->proj = NULL;
    if (m < 1 || n_dirs < 1) return -1;
    r->proj = malloc(sizeof *r->proj * (size_t)m * (size_t)n_dirs);
    if (!r->proj) return -1;
    for (int l = 0; l < n_dirs; l++) project(r->proj + (size_t)l * m, pts, m, l, n_dirs);
    return 0;
}

void cmp_ref_free(cmp_ref *r)
{
    free(r->proj);
    r->proj = NULL;
}

double cmp_sliced_w2(const cmp_ref *r, const float *a, int n)
{
    if (n < 1 || !r->proj || r->m % n != 0) return -1;
    double *pa = malloc(sizeof *pa * (size_t)n);
    if (!pa) return -1;
    const int k = r->m / n;
    double sum = 0;
    for (int l = 0; l < r->n_dirs; l++) {
        const double *pr = r->proj + (size_t)l * r->m;
        project(pa, a, n, l, r->n_dirs);
        double w = 0;
        for (int j = 0; j < r->m; j++) w += (pa[j / k] - pr[j]) * (pa[j / k] - pr[j]);
        sum += w / r->m;
    }
    free(pa);
    return sqrt(sum / r->n_dirs);
}

double cmp_board_fraction(const float *x, int n)
{
    if (n < 1) return 0;
    int in = 0;
    for (int i = 0; i < n; i++) {
        double a = 0.45 * x[2 * i], b = 0.45 * x[2 * i + 1];
        /* NaN fails both comparisons, so it counts as off the board. */
        if (fabs(a) <= 2 && fabs(b) <= 2 && ((long)floor(a) + (long)floor(b)) % 2 == 0) in++;
    }
    return (double)in / n;
}
