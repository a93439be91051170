/* Device ops of the flow-matching method: random draws, data, the OT
 * interpolant and the solvers' update steps, each with a plain-C reference.
 * Time features: with time_freqs F = 0 the network input row is [x, t]
 * (width D + 1); with F > 0 it is [x, sin(2^k pi t), cos(2^k pi t) for k < F]
 * (width D + 2F, all sines then all cosines). */
#ifndef FMCL_FLOW_OPS_H
#define FMCL_FLOW_OPS_H

#include <stdint.h>

#include "runtime/runtime.h"

static inline int fmcl_input_width(int D, int time_freqs) { return time_freqs > 0 ? D + 2 * time_freqs : D + 1; }

/* x[n] ~ N(0, 1): element i from philox(seed; c0 = i / 4 pair block ...), stream, step. */
fmcl_status fmcl_randn(fmcl_ctx *ctx, fmcl_t x, uint64_t seed, uint32_t stream, uint32_t step,
                       int n);
void fmcl_randn_ref(float *x, uint64_t seed, uint32_t stream, uint32_t step, int n);

/* x1: [B, 2] points of a built-in set (fmcl_data_kind) for this step. */
fmcl_status fmcl_toy_sample(fmcl_ctx *ctx, fmcl_t x1, int kind, uint64_t seed, uint32_t step,
                            int B);
void fmcl_toy_sample_ref(float *x1, int kind, uint64_t seed, uint32_t step, int B);

/* x1: [B, D] rows of data: [N, D] chosen uniformly with replacement by Philox. */
fmcl_status fmcl_gather_rows(fmcl_ctx *ctx, fmcl_t x1, fmcl_t data, uint64_t seed, uint32_t step,
                             int N, int D, int B);
void fmcl_gather_rows_ref(float *x1, const float *data, uint64_t seed, uint32_t step, int N,
                          int D, int B);

/* OT path in one kernel: per row t ~ U[0,1), x0 ~ N(0, I);
 * X: [B, W] = [x_t, features(t)], x_t = (1 - (1 - smin) t) x0 + t x1;
 * U: [B, D] = x1 - (1 - smin) x0. W = fmcl_input_width(D, time_freqs). */
fmcl_status fmcl_ot_interp(fmcl_ctx *ctx, fmcl_t X, fmcl_t U, fmcl_t x1, uint64_t seed,
                           uint32_t step, float sigma_min, int B, int D, int time_freqs);
void fmcl_ot_interp_ref(float *X, float *U, const float *x1, uint64_t seed, uint32_t step,
                        float sigma_min, int B, int D, int time_freqs);

/* X: [B, W] = [x, features(t)] for one t (sampling). */
fmcl_status fmcl_time_input(fmcl_ctx *ctx, fmcl_t X, fmcl_t x, float t, int B, int D,
                            int time_freqs);
void fmcl_time_input_ref(float *X, const float *x, float t, int B, int D, int time_freqs);

/* y[n] = x + a k (y may alias x): Euler's update and the stages of midpoint and RK4. */
fmcl_status fmcl_axpy_to(fmcl_ctx *ctx, fmcl_t y, fmcl_t x, float a, fmcl_t k, int n);
void fmcl_axpy_to_ref(float *y, const float *x, float a, const float *k, int n);

/* x[n] += h/6 (k1 + 2 k2 + 2 k3 + k4). */
fmcl_status fmcl_rk4_update(fmcl_ctx *ctx, fmcl_t x, fmcl_t k1, fmcl_t k2, fmcl_t k3, fmcl_t k4,
                            float h, int n);
void fmcl_rk4_update_ref(float *x, const float *k1, const float *k2, const float *k3,
                         const float *k4, float h, int n);

/* ---- ODE integration (fixed steps) ---- */

/* v = f(x, t) for a state of n elements. */
typedef fmcl_status (*fmcl_velocity_fn)(void *user, fmcl_t v, fmcl_t x, float t);
/* Called after step k (1-based) once x holds the state at its end; may be NULL. */
typedef fmcl_status (*fmcl_step_fn)(void *user, int k, float t);

/* Scratch floats per state element that fmcl_integrate needs for a solver. */
int fmcl_solver_work(int solver);
/* Integrates x (n elements, in place) from t0 to t1 in `steps` uniform steps
 * with fmcl_solver (Euler, midpoint, RK4); work holds fmcl_solver_work * n
 * floats. Enqueues only: no host synchronisation unless a callback makes one. */
fmcl_status fmcl_integrate(fmcl_ctx *ctx, int solver, float t0, float t1, int steps, fmcl_t x,
                           int n, fmcl_t work, fmcl_velocity_fn f, void *fuser,
                           fmcl_step_fn after_step, void *suser);

#endif
