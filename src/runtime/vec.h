/* Vector helpers on device tensors that every layer uses (nn's layers and
 * optimiser, flow's solvers and sampling, the runtime's own staged writes):
 * fill, copy and y = x + a k, each a kernel of kernels/vec.cl. */
#ifndef FMCL_RUNTIME_VEC_H
#define FMCL_RUNTIME_VEC_H

#include "runtime/runtime.h"

/* x[n] = value. */
fmcl_status fmcl_fill(fmcl_ctx *ctx, fmcl_t x, float value, int n);

/* Device-side copy of n floats (enqueued, no host synchronisation); the
 * ranges must not overlap. */
fmcl_status fmcl_copy(fmcl_ctx *ctx, fmcl_t dst, fmcl_t src, size_t n);

/* y[n] = x + a k (y may alias x): Euler's update and the stages of midpoint
 * and RK4, and the sum of two activations. */
fmcl_status fmcl_axpy_to(fmcl_ctx *ctx, fmcl_t y, fmcl_t x, float a, fmcl_t k, int n);
void fmcl_axpy_to_ref(float *y, const float *x, float a, const float *k, int n);

#endif
