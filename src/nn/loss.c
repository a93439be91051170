/* Mean squared error and its gradient in one pass (kernels/loss.cl), reduced
 * deterministically (kernels/reduce.cl). */
#include "nn/kernels.h"
#include "nn/nn_ops.h"

fmcl_status fmcl_mse_forward_backward(fmcl_ctx *ctx, fmcl_t dp, fmcl_t loss, fmcl_t p, fmcl_t u,
                                      fmcl_t partials, int n)
{
    return fmcl_mse_share(ctx, dp, loss, p, u, partials, n, n);
}

fmcl_status fmcl_mse_share(fmcl_ctx *ctx, fmcl_t dp, fmcl_t loss, fmcl_t p, fmcl_t u,
                           fmcl_t partials, int n, int total)
{
    if (n <= 0 || total < n)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "mse: a share of %d of %d elements; pass a batch of "
                         "at least one element",
                         n, total);
    size_t groups = fmcl_reduce_partials((size_t)n);
    fmcl_status s = fmcl_run1_local(ctx, FMCL_K_mse_partial, groups * FMCL_REDUCE_WG,
                                    FMCL_REDUCE_WG, "ttttii", dp, partials, p, u, n, total);
    if (s != FMCL_OK) return s;
    return fmcl_reduce_final(ctx, loss, partials, n, 1.0 / total);
}

double fmcl_mse_forward_backward_ref(float *dp, const float *p, const float *u, int n)
{
    double acc = 0;
    for (int i = 0; i < n; i++) {
        double d = (double)p[i] - u[i];
        dp[i] = (float)(2.0 * d / n);
        acc += d * d;
    }
    return acc / n;
}
