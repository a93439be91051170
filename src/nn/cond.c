/* Time conditioning (image_ops.h): launchers for kernels/cond.cl and their
 * double-precision references. */
#include <limits.h>
#include <math.h>

#include "nn/image_ops.h"
#include "nn/kernels.h"

fmcl_status fmcl_time_embedding(fmcl_ctx *ctx, fmcl_t emb, fmcl_t t, float scale, int B, int D)
{
    if (B < 1 || D < 2 || D % 2 || (size_t)B * D > INT_MAX || !isfinite(scale))
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "time_embedding: B=%d D=%d scale %g: need B >= 1, an even D >= 2, "
                         "B * D < 2^31 and a finite scale",
                         B, D, (double)scale);
    return fmcl_run1(ctx, FMCL_K_time_embedding, (size_t)B * D, "ttiif", emb, t, B * D, D,
                     (double)scale);
}

void fmcl_time_embedding_ref(float *emb, const float *t, float scale, int B, int D)
{
    const int half = D / 2;
    for (int b = 0; b < B; b++)
        for (int k = 0; k < half; k++) {
            double a = (double)t[b] * scale * exp(-log(10000.0) * k / half);
            emb[(size_t)b * D + k] = (float)sin(a);
            emb[(size_t)b * D + half + k] = (float)cos(a);
        }
}

static fmcl_status check_shape(fmcl_ctx *ctx, const char *op, int B, int C, int P)
{
    if (B < 1 || C < 1 || P < 1 || (double)B * C * P > INT_MAX || (double)B * 2 * C > INT_MAX)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "%s: B=%d C=%d P=%d: sizes must be >= 1 and the tensor under 2^31 "
                         "floats",
                         op, B, C, P);
    return FMCL_OK;
}

fmcl_status fmcl_scale_shift_forward(fmcl_ctx *ctx, fmcl_t y, fmcl_t h, fmcl_t ss, int B, int C,
                                     int P)
{
    fmcl_status s = check_shape(ctx, "scale_shift_forward", B, C, P);
    if (s != FMCL_OK) return s;
    return fmcl_run2(ctx, FMCL_K_scale_shift_forward, (size_t)P, (size_t)B * C, "tttiii", y, h,
                     ss, B * C, C, P);
}

fmcl_status fmcl_scale_shift_backward(fmcl_ctx *ctx, fmcl_t dh, fmcl_t dss, fmcl_t dy, fmcl_t h,
                                      fmcl_t ss, int B, int C, int P)
{
    fmcl_status s = check_shape(ctx, "scale_shift_backward", B, C, P);
    if (s != FMCL_OK) return s;
    return fmcl_run1_local(ctx, FMCL_K_scale_shift_backward, (size_t)B * C * FMCL_REDUCE_WG,
                           FMCL_REDUCE_WG, "tttttii", dh, dss, dy, h, ss, C, P);
}

void fmcl_scale_shift_forward_ref(float *y, const float *h, const float *ss, int B, int C, int P)
{
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            double sc = ss[(size_t)b * 2 * C + c], sh = ss[(size_t)b * 2 * C + C + c];
            for (int p = 0; p < P; p++) {
                size_t i = ((size_t)b * C + c) * P + p;
                y[i] = (float)(h[i] * (1.0 + sc) + sh);
            }
        }
}

void fmcl_scale_shift_backward_ref(float *dh, float *dss, const float *dy, const float *h,
                                   const float *ss, int B, int C, int P)
{
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            size_t at = (size_t)b * 2 * C + c;
            double ds = 0, dt = 0;
            for (int p = 0; p < P; p++) {
                size_t i = ((size_t)b * C + c) * P + p;
                dh[i] = (float)(dh[i] + dy[i] * (1.0 + ss[at]));
                ds += (double)dy[i] * h[i];
                dt += dy[i];
            }
            dss[at] = (float)(dss[at] + ds);
            dss[at + C] = (float)(dss[at + C] + dt);
        }
}
