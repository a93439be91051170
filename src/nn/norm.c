/* GroupNorm with its optional scale-shift and SiLU (image_ops.h):
 * launchers for kernels/norm.cl and the references, the layers' own
 * references composed (each checked against finite differences). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/image_ops.h"
#include "nn/kernels.h"
#include "nn/nn_ops.h"

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

/* Work-items of a row of HW values: kernels/norm.cl's GN_W values each. */
static size_t chunks(int HW) { return ((size_t)HW + 15) / 16; }

fmcl_status fmcl_groupnorm_forward(fmcl_ctx *ctx, fmcl_t y, fmcl_t mean, fmcl_t rstd, fmcl_t x,
                                   fmcl_t gamma, fmcl_t beta, fmcl_t ss, int silu, int B, int C,
                                   int HW, int G)
{
    fmcl_status s = check_shape(ctx, "groupnorm_forward", B, C, HW, G);
    if (s == FMCL_OK)
        s = fmcl_run1(ctx, FMCL_K_groupnorm_stats, (size_t)B * G, "tttiif", mean, rstd, x, B * G,
                      C / G * HW, (double)FMCL_GROUPNORM_EPS);
    if (s == FMCL_OK)
        s = fmcl_run2(ctx, FMCL_K_groupnorm_act_forward, chunks(HW), (size_t)B * C, "tttttttiiiiii",
                      y, x, mean, rstd, gamma, beta, ss.mem ? ss : x, B * C, C, HW, G,
                      ss.mem != NULL, silu != 0);
    return s;
}

size_t fmcl_groupnorm_scratch(int B, int C, int HW) { return (size_t)B * C * ((size_t)HW + 4); }

fmcl_status fmcl_groupnorm_backward(fmcl_ctx *ctx, fmcl_t dx, fmcl_t dgamma, fmcl_t dbeta,
                                    fmcl_t dss, fmcl_t dy, fmcl_t x, fmcl_t mean, fmcl_t rstd,
                                    fmcl_t gamma, fmcl_t beta, fmcl_t ss, int silu, fmcl_t scratch,
                                    int B, int C, int HW, int G)
{
    fmcl_status s = check_shape(ctx, "groupnorm_backward", B, C, HW, G);
    if (s == FMCL_OK && ss.mem && !dss.mem)
        s = fmcl_fail(ctx, FMCL_ERR_ARG, "groupnorm_backward: a scale and shift needs dss");
    if (s != FMCL_OK) return s;
    const int rows = B * C, use_ss = ss.mem != NULL;
    fmcl_t dxn = scratch, part = fmcl_at(scratch, (size_t)rows * HW);
    if (!use_ss) ss = dss = x; /* not read */
    s = fmcl_run1(ctx, FMCL_K_groupnorm_act_backward_rows, (size_t)rows, "tttttttttiiiiii", dxn,
                  part, dy, x, mean, rstd, gamma, beta, ss, rows, C, HW, G, use_ss, silu != 0);
    if (s == FMCL_OK)
        s = fmcl_run1(ctx, FMCL_K_groupnorm_act_backward_params, (size_t)C, "ttttiii", dgamma,
                      dbeta, dss, part, B, C, use_ss);
    if (s == FMCL_OK && dx.mem)
        s = fmcl_run2(ctx, FMCL_K_groupnorm_act_backward_input, chunks(HW), (size_t)rows,
                      "tttttttiiii", dx, dxn, part, x, mean, rstd, gamma, rows, C, HW, G);
    return s;
}

/* GroupNorm alone. */
static void gn_forward_ref(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                           const float *beta, int B, int C, int HW, int G)
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

static void gn_backward_ref(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                            const float *mean, const float *rstd, const float *gamma, int B, int C,
                            int HW, int G)
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
    for (size_t bg = 0; dx && bg < (size_t)B * G; bg++) {
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

void fmcl_groupnorm_forward_ref(float *y, float *mean, float *rstd, const float *x,
                                const float *gamma, const float *beta, const float *ss, int silu,
                                int B, int C, int HW, int G)
{
    gn_forward_ref(y, mean, rstd, x, gamma, beta, B, C, HW, G);
    if (ss) fmcl_scale_shift_forward_ref(y, y, ss, B, C, HW);
    if (silu) fmcl_silu_forward_ref(y, y, B, C * HW);
}

void fmcl_groupnorm_backward_ref(float *dx, float *dgamma, float *dbeta, float *dss,
                                 const float *dy, const float *x, const float *mean,
                                 const float *rstd, const float *gamma, const float *beta,
                                 const float *ss, int silu, int B, int C, int HW, int G)
{
    const size_t n = (size_t)B * C * HW;
    /* The forward's intermediates from the given statistics: xn, u. */
    float *xn = malloc(n * sizeof *xn), *u = malloc(n * sizeof *u);
    float *du = malloc(n * sizeof *du), *dxn = calloc(n, sizeof *dxn);
    if (xn && u && du && dxn) {
        for (size_t i = 0; i < n; i++) {
            const size_t c = i / HW % C, bg = i / HW / C * G + c / (C / G);
            xn[i] = (float)((x[i] - (double)mean[bg]) * rstd[bg] * gamma[c] + beta[c]);
        }
        memcpy(u, xn, n * sizeof *u);
        if (ss) fmcl_scale_shift_forward_ref(u, xn, ss, B, C, HW);
        if (silu)
            fmcl_silu_backward_ref(du, dy, u, B, C * HW);
        else
            memcpy(du, dy, n * sizeof *du);
        if (ss)
            fmcl_scale_shift_backward_ref(dxn, dss, du, xn, ss, B, C, HW);
        else
            memcpy(dxn, du, n * sizeof *dxn);
        gn_backward_ref(dx, dgamma, dbeta, dxn, x, mean, rstd, gamma, B, C, HW, G);
    }
    free(xn), free(u), free(du), free(dxn);
}
