#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Deterministic reductions, shared by loss.cl and optim.cl. Pass 1: each of G
 * groups of FMCL_REDUCE_WG items (G fixed by n on the host, fmcl_reduce_partials)
 * accumulates a grid-stride slice in index order, then the group adds its
 * items with a fixed tree into one partial. Pass 2 (reduce_final): one group
 * folds the G partials the same way. The order depends only on n, so a device
 * repeats its result bit for bit and every device adds in the same order. */

/* The runtime defines it with -D; this fallback keeps the file self-contained. */
#ifndef FMCL_REDUCE_WG
#define FMCL_REDUCE_WG 64
#endif

/* Sums s[0..FMCL_REDUCE_WG) with a fixed pairwise tree; every item of the
 * group must call it (it holds barriers). Each item has written s[l]. */
float fmcl_group_sum(__local float *s, uint l)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint h = FMCL_REDUCE_WG / 2; h > 0; h >>= 1) {
        if (l < h) s[l] += s[l + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return s[0];
}

/* out[0] = (sum of part[0..np)) * scale, by a single group. A multiply, not a
 * divide: it is correctly rounded on every device (scale 1 is exact). */
__kernel __attribute__((reqd_work_group_size(FMCL_REDUCE_WG, 1, 1)))
void reduce_final(__global float *out, uint out_off, __global const float *part, uint part_off,
                  int np, float scale)
{
    __local float s[FMCL_REDUCE_WG];
    const uint l = get_local_id(0);
    float acc = 0.0f;
    for (int i = (int)l; i < np; i += FMCL_REDUCE_WG) acc += part[part_off + i];
    s[l] = acc;
    const float total = fmcl_group_sum(s, l);
    if (l == 0) out[out_off] = total * scale;
}
