/* Mean squared error and its gradient in one pass (kernels/loss.cl), reduced
 * deterministically (kernels/reduce.cl). */
#include "nn/kernels.h"
#include "nn/nn_ops.h"

fmcl_status fmcl_mse_forward_backward(fmcl_ctx *ctx, fmcl_t dp, fmcl_t loss, fmcl_t p, fmcl_t u,
                                      fmcl_t partials, int n)
{
    if (n <= 0)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "mse: the mean of %d elements is undefined; pass a "
                         "batch of at least one element", n);
    size_t groups = fmcl_reduce_partials((size_t)n);
    fmcl_status s = fmcl_run1_local(ctx, FMCL_K_mse_partial, groups * FMCL_REDUCE_WG,
                                    FMCL_REDUCE_WG, "tttti", dp, partials, p, u, n);
    if (s != FMCL_OK) return s;
    return fmcl_reduce_final(ctx, loss, partials, n, 1.0 / n);
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
