#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* x[n] ~ N(0, 1): one work-item per block of four elements, counter
 * (block, 0, stream, step), two Box-Muller pairs (src/runtime/rng.c's twin). */
__kernel void randn(__global float *x, uint x_off, ulong seed, uint stream, uint step, int n)
{
    const uint b = get_global_id(0);
    if (b >= ((uint)n + 3u) / 4u) return;
    const uint4 r = philox(seed, b, 0u, stream, step);
    const float2 z01 = box_muller(r.x, r.y), z23 = box_muller(r.z, r.w);
    const float z[4] = {z01.x, z01.y, z23.x, z23.y};
    const uint base = 4u * b;
    for (uint j = 0; j < 4u && base + j < (uint)n; j++) x[x_off + base + j] = z[j];
}
