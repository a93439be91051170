/* Device ops of the flow-matching method: the OT interpolant, the network
 * input at one time and the solvers' update steps, each with a plain-C
 * reference (random draws: runtime/rng.h; data: data/toy2d.h).
 * Time features: with time_freqs F = 0 the network input row is [x, t]
 * (width D + 1); with F > 0 it is [x, sin(2^k pi t), cos(2^k pi t) for k < F]
 * (width D + 2F, all sines then all cosines). */
#ifndef FMCL_FLOW_OPS_H
#define FMCL_FLOW_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "nn/mlp.h" /* fmcl_input_width */
#include "runtime/runtime.h"

/* The OT path's case of fmcl_path_interp (flow/paths.h, every path): per row
 * t ~ U[0,1), x0 ~ N(0, I); X: [B, W] = [x_t, features(t)],
 * x_t = (1 - (1 - smin) t) x0 + t x1; U: [B, D] = x1 - (1 - smin) x0.
 * W = fmcl_input_width(D, time_freqs). */
fmcl_status fmcl_ot_interp(fmcl_ctx *ctx, fmcl_t X, fmcl_t U, fmcl_t x1, uint64_t seed,
                           uint32_t step, float sigma_min, int B, int D, int time_freqs);
void fmcl_ot_interp_ref(float *X, float *U, const float *x1, uint64_t seed, uint32_t step,
                        float sigma_min, int B, int D, int time_freqs);

/* X: [B, W] = [x, features(t)] for one t (sampling). */
fmcl_status fmcl_time_input(fmcl_ctx *ctx, fmcl_t X, fmcl_t x, float t, int B, int D,
                            int time_freqs);
void fmcl_time_input_ref(float *X, const float *x, float t, int B, int D, int time_freqs);

/* x[n] += h/6 (k1 + 2 k2 + 2 k3 + k4). */
fmcl_status fmcl_rk4_update(fmcl_ctx *ctx, fmcl_t x, fmcl_t k1, fmcl_t k2, fmcl_t k3, fmcl_t k4,
                            float h, int n);
void fmcl_rk4_update_ref(float *x, const float *k1, const float *k2, const float *k3,
                         const float *k4, float h, int n);

/* Kutta's 3/8 rule: xs = x + h (k2 - k1/3) (stage 3) or x + h (k1 - k2 + k3)
 * (stage 4; k3 is read only there), and x += (k1 + 3 (k2 + k3) + k4) h/8. */
fmcl_status fmcl_rk38_stage(fmcl_ctx *ctx, fmcl_t xs, fmcl_t x, fmcl_t k1, fmcl_t k2, fmcl_t k3,
                            int stage, float h, int n);
void fmcl_rk38_stage_ref(float *xs, const float *x, const float *k1, const float *k2,
                         const float *k3, int stage, float h, int n);
fmcl_status fmcl_rk38_update(fmcl_ctx *ctx, fmcl_t x, fmcl_t k1, fmcl_t k2, fmcl_t k3, fmcl_t k4,
                             float h, int n);
void fmcl_rk38_update_ref(float *x, const float *k1, const float *k2, const float *k3,
                          const float *k4, float h, int n);

/* x[n] += h/2 (k1 + k2): Heun's update. */
fmcl_status fmcl_heun_update(fmcl_ctx *ctx, fmcl_t x, fmcl_t k1, fmcl_t k2, float h, int n);
void fmcl_heun_update_ref(float *x, const float *k1, const float *k2, float h, int n);

/* ---- progress of a run of solves (progress.c) ---- */

/* done counts model evaluations; the total is exact for fixed-step solves
 * (per_solve evaluations each) and, for adaptive ones (per_solve 0),
 * estimated from what the solve under way took per unit of its time. */
typedef struct {
    fmcl_progress_fn fn; /* NULL: only counts */
    void *user;
    long done, per_solve, solve_start;
    int solves, solve; /* solves in all, the one under way (from 0) */
} fmcl_progress;

/* Starts solve `solve` (from 0). */
void fmcl_progress_solve(fmcl_progress *p, int solve);
/* Counts one evaluation at fraction f in [0, 1] of its solve's time span and
 * reports it: FMCL_ERR_CANCELLED, with a message on ctx, when the callback
 * asks to stop. */
fmcl_status fmcl_progress_step(fmcl_ctx *ctx, fmcl_progress *p, double f);

/* ---- ODE integration (fixed steps) ---- */

/* v = f(x, t) for a state of n elements. */
typedef fmcl_status (*fmcl_velocity_fn)(void *user, fmcl_t v, fmcl_t x, float t);
/* Called after step k (1-based) once x holds the state at its end; may be NULL. */
typedef fmcl_status (*fmcl_step_fn)(void *user, int k, float t);

/* Scratch floats per state element that fmcl_integrate needs for a solver. */
int fmcl_solver_work(int solver);
/* Integrates x (n elements, in place) from t0 to t1 in `steps` uniform steps
 * with a fixed-step fmcl_solver (Euler, midpoint, Heun, RK4, RK4 3/8); work holds
 * fmcl_solver_work * n floats. Enqueues only: no host synchronisation unless
 * a callback makes one. */
fmcl_status fmcl_integrate(fmcl_ctx *ctx, int solver, float t0, float t1, int steps, fmcl_t x,
                           int n, fmcl_t work, fmcl_velocity_fn f, void *fuser,
                           fmcl_step_fn after_step, void *suser);
/* The same on the time grid ts[0..points) (monotone, either direction): step
 * k runs from ts[k - 1] to ts[k] (h and the stage times are computed in
 * double from the two). ts[k] = t0 + k (t1 - t0) / steps reproduces
 * fmcl_integrate bit for bit. */
fmcl_status fmcl_integrate_grid(fmcl_ctx *ctx, int solver, const double *ts, int points, fmcl_t x,
                                int n, fmcl_t work, fmcl_velocity_fn f, void *fuser,
                                fmcl_step_fn after_step, void *suser);
/* A sampling grid must hold at least 2 finite points increasing strictly
 * from exactly 0 to exactly 1. FMCL_OK, or FMCL_ERR_ARG with a message
 * naming the first offending point. */
fmcl_status fmcl_grid_check(const double *ts, int points, char *err, size_t errlen);

/* ---- ODE integration (adaptive: Dormand-Prince 5(4), src/flow/dopri5.c) ----
 *
 * Each attempted step evaluates stages 2..7 (6 NFE; stage 1 is the previous
 * step's last, "first same as last"), and is accepted when the RMS over all
 * n elements of err_i / (atol + rtol max(|x_i|, |x_new_i|)) is below 1, err
 * the difference of the embedded 5th- and 4th-order solutions. The next step
 * size is h min(10, max(0.2, 0.9 err^(-1/5))), not growing right after a
 * rejection (the controller of scipy's RK45). The first step size is chosen
 * by Hairer's rule (scipy's select_initial_step, capped at |t1 - t0|) unless
 * given. So
 *     NFE = 1 + (h0 selected ? 1 : 0) + 6 (accepted + rejected).
 * One blocking read of one float per attempted step (two reads more for the
 * initial step selection); everything else stays on the device. */

typedef struct {
    double atol, rtol; /* both > 0 */
    int max_steps;     /* attempted steps (accepted + rejected) allowed, >= 1 */
    double h0;         /* first step size (> 0), or 0 to select it */
    /* Optional times in (t0, t1], strictly ordered from t0 towards t1: steps
     * are shortened to end on each exactly (first same as last carries on
     * across them, so they cost no evaluation), and at_stop(stop_user, j, t)
     * is called (j from 1) once x holds the state there. */
    const double *stops;
    int n_stops;
    fmcl_step_fn at_stop;
    void *stop_user;
} fmcl_adaptive_opts;

/* atol = rtol = 1e-5 (the paper's), 1000 steps, h0 selected, no stops. */
void fmcl_adaptive_opts_default(fmcl_adaptive_opts *o);

typedef struct {
    int nfe, accepted, rejected;
} fmcl_adaptive_stats;

/* Scratch floats fmcl_integrate_adaptive needs for a state of n elements. */
size_t fmcl_adaptive_work(int n);

/* Integrates x (n elements, in place) from t0 to t1 (t1 < t0 integrates
 * backwards); work holds fmcl_adaptive_work(n) floats. f is called with v and
 * x in x or work, never aliased, and t rounded to float from the double the
 * driver keeps; after_step(suser, k, t) follows accepted step k (may be NULL).
 * stats (may be NULL) is filled also on failure. Refuses with
 * FMCL_ERR_NUMERIC, x left at the last accepted state, when max_steps
 * attempts do not reach t1 or the step size falls below 10 ulp of t. */
fmcl_status fmcl_integrate_adaptive(fmcl_ctx *ctx, const fmcl_adaptive_opts *opts, double t0,
                                    double t1, fmcl_t x, int n, fmcl_t work, fmcl_velocity_fn f,
                                    void *fuser, fmcl_step_fn after_step, void *suser,
                                    fmcl_adaptive_stats *stats);

/* The host reference in double: same controller, a double field f(v, x, t). */
typedef void (*fmcl_velocity_ref_fn)(void *user, double *v, const double *x, double t);
fmcl_status fmcl_integrate_adaptive_ref(const fmcl_adaptive_opts *opts, double t0, double t1,
                                        double *x, int n, fmcl_velocity_ref_fn f, void *fuser,
                                        fmcl_step_fn after_step, void *suser,
                                        fmcl_adaptive_stats *stats, char *err, size_t errlen);

/* Its device ops. k1 and k7: n floats each; km: k2..k6, 5 n floats.
 * xs[n] = x + h sum_{j<stage} a_{stage,j} k_j (stage 2..7; 7 gives x_new). */
fmcl_status fmcl_dopri5_stage(fmcl_ctx *ctx, fmcl_t xs, fmcl_t x, fmcl_t k1, fmcl_t km, int stage,
                              float h, int n);
void fmcl_dopri5_stage_ref(float *xs, const float *x, const float *k1, const float *km, int stage,
                           float h, int n);
/* out[0] = mean over n of (h sum_j e_j k_j / (atol + rtol max(|x|, |xn|)))^2;
 * partials: fmcl_reduce_partials(n) floats. */
fmcl_status fmcl_dopri5_error(fmcl_ctx *ctx, fmcl_t out, fmcl_t x, fmcl_t xn, fmcl_t k1, fmcl_t km,
                              fmcl_t k7, float h, float atol, float rtol, fmcl_t partials, int n);
double fmcl_dopri5_error_ref(const float *x, const float *xn, const float *k1, const float *km,
                             const float *k7, float h, float atol, float rtol, int n);
/* out[0] = mean over n of (a / (atol + rtol |x|))^2. */
fmcl_status fmcl_scaled_sumsq(fmcl_ctx *ctx, fmcl_t out, fmcl_t a, fmcl_t x, float atol, float rtol,
                              fmcl_t partials, int n);
double fmcl_scaled_sumsq_ref(const float *a, const float *x, float atol, float rtol, int n);

#endif
