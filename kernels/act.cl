#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Bias and SiLU layers over row-major [B, N]: those adding the bias with
 * items (j, r), column fastest (2D: a 64-bit i % N per item cost
 * bias_silu_forward 2-3x its time on PoCL), the others elementwise. The bias
 * gradient is linear.cl's column sums. */

/* sigmoid(z) and 1 - sigmoid(z) without overflow or cancellation: both come
 * from e = exp(-|z|) <= 1. */
float fmcl_sigmoid_pair(float z, float *one_minus)
{
    const float e = exp(-fabs(z));
    const float r = 1.0f / (1.0f + e); /* sigmoid(|z|) */
    const float er = e * r;            /* sigmoid(-|z|) */
    *one_minus = z >= 0.0f ? er : r;
    return z >= 0.0f ? r : er;
}

__kernel void bias_silu_forward(__global float *z, uint z_off, __global float *h, uint h_off,
                                __global const float *b, uint b_off, int B, int N)
{
    const size_t j = get_global_id(0), r = get_global_id(1);
    if (j >= (size_t)N || r >= (size_t)B) return;
    const size_t i = r * (size_t)N + j;
    const float v = z[z_off + i] + b[b_off + j];
    float c;
    const float s = fmcl_sigmoid_pair(v, &c);
    z[z_off + i] = v;
    h[h_off + i] = v * s;
}

__kernel void bias_forward(__global float *z, uint z_off, __global const float *b, uint b_off,
                           int B, int N)
{
    const size_t j = get_global_id(0), r = get_global_id(1);
    if (j >= (size_t)N || r >= (size_t)B) return;
    z[z_off + r * (size_t)N + j] += b[b_off + j];
}

/* h = silu(z) = z sigmoid(z), elementwise over n items. */
__kernel void silu_forward(__global float *h, uint h_off, __global const float *z, uint z_off,
                           int n)
{
    const size_t i = get_global_id(0);
    if (i >= (size_t)n) return;
    const float v = z[z_off + i];
    float c;
    h[h_off + i] = v * fmcl_sigmoid_pair(v, &c);
}

/* silu'(z) = s (1 + z (1 - s)); dz may alias dh (each item reads before it writes). */
__kernel void silu_backward(__global float *dz, uint dz_off, __global const float *dh,
                            uint dh_off, __global const float *z, uint z_off, int n)
{
    const size_t i = get_global_id(0);
    if (i >= (size_t)n) return;
    const float v = z[z_off + i];
    float c;
    const float s = fmcl_sigmoid_pair(v, &c);
    dz[dz_off + i] = dh[dh_off + i] * (s * (1.0f + v * c));
}
