/* Launchers of the vector helpers (vec.h) and axpy_to's double reference. */
#include <stdint.h>

#include "runtime/vec.h"

fmcl_status fmcl_fill(fmcl_ctx *ctx, fmcl_t x, float value, int n)
{
    if (n < 0) return fmcl_fail(ctx, FMCL_ERR_ARG, "fill: negative length %d", n);
    return fmcl_run1(ctx, FMCL_K_fill, (size_t)n, "tfi", x, (double)value, n);
}

/* A kernel, not clEnqueueCopyBuffer: Oclgrind records a buffer copy like a
 * host write (see launch.c's staged_write), and one code path serves every
 * device. */
fmcl_status fmcl_copy(fmcl_ctx *ctx, fmcl_t dst, fmcl_t src, size_t n)
{
    if (n > INT32_MAX)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_copy of %zu floats exceeds 2^31 - 1", n);
    if (dst.mem == src.mem && dst.off < src.off + n && src.off < dst.off + n)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_copy between overlapping ranges");
    return fmcl_run1(ctx, FMCL_K_copy, n, "tti", dst, src, (int)n);
}

void fmcl_axpy_to_ref(float *y, const float *x, float a, const float *k, int n)
{
    for (int i = 0; i < n; i++) y[i] = (float)((double)x[i] + (double)a * k[i]);
}

fmcl_status fmcl_axpy_to(fmcl_ctx *ctx, fmcl_t y, fmcl_t x, float a, fmcl_t k, int n)
{
    if (n < 0) return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_axpy_to: negative length %d", n);
    return fmcl_run1(ctx, FMCL_K_axpy_to, (size_t)n, "ttfti", y, x, (double)a, k, n);
}
