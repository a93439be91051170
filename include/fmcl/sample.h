/* fmcl/sample.h: sampling and likelihoods.
 *
 * Sampling integrates dx/dt = v(x, t) from noise at t = 0 to data at t = 1;
 * the likelihood integrates [x, div v] back from t = 1 to t = 0 and applies
 * the instantaneous change of variables (docs/METHOD.md). Points are
 * processed in chunks (4096 for the MLP, 64 images for the U-Net), each
 * chunk one solve. */
#ifndef FMCL_SAMPLE_H
#define FMCL_SAMPLE_H

#include "fmcl/core.h"
#include "fmcl/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FMCL_SOLVER_EULER = 0, /* fixed steps, 1 NFE each */
    FMCL_SOLVER_MIDPOINT,  /* fixed steps, 2 NFE */
    FMCL_SOLVER_HEUN,      /* fixed steps, 2 NFE (explicit trapezoid) */
    FMCL_SOLVER_RK4,       /* fixed steps, 4 NFE: the classic Runge-Kutta scheme */
    FMCL_SOLVER_DOPRI5,    /* adaptive Dormand-Prince 5(4), 6 NFE per attempted step */
    FMCL_SOLVER_RK4_38     /* fixed steps, 4 NFE: Kutta's 3/8 rule, torchdiffeq's "rk4" */
} fmcl_solver;

/* Model evaluations per step of a fixed-step solver (6 for dopri5's attempts). */
FMCL_API int fmcl_solver_nfe_per_step(fmcl_solver solver);

/* What solves took, summed over them. */
typedef struct {
    int solves;
    int nfe;      /* model evaluations */
    int accepted; /* steps: fixed-step solvers accept every step */
    int rejected; /* dopri5's rejected attempts */
} fmcl_sample_stats;

typedef struct {
    fmcl_solver solver;
    int steps;       /* fixed-step solvers: uniform steps from t = 0 to 1 */
    int n;           /* points to draw */
    uint64_t seed;   /* draws x0 ~ N(0, x0_std^2 I) when x0 is NULL */
    const float *x0; /* optional n x dim starting points */
    float x0_std;    /* 0: the model's own (fmcl_model_x0_std); > 0: this one */
    /* Fixed-step solvers: grid_points times increasing strictly from 0 to 1
     * replace the uniform steps when grid is non-NULL. */
    const double *grid;
    int grid_points;
    /* dopri5 (0 means the default): the tolerance atol + rtol |x| per element
     * (1e-5 each, as in the paper) and the attempted steps allowed (1000). */
    double atol, rtol;
    int max_steps;
    /* Optional times 0 <= t_1 < ... <= 1 at which the trajectory is recorded:
     * fixed-step solvers need grid points (within 1e-6); dopri5 shortens its
     * steps to land on them. */
    const double *times;
    int n_times;
    /* Conditional models: n labels in [-1, classes) (-1 the null class), or
     * NULL for the null class everywhere. guidance w != 0 integrates
     * classifier-free guidance's v = (1 + w) v(x, t, y) - w v(x, t, null),
     * one forward of 2 rows per point, counted as one NFE. Unconditional
     * models need NULL and 0. */
    const int *classes;
    float guidance;
    fmcl_sample_stats *stats; /* optional: receives what the solves took */
    /* optional: called after every model evaluation of every chunk, done
     * and total counted over the chunks (dopri5's total is an estimate) */
    fmcl_progress_fn progress;
    void *progress_user;
} fmcl_sample_config;

/* Midpoint, 20 steps, 1 point, seed 0, the model's x0_std, dopri5's
 * defaults, no grid, no times, no classes, no guidance, no stats, no
 * progress. */
FMCL_API void fmcl_sample_config_default(fmcl_sample_config *cfg);

/* FMCL_OK when fmcl_sample would accept cfg as far as it does not depend on
 * the model (every setting within fmcl_settings's range, a strictly
 * increasing grid from 0 to 1, recorded times on it); FMCL_ERR_ARG and the
 * reason in err otherwise. Needs no device. */
FMCL_API fmcl_status fmcl_sample_config_check(const fmcl_sample_config *cfg, char *err,
                                              size_t errlen);

/* Integrates dx/dt = v(x, t) from t = 0 to 1 for cfg->n points: out gets
 * n x dim floats. traj (may be NULL) gets the states at cfg->times
 * (n_times x n x dim) or, without times, at every point of a fixed-step
 * solver's grid ((steps + 1) or grid_points states, the first being x0).
 * *nfe (may be NULL) gets the model evaluations of one solve (dopri5: the
 * most any chunk took). FMCL_ERR_NUMERIC when a sample is not finite. */
FMCL_API fmcl_status fmcl_sample(fmcl_model *m, const fmcl_sample_config *cfg, float *out,
                                 float *traj, int *nfe);

/* ---- likelihood ---- */

typedef struct {
    fmcl_solver solver;
    int steps;         /* fixed-step solvers: uniform steps from t = 1 back to t = 0 */
    double atol, rtol; /* dopri5 (0: 1e-5 each, as in the paper), on [x, delta] */
    int max_steps;     /* dopri5's attempted steps per solve (0: 1000) */
    /* 0: the exact divergence (dim vector-Jacobian products per evaluation);
     * K > 0: Hutchinson's estimate with one Rademacher probe per solve, K
     * solves averaged. */
    int hutchinson;
    uint64_t seed;            /* of the probes */
    fmcl_sample_stats *stats; /* optional: what the solves took, summed */
    /* optional: called after every model evaluation (each with its
     * divergence), counted over every solve of every chunk */
    fmcl_progress_fn progress;
    void *progress_user;
} fmcl_nll_config;

/* dopri5 at atol = rtol = 1e-5, the exact divergence, seed 0 (steps 32 for
 * a fixed-step solver). */
FMCL_API void fmcl_nll_config_default(fmcl_nll_config *cfg);

/* log p1(x) in nats for n points x (n x dim): logp gets n values, one per
 * point, in order. *nfe (may be NULL) gets the model evaluations of one
 * solve (the most any took). Conditional models are evaluated with the null
 * class. FMCL_ERR_NUMERIC when a value is not finite. */
FMCL_API fmcl_status fmcl_log_prob(fmcl_model *m, const fmcl_nll_config *cfg, const float *x, int n,
                                   double *logp, int *nfe);

typedef struct {
    int n, dim;
    double nll, nll_se; /* mean of -log p over the points (nats), its standard error */
    double bpd, bpd_se; /* the same in bits per dimension: -log p / (dim ln 2) */
} fmcl_nll_stats;

/* Mean and standard error (sample standard deviation / sqrt(n); 0 when
 * n = 1) of n log-densities of dim-dimensional points. */
FMCL_API void fmcl_nll_stats_of(const double *logp, int n, int dim, fmcl_nll_stats *st);
/* For data of `bits`-bit integers k scaled as x = 2 (k + u) / 2^bits - 1
 * (the images' scaling): turns st, of the model's density of x, into that
 * of k + u in [0, 2^bits)^D, whose Jacobian adds dim (bits - 1) ln 2 nats
 * and bits - 1 bits per dimension (7 for 8-bit images). */
FMCL_API void fmcl_nll_stats_dequantized(fmcl_nll_stats *st, int bits);
/* Each point's NLL from its log p, in order, in the units of the mean above:
 * -log p in nats (bits = 0), or for `bits`-bit data scaled as there, bits
 * per dimension of k + u: -log p / (dim ln 2) + bits - 1. */
FMCL_API void fmcl_nll_per_point(const double *logp, int n, int dim, int bits, double *nll);

#ifdef __cplusplus
}
#endif
#endif
