#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* 2D convolution through im2col + GEMM (src/nn/conv.c). A chunk of nb images
 * has N = nb * P columns, P = Ho * Wo: column j = b * P + oy * Wo + ox, row
 * r = (c * ks + ky) * ks + kx of cols[C * ks * ks, N]. The GEMM's output
 * tmp[K, N] goes back to NCHW here, with the bias. */

/* q = a / b and *r = a - q b (a >= 0, b > 0), for the image kernels
 * (conv, norm, resample and cond, which follow this file). Written out:
 * LLVM rewrites a division and a remainder of the same operands with a
 * `freeze` instruction that Oclgrind 21.10's --uninitialized check rejects. */
int fmcl_divmod(int a, int b, int *r)
{
    const int q = a / b;
    *r = a - q * b;
    return q;
}

/* The other kernels here are 2D: dimension 0 runs along an image row (no
 * division there), dimension 1 numbers the rows, split once per item. */

/* One row of Wo columns per item: cols[R * Wo + ox] = x[b, c, oy*stride -
 * pad + ky, ox*stride - pad + kx] for ox < Wo, 0 outside the image, where
 * R = r * nb * Ho + b * Ho + oy < n. A row, not an element, per item: with
 * four divisions per element PoCL took 12x longer (78 ms against 6.7 ms to
 * unfold 8 images of 64 x 28 x 28). */
__kernel void conv_im2col(__global float *cols, uint cols_off, __global const float *x,
                          uint x_off, int n, int Wo, int Ho, int nb, int C, int H, int W,
                          int ks, int stride, int pad)
{
    const int R = (int)get_global_id(0);
    if (R >= n) return;
    int bo, oy, q, kx;
    const int r = fmcl_divmod(R, nb * Ho, &bo), b = fmcl_divmod(bo, Ho, &oy);
    const int c = fmcl_divmod(r, ks * ks, &q), ky = fmcl_divmod(q, ks, &kx);
    const int iy = oy * stride - pad + ky;
    __global float *out = cols + cols_off + (size_t)R * Wo;
    if (iy < 0 || iy >= H) {
        for (int ox = 0; ox < Wo; ox++) out[ox] = 0.0f;
        return;
    }
    __global const float *in = x + x_off + (((size_t)b * C + c) * H + iy) * W;
    for (int ox = 0, ix = kx - pad; ox < Wo; ox++, ix += stride)
        out[ox] = ix >= 0 && ix < W ? in[ix] : 0.0f;
}

/* y[b, k, p] = tmp[k, b * P + p] + bias[k]: dimension 0 is p < P,
 * dimension 1 R = b * K + k < nb * K. */
__kernel void conv_scatter_bias(__global float *y, uint y_off, __global const float *tmp,
                                uint tmp_off, __global const float *bias, uint bias_off, int P,
                                int K, int nb)
{
    const int p = (int)get_global_id(0), R = (int)get_global_id(1);
    if (p >= P || R >= nb * K) return;
    int k;
    const int b = fmcl_divmod(R, K, &k);
    y[y_off + (size_t)R * P + p] = tmp[tmp_off + ((size_t)k * nb + b) * P + p] + bias[bias_off + k];
}

/* dyt[k, b * P + p] = dy[b, k, p] (the GEMMs' layout of the output
 * gradient): dimension 0 is p < P, dimension 1 R = k * nb + b < K * nb. */
__kernel void conv_gather_dy(__global float *dyt, uint dyt_off, __global const float *dy,
                             uint dy_off, int P, int K, int nb)
{
    const int p = (int)get_global_id(0), R = (int)get_global_id(1);
    if (p >= P || R >= K * nb) return;
    int b;
    const int k = fmcl_divmod(R, nb, &b);
    dyt[dyt_off + (size_t)R * P + p] = dy[dy_off + ((size_t)b * K + k) * P + p];
}

/* col2im in gather form: dx[b, c, iy, ix] += the sum, in (ky, kx) order, of
 * the column entries that read this pixel, so no two items write the same
 * element. Dimension 0 is ix < W, dimension 1 R = (b * C + c) * H + iy. */
__kernel void conv_col2im(__global float *dx, uint dx_off, __global const float *dcols,
                          uint dcols_off, int n1, int N, int P, int C, int H, int W, int Ho,
                          int Wo, int ks, int stride, int pad)
{
    const int ix = (int)get_global_id(0), R = (int)get_global_id(1);
    if (ix >= W || R >= n1) return;
    int iy, c;
    const int b = fmcl_divmod(fmcl_divmod(R, H, &iy), C, &c);
    float acc = 0.0f;
    for (int ky = 0; ky < ks; ky++) {
        const int ty = iy + pad - ky, oy = stride == 1 ? ty : ty / stride;
        if (ty < 0 || oy * stride != ty || oy >= Ho) continue;
        for (int kx = 0; kx < ks; kx++) {
            const int tx = ix + pad - kx, ox = stride == 1 ? tx : tx / stride;
            if (tx < 0 || ox * stride != tx || ox >= Wo) continue;
            const size_t r = ((size_t)c * ks + ky) * ks + kx;
            acc += dcols[dcols_off + r * N + (size_t)b * P + oy * Wo + ox];
        }
    }
    dx[dx_off + (size_t)R * W + ix] += acc;
}

/* dbias[k] += sum over b, p of dy[b, k, p]: one FMCL_REDUCE_WG group per
 * channel k; each item sums p = l, l + FMCL_REDUCE_WG, ... of every image
 * in order, then a fixed tree. */
__kernel __attribute__((reqd_work_group_size(FMCL_REDUCE_WG, 1, 1)))
void conv_bias_backward(__global float *db, uint db_off, __global const float *dy, uint dy_off,
                        int B, int K, int P)
{
    __local float s[FMCL_REDUCE_WG];
    const uint l = get_local_id(0);
    const int k = (int)get_group_id(0);
    float acc = 0.0f;
    for (int b = 0; b < B; b++)
        for (int p = (int)l; p < P; p += FMCL_REDUCE_WG)
            acc += dy[dy_off + ((size_t)b * K + k) * P + p];
    s[l] = acc;
    const float total = fmcl_group_sum(s, l);
    if (l == 0) db[db_off + k] += total;
}
