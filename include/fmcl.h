/* fmcl: Flow Matching on OpenCL.
 *
 * Public C API. Every call returns an fmcl_status; on failure the handle's
 * fmcl_ctx_error() (or the caller's err buffer, before a handle exists) says
 * what went wrong and what to do about it. The library never prints and never
 * exits. Objects are owned by whoever created them and freed with their
 * matching *_free / *_destroy call.
 */
#ifndef FMCL_H
#define FMCL_H

#include <stddef.h>
#include <stdint.h>

#include "fmcl/core.h"
#include "fmcl/settings.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- devices ------------------------------------------------------------ */

typedef struct {
    int platform_index, device_index;
    char platform_name[128];
    char platform_vendor[128];
    char device_name[128];
    char device_version[64];  /* CL_DEVICE_VERSION */
    char driver_version[64];
    char opencl_c_version[64];
    char type[16];            /* "GPU", "CPU", "ACCELERATOR", "OTHER" */
    unsigned compute_units;
    uint64_t global_mem;      /* bytes */
    uint64_t max_alloc;       /* bytes */
    size_t max_work_group;
    int fp16, fp64;
} fmcl_device_info;

/* All devices of all platforms, in platform then device order. *out is
 * malloc'ed; free() it. Returns FMCL_ERR_NO_PLATFORM with a message in err
 * when the machine has no OpenCL implementation. */
FMCL_API fmcl_status fmcl_devices(fmcl_device_info **out, int *count, char *err, size_t errlen);

/* Index of the device that spec selects: "P:D", or a case-insensitive
 * substring of platform name, platform vendor or device name. NULL or "" means
 * $FMCL_DEVICE if set, else the first GPU, else the first device. */
FMCL_API fmcl_status fmcl_device_select(const fmcl_device_info *devs, int count, const char *spec,
                               int *index, char *err, size_t errlen);

/* ---- context: one device, one in-order queue, our compiled kernels ------ */

typedef struct fmcl_ctx fmcl_ctx;
typedef void (*fmcl_log_fn)(void *user, const char *msg);

/* Creates a context on the device spec selects (see fmcl_device_select). On
 * failure *ctx is NULL and err holds the reason. */
FMCL_API fmcl_status fmcl_ctx_create(fmcl_ctx **ctx, const char *spec, char *err, size_t errlen);
FMCL_API void fmcl_ctx_destroy(fmcl_ctx *ctx);
FMCL_API const char *fmcl_ctx_error(const fmcl_ctx *ctx);
FMCL_API const fmcl_device_info *fmcl_ctx_device(const fmcl_ctx *ctx);
/* What setup chose for this device, one line each (e.g. tuned CLBlast
 * parameters applied, or rejected with a warning); "" when nothing. */
FMCL_API const char *fmcl_ctx_notes(const fmcl_ctx *ctx);
FMCL_API void fmcl_ctx_set_log(fmcl_ctx *ctx, fmcl_log_fn fn, void *user);

/* ---- model: MLP v(x, t) ------------------------------------------------- */

typedef struct {
    int dim;        /* data dimension D (2 for the toy sets) */
    int width;      /* hidden units per layer */
    int depth;      /* hidden layers; depth + 1 Linear layers in all */
    int time_freqs; /* 0: input is [x, t]; F > 0: [x, sin(2^k pi t), cos(2^k pi t)], k < F */
    int classes;    /* 0: v(x, t); K in [1, 256]: v(x, t, y), the input row followed by the
                       one-hot of class y (K inputs; the null class is all zeros) */
} fmcl_mlp_config;

typedef struct fmcl_mlp fmcl_mlp;

/* Parameters initialised as PyTorch's nn.Linear default: W, b ~ U(-1/sqrt(in), 1/sqrt(in)),
 * drawn from Philox with the given seed. */
FMCL_API fmcl_status fmcl_mlp_create(fmcl_ctx *ctx, const fmcl_mlp_config *cfg, uint64_t seed,
                            fmcl_mlp **out);
FMCL_API void fmcl_mlp_free(fmcl_mlp *m);
FMCL_API const fmcl_mlp_config *fmcl_mlp_get_config(const fmcl_mlp *m);
FMCL_API size_t fmcl_mlp_param_count(const fmcl_mlp *m);

/* Checkpoints in safetensors; tensor names are those of the equivalent
 * nn.Sequential's state_dict ("0.weight", "0.bias", "2.weight", ...). meta is
 * a list of extra key/value string pairs for __metadata__ (may be NULL). */
FMCL_API fmcl_status fmcl_mlp_save(fmcl_mlp *m, const char *path, const char *const *meta_kv,
                          int meta_count);
FMCL_API fmcl_status fmcl_mlp_load(fmcl_ctx *ctx, const char *path, fmcl_mlp **out);
/* Which weights fmcl_mlp_load_weights takes from a training checkpoint. */
typedef enum {
    FMCL_WEIGHTS_DEFAULT = 0, /* the EMA ("ema." names) when the file has one, else the model's */
    FMCL_WEIGHTS_RAW,         /* the trained weights themselves (what fmcl_mlp_load takes) */
    FMCL_WEIGHTS_EMA          /* the EMA; FMCL_ERR_FORMAT when the file has none */
} fmcl_weights;
FMCL_API fmcl_status fmcl_mlp_load_weights(fmcl_ctx *ctx, const char *path, int which, fmcl_mlp **out);
/* Whether the last loaded checkpoint's weights are its EMA. */
FMCL_API int fmcl_mlp_is_ema(const fmcl_mlp *m);
/* Looks up one __metadata__ value of the last loaded checkpoint; NULL if absent. */
FMCL_API const char *fmcl_mlp_meta(const fmcl_mlp *m, const char *key);

/* ---- data --------------------------------------------------------------- */

typedef enum {
    FMCL_DATA_CHECKERBOARD = 0,
    FMCL_DATA_8GAUSSIANS,
    FMCL_DATA_MOONS,
    FMCL_DATA_RINGS,
    FMCL_DATA_SPIRALS,
    FMCL_DATA_ARRAY, /* the user's own N x D points */
    FMCL_DATA_IMAGES /* 8-bit images, dequantised per batch (fmcl_train_config's pixels) */
} fmcl_data_kind;

/* Draws n points of a built-in 2D set on the host (the same Philox stream the
 * device draws from: identical integers, floats to rounding). out is n x 2. */
FMCL_API fmcl_status fmcl_toy_sample_host(int kind, uint64_t seed, uint64_t step, int n, float *out);

/* ---- probability paths ---------------------------------------------------- */

/* Every path is affine: x_t = alpha_t x1 + sigma_t x0 (x0 ~ N(0, I), x1 data)
 * with target velocity u_t = alpha'_t x1 + sigma'_t x0; t = 0 is noise. */
typedef enum {
    FMCL_PATH_OT = 0,   /* alpha = t, sigma = 1 - (1 - sigma_min) t */
    FMCL_PATH_VP,       /* alpha = exp(-T(1 - t) / 2), sigma = sqrt(1 - alpha^2),
                           T(s) = beta_min s + (beta_max - beta_min) s^2 / 2 */
    FMCL_PATH_VE,       /* alpha = 1, sigma = sigma_lo (sigma_hi / sigma_lo)^(1 - t) */
    FMCL_PATH_COSINE,   /* alpha = sin(pi t / 2), sigma = cos(pi t / 2) */
    FMCL_PATH_POLY,     /* alpha = t^n, sigma = 1 - t^n */
    FMCL_PATH_LINEAR_VP /* alpha = t, sigma = sqrt(1 - t^2) */
} fmcl_path_kind;

/* How a batch's noise points are paired with its data points. */
typedef enum {
    FMCL_COUPLING_INDEPENDENT = 0, /* row i's noise with row i's data (the paper) */
    FMCL_COUPLING_OT               /* exact minibatch OT assignment (OT-CFM): host work and a
                                      host synchronisation every step; batch at most
                                      FMCL_COUPLING_MAX_BATCH */
} fmcl_coupling;
#define FMCL_COUPLING_MAX_BATCH 2048

/* ---- training ------------------------------------------------------------ */

typedef struct {
    int batch;
    int steps;
    float lr;
    float beta1, beta2, eps;
    float weight_decay;  /* 0: Adam; > 0: AdamW (decoupled) */
    float clip;          /* gradient-norm clip; 0 disables */
    float sigma_min;     /* OT path's sigma_min */
    int path;            /* fmcl_path_kind */
    float poly_n;        /* FMCL_PATH_POLY's exponent n >= 1 */
    float beta_min, beta_max; /* FMCL_PATH_VP's noise rates, 0 <= beta_min <= beta_max */
    float sigma_lo, sigma_hi; /* FMCL_PATH_VE's noise scales at t = 1 and t = 0 */
    int coupling;        /* fmcl_coupling */
    uint64_t seed;
    int kind;            /* fmcl_data_kind */
    const float *points; /* kind == FMCL_DATA_ARRAY: n_points x dim, row-major */
    int n_points;
    /* kind == FMCL_DATA_IMAGES: n_points images of img_c x img_h x img_w bytes
     * (channel-major, top row first; img_c img_h img_w = the model's dim).
     * Each batch draws images uniformly with replacement, mirrors each
     * left-right with probability 1/2 when hflip, and dequantises pixel k to
     * x = 2 (k + u) / 256 - 1, u ~ U[0, 1) from Philox, on the device. */
    const uint8_t *pixels;
    int img_c, img_h, img_w;
    int hflip;
    /* Class-conditional training (images only): classes = K > 0 (the model's
     * classes) trains v(x, t, y) on labels (n_points bytes below K), each
     * batch row's label drawn with its image and replaced by the null class
     * with probability label_drop (Philox, on the device), as classifier-free
     * guidance needs. 0: unconditional, labels unused. */
    const uint8_t *labels;
    int classes;
    float label_drop;
    /* EMA of the weights, updated on the device after every step: update s
     * (from 1) uses decay min(ema, (1 + s) / (10 + s)), so early averages
     * forget the initialisation. 0 disables; otherwise in (0, 1). */
    float ema;
    /* Learning rate of step s (from 1): lr s / warmup during the first
     * warmup steps, then lr (FMCL_LR_CONSTANT) or a cosine from lr down to 0
     * at step `steps` (FMCL_LR_COSINE); see fmcl_train_lr. */
    int warmup;
    int lr_schedule;
} fmcl_train_config;

typedef enum { FMCL_LR_CONSTANT = 0, FMCL_LR_COSINE } fmcl_lr_schedule;
/* The learning rate cfg gives step s (1 <= s <= steps), in double: the
 * trainer computes it on the host as it enqueues the step. */
FMCL_API double fmcl_train_lr(const fmcl_train_config *cfg, int step);

/* Fills cfg with the defaults: batch 4096, Adam lr 1e-3, betas (0.9, 0.999),
 * eps 1e-8, no decay, no clipping, no EMA, no warm-up, a constant learning
 * rate, seed 0, checkerboard, label_drop 0.1 (used with classes); the OT path with
 * sigma_min 0, independent coupling; the other paths' parameters poly_n 2,
 * beta_min 0.1, beta_max 20, sigma_lo 0.01, sigma_hi 50. */
FMCL_API void fmcl_train_config_default(fmcl_train_config *cfg);
/* Standard deviation of the noise a model trained with cfg starts sampling
 * from: sigma_hi for FMCL_PATH_VE, 1 for every other path. */
FMCL_API float fmcl_train_x0_std(const fmcl_train_config *cfg);

typedef struct fmcl_trainer fmcl_trainer;

/* Plans every buffer of a training step (no allocation afterwards) and warms
 * the GEMM routines so the first step is not charged with compilation. */
FMCL_API fmcl_status fmcl_trainer_create(fmcl_mlp *m, const fmcl_train_config *cfg, fmcl_trainer **out);
FMCL_API void fmcl_trainer_free(fmcl_trainer *t);
/* Enqueues n training steps; no host synchronisation. */
FMCL_API fmcl_status fmcl_trainer_run(fmcl_trainer *t, int n);
/* Waits for the queue and copies the per-step losses of steps [first, first+n)
 * (0-based) to out; fails with FMCL_ERR_NUMERIC if one is not finite. */
FMCL_API fmcl_status fmcl_trainer_losses(fmcl_trainer *t, int first, int n, float *out);
FMCL_API int fmcl_trainer_step(const fmcl_trainer *t);

/* Checkpoints that resume exactly. fmcl_trainer_save waits for the queue and
 * writes atomically (temporary file, fsync, rename) one safetensors file:
 * the model under its own names ("0.weight", ...), the EMA under "ema."
 * + name (when cfg.ema > 0), Adam's moments under "optim.exp_avg." + name
 * and "optim.exp_avg_sq." + name, the losses so far as "train.loss", and in
 * __metadata__ the model config, "step" and every setting of the training
 * config that decides the numbers (keys as the field names, "path" and
 * "lr_schedule" by name), plus meta_kv's extra pairs (may be NULL). The
 * data of a step is drawn from Philox counters (seed, step): no other random
 * state exists. Such a file also loads with fmcl_mlp_load. */
FMCL_API fmcl_status fmcl_trainer_save(fmcl_trainer *t, const char *path, const char *const *meta_kv,
                              int meta_count);
/* Reads the training config a checkpoint recorded into cfg (over
 * fmcl_train_config_default; the data pointers stay NULL: the caller supplies
 * the same data) and its step into *step (may be NULL). FMCL_ERR_FORMAT
 * with a message in err when a value is missing or out of range. */
FMCL_API fmcl_status fmcl_train_config_from_checkpoint(const char *path, fmcl_train_config *cfg, int *step,
                                              char *err, size_t errlen);
/* Continues a saved run: t must be fresh (no steps run), created with the
 * model loaded from path (fmcl_mlp_load) and a config equal to the saved one
 * (steps may differ with a constant learning rate, as long as it is at least
 * the saved step). Restores the EMA, the moments, the losses and the step, so
 * that running on gives the same bits as the uninterrupted run on the same
 * device. FMCL_ERR_ARG when the configs differ (the message names the
 * setting), FMCL_ERR_FORMAT when the file lacks a tensor or a shape differs. */
FMCL_API fmcl_status fmcl_trainer_restore(fmcl_trainer *t, const char *path);

/* ---- sampling ------------------------------------------------------------ */

typedef enum {
    FMCL_SOLVER_EULER = 0, /* fixed steps, 1 NFE each */
    FMCL_SOLVER_MIDPOINT,  /* fixed steps, 2 NFE */
    FMCL_SOLVER_HEUN,      /* fixed steps, 2 NFE (explicit trapezoid) */
    FMCL_SOLVER_RK4,       /* fixed steps, 4 NFE */
    FMCL_SOLVER_DOPRI5     /* adaptive Dormand-Prince 5(4), 6 NFE per attempted step */
} fmcl_solver;

FMCL_API int fmcl_solver_nfe_per_step(int solver);

/* What fmcl_sample's solves took, summed over them: the rows are integrated
 * in chunks of up to 4096, each one solve (so with dopri5 the steps adapt to
 * each chunk). */
typedef struct {
    int solves;
    int nfe;      /* model evaluations */
    int accepted; /* steps: fixed-step solvers accept every step */
    int rejected; /* dopri5's rejected attempts */
} fmcl_sample_stats;

typedef struct {
    int solver;
    int steps;     /* uniform steps from t = 0 to 1 */
    int n;         /* number of points */
    uint64_t seed; /* draws x0 ~ N(0, x0_std^2 I) when x0 is NULL */
    const float *x0; /* optional n x dim starting points */
    float x0_std;  /* 0: the model's own (fmcl_mlp_x0_std); > 0: this one */
    /* Fixed-step solvers: grid_points times increasing strictly from 0 to 1
     * replace the steps uniform ones when grid is non-NULL. */
    const double *grid;
    int grid_points;
    /* dopri5 (0 means the default): error tolerance atol + rtol |x| per
     * element (1e-5 each, as in the paper) and the attempted steps allowed
     * before it gives up (1000). steps is not used. */
    double atol, rtol;
    int max_steps;
    /* Optional times 0 <= t_1 < ... <= 1 at which traj records the states:
     * fixed-step solvers need grid points (within 1e-6), dopri5 shortens
     * its steps to land on them. */
    const double *times;
    int n_times;
    fmcl_sample_stats *stats; /* optional: receives what the solves took */
    /* Conditional models (fmcl_mlp_config.classes = K > 0): n labels in
     * [-1, K) (-1 the null class), or NULL for the null class everywhere.
     * guidance w != 0 integrates classifier-free guidance's field
     * v = (1 + w) v(x, t, y) - w v(x, t, null): one forward of 2 rows per
     * point, counted as one NFE. Unconditional models need NULL and 0. */
    const int *classes;
    float guidance;
} fmcl_sample_config;

/* Standard deviation of the noise the model's path starts from, read from
 * the checkpoint's metadata: "sigma_hi" when "path" is "ve", else 1 (also
 * for a model not loaded from a checkpoint or one without "path").
 * FMCL_ERR_FORMAT when "path" names no known path or "sigma_hi" is not a
 * positive number. */
FMCL_API fmcl_status fmcl_mlp_x0_std(const fmcl_mlp *m, float *std);

/* Integrates dx/dt = v(x, t) from t = 0 to 1. out is n x dim. When traj is
 * non-NULL it receives the states at cfg->times (n_times x n x dim) or,
 * without times, at every point of a fixed-step solver's grid ((steps + 1)
 * or grid_points states, the first being x0). *nfe (may be NULL) receives the
 * model evaluations of one solve (dopri5: the most any solve took). */
FMCL_API fmcl_status fmcl_sample(fmcl_mlp *m, const fmcl_sample_config *cfg, float *out, float *traj,
                        int *nfe);

/* ---- likelihood ------------------------------------------------------------ */

typedef struct {
    int solver;     /* fmcl_solver */
    int steps;      /* fixed-step solvers: uniform steps from t = 1 back to t = 0 */
    double atol, rtol; /* dopri5 (0: 1e-5 each, as in the paper), on [x, delta] */
    int max_steps;  /* dopri5's attempted steps per solve (0: 1000) */
    int hutchinson; /* 0: exact divergence (dim vector-Jacobian products per evaluation);
                       K > 0: Hutchinson's estimate with one Rademacher probe per solve,
                       K solves averaged */
    uint64_t seed;  /* of the probes */
    fmcl_sample_stats *stats; /* optional: what the solves took, summed (chunks x K) */
} fmcl_nll_config;

/* Fills cfg with the defaults: dopri5 at atol = rtol = 1e-5, exact
 * divergence, seed 0 (steps 32 for a fixed-step solver). */
FMCL_API void fmcl_nll_config_default(fmcl_nll_config *cfg);

/* log p1(x) in nats of the model's density at t = 1 for n points x (n x dim):
 * integrates [x, delta] with dx/dt = v(x, t), d delta/dt = div v(x, t) from
 * t = 1 (delta = 0) back to t = 0, then
 * log p1(x) = log p0(x0) + delta(0) = log p0(x0) - int_0^1 div v dt,
 * p0 = N(0, s^2 I) the path's noise (s = fmcl_mlp_x0_std). Points go 4096 at
 * a time, each chunk one solve (K with Hutchinson). logp gets n values; *nfe
 * (may be NULL) the model evaluations of one solve (the most any took), each
 * with dim backward passes (one with Hutchinson). FMCL_ERR_NUMERIC when a
 * value is not finite. */
FMCL_API fmcl_status fmcl_log_prob(fmcl_mlp *m, const fmcl_nll_config *cfg, const float *x, int n,
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
 * (uniform dequantisation; the scaling of FMCL_DATA_IMAGES): turns st, of
 * the model's density of x, into that of k + u in [0, 2^bits)^D, whose
 * Jacobian adds dim (bits - 1) ln 2 nats and bits - 1 bits per dimension
 * (7 for 8-bit images). */
FMCL_API void fmcl_nll_stats_dequantized(fmcl_nll_stats *st, int bits);

/* ---- self-check: every device op against its CPU reference -------------- */

typedef enum {
    FMCL_CHECK_OK = 0,
    FMCL_CHECK_FAIL,         /* wrong result, a write outside the output, or an error */
    FMCL_CHECK_NOT_SUPPORTED /* the device refused what the op needs (reason says what) */
} fmcl_check_status;

/* "OK", "FAIL", "NOT SUPPORTED". */
FMCL_API const char *fmcl_check_status_name(fmcl_check_status s);

/* One op on one shape. An output element passes when
 * |device - reference| <= tol_scale * max(atol, rtol |reference|); norm_err is
 * the largest ratio of the two sides over every output (<= 1 passes). */
typedef struct {
    const char *op;     /* "bias_silu_forward", "gemm NT", "mlp_backward", "training loss" */
    char shape[64];     /* "B=37 N=129" */
    fmcl_check_status status;
    double norm_err;    /* max |err| / tolerance */
    double max_err;     /* max |err| (relative for the training loss) */
    char reason[512];   /* why it failed or is not supported; "" when OK */
} fmcl_check_result;

typedef void (*fmcl_check_fn)(void *user, const fmcl_check_result *r);

/* For testing the checker itself: sees every device output as read back,
 * guards included (guard floats, n values, guard floats), before comparison. */
typedef void (*fmcl_check_tamper_fn)(void *user, const char *op, float *buf, size_t n,
                                     size_t guard);

typedef struct {
    double tol_scale;            /* multiplies every tolerance; 0 means 1 */
    fmcl_check_tamper_fn tamper; /* NULL normally */
    void *tamper_user;
} fmcl_check_options;

/* Runs every device op fmcl uses (layers, reductions, Adam, random draws,
 * data, paths, solver updates, GEMM, the MLP) on a few odd shapes against
 * its plain-C reference, with guard regions around every output, calling fn
 * once per op and shape. *failures (may be NULL) receives the number of FAIL
 * results. Returns FMCL_OK when the suite ran, whatever its verdicts; an
 * error only when it could not run (host memory). opt may be NULL. */
FMCL_API fmcl_status fmcl_check_ops(fmcl_ctx *ctx, const fmcl_check_options *opt, fmcl_check_fn fn,
                           void *user, int *failures);

/* A short training run (MLP 3-16-16-2, batch 64, 30 Adam steps on the
 * checkerboard) on the device and on the CPU reference path side by side:
 * one result for the per-step loss (max relative difference) and one for the
 * final parameters (max absolute difference). Same conventions as above. */
FMCL_API fmcl_status fmcl_check_training(fmcl_ctx *ctx, const fmcl_check_options *opt, fmcl_check_fn fn,
                                void *user, int *failures);

#ifdef __cplusplus
}
#endif
#endif
