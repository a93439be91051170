/* Deterministic reductions: n values -> partials (a fixed FMCL_REDUCE_WG tree
 * per group, by the caller's own pass-1 kernel) -> one value (the shared
 * second pass, kernels/reduce.cl). In the runtime because nn (the loss, the
 * gradient norm) and flow (the solvers' error norms) both reduce this way. */
#ifndef FMCL_RUNTIME_REDUCE_H
#define FMCL_RUNTIME_REDUCE_H

#include "runtime/runtime.h"

/* The group count of pass 1 for n values, which the partial kernels are
 * launched with; scratch for partials: fmcl_reduce_partials(n) floats. */
size_t fmcl_reduce_partials(size_t n);

/* out[0] = sum(partials[0..fmcl_reduce_partials(n))) * scale. */
fmcl_status fmcl_reduce_final(fmcl_ctx *ctx, fmcl_t out, fmcl_t partials, int n, double scale);

#endif
