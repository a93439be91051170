#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Mean squared error with its gradient, pass 1 of a reduce.cl reduction:
 * dp = 2 (p - u) / count per element of the n, part[group] = sum of
 * (p - u)^2 over the group's slice. reduce_final(scale = 1/count) then
 * writes the mean; count > n when the n are a rank's share of a batch. */
__kernel __attribute__((reqd_work_group_size(FMCL_REDUCE_WG, 1, 1)))
void mse_partial(__global float *dp, uint dp_off, __global float *part, uint part_off,
                 __global const float *p, uint p_off, __global const float *u, uint u_off, int n,
                 int count)
{
    __local float s[FMCL_REDUCE_WG];
    const uint l = get_local_id(0);
    const size_t stride = get_global_size(0);
    const float nf = (float)count;
    float acc = 0.0f;
    for (size_t i = get_global_id(0); i < (size_t)n; i += stride) {
        const float d = p[p_off + i] - u[u_off + i];
        dp[dp_off + i] = (d + d) / nf;
        acc += d * d;
    }
    s[l] = acc;
    const float total = fmcl_group_sum(s, l);
    if (l == 0) part[part_off + get_group_id(0)] = total;
}
