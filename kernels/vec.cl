#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Vector helpers every layer uses (src/runtime/vec.c's launchers). */

__kernel void fill(__global float *x, uint x_off, float value, int n)
{
    const size_t i = get_global_id(0);
    if (i >= (size_t)n) return;
    x[x_off + i] = value;
}

/* y[n] = x[n] (fmcl_copy: a kernel rather than clEnqueueCopyBuffer, see
 * src/runtime/vec.c); the ranges must not overlap. */
__kernel void copy(__global float *y, uint y_off, __global const float *x, uint x_off, int n)
{
    const size_t i = get_global_id(0);
    if (i >= (size_t)n) return;
    y[y_off + i] = x[x_off + i];
}

/* y = x + a k; y may alias x. */
__kernel void axpy_to(__global float *y, uint y_off, __global const float *x, uint x_off,
                      float a, __global const float *k, uint k_off, int n)
{
    const uint i = get_global_id(0);
    if (i >= (uint)n) return;
    y[y_off + i] = x[x_off + i] + a * k[k_off + i];
}
