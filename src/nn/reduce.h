/* Internal: the shared second pass of the deterministic reductions
 * (kernels/reduce.cl). fmcl_reduce_partials (nn_ops.h) gives the group count
 * of the first pass, which the partial kernels are launched with. */
#ifndef FMCL_NN_REDUCE_H
#define FMCL_NN_REDUCE_H

#include "nn/nn_ops.h"

/* out[0] = sum(partials[0..fmcl_reduce_partials(n))) * scale. */
fmcl_status fmcl_reduce_final(fmcl_ctx *ctx, fmcl_t out, fmcl_t partials, int n,
                              double scale);

#endif
