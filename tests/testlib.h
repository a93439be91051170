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
 * (';'-separated specs) or, when unset, every device found. fn's return
 * value counts: non-zero is a failure, named with the device, and so is a
 * device on which fn ran no check. A device whose context is refused as not
 * supported, or a spec that matches no device, is skipped and named; any
 * other failure to create a context is a failure. Returns how many devices
 * fn ran on. */
int tl_run_devices(int (*fn)(fmcl_ctx *ctx, void *user), void *user);
/* tl_run_devices, then tl_summary's exit code. */
int tl_for_each_device(int (*fn)(fmcl_ctx *ctx, void *user), void *user);

/* Counts a check (on the device fn runs on, else on the host); prints "FAIL
 * ..." with the formatted reason when !ok. Returns ok != 0. */
int tl_check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Names a case that did not run (printed now and in the summary); not a
 * failure. */
void tl_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Checks |got - want| <= atol + rtol |want| elementwise (n > 0); prints the
 * max abs and normalised error either way. Returns 1 when within tolerance. */
int tl_close(const char *what, const float *got, const double *want, size_t n, double atol,
             double rtol);
int tl_close_f(const char *what, const float *got, const float *want, size_t n, double atol,
               double rtol);
/* Prints the checks and failures per device and in all, and the skips.
 * Returns the exit code: 1 after any failure or when no check ran, TL_SKIP
 * when devices were asked for (tl_run_devices) and none ran, else 0. */
int tl_summary(void);
/* Failures so far: failed checks and failures the harness found itself. */
int tl_failures(void);

/* An MLP model (fmcl_model_create): dim -> width x depth, time_freqs F,
 * K classes, parameters from seed. A failure is a counted one (NULL). */
fmcl_model *tl_mlp(fmcl_ctx *ctx, int dim, int width, int depth, int F, int K, uint64_t seed);
/* A data source of a built-in set, or of n x dim points (copied); NULL and a
 * counted failure when it cannot be made. */
fmcl_data *tl_toy(fmcl_toy which);
fmcl_data *tl_points(const float *x, int n, int dim);
/* n images of c x h x w pixels and their labels (may be NULL), copied. */
fmcl_data *tl_pixels(const uint8_t *pixels, const uint8_t *labels, int n, int c, int h, int w);

/* Deterministic host test data in [lo, hi). */
void tl_fill(float *x, size_t n, float lo, float hi, uint32_t seed);

/* A device buffer of n floats with TL_GUARD floats of sentinel on each side;
 * .t views the n inner elements. tl_guard_ok checks the sentinels survived.
 * A buffer that cannot be made (device or host memory) is a counted failure;
 * tl_buf_new sets *b up either way, so tl_buf_free may follow. */
#define TL_GUARD 67
typedef struct {
    fmcl_t mem;
    size_t n;
    fmcl_t t;
} tl_buf;
int tl_buf_new(fmcl_ctx *ctx, tl_buf *b, size_t n, const float *init); /* init may be NULL: zeros */
int tl_buf_read(fmcl_ctx *ctx, const tl_buf *b, float *out);
int tl_guard_ok(fmcl_ctx *ctx, const tl_buf *b, const char *what);
void tl_buf_free(tl_buf *b);

#endif
