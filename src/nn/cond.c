/* Time conditioning (image_ops.h): the launcher for kernels/cond.cl and the
 * double-precision references of the embedding and of scale-and-shift. */
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

/* Scale and shift: the device runs it inside fmcl_groupnorm_forward (norm.c). */
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
