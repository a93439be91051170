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

/* Dropout (src/nn/act.c documents it): element i at dropout site `site` and
 * training step `step` is kept when the top 24 bits of
 * philox(seed; first + i, site, DROPOUT, step).x are >= p24 = ceil(P 2^24),
 * i.e. u01 >= P, and then scaled by scale = 1 / (1 - P); dropped elements
 * are 0. first places the tensor in the whole batch's (a rank's share). */
float fmcl_dropout_keep(float v, ulong seed, uint i, uint site, uint step, uint p24, float scale)
{
    const uint r = philox(seed, i, site, FMCL_STREAM_DROPOUT, step).x;
    return (r >> 8) >= p24 ? v * scale : 0.0f;
}

/* y[i] = x[i] keep_i / (1 - P). */
__kernel void dropout_forward(__global float *y, uint y_off, __global const float *x, uint x_off,
                              ulong seed, uint step, uint site, uint first, uint p24,
                              float scale, int n)
{
    const uint i = get_global_id(0);
    if (i >= (uint)n) return;
    y[y_off + i] = fmcl_dropout_keep(x[x_off + i], seed, first + i, site, step, p24, scale);
}

/* dx[i] = dy[i] keep_i / (1 - P): the forward's mask, drawn again. */
__kernel void dropout_backward(__global float *dx, uint dx_off, __global const float *dy,
                               uint dy_off, ulong seed, uint step, uint site, uint first,
                               uint p24, float scale, int n)
{
    const uint i = get_global_id(0);
    if (i >= (uint)n) return;
    dx[dx_off + i] = fmcl_dropout_keep(dy[dy_off + i], seed, first + i, site, step, p24, scale);
}
