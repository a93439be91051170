/* Deterministic two-pass reductions (see kernels/reduce.cl). The group count
 * depends only on n: one item per element up to a cap of groups, then
 * grid-stride, so the final pass folds at most FMCL_REDUCE_MAX_GROUPS partials
 * and large inputs still fill a GPU. */
#include "runtime/reduce.h"

#define FMCL_REDUCE_MAX_GROUPS 1024

size_t fmcl_reduce_partials(size_t n)
{
    size_t g = (n + FMCL_REDUCE_WG - 1) / FMCL_REDUCE_WG;
    if (g < 1) g = 1;
    return g < FMCL_REDUCE_MAX_GROUPS ? g : FMCL_REDUCE_MAX_GROUPS;
}

fmcl_status fmcl_reduce_final(fmcl_ctx *ctx, fmcl_t out, fmcl_t partials, int n, double scale)
{
    return fmcl_run1_local(ctx, FMCL_K_reduce_final, FMCL_REDUCE_WG, FMCL_REDUCE_WG, "ttif", out,
                           partials, (int)fmcl_reduce_partials((size_t)n), scale);
}
