/* The flow ops (src/flow/flow_ops.h) on every device: each against its CPU
 * reference with odd shapes and guard regions; the toy sets against closed
 * forms (moments, support, mass per cell or cluster); gather_rows' index law;
 * the OT interpolant's identities; the time features against sin/cos. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/toy2d.h"
#include "flow/flow_ops.h"
#include "runtime/rng.h"
#include "runtime/vec.h"
#include "testlib.h"

#define ELEM_RTOL 1e-5
#define ELEM_ATOL 2e-6
/* The toy sets chain two roundings of the device's sqrt/cospi (spirals:
 * cos of a 9.4-radian angle times that angle), so a looser absolute bound. */
#define TOY_ATOL 5e-5

static int ok(fmcl_ctx *ctx, fmcl_status s, const char *what)
{
    return tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx));
}

static double *widen(const float *x, size_t n)
{
    double *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) y[i] = x[i];
    return y;
}

/* Sample mean of v[i * stride] is within 5 standard errors of want (the
 * standard error from the sample's own spread, by the CLT). */
static void check_mean(const char *what, const double *v, size_t n, double want)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    const double m = s / n;
    for (size_t i = 0; i < n; i++) s2 += (v[i] - m) * (v[i] - m);
    const double se = sqrt(s2 / (n - 1) / n);
    printf("  %-40s %.5f (want %.5f +- %.5f)\n", what, m, want, 5 * se);
    tl_check(fabs(m - want) <= 5 * se, "%s = %.5f, want %.5f +- %.5f", what, m, want, 5 * se);
}

/* Fraction count/n is within 5 binomial standard errors of p. */
static void check_frac(const char *what, size_t count, size_t n, double p)
{
    const double f = (double)count / n, tol = 5 * sqrt(p * (1 - p) / n);
    tl_check(fabs(f - p) <= tol, "%s: fraction %.5f, want %.5f +- %.5f", what, f, p, tol);
}

/* ---- toy data ---- */

typedef struct {
    int kind;
    double ex2, ey2; /* E x^2, E y^2 (ey2 < 0: only E(x^2 + y^2) = ex2 is known) */
} toy_law;

/* Closed forms, from the formulas in src/data/toy2d.c. */
static toy_law toy_law_of(int kind)
{
    const double pi = M_PI;
    switch (kind) {
    case FMCL_TOY_CHECKERBOARD: /* a, b ~ U[-2, 2) marginally, scaled by 1/0.45 */
        return (toy_law){kind, 4.0 / 3 / (0.45 * 0.45), 4.0 / 3 / (0.45 * 0.45)};
    case FMCL_TOY_8GAUSSIANS: /* (16 E cos^2 + 0.25) / 1.414^2 */
        return (toy_law){kind, 8.25 / (1.414 * 1.414), 8.25 / (1.414 * 1.414)};
    case FMCL_TOY_MOONS: /* 4 (E (cos - 1/2)^2 + 0.01), 4 (E (sin - 1/4)^2 + 0.01) */
        return (toy_law){kind, 4 * (0.75 + 0.01), 4 * (0.5625 - 1 / pi + 0.01)};
    case FMCL_TOY_RINGS: /* E r^2 / 2 + 0.08^2 */
        return (toy_law){kind, (9 + 5.0625 + 2.25 + 0.5625) / 8 + 0.0064,
                         (9 + 5.0625 + 2.25 + 0.5625) / 8 + 0.0064};
    default: /* spirals: (E n^2 - E[n cos n]/2 + E[n sin n]/2 + 1/6) / 9, n = 3 pi sqrt(u) */
        return (toy_law){
            kind,
            (9 * pi * pi / 2 + 2 / (3 * pi) + (9 * pi * pi - 4) / (9 * pi * pi) + 1.0 / 6) / 9, -1};
    }
}

static void check_toy_moments(const char *name, const float *p, int n, toy_law law)
{
    double *v = malloc(n * sizeof *v);
    char what[96];
    for (int c = 0; c < 2; c++) {
        for (int i = 0; i < n; i++) v[i] = p[2 * i + c];
        snprintf(what, sizeof what, "%s mean %c", name, "xy"[c]);
        check_mean(what, v, n, 0.0);
    }
    if (law.ey2 >= 0) {
        for (int c = 0; c < 2; c++) {
            for (int i = 0; i < n; i++) v[i] = (double)p[2 * i + c] * p[2 * i + c];
            snprintf(what, sizeof what, "%s E %c^2", name, "xy"[c]);
            check_mean(what, v, n, c ? law.ey2 : law.ex2);
        }
    } else {
        for (int i = 0; i < n; i++)
            v[i] = (double)p[2 * i] * p[2 * i] + (double)p[2 * i + 1] * p[2 * i + 1];
        snprintf(what, sizeof what, "%s E |p|^2", name);
        check_mean(what, v, n, law.ex2);
    }
    free(v);
}

/* Every point on the board's black cells (floor a + floor b even, |a|, |b| <= 2
 * with (a, b) = 0.45 p), equal mass in each of the 8 cells. */
static void check_checkerboard(const float *p, int n)
{
    size_t cell[16] = {0}, off_support = 0, near_edge = 0;
    for (int i = 0; i < n; i++) {
        const double a = 0.45 * p[2 * i], b = 0.45 * p[2 * i + 1];
        const double fa = floor(a), fb = floor(b);
        if (fabs(a - round(a)) < 1e-5 || fabs(b - round(b)) < 1e-5) { /* parity undecidable */
            near_edge++;
            continue;
        }
        if (fabs(a) > 2 || fabs(b) > 2 || ((long)(fa + fb)) % 2 != 0)
            off_support++;
        else
            cell[(int)(fa + 2) * 4 + (int)(fb + 2)]++;
    }
    printf("  checkerboard: %zu off the support, %zu on a cell edge\n", off_support, near_edge);
    tl_check(off_support == 0, "checkerboard: %zu points off the support", off_support);
    tl_check(near_edge < (size_t)n / 1000, "checkerboard: %zu points on cell edges", near_edge);
    for (int c = 0; c < 16; c++) {
        const int black = ((c / 4) + (c % 4)) % 2 == 0;
        char what[64];
        snprintf(what, sizeof what, "checkerboard cell %d", c);
        if (black)
            check_frac(what, cell[c], n - near_edge, 1.0 / 8);
        else
            tl_check(cell[c] == 0, "%s is white but holds %zu points", what, cell[c]);
    }
}

/* Points split evenly between the 8 centres (nearest-centre counts). */
static void check_8gaussians(const float *p, int n)
{
    size_t cnt[8] = {0};
    for (int i = 0; i < n; i++) {
        int best = 0;
        double bd = 1e300;
        for (int k = 0; k < 8; k++) {
            const double cx = 4 * cos(2 * M_PI * k / 8) / 1.414,
                         cy = 4 * sin(2 * M_PI * k / 8) / 1.414;
            const double d = (p[2 * i] - cx) * (p[2 * i] - cx) +
                             (p[2 * i + 1] - cy) * (p[2 * i + 1] - cy);
            if (d < bd) bd = d, best = k;
        }
        cnt[best]++;
    }
    for (int k = 0; k < 8; k++) {
        char what[64];
        snprintf(what, sizeof what, "8gaussians centre %d", k);
        check_frac(what, cnt[k], n, 1.0 / 8);
    }
}

static void check_toy(fmcl_ctx *ctx)
{
    enum { B = 100003 };
    float *got = malloc(2 * B * sizeof *got), *want = malloc(2 * B * sizeof *want);
    for (int kind = FMCL_TOY_CHECKERBOARD; kind <= FMCL_TOY_SPIRALS; kind++) {
        const char *name = fmcl_kind_name(kind);
        tl_check(fmcl_toy_of_name(name) == kind, "data kind name %s round trip", name);
        tl_buf x;
        if (!tl_buf_new(ctx, &x, 2 * B, NULL)) continue;
        if (ok(ctx, fmcl_toy_sample(ctx, x.t, kind, 77 + kind, 5, B), name) &&
            tl_buf_read(ctx, &x, got)) {
            fmcl_toy_sample_ref(want, kind, 77 + kind, 5, 0, B);
            double *wd = widen(want, 2 * B);
            char what[64];
            snprintf(what, sizeof what, "toy_sample %s vs ref", name);
            tl_close(what, got, wd, 2 * B, TOY_ATOL, ELEM_RTOL);
            free(wd);
            float host[2 * 5];
            tl_check(fmcl_toy_sample_host(kind, 77 + kind, 5, 5, host) == FMCL_OK &&
                         memcmp(host, want, sizeof host) == 0,
                     "fmcl_toy_sample_host equals the reference");
            check_toy_moments(name, got, B, toy_law_of(kind));
            if (kind == FMCL_TOY_CHECKERBOARD) check_checkerboard(got, B);
            if (kind == FMCL_TOY_8GAUSSIANS) check_8gaussians(got, B);
        }
        tl_guard_ok(ctx, &x, name);
        tl_buf_free(&x);
    }
    tl_check(fmcl_toy_of_name("nonsense") == -1 && fmcl_toy_of_name("array") == -1,
             "unknown data names are rejected");
    tl_check(fmcl_toy_sample_host(FMCL_KIND_ARRAY, 0, 0, 1, want) == FMCL_ERR_ARG,
             "toy_sample_host rejects a non-built-in kind");
    free(got);
    free(want);
}

/* ---- gather_rows ---- */

/* Against the reference (a copy, so exactly), and the index law: with
 * data[:, 0] = row index, the counts per row pass a chi-square bound
 * (N - 1 degrees of freedom, mean N - 1, sd sqrt(2 (N - 1)), 5 sd). */
static void check_gather(fmcl_ctx *ctx)
{
    enum { N = 1009, D = 3, B = 50021 };
    float *data = malloc(N * D * sizeof *data), *got = malloc((size_t)B * D * sizeof *got),
          *want = malloc((size_t)B * D * sizeof *want);
    tl_fill(data, N * D, -3.f, 3.f, 11);
    for (int i = 0; i < N; i++) data[i * D] = (float)i;
    tl_buf d, x;
    if (tl_buf_new(ctx, &d, N * D, data) && tl_buf_new(ctx, &x, (size_t)B * D, NULL)) {
        if (ok(ctx, fmcl_gather_rows(ctx, x.t, d.t, 0x1234567890ull, 9, N, D, B), "gather_rows") &&
            tl_buf_read(ctx, &x, got)) {
            fmcl_gather_rows_ref(want, data, 0x1234567890ull, 9, 0, N, D, B);
            tl_check(memcmp(got, want, (size_t)B * D * sizeof *got) == 0,
                     "gather_rows differs from the reference (a copy: must be exact)");
            size_t *cnt = calloc(N, sizeof *cnt);
            int bad = 0;
            for (int b = 0; b < B; b++) {
                const int row = (int)got[(size_t)b * D];
                if (row < 0 || row >= N)
                    bad++;
                else
                    cnt[row]++;
            }
            double chi2 = 0, e = (double)B / N;
            for (int i = 0; i < N; i++) chi2 += (cnt[i] - e) * (cnt[i] - e) / e;
            printf("  gather_rows chi2 = %.1f (dof %d, bound +- %.1f)\n", chi2, N - 1,
                   5 * sqrt(2.0 * (N - 1)));
            tl_check(bad == 0, "gather_rows: %d indices out of range", bad);
            tl_check(fabs(chi2 - (N - 1)) <= 5 * sqrt(2.0 * (N - 1)),
                     "gather_rows: chi2 %.1f far from %d", chi2, N - 1);
            free(cnt);
        }
        tl_guard_ok(ctx, &x, "gather_rows");
    }
    tl_buf_free(&d);
    tl_buf_free(&x);
    free(data), free(got), free(want);
}

/* ---- OT interpolant and time features ---- */

static void interp_run(fmcl_ctx *ctx, const float *x1h, tl_buf *x1, int B, int D, int F, float smin,
                       float *X, float *U)
{
    const int W = fmcl_input_width(D, F);
    tl_buf bX, bU;
    char what[96];
    if (!tl_buf_new(ctx, &bX, (size_t)B * W, NULL) || !tl_buf_new(ctx, &bU, (size_t)B * D, NULL))
        return;
    snprintf(what, sizeof what, "ot_interp F=%d smin=%g", F, smin);
    if (ok(ctx, fmcl_ot_interp(ctx, bX.t, bU.t, x1->t, 31337, 4, smin, B, D, F), what) &&
        tl_buf_read(ctx, &bX, X) && tl_buf_read(ctx, &bU, U)) {
        float *Xr = malloc((size_t)B * W * sizeof *Xr), *Ur = malloc((size_t)B * D * sizeof *Ur);
        fmcl_ot_interp_ref(Xr, Ur, x1h, 31337, 4, smin, B, D, F);
        double *w = widen(Xr, (size_t)B * W);
        snprintf(what, sizeof what, "ot_interp X F=%d vs ref", F);
        tl_close(what, X, w, (size_t)B * W, ELEM_ATOL, ELEM_RTOL);
        free(w);
        w = widen(Ur, (size_t)B * D);
        snprintf(what, sizeof what, "ot_interp U F=%d vs ref", F);
        tl_close(what, U, w, (size_t)B * D, ELEM_ATOL, ELEM_RTOL);
        free(w), free(Xr), free(Ur);
    }
    tl_guard_ok(ctx, &bX, "ot_interp X");
    tl_guard_ok(ctx, &bU, "ot_interp U");
    tl_buf_free(&bX);
    tl_buf_free(&bU);
}

static void check_ot_interp(fmcl_ctx *ctx)
{
    enum { B = 20011, D = 5, F = 3 };
    const float smin = 0.01f;
    float *x1h = malloc(B * D * sizeof *x1h);
    tl_fill(x1h, B * D, -2.f, 2.f, 3);
    tl_buf x1;
    if (!tl_buf_new(ctx, &x1, B * D, x1h)) return;
    float *X0 = malloc(B * (D + 1) * sizeof *X0), *U0 = malloc(B * D * sizeof *U0);
    float *X3 = malloc(B * (D + 2 * F) * sizeof *X3), *U3 = malloc(B * D * sizeof *U3);
    interp_run(ctx, x1h, &x1, B, D, 0, smin, X0, U0);
    interp_run(ctx, x1h, &x1, B, D, F, smin, X3, U3);

    /* From X = [x_t, t] and U: x0 = (x1 - U) / (1 - smin); then x_t must be
     * (1 - (1 - smin) t) x0 + t x1; x0 must look N(0, 1); t U[0, 1). */
    double *t = malloc(B * sizeof *t), *z = malloc(B * D * sizeof *z),
           *z2 = malloc(B * D * sizeof *z2);
    float *xt = malloc(B * D * sizeof *xt);
    double *xt_want = malloc(B * D * sizeof *xt_want);
    int t_range = 1;
    for (int b = 0; b < B; b++) {
        t[b] = X0[b * (D + 1) + D];
        t_range &= t[b] >= 0 && t[b] < 1;
        for (int d = 0; d < D; d++) {
            const double x0 = ((double)x1h[b * D + d] - U0[b * D + d]) / (1 - (double)smin);
            z[b * D + d] = x0;
            z2[b * D + d] = x0 * x0;
            xt[b * D + d] = X0[b * (D + 1) + d];
            xt_want[b * D + d] = (1 - (1 - (double)smin) * t[b]) * x0 + t[b] * x1h[b * D + d];
        }
    }
    tl_check(t_range, "ot_interp: t outside [0, 1)");
    tl_close("x_t from (t, x0 recovered from U)", xt, xt_want, B * D, 1e-5, 1e-5);
    check_mean("ot_interp t mean", t, B, 0.5);
    for (int b = 0; b < B; b++) t[b] = (t[b] - 0.5) * (t[b] - 0.5);
    check_mean("ot_interp t variance", t, B, 1.0 / 12);
    check_mean("ot_interp x0 mean", z, B * D, 0.0);
    check_mean("ot_interp x0 E z^2", z2, B * D, 1.0);

    /* Same seed and step: same t and x0, so F = 3 rows hold the same x_t and
     * U, and sin / cos of 2^k pi t for the t above. */
    float *feat = malloc(B * 2 * F * sizeof *feat);
    double *feat_want = malloc(B * 2 * F * sizeof *feat_want);
    int same_xt = 1;
    for (int b = 0; b < B; b++) {
        const double tb = X0[b * (D + 1) + D];
        for (int d = 0; d < D; d++) same_xt &= X3[b * (D + 2 * F) + d] == X0[b * (D + 1) + d];
        for (int k = 0; k < F; k++) {
            feat[b * 2 * F + k] = X3[b * (D + 2 * F) + D + k];
            feat[b * 2 * F + F + k] = X3[b * (D + 2 * F) + D + F + k];
            feat_want[b * 2 * F + k] = sin(ldexp(M_PI * tb, k));
            feat_want[b * 2 * F + F + k] = cos(ldexp(M_PI * tb, k));
        }
    }
    tl_check(same_xt && memcmp(U0, U3, B * D * sizeof *U0) == 0,
             "ot_interp: x_t and U do not depend on time_freqs");
    tl_close("ot_interp features vs sin/cos(2^k pi t)", feat, feat_want, B * 2 * F, 2e-6, 0);

    tl_buf_free(&x1);
    free(x1h), free(X0), free(U0), free(X3), free(U3), free(t), free(z), free(z2), free(xt);
    free(xt_want), free(feat), free(feat_want);
}

static void check_time_input(fmcl_ctx *ctx)
{
    enum { B = 333, D = 7 };
    const float t = 0.3721f;
    float x[B * D];
    tl_fill(x, B * D, -1.f, 1.f, 8);
    tl_buf bx;
    if (!tl_buf_new(ctx, &bx, B * D, x)) return;
    for (int F = 0; F <= 4; F += 4) {
        const int W = fmcl_input_width(D, F);
        float *got = malloc(B * W * sizeof *got), *want = malloc(B * W * sizeof *want);
        double *indep = malloc(B * W * sizeof *indep);
        tl_buf X;
        if (tl_buf_new(ctx, &X, (size_t)B * W, NULL)) {
            if (ok(ctx, fmcl_time_input(ctx, X.t, bx.t, t, B, D, F), "time_input") &&
                tl_buf_read(ctx, &X, got)) {
                fmcl_time_input_ref(want, x, t, B, D, F);
                for (int b = 0; b < B; b++) {
                    for (int d = 0; d < D; d++) indep[b * W + d] = x[b * D + d];
                    if (F == 0) indep[b * W + D] = t;
                    for (int k = 0; k < F; k++) {
                        indep[b * W + D + k] = sin(M_PI * t * (1 << k));
                        indep[b * W + D + F + k] = cos(M_PI * t * (1 << k));
                    }
                }
                char what[64];
                snprintf(what, sizeof what, "time_input F=%d vs ref", F);
                tl_close_f(what, got, want, (size_t)B * W, ELEM_ATOL, ELEM_RTOL);
                snprintf(what, sizeof what, "time_input F=%d vs sin/cos", F);
                tl_close(what, got, indep, (size_t)B * W, ELEM_ATOL, ELEM_RTOL);
            }
            tl_guard_ok(ctx, &X, "time_input");
            tl_buf_free(&X);
        }
        free(got), free(want), free(indep);
    }
    tl_buf_free(&bx);
}

/* ---- solver updates ---- */

static void check_updates(fmcl_ctx *ctx)
{
    enum { n = 100003 };
    const float a = -0.37f, h = 0.0625f;
    float *x = malloc(n * sizeof *x), *k[4], *got = malloc(n * sizeof *got),
          *want = malloc(n * sizeof *want);
    tl_fill(x, n, -2.f, 2.f, 20);
    tl_buf bx, by, bk[4];
    int okb = tl_buf_new(ctx, &bx, n, x) && tl_buf_new(ctx, &by, n, NULL);
    for (int j = 0; j < 4; j++) {
        k[j] = malloc(n * sizeof *k[j]);
        tl_fill(k[j], n, -5.f, 5.f, 21 + j);
        okb = okb && tl_buf_new(ctx, &bk[j], n, k[j]);
    }
    if (!okb) return;
    /* y = x + a k into a separate buffer, then in place (y aliasing x). */
    fmcl_axpy_to_ref(want, x, a, k[0], n);
    if (ok(ctx, fmcl_axpy_to(ctx, by.t, bx.t, a, bk[0].t, n), "axpy_to") &&
        tl_buf_read(ctx, &by, got))
        tl_close_f("axpy_to vs ref", got, want, n, ELEM_ATOL, ELEM_RTOL);
    tl_guard_ok(ctx, &by, "axpy_to");
    if (ok(ctx, fmcl_axpy_to(ctx, bx.t, bx.t, a, bk[0].t, n), "axpy_to in place") &&
        tl_buf_read(ctx, &bx, x))
        tl_close_f("axpy_to in place vs ref", x, want, n, ELEM_ATOL, ELEM_RTOL);
    tl_guard_ok(ctx, &bx, "axpy_to in place");
    /* x (the device's state, now in host x too) += h/6 (k1 + 2 k2 + 2 k3 + k4) */
    if (ok(ctx, fmcl_rk4_update(ctx, bx.t, bk[0].t, bk[1].t, bk[2].t, bk[3].t, h, n),
           "rk4_update") &&
        tl_buf_read(ctx, &bx, got)) {
        memcpy(want, x, n * sizeof *want);
        fmcl_rk4_update_ref(want, k[0], k[1], k[2], k[3], h, n);
        tl_close_f("rk4_update vs ref", got, want, n, ELEM_ATOL, ELEM_RTOL);
    }
    tl_guard_ok(ctx, &bx, "rk4_update");
    tl_buf_free(&bx);
    tl_buf_free(&by);
    for (int j = 0; j < 4; j++) tl_buf_free(&bk[j]), free(k[j]);
    free(x), free(got), free(want);
}

static int device_checks(fmcl_ctx *ctx, void *user)
{
    (void)user;
    check_toy(ctx);
    check_gather(ctx);
    check_ot_interp(ctx);
    check_time_input(ctx);
    check_updates(ctx);
    return 0;
}

int main(void) { return tl_for_each_device(device_checks, NULL); }
