/* Fixed-step ODE solvers for dx/dt = f(x, t): explicit Euler, explicit
 * midpoint and classic RK4, built from two device updates (axpy_to,
 * rk4_update; kernels/solver.cl) around the caller's velocity callback.
 * Step k runs from t0 + k (t1 - t0) / steps to the next such time; times are
 * computed from k in double, never accumulated. */
#include <strings.h>

#include "flow/flow_ops.h"

static const char *const solver_names[] = {"euler", "midpoint", "rk4"};

static int valid_solver(int s) { return s >= FMCL_SOLVER_EULER && s <= FMCL_SOLVER_RK4; }

int fmcl_solver_from_name(const char *name)
{
    for (int s = FMCL_SOLVER_EULER; name && s <= FMCL_SOLVER_RK4; s++)
        if (strcasecmp(name, solver_names[s]) == 0) return s;
    return -1;
}

const char *fmcl_solver_name(int solver)
{
    return valid_solver(solver) ? solver_names[solver] : "unknown";
}

int fmcl_solver_nfe_per_step(int solver)
{
    static const int nfe[] = {1, 2, 4};
    return valid_solver(solver) ? nfe[solver] : 0;
}

/* Euler: k. Midpoint: k, the midpoint state. RK4: k1..k4, a stage state. */
int fmcl_solver_work(int solver)
{
    static const int work[] = {1, 2, 5};
    return valid_solver(solver) ? work[solver] : 0;
}

void fmcl_axpy_to_ref(float *y, const float *x, float a, const float *k, int n)
{
    for (int i = 0; i < n; i++) y[i] = (float)((double)x[i] + (double)a * k[i]);
}

fmcl_status fmcl_axpy_to(fmcl_ctx *ctx, fmcl_t y, fmcl_t x, float a, fmcl_t k, int n)
{
    if (n < 0) return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_axpy_to: negative length %d", n);
    return fmcl_run1(ctx, FMCL_K_axpy_to, (size_t)n, "ttfti", y, x, (double)a, k, n);
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
    return fmcl_run1(ctx, FMCL_K_rk4_update, (size_t)n, "tttttfi", x, k1, k2, k3, k4, (double)h,
                     n);
}

#define TRY(call)                                                                                  \
    do {                                                                                           \
        fmcl_status s_ = (call);                                                                   \
        if (s_ != FMCL_OK) return s_;                                                              \
    } while (0)

/* One step from (x, t) with step h; tm = t + h/2, te = t + h. */
static fmcl_status step_once(fmcl_ctx *ctx, int solver, fmcl_t x, int n, fmcl_t work,
                             fmcl_velocity_fn f, void *fuser, float t, float tm, float te, float h)
{
    const fmcl_t k1 = work, k2 = fmcl_at(work, (size_t)n), k3 = fmcl_at(work, 2 * (size_t)n),
                 k4 = fmcl_at(work, 3 * (size_t)n), xs = fmcl_at(work, 4 * (size_t)n);
    switch (solver) {
    case FMCL_SOLVER_EULER:
        TRY(f(fuser, k1, x, t));
        return fmcl_axpy_to(ctx, x, x, h, k1, n);
    case FMCL_SOLVER_MIDPOINT: /* k2 = f(x + h/2 k1, t + h/2); x += h k2 (k2 reuses k1) */
        TRY(f(fuser, k1, x, t));
        TRY(fmcl_axpy_to(ctx, k2, x, 0.5f * h, k1, n));
        TRY(f(fuser, k1, k2, tm));
        return fmcl_axpy_to(ctx, x, x, h, k1, n);
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

fmcl_status fmcl_integrate(fmcl_ctx *ctx, int solver, float t0, float t1, int steps, fmcl_t x,
                           int n, fmcl_t work, fmcl_velocity_fn f, void *fuser,
                           fmcl_step_fn after_step, void *suser)
{
    if (!valid_solver(solver))
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "fmcl_integrate: unknown solver %d; use euler, midpoint or rk4", solver);
    if (steps < 1 || n < 0 || !f)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "fmcl_integrate: needs at least one step, a non-negative size and a "
                         "velocity function (got steps %d, n %d)",
                         steps, n);
    const double span = (double)t1 - (double)t0;
    const float h = (float)(span / steps);
    for (int k = 0; k < steps; k++) {
        const float t = (float)(t0 + k * span / steps);
        const float tm = (float)(t0 + (k + 0.5) * span / steps);
        const float te = (float)(t0 + (k + 1) * span / steps);
        TRY(step_once(ctx, solver, x, n, work, f, fuser, t, tm, te, h));
        if (after_step) TRY(after_step(suser, k + 1, te));
    }
    return FMCL_OK;
}
