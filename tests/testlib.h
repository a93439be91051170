/* Small helpers shared by the tests: run a check on every device, compare
 * against a reference with tolerances, guard regions around device outputs. */
#ifndef FMCL_TESTLIB_H
#define FMCL_TESTLIB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime/runtime.h"

/* Exit codes understood by meson test. */
#define TL_SKIP 77

/* Runs fn on a fresh context for every device in $FMCL_TEST_DEVICES
 * (';'-separated specs) or, when unset, every device found. Returns an exit
 * code: 0 all passed, 1 a failure, TL_SKIP when there is no device. */
int tl_for_each_device(int (*fn)(fmcl_ctx *ctx, void *user), void *user);

/* Counts a check; prints "FAIL ..." with the formatted reason when !ok. */
int tl_check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Checks |got - want| <= atol + rtol |want| elementwise; prints the max abs and
 * normalised error either way. Returns 1 when within tolerance. */
int tl_close(const char *what, const float *got, const double *want, size_t n, double atol,
             double rtol);
int tl_close_f(const char *what, const float *got, const float *want, size_t n, double atol,
               double rtol);
/* Prints "N passed, N failed" and returns 0 or 1. */
int tl_summary(void);
int tl_failures(void);

/* Deterministic host test data in [lo, hi). */
void tl_fill(float *x, size_t n, float lo, float hi, uint32_t seed);

/* A device buffer of n floats with TL_GUARD floats of sentinel on each side;
 * .t views the n inner elements. tl_guard_ok checks the sentinels survived. */
#define TL_GUARD 67
typedef struct {
    cl_mem mem;
    size_t n;
    fmcl_t t;
} tl_buf;
int tl_buf_new(fmcl_ctx *ctx, tl_buf *b, size_t n, const float *init); /* init may be NULL: zeros */
int tl_buf_read(fmcl_ctx *ctx, const tl_buf *b, float *out);
int tl_guard_ok(fmcl_ctx *ctx, const tl_buf *b, const char *what);
void tl_buf_free(tl_buf *b);

#endif
