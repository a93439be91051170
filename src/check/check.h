/* Internal: the harness shared by the self-check (fmcl_check_ops). A case is
 * one op on one shape: it makes guarded device buffers, runs the op, compares
 * every output with the plain-C reference and reports one fmcl_check_result.
 * Once an error has stopped a case (an allocation, a launch) the helpers do
 * nothing, so each check reads as a straight line. */
#ifndef FMCL_CHECK_CHECK_H
#define FMCL_CHECK_CHECK_H

#include <stdint.h>

#include "runtime/runtime.h"

/* Floats of sentinel on each side of every device buffer of a case. */
#define CHK_GUARD 67
#define CHK_MAX_BUFS 16
#define CHK_MAX_HOST 32

typedef struct {
    fmcl_ctx *ctx;
    fmcl_check_options opt; /* tol_scale already defaulted to 1 */
    fmcl_check_fn fn;
    void *user;
    int failures;
    int host_oom; /* a host allocation failed somewhere: the suite reports it */
} chk_suite;

/* An output element passes when |got - want| <= scale * max(atol, rtol |want|). */
typedef struct {
    double atol, rtol;
} chk_tol;

/* Elementwise ops against a double reference (docs/DESIGN.md, "Tolerances"): rtol 1e-5,
 * with an absolute floor for values near zero chosen per op. */
static inline chk_tol chk_elem(double atol) { return (chk_tol){atol, 1e-5}; }
/* GEMM-based ops and sums whose terms may cancel, K terms per output:
 * |d| <= 1e-3 or rel <= 5e-3 up to K = 256, growing as sqrt(K) beyond (the
 * random-walk growth of float32 rounding with the number of terms). */
chk_tol chk_gemm_tol(int K);

typedef struct {
    chk_suite *s;
    fmcl_check_result r;
    int broken; /* an error stopped the case: nothing more runs */
    fmcl_t bufs[CHK_MAX_BUFS];
    int n_bufs;
    void *host[CHK_MAX_HOST];
    int n_host;
} chk_case;

void chk_suite_init(chk_suite *s, fmcl_ctx *ctx, const fmcl_check_options *opt, fmcl_check_fn fn,
                    void *user);
/* FMCL_OK, or FMCL_ERR_NOMEM with a message when host memory ran out. */
fmcl_status chk_suite_end(chk_suite *s, int *failures);

void chk_begin(chk_case *c, chk_suite *s, const char *op, const char *shape_fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 1 while no error has stopped the case. */
static inline int chk_ok(const chk_case *c) { return !c->broken; }
/* Host scratch owned by the case (freed by chk_end); NULL stops the case. */
float *chk_host(chk_case *c, size_t n);
double *chk_host_d(chk_case *c, size_t n);
/* A host copy of n floats (or n floats widened to double). */
float *chk_dup(chk_case *c, const float *x, size_t n);
double *chk_widen(chk_case *c, const float *x, size_t n);
/* A device buffer of n floats holding init (zeros when NULL) between guards;
 * the view starts at its first inner element. */
fmcl_t chk_buf(chk_case *c, const float *init, size_t n);
/* Records a launcher's status: an error makes the case NOT SUPPORTED (the
 * device refused a work-group size or an allocation) or FAIL (anything else). */
int chk_status(chk_case *c, fmcl_status st);
/* Marks the case FAIL with a reason (first reason wins). */
void chk_fail(chk_case *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads the chk_buf view out (n floats) with its guards; checks the guards
 * and compares the values with want under tol. */
void chk_expect(chk_case *c, const char *name, fmcl_t out, size_t n, const double *want,
                chk_tol tol);
void chk_expect_f(chk_case *c, const char *name, fmcl_t out, size_t n, const float *want,
                  chk_tol tol);
/* Only the guards of a scratch output (e.g. reduction partials). */
void chk_guards(chk_case *c, const char *name, fmcl_t out, size_t n);
/* Reports the case to the suite's callback and frees what it owns. */
void chk_end(chk_case *c);

/* Compares n values outside any case's buffers (the training check). */
void chk_compare(chk_case *c, const char *name, const float *got, const double *want, size_t n,
                 chk_tol tol);

/* Deterministic test data in [lo, hi). */
void chk_fill(float *x, size_t n, float lo, float hi, uint32_t seed);

/* The op families (check_nn.c, check_flow.c, check_solve.c, check_nll.c,
 * check_gemm.c). */
void chk_nn_ops(chk_suite *s);
void chk_flow_ops(chk_suite *s);
void chk_solver_ops(chk_suite *s);
void chk_nll_ops(chk_suite *s);
void chk_gemm_ops(chk_suite *s);
void chk_image_ops(chk_suite *s); /* check_images.c */
void chk_class_ops(chk_suite *s); /* check_classes.c */
void chk_peak_ops(chk_suite *s);  /* check_peak.c */
void chk_layer_ops(chk_suite *s); /* check_layers.c: the U-Net's image layers */
void chk_unet_ops(chk_suite *s);  /* check_unet.c: the whole U-Net */

#endif
