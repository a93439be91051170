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

#ifdef __cplusplus
extern "C" {
#endif

#define FMCL_VERSION "0.1.0"

typedef enum {
    FMCL_OK = 0,
    FMCL_ERR_ARG = 1,         /* a parameter is out of range */
    FMCL_ERR_NO_PLATFORM = 2, /* no OpenCL platform / device at all */
    FMCL_ERR_NO_DEVICE = 3,   /* a device spec matched nothing */
    FMCL_ERR_OPENCL = 4,      /* an OpenCL call failed */
    FMCL_ERR_BUILD = 5,       /* kernel compilation failed (message holds the build log) */
    FMCL_ERR_NOMEM = 6,       /* host or device allocation failed */
    FMCL_ERR_IO = 7,          /* a file could not be read or written */
    FMCL_ERR_FORMAT = 8,      /* a file is malformed */
    FMCL_ERR_NUMERIC = 9,     /* NaN or Inf appeared during training */
    FMCL_ERR_GEMM = 10        /* CLBlast returned an error */
} fmcl_status;

const char *fmcl_status_name(fmcl_status s);

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
fmcl_status fmcl_devices(fmcl_device_info **out, int *count, char *err, size_t errlen);

/* Index of the device that spec selects: "P:D", or a case-insensitive
 * substring of platform name, platform vendor or device name. NULL or "" means
 * $FMCL_DEVICE if set, else the first GPU, else the first device. */
fmcl_status fmcl_device_select(const fmcl_device_info *devs, int count, const char *spec,
                               int *index, char *err, size_t errlen);

/* ---- context: one device, one in-order queue, our compiled kernels ------ */

typedef struct fmcl_ctx fmcl_ctx;
typedef void (*fmcl_log_fn)(void *user, const char *msg);

/* Creates a context on the device spec selects (see fmcl_device_select). On
 * failure *ctx is NULL and err holds the reason. */
fmcl_status fmcl_ctx_create(fmcl_ctx **ctx, const char *spec, char *err, size_t errlen);
void fmcl_ctx_destroy(fmcl_ctx *ctx);
const char *fmcl_ctx_error(const fmcl_ctx *ctx);
const fmcl_device_info *fmcl_ctx_device(const fmcl_ctx *ctx);
/* What setup chose for this device, one line each (e.g. tuned CLBlast
 * parameters applied, or rejected with a warning); "" when nothing. */
const char *fmcl_ctx_notes(const fmcl_ctx *ctx);
void fmcl_ctx_set_log(fmcl_ctx *ctx, fmcl_log_fn fn, void *user);

/* ---- model: MLP v(x, t) ------------------------------------------------- */

typedef struct {
    int dim;        /* data dimension D (2 for the toy sets) */
    int width;      /* hidden units per layer */
    int depth;      /* hidden layers; depth + 1 Linear layers in all */
    int time_freqs; /* 0: input is [x, t]; F > 0: [x, sin(2^k pi t), cos(2^k pi t)], k < F */
} fmcl_mlp_config;

typedef struct fmcl_mlp fmcl_mlp;

/* Parameters initialised as PyTorch's nn.Linear default: W, b ~ U(-1/sqrt(in), 1/sqrt(in)),
 * drawn from Philox with the given seed. */
fmcl_status fmcl_mlp_create(fmcl_ctx *ctx, const fmcl_mlp_config *cfg, uint64_t seed,
                            fmcl_mlp **out);
void fmcl_mlp_free(fmcl_mlp *m);
const fmcl_mlp_config *fmcl_mlp_get_config(const fmcl_mlp *m);
size_t fmcl_mlp_param_count(const fmcl_mlp *m);

/* Checkpoints in safetensors; tensor names are those of the equivalent
 * nn.Sequential's state_dict ("0.weight", "0.bias", "2.weight", ...). meta is
 * a list of extra key/value string pairs for __metadata__ (may be NULL). */
fmcl_status fmcl_mlp_save(fmcl_mlp *m, const char *path, const char *const *meta_kv,
                          int meta_count);
fmcl_status fmcl_mlp_load(fmcl_ctx *ctx, const char *path, fmcl_mlp **out);
/* Looks up one __metadata__ value of the last loaded checkpoint; NULL if absent. */
const char *fmcl_mlp_meta(const fmcl_mlp *m, const char *key);

/* ---- data --------------------------------------------------------------- */

typedef enum {
    FMCL_DATA_CHECKERBOARD = 0,
    FMCL_DATA_8GAUSSIANS,
    FMCL_DATA_MOONS,
    FMCL_DATA_RINGS,
    FMCL_DATA_SPIRALS,
    FMCL_DATA_ARRAY /* the user's own N x D points */
} fmcl_data_kind;

/* Parses a built-in set's name; -1 if unknown. */
int fmcl_data_kind_from_name(const char *name);
const char *fmcl_data_kind_name(int kind);

/* Draws n points of a built-in 2D set on the host (the same Philox stream the
 * device draws from: identical integers, floats to rounding). out is n x 2. */
fmcl_status fmcl_toy_sample_host(int kind, uint64_t seed, uint64_t step, int n, float *out);

/* ---- training ------------------------------------------------------------ */

typedef struct {
    int batch;
    int steps;
    float lr;
    float beta1, beta2, eps;
    float weight_decay;  /* 0: Adam; > 0: AdamW (decoupled) */
    float clip;          /* gradient-norm clip; 0 disables */
    float sigma_min;     /* OT path's sigma_min */
    uint64_t seed;
    int kind;            /* fmcl_data_kind */
    const float *points; /* kind == FMCL_DATA_ARRAY: n_points x dim, row-major */
    int n_points;
} fmcl_train_config;

/* Fills cfg with the defaults: batch 4096, Adam lr 1e-3, betas (0.9, 0.999),
 * eps 1e-8, no decay, no clipping, sigma_min 0, seed 0, checkerboard. */
void fmcl_train_config_default(fmcl_train_config *cfg);

typedef struct fmcl_trainer fmcl_trainer;

/* Plans every buffer of a training step (no allocation afterwards) and warms
 * the GEMM routines so the first step is not charged with compilation. */
fmcl_status fmcl_trainer_create(fmcl_mlp *m, const fmcl_train_config *cfg, fmcl_trainer **out);
void fmcl_trainer_free(fmcl_trainer *t);
/* Enqueues n training steps; no host synchronisation. */
fmcl_status fmcl_trainer_run(fmcl_trainer *t, int n);
/* Waits for the queue and copies the per-step losses of steps [first, first+n)
 * (0-based) to out; fails with FMCL_ERR_NUMERIC if one is not finite. */
fmcl_status fmcl_trainer_losses(fmcl_trainer *t, int first, int n, float *out);
int fmcl_trainer_step(const fmcl_trainer *t);

/* ---- sampling ------------------------------------------------------------ */

typedef enum { FMCL_SOLVER_EULER = 0, FMCL_SOLVER_MIDPOINT, FMCL_SOLVER_RK4 } fmcl_solver;

int fmcl_solver_from_name(const char *name);
const char *fmcl_solver_name(int solver);
int fmcl_solver_nfe_per_step(int solver);

typedef struct {
    int solver;
    int steps;     /* uniform steps from t = 0 to 1 */
    int n;         /* number of points */
    uint64_t seed; /* draws x0 ~ N(0, I) when x0 is NULL */
    const float *x0; /* optional n x dim starting points */
} fmcl_sample_config;

/* Integrates dx/dt = v(x, t) from t = 0 to 1. out is n x dim. When traj is
 * non-NULL it receives (steps + 1) x n x dim states, the first being x0.
 * *nfe receives the number of model evaluations. */
fmcl_status fmcl_sample(fmcl_mlp *m, const fmcl_sample_config *cfg, float *out, float *traj,
                        int *nfe);

#ifdef __cplusplus
}
#endif
#endif
