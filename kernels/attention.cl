#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Row softmax and its backward for self-attention (src/nn/attention.c):
 * one FMCL_REDUCE_WG work-group per row of L values, each item a strided
 * slice in index order, then fixed trees (fmcl_group_sum, reduce.cl). */

/* Every item of the group must call it (barriers); each has written s[l]. */
float fmcl_group_max(__local float *s, uint l)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint h = FMCL_REDUCE_WG / 2; h > 0; h >>= 1) {
        if (l < h) s[l] = fmax(s[l], s[l + h]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return s[0];
}

/* In place: x[row, :] = exp(x - max) / sum(exp(x - max)). */
__kernel __attribute__((reqd_work_group_size(FMCL_REDUCE_WG, 1, 1)))
void softmax_rows(__global float *x, uint x_off, int L)
{
    __local float s[FMCL_REDUCE_WG];
    const uint l = get_local_id(0);
    const size_t base = x_off + get_group_id(0) * (size_t)L;
    float m = -INFINITY;
    for (int i = (int)l; i < L; i += FMCL_REDUCE_WG) m = fmax(m, x[base + i]);
    s[l] = m;
    m = fmcl_group_max(s, l);
    barrier(CLK_LOCAL_MEM_FENCE); /* every item has read s[0] before s is reused */
    float acc = 0.0f;
    for (int i = (int)l; i < L; i += FMCL_REDUCE_WG) acc += exp(x[base + i] - m);
    s[l] = acc;
    const float total = fmcl_group_sum(s, l);
    for (int i = (int)l; i < L; i += FMCL_REDUCE_WG) x[base + i] = exp(x[base + i] - m) / total;
}

/* In place on the gradient of the probabilities p: g = p (g - sum(g p)). */
__kernel __attribute__((reqd_work_group_size(FMCL_REDUCE_WG, 1, 1)))
void softmax_backward_rows(__global float *g, uint g_off, __global const float *p, uint p_off,
                           int L)
{
    __local float s[FMCL_REDUCE_WG];
    const uint l = get_local_id(0);
    const size_t row = get_group_id(0) * (size_t)L;
    float acc = 0.0f;
    for (int i = (int)l; i < L; i += FMCL_REDUCE_WG) acc += g[g_off + row + i] * p[p_off + row + i];
    s[l] = acc;
    const float dot = fmcl_group_sum(s, l);
    for (int i = (int)l; i < L; i += FMCL_REDUCE_WG)
        g[g_off + row + i] = p[p_off + row + i] * (g[g_off + row + i] - dot);
}
