#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Time conditioning of the U-Net (src/nn/cond.c): the sinusoidal embedding
 * of t and the per-channel scale and shift of a residual block. */

/* emb[b, j] = sin(a) for j < D/2, cos(a) for j >= D/2, a = t[b] scale f,
 * f = exp(-ln(10000) k / (D/2)), k = j mod D/2; n = B * D items. */
__kernel void time_embedding(__global float *emb, uint emb_off, __global const float *t,
                             uint t_off, int n, int D, float scale)
{
    const int i = (int)get_global_id(0);
    if (i >= n) return;
    const int nf = D / 2; /* "half" is a type name in OpenCL C */
    int j;
    const int b = fmcl_divmod(i, D, &j), k = j < nf ? j : j - nf;
    const float f = exp(-9.21034037f * ((float)k / (float)nf)); /* ln(10000) */
    const float a = (t[t_off + b] * scale) * f;
    emb[emb_off + i] = j < nf ? sin(a) : cos(a);
}

/* y[b, c, p] = h[b, c, p] (1 + ss[b, c]) + ss[b, C + c]; y may alias h.
 * Dimension 0 is p < P, dimension 1 the row R = b * C + c < rows. */
__kernel void scale_shift_forward(__global float *y, uint y_off, __global const float *h,
                                  uint h_off, __global const float *ss, uint ss_off, int rows,
                                  int C, int P)
{
    const int p = (int)get_global_id(0), R = (int)get_global_id(1);
    if (p >= P || R >= rows) return;
    int c;
    const size_t at = ss_off + (size_t)fmcl_divmod(R, C, &c) * 2 * C + c;
    const size_t i = (size_t)R * P + p;
    y[y_off + i] = h[h_off + i] * (1.0f + ss[at]) + ss[at + C];
}

/* One FMCL_REDUCE_WG group per (b, c): dh += dy (1 + scale) elementwise;
 * dss[b, c] += sum over p of dy h, dss[b, C + c] += sum of dy. */
__kernel __attribute__((reqd_work_group_size(FMCL_REDUCE_WG, 1, 1)))
void scale_shift_backward(__global float *dh, uint dh_off, __global float *dss, uint dss_off,
                          __global const float *dy, uint dy_off, __global const float *h,
                          uint h_off, __global const float *ss, uint ss_off, int C, int P)
{
    __local float s[FMCL_REDUCE_WG], u[FMCL_REDUCE_WG];
    const uint l = get_local_id(0);
    const int bc = (int)get_group_id(0);
    int c;
    const size_t at = (size_t)fmcl_divmod(bc, C, &c) * 2 * C + c, base = (size_t)bc * P;
    const float g = 1.0f + ss[ss_off + at];
    float a1 = 0.0f, a2 = 0.0f;
    for (int p = (int)l; p < P; p += FMCL_REDUCE_WG) {
        const float d = dy[dy_off + base + p];
        dh[dh_off + base + p] += d * g;
        a1 += d * h[h_off + base + p];
        a2 += d;
    }
    s[l] = a1;
    u[l] = a2;
    const float ds = fmcl_group_sum(s, l), dt = fmcl_group_sum(u, l);
    if (l == 0) {
        dss[dss_off + at] += ds;
        dss[dss_off + at + C] += dt;
    }
}
