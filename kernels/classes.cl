#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Class conditioning: the twins of src/flow/classes.c, which documents them.
 * Class labels travel as floats (exact integers; -1 is the null class). */

/* y[b] = label of the row image_batch picks for b, or -1 when the top 24
 * bits of its LABEL draw are below drop24 (u01 < p, p = drop24 / 2^24);
 * row b draws as example row0 + b of the whole batch. */
__kernel void label_batch(__global float *y, uint y_off, __global const uchar *lab, uint lab_off,
                          ulong seed, uint step, int row0, int N, uint drop24, int B)
{
    const uint b = get_global_id(0);
    if (b >= (uint)B) return;
    const uint g = (uint)row0 + b;
    const uint row = uint_below(philox(seed, g, 0u, FMCL_STREAM_INDEX, step).x, (uint)N);
    const uint r = philox(seed, g, 0u, FMCL_STREAM_LABEL, step).x;
    /* Chosen as an int, then converted: Mesa 22's llvmpipe wrote 0 for
     * `cond ? -1.0f : (float)lab[...]`. */
    const int c = (r >> 8) < drop24 ? -1 : (int)lab[lab_off + row];
    y[y_off + b] = (float)c;
}

/* Xc: [B, W + K]; row b = [X row b % R, one-hot of y[b] (b < R) or zeros]. */
__kernel void class_concat(__global float *Xc, uint Xc_off, __global const float *X, uint X_off,
                           __global const float *y, uint y_off, int W, int K, int R, int B)
{
    const uint j = get_global_id(0), b = get_global_id(1);
    if (j >= (uint)(W + K) || b >= (uint)B) return;
    float v;
    if (j < (uint)W) {
        v = X[X_off + (b % (uint)R) * (uint)W + j];
    } else {
        const int c = b < (uint)R ? (int)y[y_off + b] : -1;
        v = c == (int)(j - (uint)W) ? 1.0f : 0.0f;
    }
    Xc[Xc_off + b * (uint)(W + K) + j] = v;
}

/* v[i] = (1 + w) vc[i] - w vu[i], vc = V[i], vu = V[n + i]. */
__kernel void guidance(__global float *v, uint v_off, __global const float *V, uint V_off,
                       float w, int n)
{
    const uint i = get_global_id(0);
    if (i >= (uint)n) return;
    v[v_off + i] = (1.0f + w) * V[V_off + i] - w * V[V_off + (uint)n + i];
}
