/* fmcl/tune.h: tuning CLBlast's GEMM for one device (`fmcl tune`).
 *
 * CLBlast's built-in parameters are poor on some devices (PoCL on x86: ~7
 * GFLOP/s at the MLPs' shapes where tuned ones give ~40). fmcl_tune_gemm
 * searches curated parameter sets for each kernel of CLBlast's GEMM routine
 * (Xgemm, its Copy, Pad, Transpose and Padtranspose helpers, XgemmDirect) at
 * the GEMM shapes of fmcl's models, checks every candidate's results against
 * CLBlast's defaults, then picks the size at which CLBlast switches from the
 * direct to the indirect kernel, and writes the winners to the device's file
 * in the user's cache folder, which every later context on this device
 * applies while device, driver and CLBlast version match (docs/DESIGN.md,
 * "CLBlast pitfalls"). It takes minutes: every candidate is compiled.
 *
 * CLBlast keeps parameters per device for the whole process and cannot go
 * back to its defaults, so a search must run in a process that applied no
 * tuned parameters to the device (create its context with FMCL_NO_TUNING=1
 * in the environment), and a fair comparison of default and tuned rates
 * times each in a process of its own (fmcl_tune_time).
 */
#ifndef FMCL_TUNE_H
#define FMCL_TUNE_H

#include <stddef.h>

#include "fmcl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FMCL_TUNE_MAX_SHAPES 8
#define FMCL_TUNE_WORKLOADS 4

/* One GEMM as fmcl issues it: row-major, C[M, N] = op(A) op(B) with A and B
 * transposed where ta, tb; the shapes of one workload (a training step) are
 * scored together. */
typedef struct {
    int ta, tb, M, N, K;
    int workload; /* 0 to FMCL_TUNE_WORKLOADS - 1 */
} fmcl_tune_shape;

typedef struct {
    int n_shapes;
    fmcl_tune_shape shapes[FMCL_TUNE_MAX_SHAPES];
    int repeats;        /* timed calls per shape and candidate, best kept; 1 to 100 */
    int max_candidates; /* per kernel, the first so many of the curated list; 0: all */
    const char *path;   /* where the result goes; NULL: the device's file (fmcl_tune_info) */
} fmcl_tune_config;

/* The hidden layers' GEMMs of the reference (workload 0, 4096x512x512) and
 * small (workload 1, 1024x128x128) MLP training steps, forward, weight and
 * input gradient; 2 repeats; every candidate; the device's file. */
FMCL_API void fmcl_tune_config_default(fmcl_tune_config *cfg);

/* What the search reports as it goes, in this order: DEFAULTS; PHASE (every
 * shape indirect), then per kernel KERNEL, CURRENT (or SKIPPED with
 * candidate 0 when the parameters as they stand fail: the kernel is left
 * alone), a CANDIDATE or SKIPPED per candidate, CHOSEN or KEPT; PHASE (every
 * shape direct) and XgemmDirect the same way; SWITCH. */
typedef enum {
    FMCL_TUNE_DEFAULTS = 0, /* seconds, score: CLBlast's defaults, the baseline */
    FMCL_TUNE_PHASE,        /* switch_size: the direct/indirect switch set for what follows */
    FMCL_TUNE_KERNEL,       /* kernel, n_candidates: its search begins */
    FMCL_TUNE_CURRENT,      /* seconds, score: the parameters as they stand */
    FMCL_TUNE_CANDIDATE,    /* candidate, params, seconds, score */
    FMCL_TUNE_SKIPPED,      /* candidate, params, why: invalid, refused, failed or wrong */
    FMCL_TUNE_CHOSEN,       /* candidate, params: it beat the parameters as they stood by 2% */
    FMCL_TUNE_KEPT,         /* no candidate did: those stay */
    FMCL_TUNE_SWITCH        /* switch_size: chosen (direct where M N K < switch_size^3) */
} fmcl_tune_step;

typedef struct {
    fmcl_tune_step step;
    const char *kernel; /* CLBlast's kernel name */
    int candidate;      /* 1-based; 0: the parameters as they stand */
    int n_candidates;
    const char *params; /* "MWG=64 NWG=64 ..." */
    const char *why;
    int n_shapes;
    const double *seconds; /* per shape, best of the repeats */
    double score;          /* each workload's GEMM time over the defaults', summed: lower
                              is better, the number of workloads is the defaults' */
    size_t switch_size;
} fmcl_tune_event;

typedef void (*fmcl_tune_fn)(void *user, const fmcl_tune_event *e);

typedef struct {
    int n_shapes;
    double default_seconds[FMCL_TUNE_MAX_SHAPES]; /* CLBlast's defaults, as the search timed */
    double default_score, score;                  /* the defaults' and the chosen parameters' */
    size_t switch_size;
    int n_kernels;   /* parameter sets written, the switch included */
    char path[1024]; /* the file written */
} fmcl_tune_result;

/* Searches, verifies and saves as described above, reporting through fn
 * (may be NULL). cfg may be NULL: the defaults. FMCL_ERR_ARG when the
 * context runs with tuned parameters already (fmcl_tune_info), or cfg is out
 * of range; FMCL_ERR_GEMM when CLBlast's defaults themselves fail or no
 * parameter set ran. The context uses CLBlast for the search (also where it
 * takes fmcl's packed kernels) and goes back to its choice after. */
FMCL_API fmcl_status fmcl_tune_gemm(fmcl_ctx *ctx, const fmcl_tune_config *cfg, fmcl_tune_fn fn,
                                    void *user, fmcl_tune_result *out);

/* CLBlast's GEMM at cfg's shapes with the parameters that apply now: seconds
 * per shape (n_shapes of them), best of cfg->repeats after a warm-up call. */
FMCL_API fmcl_status fmcl_tune_time(fmcl_ctx *ctx, const fmcl_tune_config *cfg, double *seconds);

/* Which tuned parameters a context applied when it was created. */
typedef enum {
    FMCL_TUNED_NONE = 0, /* none matched the device: CLBlast's defaults */
    FMCL_TUNED_FILE,     /* the device's file in the user's cache folder */
    FMCL_TUNED_SHIPPED,  /* the parameters fmcl ships for this device */
    FMCL_TUNED_OFF       /* none: FMCL_NO_TUNING was set */
} fmcl_tuned_from;

typedef struct {
    fmcl_tuned_from from;
    /* the device's file, where fmcl_tune_gemm writes by default (it need not
     * exist); "" when there is no cache folder ($XDG_CACHE_HOME, $HOME) */
    char path[1024];
    /* of the CLBlast fmcl runs with ("1.5.3"): files are kept per version */
    char clblast_version[32];
} fmcl_tune_info;

FMCL_API void fmcl_tune_info_of(const fmcl_ctx *ctx, fmcl_tune_info *out);

#ifdef __cplusplus
}
#endif
#endif
