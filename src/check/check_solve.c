/* Self-check of the samplers' ops (src/flow/flow_ops.h): the fixed-step
 * updates, Dormand-Prince's stage and error norms, and the ODE drivers on
 * dx/dt = (1 + t) x against the same schemes run on the host in double. */
#include "check/check.h"
#include "flow/flow_ops.h"
#include "nn/nn_ops.h"
#include "runtime/vec.h"

#include <math.h>

/* in_place: y aliases x, as Euler's update does. */
static void axpy_to(chk_suite *s, int n, int in_place)
{
    chk_case c;
    const float a = -0.37f;
    chk_begin(&c, s, in_place ? "axpy_to in place" : "axpy_to", "n=%d", n);
    float *x = chk_host(&c, n), *k = chk_host(&c, n), *y = chk_host(&c, n);
    if (chk_ok(&c)) chk_fill(x, n, -2.f, 2.f, 24), chk_fill(k, n, -5.f, 5.f, 25);
    fmcl_t tx = chk_buf(&c, x, n), tk = chk_buf(&c, k, n);
    fmcl_t ty = in_place ? tx : chk_buf(&c, NULL, n);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_axpy_to(s->ctx, ty, tx, a, tk, n));
        fmcl_axpy_to_ref(y, x, a, k, n);
    }
    chk_expect_f(&c, "y", ty, n, y, chk_elem(1e-6));
    chk_end(&c);
}

/* heun: x += h/2 (k1 + k2); else RK4's x += h/6 (k1 + 2 k2 + 2 k3 + k4). */
static void update(chk_suite *s, int heun, int n)
{
    chk_case c;
    const float h = 0.0625f;
    const size_t nk = (heun ? 2 : 4) * (size_t)n;
    chk_begin(&c, s, heun ? "heun_update" : "rk4_update", "n=%d", n);
    float *x = chk_host(&c, n), *k = chk_host(&c, nk);
    if (chk_ok(&c)) chk_fill(x, n, -2.f, 2.f, 26), chk_fill(k, nk, -5.f, 5.f, 27);
    fmcl_t tx = chk_buf(&c, x, n), tk = chk_buf(&c, k, nk);
    if (chk_ok(&c) && heun) {
        chk_status(&c, fmcl_heun_update(s->ctx, tx, tk, fmcl_at(tk, n), h, n));
        fmcl_heun_update_ref(x, k, k + n, h, n);
    } else if (chk_ok(&c)) {
        chk_status(&c, fmcl_rk4_update(s->ctx, tx, tk, fmcl_at(tk, n), fmcl_at(tk, 2 * (size_t)n),
                                       fmcl_at(tk, 3 * (size_t)n), h, n));
        fmcl_rk4_update_ref(x, k, k + n, k + 2 * (size_t)n, k + 3 * (size_t)n, h, n);
    }
    chk_expect_f(&c, "x", tx, n, x, chk_elem(1e-6));
    chk_end(&c);
}

/* Kutta's 3/8 rule: stage 3's and 4's states, then the update. */
static void rk38(chk_suite *s, int n)
{
    chk_case c;
    const float h = 0.0625f;
    const size_t nk = 4 * (size_t)n;
    chk_begin(&c, s, "rk38_update", "n=%d, after stages 3 and 4", n);
    float *x = chk_host(&c, n), *k = chk_host(&c, nk), *xs = chk_host(&c, n);
    if (chk_ok(&c)) chk_fill(x, n, -2.f, 2.f, 29), chk_fill(k, nk, -5.f, 5.f, 30);
    fmcl_t tx = chk_buf(&c, x, n), tk = chk_buf(&c, k, nk), ts = chk_buf(&c, NULL, n);
    const fmcl_t k2 = fmcl_at(tk, n), k3 = fmcl_at(tk, 2 * (size_t)n),
                 k4 = fmcl_at(tk, 3 * (size_t)n);
    float *h2 = k + n, *h3 = k + 2 * (size_t)n, *h4 = k + 3 * (size_t)n;
    for (int stage = 3; stage <= 4 && chk_ok(&c); stage++) {
        chk_status(&c, fmcl_rk38_stage(s->ctx, ts, tx, tk, k2, k3, stage, h, n));
        fmcl_rk38_stage_ref(xs, x, k, h2, h3, stage, h, n);
        chk_expect_f(&c, stage == 3 ? "stage 3 state" : "stage 4 state", ts, n, xs, chk_elem(1e-6));
    }
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_rk38_update(s->ctx, tx, tk, k2, k3, k4, h, n));
        fmcl_rk38_update_ref(x, k, h2, h3, h4, h, n);
    }
    chk_expect_f(&c, "x", tx, n, x, chk_elem(1e-6));
    chk_end(&c);
}

/* Dormand-Prince's inputs: x, k1..k7 (7 n floats), h and the tolerances. */
#define DP_H 0.0371f
#define DP_ATOL 1e-5f
#define DP_RTOL 1e-4f

static void dopri5_inputs(chk_case *c, int n, float **x, float **k)
{
    *x = chk_host(c, n);
    *k = chk_host(c, 7 * (size_t)n);
    if (chk_ok(c)) chk_fill(*x, n, -2.f, 2.f, 40), chk_fill(*k, 7 * (size_t)n, -3.f, 3.f, 41);
}

/* Every stage state of one step (stage 7 gives x_new). */
static void dopri5_stage(chk_suite *s, int n)
{
    chk_case c;
    float *x, *k;
    chk_begin(&c, s, "dopri5_stage", "stages 2-7 n=%d", n);
    dopri5_inputs(&c, n, &x, &k);
    float *xs = chk_host(&c, 6 * (size_t)n);
    fmcl_t tx = chk_buf(&c, x, n), tk = chk_buf(&c, k, 7 * (size_t)n);
    fmcl_t txs = chk_buf(&c, NULL, 6 * (size_t)n);
    for (int st = 2; st <= 7 && chk_ok(&c); st++) {
        chk_status(&c, fmcl_dopri5_stage(s->ctx, fmcl_at(txs, (size_t)(st - 2) * n), tx, tk,
                                         fmcl_at(tk, n), st, DP_H, n));
        fmcl_dopri5_stage_ref(xs + (size_t)(st - 2) * n, x, k, k + n, st, DP_H, n);
    }
    chk_expect_f(&c, "stage", txs, 6 * (size_t)n, xs, chk_elem(1e-6));
    chk_end(&c);
}

/* The step's error norm (x_new from the reference stage) or, scaled, the
 * norm of the initial step selection. */
static void dopri5_norm(chk_suite *s, int scaled, int n)
{
    chk_case c;
    float *x, *k;
    const size_t np = fmcl_reduce_partials((size_t)n);
    chk_begin(&c, s, scaled ? "scaled_sumsq" : "dopri5_error", "n=%d", n);
    dopri5_inputs(&c, n, &x, &k);
    float *xn = chk_host(&c, n);
    double *want = chk_host_d(&c, 1);
    if (chk_ok(&c)) fmcl_dopri5_stage_ref(xn, x, k, k + n, 7, DP_H, n);
    fmcl_t tx = chk_buf(&c, x, n), tk = chk_buf(&c, k, 7 * (size_t)n), txn = chk_buf(&c, xn, n);
    fmcl_t out = chk_buf(&c, NULL, 1), tpart = chk_buf(&c, NULL, np);
    if (chk_ok(&c) && scaled) {
        chk_status(&c, fmcl_scaled_sumsq(s->ctx, out, tk, tx, DP_ATOL, DP_RTOL, tpart, n));
        want[0] = fmcl_scaled_sumsq_ref(k, x, DP_ATOL, DP_RTOL, n);
    } else if (chk_ok(&c)) {
        chk_status(&c,
                   fmcl_dopri5_error(s->ctx, out, tx, txn, tk, fmcl_at(tk, n),
                                     fmcl_at(tk, 6 * (size_t)n), DP_H, DP_ATOL, DP_RTOL, tpart, n));
        want[0] = fmcl_dopri5_error_ref(x, xn, k, k + n, k + 6 * (size_t)n, DP_H, DP_ATOL, DP_RTOL,
                                        n);
    }
    /* A mean of squares: no cancellation between the terms. */
    chk_expect(&c, "norm", out, 1, want, (chk_tol){0, 1e-5});
    chk_guards(&c, "partials", tpart, np);
    chk_end(&c);
}

/* ---- the drivers on dx/dt = (1 + t) x ---- */

typedef struct {
    fmcl_ctx *ctx;
    int n;
} velocity;

static fmcl_status linear_field(void *user, fmcl_t v, fmcl_t x, float t)
{
    const velocity *f = user;
    return fmcl_axpy_to(f->ctx, v, x, t, x, f->n); /* v = x + t x */
}

static void linear_field_ref(void *user, double *v, const double *x, double t)
{
    const velocity *f = user;
    for (int i = 0; i < f->n; i++) v[i] = (1 + t) * x[i];
}

/* A fixed-step solver's growth factor over the grid for x(ts[0]) = 1. */
static double growth(int solver, const double *ts, int points)
{
    double x = 1;
    for (int k = 1; k < points; k++) {
        double t = ts[k - 1], h = ts[k] - t, k1 = (1 + t) * x;
        if (solver == FMCL_SOLVER_EULER) {
            x += h * k1;
        } else if (solver == FMCL_SOLVER_MIDPOINT) {
            x += h * (1 + t + h / 2) * (x + h / 2 * k1);
        } else if (solver == FMCL_SOLVER_HEUN) {
            x += h / 2 * (k1 + (1 + t + h) * (x + h * k1));
        } else if (solver == FMCL_SOLVER_RK4_38) {
            double k2 = (1 + t + h / 3) * (x + h / 3 * k1);
            double k3 = (1 + t + 2 * h / 3) * (x + h * (k2 - k1 / 3));
            double k4 = (1 + t + h) * (x + h * (k1 - k2 + k3));
            x += h / 8 * (k1 + 3 * k2 + 3 * k3 + k4);
        } else {
            double k2 = (1 + t + h / 2) * (x + h / 2 * k1);
            double k3 = (1 + t + h / 2) * (x + h / 2 * k2);
            double k4 = (1 + t + h) * (x + h * k3);
            x += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4);
        }
    }
    return x;
}

/* fmcl_integrate from 0 to 1 in 7 uniform steps or, backwards,
 * fmcl_integrate_grid on a non-uniform grid from 1 to 0 as the likelihood
 * integrates. */
static void integrate(chk_suite *s, int solver, int n, int backwards)
{
    static const double uniform[8] = {0, 1 / 7., 2 / 7., 3 / 7., 4 / 7., 5 / 7., 6 / 7., 1};
    static const double back[6] = {1, 0.9, 0.65, 0.5, 0.2, 0};
    const double *ts = backwards ? back : uniform;
    const int points = backwards ? 6 : 8;
    chk_case c;
    chk_begin(&c, s, backwards ? "integrate_grid" : "integrate", "%s n=%d %s",
              fmcl_name(FMCL_NAMES_SOLVER, solver), n,
              backwards ? "t=1..0, 5 steps" : "t=0..1, 7 steps");
    float *x = chk_host(&c, n);
    double *want = chk_host_d(&c, n);
    if (chk_ok(&c)) chk_fill(x, n, -2.f, 2.f, 28);
    const size_t nw = (size_t)fmcl_solver_work(solver) * n;
    fmcl_t tx = chk_buf(&c, x, n), work = chk_buf(&c, NULL, nw);
    velocity f = {s->ctx, n};
    if (chk_ok(&c)) {
        chk_status(&c, backwards ? fmcl_integrate_grid(s->ctx, solver, ts, points, tx, n, work,
                                                       linear_field, &f, NULL, NULL)
                                 : fmcl_integrate(s->ctx, solver, 0.f, 1.f, points - 1, tx, n, work,
                                                  linear_field, &f, NULL, NULL));
        double g = growth(solver, ts, points);
        for (int i = 0; i < n; i++) want[i] = g * x[i];
    }
    /* About 3 roundings per stage and step, each under 1e-7 relative. */
    chk_expect(&c, "x", tx, n, want, chk_elem(1e-6));
    chk_guards(&c, "work", work, nw);
    chk_end(&c);
}

/* dopri5 on the device against the host reference's identical controller
 * in double. The error estimate is a difference of two close solutions, so
 * in float it carries ~1% relative noise and a step near the acceptance
 * threshold may go either way: the two runs need not take the same steps.
 * Each meets the tolerance 1e-5 per step, so they agree to 10 times it. */
static void integrate_adaptive(chk_suite *s, int n)
{
    chk_case c;
    fmcl_adaptive_opts o;
    fmcl_adaptive_opts_default(&o);
    chk_begin(&c, s, "integrate_adaptive", "dopri5 n=%d t=0..1 tol=%g", n, o.rtol);
    float *x = chk_host(&c, n);
    double *want = chk_host_d(&c, n);
    if (chk_ok(&c)) chk_fill(x, n, -2.f, 2.f, 42);
    const size_t nw = fmcl_adaptive_work(n);
    fmcl_t tx = chk_buf(&c, x, n), work = chk_buf(&c, NULL, nw);
    velocity f = {s->ctx, n};
    if (chk_ok(&c)) {
        char err[256];
        chk_status(&c, fmcl_integrate_adaptive(s->ctx, &o, 0, 1, tx, n, work, linear_field, &f,
                                               NULL, NULL, NULL));
        for (int i = 0; i < n; i++) want[i] = x[i];
        if (fmcl_integrate_adaptive_ref(&o, 0, 1, want, n, linear_field_ref, &f, NULL, NULL, NULL,
                                        err, sizeof err) != FMCL_OK)
            chk_fail(&c, "the host reference failed: %s", err);
    }
    chk_expect(&c, "x", tx, n, want, (chk_tol){10 * o.atol, 10 * o.rtol});
    chk_guards(&c, "work", work, nw);
    chk_end(&c);
}

void chk_solver_ops(chk_suite *s)
{
    static const int solvers[] = {FMCL_SOLVER_EULER, FMCL_SOLVER_MIDPOINT, FMCL_SOLVER_HEUN,
                                  FMCL_SOLVER_RK4, FMCL_SOLVER_RK4_38};
    axpy_to(s, 10007, 0);
    axpy_to(s, 10007, 1);
    update(s, 0, 10007);
    update(s, 1, 10007);
    rk38(s, 10007);
    dopri5_stage(s, 4099);
    dopri5_norm(s, 0, 4099);
    dopri5_norm(s, 1, 4099);
    for (int k = 0; k < 5; k++) integrate(s, solvers[k], 1001, 0);
    integrate(s, FMCL_SOLVER_RK4, 1001, 1);
    integrate(s, FMCL_SOLVER_RK4_38, 1001, 1);
    integrate_adaptive(s, 1001);
}
