/* Fixed-step ODE solvers' state updates (src/flow/solver.c's twins). */

/* y = x + a k; y may alias x. */
__kernel void axpy_to(__global float *y, uint y_off, __global const float *x, uint x_off,
                      float a, __global const float *k, uint k_off, int n)
{
    const uint i = get_global_id(0);
    if (i >= (uint)n) return;
    y[y_off + i] = x[x_off + i] + a * k[k_off + i];
}

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
