#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* GroupNorm on NCHW (src/nn/norm.c). The Cg = C / G channels of group g of
 * sample b are contiguous: n = Cg * HW values from (b * G + g) * n. Each
 * (b, g) or channel is one FMCL_REDUCE_WG group: item l visits pixels
 * p = l, l + FMCL_REDUCE_WG, ... of each channel (or image) in order, then
 * fmcl_group_sum's fixed tree (reduce.cl) adds the items. */

/* mean = sum(x) / n, var = sum((x - mean)^2) / n (biased, as PyTorch),
 * rstd = 1 / sqrt(var + eps); y = (x - mean) rstd gamma[c] + beta[c]. */
__kernel __attribute__((reqd_work_group_size(FMCL_REDUCE_WG, 1, 1)))
void groupnorm_forward(__global float *y, uint y_off, __global float *mean, uint mean_off,
                       __global float *rstd, uint rstd_off, __global const float *x, uint x_off,
                       __global const float *gamma, uint gamma_off, __global const float *beta,
                       uint beta_off, int C, int HW, int G, float eps)
{
    __local float s[FMCL_REDUCE_WG];
    const uint l = get_local_id(0);
    const int bg = (int)get_group_id(0), n = C / G * HW;
    const size_t base = (size_t)bg * n;
    const int c0 = bg % G * (C / G);
    const int Cg = C / G;
    float acc = 0.0f;
    for (int cc = 0; cc < Cg; cc++)
        for (int p = (int)l; p < HW; p += FMCL_REDUCE_WG) acc += x[x_off + base + cc * HW + p];
    s[l] = acc;
    const float m = fmcl_group_sum(s, l) / (float)n;
    barrier(CLK_LOCAL_MEM_FENCE); /* every item has read s[0] before s is reused */
    acc = 0.0f;
    for (int cc = 0; cc < Cg; cc++)
        for (int p = (int)l; p < HW; p += FMCL_REDUCE_WG) {
            const float d = x[x_off + base + cc * HW + p] - m;
            acc += d * d;
        }
    s[l] = acc;
    const float r = 1.0f / sqrt(fmcl_group_sum(s, l) / (float)n + eps);
    for (int cc = 0; cc < Cg; cc++) {
        const float ga = gamma[gamma_off + c0 + cc], be = beta[beta_off + c0 + cc];
        for (int p = (int)l; p < HW; p += FMCL_REDUCE_WG) {
            const size_t i = base + cc * HW + p;
            y[y_off + i] = (x[x_off + i] - m) * r * ga + be;
        }
    }
    if (l == 0) {
        mean[mean_off + bg] = m;
        rstd[rstd_off + bg] = r;
    }
}

/* Per (b, g), with xhat = (x - mean) rstd and g = gamma[c] dy:
 * dx += rstd (g - sum(g) / n - xhat sum(g xhat) / n). */
__kernel __attribute__((reqd_work_group_size(FMCL_REDUCE_WG, 1, 1)))
void groupnorm_backward_input(__global float *dx, uint dx_off, __global const float *dy,
                              uint dy_off, __global const float *x, uint x_off,
                              __global const float *mean, uint mean_off,
                              __global const float *rstd, uint rstd_off,
                              __global const float *gamma, uint gamma_off, int C, int HW, int G)
{
    __local float s[FMCL_REDUCE_WG], t[FMCL_REDUCE_WG];
    const uint l = get_local_id(0);
    const int bg = (int)get_group_id(0), n = C / G * HW;
    const size_t base = (size_t)bg * n;
    const int c0 = bg % G * (C / G);
    const float m = mean[mean_off + bg], r = rstd[rstd_off + bg];
    const int Cg = C / G;
    float a1 = 0.0f, a2 = 0.0f;
    for (int cc = 0; cc < Cg; cc++) {
        const float ga = gamma[gamma_off + c0 + cc];
        for (int p = (int)l; p < HW; p += FMCL_REDUCE_WG) {
            const size_t i = base + cc * HW + p;
            const float g = ga * dy[dy_off + i];
            a1 += g;
            a2 += g * ((x[x_off + i] - m) * r);
        }
    }
    s[l] = a1;
    t[l] = a2;
    const float mg = fmcl_group_sum(s, l) / (float)n;
    const float mgx = fmcl_group_sum(t, l) / (float)n;
    for (int cc = 0; cc < Cg; cc++) {
        const float ga = gamma[gamma_off + c0 + cc];
        for (int p = (int)l; p < HW; p += FMCL_REDUCE_WG) {
            const size_t i = base + cc * HW + p;
            const float xhat = (x[x_off + i] - m) * r;
            dx[dx_off + i] += r * (ga * dy[dy_off + i] - mg - xhat * mgx);
        }
    }
}

/* One group per channel c, over every image b and pixel p:
 * dgamma[c] += sum dy xhat, dbeta[c] += sum dy. */
__kernel __attribute__((reqd_work_group_size(FMCL_REDUCE_WG, 1, 1)))
void groupnorm_backward_params(__global float *dgamma, uint dgamma_off, __global float *dbeta,
                               uint dbeta_off, __global const float *dy, uint dy_off,
                               __global const float *x, uint x_off, __global const float *mean,
                               uint mean_off, __global const float *rstd, uint rstd_off, int B,
                               int C, int HW, int G)
{
    __local float s[FMCL_REDUCE_WG], t[FMCL_REDUCE_WG];
    const uint l = get_local_id(0);
    const int c = (int)get_group_id(0), g = c / (C / G);
    float a1 = 0.0f, a2 = 0.0f;
    for (int b = 0; b < B; b++) {
        const float m = mean[mean_off + b * G + g], r = rstd[rstd_off + b * G + g];
        for (int p = (int)l; p < HW; p += FMCL_REDUCE_WG) {
            const size_t at = ((size_t)b * C + c) * HW + p;
            const float d = dy[dy_off + at];
            a1 += d * ((x[x_off + at] - m) * r);
            a2 += d;
        }
    }
    s[l] = a1;
    t[l] = a2;
    const float sg = fmcl_group_sum(s, l), sb = fmcl_group_sum(t, l);
    if (l == 0) {
        dgamma[dgamma_off + c] += sg;
        dbeta[dbeta_off + c] += sb;
    }
}
