/* GroupNorm (image_ops.h): launchers for kernels/norm.cl, one
 * FMCL_REDUCE_WG work-group per (sample, group) or per channel, and the
 * double-precision references. */
#include <limits.h>
#include <math.h>

#include "nn/image_ops.h"
#include "nn/kernels.h"

static fmcl_status check_shape(fmcl_ctx *ctx, const char *op, int B, int C, int HW, int G)
{
    if (B < 1 || C < 1 || HW < 1 || G < 1 || C % G != 0)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "%s: B=%d C=%d HW=%d G=%d: sizes must be >= 1 and the channels a "
                         "multiple of the groups",
                         op, B, C, HW, G);
    if ((size_t)B * C * HW > INT_MAX)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "%s: B=%d C=%d HW=%d has more than 2^31 - 1 elements; use a smaller "
                         "batch",
                         op, B, C, HW);
    return FMCL_OK;
}

fmcl_status fmcl_groupnorm_forward(fmcl_ctx *ctx, fmcl_t y, fmcl_t mean, fmcl_t rstd, fmcl_t x,
                                   fmcl_t gamma, fmcl_t beta, int B, int C, int HW, int G)
{
    fmcl_status s = check_shape(ctx, "groupnorm_forward", B, C, HW, G);
    if (s != FMCL_OK) return s;
    return fmcl_run1_local(ctx, FMCL_K_groupnorm_forward, (size_t)B * G * FMCL_REDUCE_WG,
                           FMCL_REDUCE_WG, "ttttttiiif", y, mean, rstd, x, gamma, beta, C, HW, G,
                           (double)FMCL_GROUPNORM_EPS);
}

fmcl_status fmcl_groupnorm_backward(fmcl_ctx *ctx, fmcl_t dx, fmcl_t dgamma, fmcl_t dbeta,
                                    fmcl_t dy, fmcl_t x, fmcl_t mean, fmcl_t rstd, fmcl_t gamma,
                                    int B, int C, int HW, int G)
{
    fmcl_status s = check_shape(ctx, "groupnorm_backward", B, C, HW, G);
    if (s == FMCL_OK)
        s = fmcl_run1_local(ctx, FMCL_K_groupnorm_backward_params, (size_t)C * FMCL_REDUCE_WG,
                            FMCL_REDUCE_WG, "ttttttiiii", dgamma, dbeta, dy, x, mean, rstd, B, C,
                            HW, G);
    if (s == FMCL_OK)
        s = fmcl_run1_local(ctx, FMCL_K_groupnorm_backward_input, (size_t)B * G * FMCL_REDUCE_WG,
                            FMCL_REDUCE_WG, "ttttttiii", dx, dy, x, mean, rstd, gamma, C, HW, G);
    return s;
}

void fmcl_groupnorm_forward_ref(float *y, float *mean, float *rstd, const float *x,
                                const float *gamma, const float *beta, int B, int C, int HW,
                                int G)
{
    const size_t n = (size_t)C / G * HW;
    for (size_t bg = 0; bg < (size_t)B * G; bg++) {
        const float *xg = x + bg * n;
        double m = 0, v = 0;
        for (size_t i = 0; i < n; i++) m += xg[i];
        m /= (double)n;
        for (size_t i = 0; i < n; i++) v += (xg[i] - m) * (xg[i] - m);
        double r = 1.0 / sqrt(v / (double)n + FMCL_GROUPNORM_EPS);
        for (size_t i = 0; i < n; i++) {
            size_t c = bg % G * (C / G) + i / HW;
            y[bg * n + i] = (float)((xg[i] - m) * r * gamma[c] + beta[c]);
        }
        mean[bg] = (float)m;
        rstd[bg] = (float)r;
    }
}

void fmcl_groupnorm_backward_ref(float *dx, float *dgamma, float *dbeta, const float *dy,
                                 const float *x, const float *mean, const float *rstd,
                                 const float *gamma, int B, int C, int HW, int G)
{
    const size_t n = (size_t)C / G * HW;
    for (int c = 0; c < C; c++) {
        double sg = 0, sb = 0;
        for (int b = 0; b < B; b++) {
            size_t bg = (size_t)b * G + c / (C / G);
            for (int p = 0; p < HW; p++) {
                size_t at = ((size_t)b * C + c) * HW + p;
                sg += dy[at] * ((x[at] - (double)mean[bg]) * rstd[bg]);
                sb += dy[at];
            }
        }
        dgamma[c] = (float)(dgamma[c] + sg);
        dbeta[c] = (float)(dbeta[c] + sb);
    }
    for (size_t bg = 0; bg < (size_t)B * G; bg++) {
        const size_t c0 = bg % G * (C / G);
        double m = mean[bg], r = rstd[bg], s1 = 0, s2 = 0;
        for (size_t i = 0; i < n; i++) {
            double g = (double)gamma[c0 + i / HW] * dy[bg * n + i];
            s1 += g;
            s2 += g * (x[bg * n + i] - m) * r;
        }
        for (size_t i = 0; i < n; i++) {
            double g = (double)gamma[c0 + i / HW] * dy[bg * n + i];
            double xhat = (x[bg * n + i] - m) * r;
            dx[bg * n + i] = (float)(dx[bg * n + i] + r * (g - s1 / n - xhat * s2 / n));
        }
    }
}
