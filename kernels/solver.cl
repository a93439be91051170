#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* ODE solvers' state updates and error norms (src/flow/solver.c and dopri5.c's twins). */

/* x += h/6 (k1 + 2 k2 + 2 k3 + k4): classic RK4's combination. */
__kernel void rk4_update(__global float *x, uint x_off, __global const float *k1, uint k1_off,
                         __global const float *k2, uint k2_off, __global const float *k3,
                         uint k3_off, __global const float *k4, uint k4_off, float h, int n)
{
    const uint i = get_global_id(0);
    if (i >= (uint)n) return;
    const float s = k1[k1_off + i] + 2.0f * k2[k2_off + i] + 2.0f * k3[k3_off + i] + k4[k4_off + i];
    x[x_off + i] = x[x_off + i] + (h / 6.0f) * s;
}

/* x += h/2 (k1 + k2): Heun's (explicit trapezoid) combination. */
__kernel void heun_update(__global float *x, uint x_off, __global const float *k1, uint k1_off,
                          __global const float *k2, uint k2_off, float h, int n)
{
    const uint i = get_global_id(0);
    if (i >= (uint)n) return;
    x[x_off + i] = x[x_off + i] + (0.5f * h) * (k1[k1_off + i] + k2[k2_off + i]);
}

/* Kutta's 3/8 rule (torchdiffeq's "rk4"), its operations in torchdiffeq's
 * order: stage 3's state x + h (k2 - k1/3), stage 4's x + h (k1 - k2 + k3)
 * (stage 2's, x + h/3 k1, is an axpy). */
__kernel void rk38_stage(__global float *xs, uint xs_off, __global const float *x, uint x_off,
                         __global const float *k1, uint k1_off, __global const float *k2,
                         uint k2_off, __global const float *k3, uint k3_off, int stage, float h,
                         int n)
{
    const uint i = get_global_id(0);
    if (i >= (uint)n) return;
    const float a = k1[k1_off + i], b = k2[k2_off + i];
    const float d = stage == 3 ? b - a * (1.0f / 3.0f) : a - b + k3[k3_off + i];
    xs[xs_off + i] = x[x_off + i] + h * d;
}

/* x += (k1 + 3 (k2 + k3) + k4) h / 8: the 3/8 rule's combination. */
__kernel void rk38_update(__global float *x, uint x_off, __global const float *k1, uint k1_off,
                          __global const float *k2, uint k2_off, __global const float *k3,
                          uint k3_off, __global const float *k4, uint k4_off, float h, int n)
{
    const uint i = get_global_id(0);
    if (i >= (uint)n) return;
    const float s = k1[k1_off + i] + 3.0f * (k2[k2_off + i] + k3[k3_off + i]) + k4[k4_off + i];
    x[x_off + i] = x[x_off + i] + s * h * 0.125f;
}

/* ---- Dormand-Prince 5(4) (src/flow/dopri5.c's twins) ----
 * Stage s (2..7) evaluates the field at x + h sum_{j<s} a_sj k_j; row 7 is
 * the 5th-order weights b (first same as last: k7 = f(x_new) is the next
 * step's k1). k1 and k7 are separate buffers (they swap roles on acceptance);
 * k2..k6 are consecutive blocks of n floats in km. */
__constant float dp5_a[6][6] = {
    {1.0f / 5.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},
    {3.0f / 40.0f, 9.0f / 40.0f, 0.0f, 0.0f, 0.0f, 0.0f},
    {44.0f / 45.0f, -56.0f / 15.0f, 32.0f / 9.0f, 0.0f, 0.0f, 0.0f},
    {19372.0f / 6561.0f, -25360.0f / 2187.0f, 64448.0f / 6561.0f, -212.0f / 729.0f, 0.0f, 0.0f},
    {9017.0f / 3168.0f, -355.0f / 33.0f, 46732.0f / 5247.0f, 49.0f / 176.0f,
     -5103.0f / 18656.0f, 0.0f},
    {35.0f / 384.0f, 0.0f, 500.0f / 1113.0f, 125.0f / 192.0f, -2187.0f / 6784.0f,
     11.0f / 84.0f},
};

/* e = b - b* (b* the embedded 4th-order weights); e2 = 0. */
__constant float dp5_e[7] = {71.0f / 57600.0f, 0.0f, -71.0f / 16695.0f, 71.0f / 1920.0f,
                             -17253.0f / 339200.0f, 22.0f / 525.0f, -1.0f / 40.0f};

/* xs = x + h sum_{j<stage} a_{stage,j} k_j, summed in j order; stage in 2..7. */
__kernel void dopri5_stage(__global float *xs, uint xs_off, __global const float *x, uint x_off,
                           __global const float *k1, uint k1_off, __global const float *km,
                           uint km_off, int stage, float h, int n)
{
    const uint i = get_global_id(0);
    if (i >= (uint)n) return;
    const int row = clamp(stage, 2, 7) - 2;
    float acc = dp5_a[row][0] * k1[k1_off + i];
    for (int j = 1; j <= row; j++) acc += dp5_a[row][j] * km[km_off + (uint)(j - 1) * (uint)n + i];
    xs[xs_off + i] = x[x_off + i] + h * acc;
}

/* Pass 1 of the error norm (reduce.cl's scheme): part[group] = sum of r^2 over
 * the group's slice, r = h sum_j e_j k_j / (atol + rtol max(|x|, |x_new|)).
 * reduce_final(scale = 1/n) then gives the mean square; the RMS is its root. */
__kernel __attribute__((reqd_work_group_size(FMCL_REDUCE_WG, 1, 1)))
void dopri5_error_partial(__global float *part, uint part_off, __global const float *x,
                          uint x_off, __global const float *xn, uint xn_off,
                          __global const float *k1, uint k1_off, __global const float *km,
                          uint km_off, __global const float *k7, uint k7_off, float h,
                          float atol, float rtol, int n)
{
    __local float s[FMCL_REDUCE_WG];
    const uint l = get_local_id(0);
    const size_t stride = get_global_size(0);
    float acc = 0.0f;
    for (size_t i = get_global_id(0); i < (size_t)n; i += stride) {
        float e = dp5_e[0] * k1[k1_off + i];
        for (uint j = 2; j < 6; j++) e += dp5_e[j] * km[km_off + (j - 1) * (uint)n + i];
        e += dp5_e[6] * k7[k7_off + i];
        const float sc = atol + rtol * fmax(fabs(x[x_off + i]), fabs(xn[xn_off + i]));
        const float r = h * e / sc;
        acc += r * r;
    }
    s[l] = acc;
    const float total = fmcl_group_sum(s, l);
    if (l == 0) part[part_off + get_group_id(0)] = total;
}

/* Pass 1 of the scaled norms of the initial step selection: sum of
 * (a / (atol + rtol |x|))^2 over the group's slice. */
__kernel __attribute__((reqd_work_group_size(FMCL_REDUCE_WG, 1, 1)))
void scaled_sumsq_partial(__global float *part, uint part_off, __global const float *a,
                          uint a_off, __global const float *x, uint x_off, float atol, float rtol,
                          int n)
{
    __local float s[FMCL_REDUCE_WG];
    const uint l = get_local_id(0);
    const size_t stride = get_global_size(0);
    float acc = 0.0f;
    for (size_t i = get_global_id(0); i < (size_t)n; i += stride) {
        const float r = a[a_off + i] / (atol + rtol * fabs(x[x_off + i]));
        acc += r * r;
    }
    s[l] = acc;
    const float total = fmcl_group_sum(s, l);
    if (l == 0) part[part_off + get_group_id(0)] = total;
}
