/* Fixed-step ODE solvers for dx/dt = f(x, t): explicit Euler, explicit
 * midpoint, Heun (explicit trapezoid), classic RK4 and Kutta's 3/8 rule
 * (torchdiffeq's "rk4"), built from device updates (axpy_to of
 * runtime/vec.h; heun_update, rk4_update, rk38_stage and rk38_update of
 * kernels/solver.cl) around the caller's velocity callback. Step k runs
 * between two points of a time grid (uniform: t0 + k (t1 - t0) / steps,
 * computed from k in double, never accumulated). */
#include <math.h>
#include <stdio.h>

#include "flow/flow_ops.h"
#include "flow/kernels.h"
#include "runtime/vec.h"

static int known_solver(int s) { return s >= FMCL_SOLVER_EULER && s <= FMCL_SOLVER_RK4_38; }
static int fixed_solver(int s) { return known_solver(s) && s != FMCL_SOLVER_DOPRI5; }

/* dopri5: per attempted step (see flow_ops.h for its whole count). */
int fmcl_solver_nfe_per_step(fmcl_solver solver)
{
    static const int nfe[] = {1, 2, 2, 4, 6, 4};
    return known_solver(solver) ? nfe[solver] : 0;
}

/* Euler: k. Midpoint: k, the midpoint state. Heun: k1, k2, the predicted
 * state. RK4 and its 3/8 rule: k1..k4, a stage state. dopri5: 0, see
 * fmcl_adaptive_work. */
int fmcl_solver_work(int solver)
{
    static const int work[] = {1, 2, 3, 5, 0, 5};
    return fixed_solver(solver) ? work[solver] : 0;
}

void fmcl_rk4_update_ref(float *x, const float *k1, const float *k2, const float *k3,
                         const float *k4, float h, int n)
{
    for (int i = 0; i < n; i++) {
        const double s = (double)k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i];
        x[i] = (float)(x[i] + (double)h / 6.0 * s);
    }
}

fmcl_status fmcl_rk4_update(fmcl_ctx *ctx, fmcl_t x, fmcl_t k1, fmcl_t k2, fmcl_t k3, fmcl_t k4,
                            float h, int n)
{
    if (n < 0) return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_rk4_update: negative length %d", n);
    return fmcl_run1(ctx, FMCL_K_rk4_update, (size_t)n, "tttttfi", x, k1, k2, k3, k4, (double)h, n);
}

void fmcl_rk38_stage_ref(float *xs, const float *x, const float *k1, const float *k2,
                         const float *k3, int stage, float h, int n)
{
    for (int i = 0; i < n; i++) {
        const double d = stage == 3 ? (double)k2[i] - k1[i] / 3.0 : (double)k1[i] - k2[i] + k3[i];
        xs[i] = (float)(x[i] + (double)h * d);
    }
}

fmcl_status fmcl_rk38_stage(fmcl_ctx *ctx, fmcl_t xs, fmcl_t x, fmcl_t k1, fmcl_t k2, fmcl_t k3,
                            int stage, float h, int n)
{
    if (n < 0 || (stage != 3 && stage != 4))
        return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_rk38_stage: stage %d (3 or 4), length %d", stage,
                         n);
    return fmcl_run1(ctx, FMCL_K_rk38_stage, (size_t)n, "tttttifi", xs, x, k1, k2, k3, stage,
                     (double)h, n);
}

void fmcl_rk38_update_ref(float *x, const float *k1, const float *k2, const float *k3,
                          const float *k4, float h, int n)
{
    for (int i = 0; i < n; i++) {
        const double s = (double)k1[i] + 3.0 * ((double)k2[i] + k3[i]) + k4[i];
        x[i] = (float)(x[i] + s * h / 8.0);
    }
}

fmcl_status fmcl_rk38_update(fmcl_ctx *ctx, fmcl_t x, fmcl_t k1, fmcl_t k2, fmcl_t k3, fmcl_t k4,
                             float h, int n)
{
    if (n < 0) return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_rk38_update: negative length %d", n);
    return fmcl_run1(ctx, FMCL_K_rk38_update, (size_t)n, "tttttfi", x, k1, k2, k3, k4, (double)h,
                     n);
}

void fmcl_heun_update_ref(float *x, const float *k1, const float *k2, float h, int n)
{
    for (int i = 0; i < n; i++) x[i] = (float)(x[i] + 0.5 * h * ((double)k1[i] + k2[i]));
}

fmcl_status fmcl_heun_update(fmcl_ctx *ctx, fmcl_t x, fmcl_t k1, fmcl_t k2, float h, int n)
{
    if (n < 0) return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_heun_update: negative length %d", n);
    return fmcl_run1(ctx, FMCL_K_heun_update, (size_t)n, "tttfi", x, k1, k2, (double)h, n);
}

#define TRY(call)                                                                                  \
    do {                                                                                           \
        fmcl_status s_ = (call);                                                                   \
        if (s_ != FMCL_OK) return s_;                                                              \
    } while (0)

/* One step from (x, ta) to tb; the stage times are computed in double. */
static fmcl_status step_once(fmcl_ctx *ctx, int solver, fmcl_t x, int n, fmcl_t work,
                             fmcl_velocity_fn f, void *fuser, double ta, double tb)
{
    const fmcl_t k1 = work, k2 = fmcl_at(work, (size_t)n), k3 = fmcl_at(work, 2 * (size_t)n),
                 k4 = fmcl_at(work, 3 * (size_t)n), xs = fmcl_at(work, 4 * (size_t)n);
    const float t = (float)ta, tm = (float)(ta + 0.5 * (tb - ta)), te = (float)tb,
                h = (float)(tb - ta);
    switch (solver) {
    case FMCL_SOLVER_EULER: TRY(f(fuser, k1, x, t)); return fmcl_axpy_to(ctx, x, x, h, k1, n);
    case FMCL_SOLVER_MIDPOINT: /* k2 = f(x + h/2 k1, t + h/2); x += h k2 (k2 reuses k1) */
        TRY(f(fuser, k1, x, t));
        TRY(fmcl_axpy_to(ctx, k2, x, 0.5f * h, k1, n));
        TRY(f(fuser, k1, k2, tm));
        return fmcl_axpy_to(ctx, x, x, h, k1, n);
    case FMCL_SOLVER_HEUN: /* k2 = f(x + h k1, t + h); x += h/2 (k1 + k2) */
        TRY(f(fuser, k1, x, t));
        TRY(fmcl_axpy_to(ctx, k3, x, h, k1, n));
        TRY(f(fuser, k2, k3, te));
        return fmcl_heun_update(ctx, x, k1, k2, h, n);
    case FMCL_SOLVER_RK4_38: /* nodes t, t + h/3, t + 2h/3, t + h; weights 1/8, 3/8, 3/8, 1/8 */
        TRY(f(fuser, k1, x, t));
        TRY(fmcl_axpy_to(ctx, xs, x, h / 3.0f, k1, n));
        TRY(f(fuser, k2, xs, (float)(ta + (tb - ta) / 3.0)));
        TRY(fmcl_rk38_stage(ctx, xs, x, k1, k2, k3, 3, h, n));
        TRY(f(fuser, k3, xs, (float)(ta + 2.0 * (tb - ta) / 3.0)));
        TRY(fmcl_rk38_stage(ctx, xs, x, k1, k2, k3, 4, h, n));
        TRY(f(fuser, k4, xs, te));
        return fmcl_rk38_update(ctx, x, k1, k2, k3, k4, h, n);
    default: /* classic RK4 */
        TRY(f(fuser, k1, x, t));
        TRY(fmcl_axpy_to(ctx, xs, x, 0.5f * h, k1, n));
        TRY(f(fuser, k2, xs, tm));
        TRY(fmcl_axpy_to(ctx, xs, x, 0.5f * h, k2, n));
        TRY(f(fuser, k3, xs, tm));
        TRY(fmcl_axpy_to(ctx, xs, x, h, k3, n));
        TRY(f(fuser, k4, xs, te));
        return fmcl_rk4_update(ctx, x, k1, k2, k3, k4, h, n);
    }
}

/* The time grid: an array, or uniform steps computed from k. */
typedef struct {
    const double *ts;
    double t0, span;
    int steps;
} grid;

static double grid_t(const grid *g, int k)
{
    return g->ts ? g->ts[k] : g->t0 + k * g->span / g->steps;
}

static fmcl_status integrate(fmcl_ctx *ctx, int solver, const grid *g, fmcl_t x, int n, fmcl_t work,
                             fmcl_velocity_fn f, void *fuser, fmcl_step_fn after_step, void *suser)
{
    if (!fixed_solver(solver))
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "fmcl_integrate: solver %d (%s) is not a fixed-step solver; use euler, "
                         "midpoint, heun, rk4 or rk4-38 (dopri5 runs through "
                         "fmcl_integrate_adaptive)",
                         solver, fmcl_name(FMCL_NAMES_SOLVER, solver));
    if (g->steps < 1 || n < 0 || !f)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "fmcl_integrate: needs at least one step, a non-negative size and a "
                         "velocity function (got steps %d, n %d)",
                         g->steps, n);
    for (int k = 0; k < g->steps; k++) {
        const double ta = grid_t(g, k), tb = grid_t(g, k + 1);
        TRY(step_once(ctx, solver, x, n, work, f, fuser, ta, tb));
        if (after_step) TRY(after_step(suser, k + 1, (float)tb));
    }
    return FMCL_OK;
}

fmcl_status fmcl_integrate(fmcl_ctx *ctx, int solver, float t0, float t1, int steps, fmcl_t x,
                           int n, fmcl_t work, fmcl_velocity_fn f, void *fuser,
                           fmcl_step_fn after_step, void *suser)
{
    const grid g = {NULL, t0, (double)t1 - (double)t0, steps};
    return integrate(ctx, solver, &g, x, n, work, f, fuser, after_step, suser);
}

fmcl_status fmcl_integrate_grid(fmcl_ctx *ctx, int solver, const double *ts, int points, fmcl_t x,
                                int n, fmcl_t work, fmcl_velocity_fn f, void *fuser,
                                fmcl_step_fn after_step, void *suser)
{
    if (!ts) return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_integrate_grid: no time grid");
    const grid g = {ts, 0, 0, points - 1};
    return integrate(ctx, solver, &g, x, n, work, f, fuser, after_step, suser);
}

fmcl_status fmcl_grid_check(const double *ts, int points, char *err, size_t errlen)
{
    const char *why = NULL;
    int at = 0;
    if (!ts || points < 2) {
        snprintf(err, errlen, "a time grid needs at least 2 points (0 and 1), got %d", points);
        return FMCL_ERR_ARG;
    }
    for (at = 0; at < points && !why; at++) {
        if (!isfinite(ts[at]))
            why = "is not a finite number";
        else if (at == 0 && ts[at] != 0)
            why = "must be exactly 0 (sampling starts at t = 0)";
        else if (at > 0 && ts[at] <= ts[at - 1])
            why = "is not greater than the point before it";
        else if (at == points - 1 && ts[at] != 1)
            why = "must be exactly 1 (sampling ends at t = 1)";
    }
    if (!why) return FMCL_OK;
    at--;
    snprintf(err, errlen,
             "time grid t[%d] = %.9g (of %d points, counted from 0) %s; a grid must increase "
             "strictly from 0 to 1",
             at, ts[at], points, why);
    return FMCL_ERR_ARG;
}
