#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Time conditioning of the U-Net (src/nn/cond.c): the sinusoidal embedding
 * of t (the per-channel scale and shift of a residual block runs in
 * norm.cl's GroupNorm). */

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
