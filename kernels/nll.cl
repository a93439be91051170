#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* The likelihood's divergence helpers (src/flow/nll.c's twins). */

/* z[n] = +-1 (Rademacher): element i is global element e = first + i and
 * takes the sign bit of word e % 4 of philox(seed; e / 4, 0, PROBE, solve),
 * so a probe does not depend on how the points are split into chunks. */
__kernel void rademacher(__global float *z, uint z_off, ulong seed, uint first, uint solve, int n)
{
    const uint i = get_global_id(0);
    if (i >= (uint)n) return;
    const uint e = first + i;
    const uint4 r = philox(seed, e / 4u, 0u, FMCL_STREAM_PROBE, solve);
    const uint w[4] = {r.x, r.y, r.z, r.w};
    z[z_off + i] = (w[e % 4u] >> 31) ? -1.0f : 1.0f;
}

/* u: [n / D, D], every row the unit vector e_col. */
__kernel void onehot_rows(__global float *u, uint u_off, int col, int D, int n)
{
    const uint i = get_global_id(0);
    if (i >= (uint)n) return;
    u[u_off + i] = (int)(i % (uint)D) == col ? 1.0f : 0.0f;
}

/* div[r] = g[r, col] (add == 0) or div[r] += g[r, col]; g has row stride ldg. */
__kernel void div_column(__global float *div, uint div_off, __global const float *g, uint g_off,
                         int ldg, int col, int add, int rows)
{
    const uint r = get_global_id(0);
    if (r >= (uint)rows) return;
    const float v = g[g_off + r * (uint)ldg + (uint)col];
    div[div_off + r] = add ? div[div_off + r] + v : v;
}

/* div[r] = sum_j g[r, j] z[r, j] over j < D in index order; g has row stride
 * ldg, z is [rows, D]. */
__kernel void div_probe(__global float *div, uint div_off, __global const float *g, uint g_off,
                        int ldg, __global const float *z, uint z_off, int D, int rows)
{
    const uint r = get_global_id(0);
    if (r >= (uint)rows) return;
    float acc = 0.0f;
    for (int j = 0; j < D; j++)
        acc += g[g_off + r * (uint)ldg + (uint)j] * z[z_off + r * (uint)D + (uint)j];
    div[div_off + r] = acc;
}
