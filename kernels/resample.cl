#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Nearest 2x upsampling and channel slices (skip concatenation) on NCHW
 * (src/nn/resample.c). 2D launches: dimension 0 runs along a row, dimension
 * 1 numbers the rows, so no item divides. */

/* y[bc, oy, ox] = x[bc, oy / 2, ox / 2]: dimension 0 is ox < 2W, dimension 1
 * the row R = bc * 2H + oy of y, whose source row is R / 2 = bc * H + oy / 2. */
__kernel void upsample2x_forward(__global float *y, uint y_off, __global const float *x,
                                 uint x_off, int rows, int W)
{
    const int ox = (int)get_global_id(0), R = (int)get_global_id(1);
    if (ox >= 2 * W || R >= rows) return;
    y[y_off + (size_t)R * 2 * W + ox] = x[x_off + (size_t)(R / 2) * W + ox / 2];
}

/* dx[bc, h, w] += the four children of dy in row-major order: dimension 0
 * is w < W, dimension 1 the row R = bc * H + h, whose children are in rows
 * 2R and 2R + 1 of dy. */
__kernel void upsample2x_backward(__global float *dx, uint dx_off, __global const float *dy,
                                  uint dy_off, int rows, int W)
{
    const int w = (int)get_global_id(0), R = (int)get_global_id(1);
    if (w >= W || R >= rows) return;
    const size_t top = dy_off + (size_t)2 * R * 2 * W + 2 * w, bottom = top + 2 * (size_t)W;
    dx[dx_off + (size_t)R * W + w] += ((dy[top] + dy[top + 1]) + dy[bottom]) + dy[bottom + 1];
}

/* Blocks of L floats: dst[k * dst_stride + r] = src[k * src_stride + r], or
 * += when accumulate; dimension 0 is r < L, dimension 1 the block k. */
__kernel void copy_blocks(__global float *dst, uint dst_off, __global const float *src,
                          uint src_off, int L, int blocks, int dst_stride, int src_stride,
                          int accumulate)
{
    const int r = (int)get_global_id(0), k = (int)get_global_id(1);
    if (r >= L || k >= blocks) return;
    const float v = src[src_off + (size_t)k * src_stride + r];
    if (accumulate) dst[dst_off + (size_t)k * dst_stride + r] += v;
    else dst[dst_off + (size_t)k * dst_stride + r] = v;
}
