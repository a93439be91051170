/* fmcl/check.h: the self-check, every device op against its plain-C
 * reference (`fmcl check`). */
#ifndef FMCL_CHECK_H
#define FMCL_CHECK_H

#include "fmcl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

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
    const char *op; /* "bias_silu_forward", "gemm NT", "mlp_backward", "training loss" */
    char shape[64]; /* "B=37 N=129" */
    fmcl_check_status status;
    double norm_err;  /* max |err| / tolerance */
    double max_err;   /* max |err| (relative for the training loss) */
    char reason[512]; /* why it failed or is not supported; "" when OK */
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
FMCL_API fmcl_status fmcl_check_training(fmcl_ctx *ctx, const fmcl_check_options *opt,
                                         fmcl_check_fn fn, void *user, int *failures);

#ifdef __cplusplus
}
#endif
#endif
