/* The probability paths (fmcl_path_kind in fmcl.h): their schedules alpha_t,
 * sigma_t and t-derivatives, and the fused device op that builds a training
 * batch's inputs and targets from them. kernels/path.cl holds the twins. */
#ifndef FMCL_PATHS_H
#define FMCL_PATHS_H

#include <stdint.h>

#include "runtime/runtime.h"

/* Where sigma'_t is singular at t = 1 (VP and linear-VP, where sigma_t -> 0
 * like sqrt(1 - t)), training draws t from [0, 1 - FMCL_PATH_T_EPS) instead
 * of [0, 1): at its end sigma' is about -50 (VP, default betas) and -223
 * (linear-VP). The value is score-SDE's training epsilon for VP. */
#define FMCL_PATH_T_EPS 1e-5

/* One path as the kernel takes it. p0, p1 by kind: OT (sigma_min, -),
 * VP (beta_min, beta_max), VE (sigma_lo, sigma_hi), POLY (n, -); unused
 * otherwise. t is drawn as u t_max, u ~ U[0, 1). */
typedef struct {
    int kind;
    float p0, p1;
    float t_max;
} fmcl_path;

/* The path a training configuration asks for, validated: FMCL_ERR_ARG and a
 * message naming the bad parameter and its range otherwise (ctx may be NULL
 * to validate without a message). */
fmcl_status fmcl_path_from_config(fmcl_ctx *ctx, const fmcl_train_config *c, fmcl_path *p);
/* The OT path with sigma_min (t_max 1). */
fmcl_path fmcl_path_ot(float sigma_min);

/* s = (alpha_t, sigma_t, alpha'_t, sigma'_t) in double at t in [0, t_max]
 * (also at t = 1, where alpha and sigma are finite; sigma' may not be). */
void fmcl_path_schedule(const fmcl_path *p, double t, double s[4]);

/* A training step's draws are keyed by the example's index g in the whole
 * batch. The calls below fill B rows that are examples [row0, row0 + B) of
 * it: a rank's share, which draws exactly what one process drawing the
 * whole batch draws for those rows (docs/DESIGN.md, "Data-parallel
 * training"). The forms without _at draw examples [0, B). */

/* x0: [B, D] the noise of a training step, as the device draws it: element d
 * of row r is normal d % 4 of philox(seed; row0 + r, d / 4, FMCL_STREAM_NOISE,
 * step). */
void fmcl_path_noise_ref_at(float *x0, uint64_t seed, uint32_t step, int row0, int B, int D);
void fmcl_path_noise_ref(float *x0, uint64_t seed, uint32_t step, int B, int D);

/* One kernel per step: per row t = u01(philox(seed; row0 + row, 0, TIME,
 * step)) t_max, x0 as above; X: [B, W] = [alpha_t x1 + sigma_t x0,
 * features(t)], U: [B, D] = alpha'_t x1 + sigma'_t x0.
 * W = fmcl_input_width(D, time_freqs). The reference evaluates the schedule
 * and the sums in double. */
fmcl_status fmcl_path_interp_at(fmcl_ctx *ctx, fmcl_t X, fmcl_t U, fmcl_t x1, const fmcl_path *p,
                                uint64_t seed, uint32_t step, int row0, int B, int D,
                                int time_freqs);
fmcl_status fmcl_path_interp(fmcl_ctx *ctx, fmcl_t X, fmcl_t U, fmcl_t x1, const fmcl_path *p,
                             uint64_t seed, uint32_t step, int B, int D, int time_freqs);
void fmcl_path_interp_ref(float *X, float *U, const float *x1, const fmcl_path *p, uint64_t seed,
                          uint32_t step, int row0, int B, int D, int time_freqs);

/* The same with the step's data drawn in the same kernel, bit for bit as
 * fmcl_toy_sample (kind a built-in 2D set, D = 2) or fmcl_gather_rows (kind
 * FMCL_KIND_ARRAY, data: [n_data, D]) followed by fmcl_path_interp: one
 * launch for data, noise, t and the interpolant. The reference also returns
 * the data points drawn in x1: [B, D]. */
fmcl_status fmcl_path_sample_at(fmcl_ctx *ctx, fmcl_t X, fmcl_t U, int kind, fmcl_t data,
                                int n_data, const fmcl_path *p, uint64_t seed, uint32_t step,
                                int row0, int B, int D, int time_freqs);
fmcl_status fmcl_path_sample(fmcl_ctx *ctx, fmcl_t X, fmcl_t U, int kind, fmcl_t data, int n_data,
                             const fmcl_path *p, uint64_t seed, uint32_t step, int B, int D,
                             int time_freqs);
void fmcl_path_sample_ref(float *X, float *U, float *x1, int kind, const float *data, int n_data,
                          const fmcl_path *p, uint64_t seed, uint32_t step, int row0, int B, int D,
                          int time_freqs);

#endif
