#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Self-attention (src/nn/attention.c): its products batched over images and
 * heads, then the row softmax and its backward: one FMCL_REDUCE_WG
 * work-group per row of L values, each item a strided slice in index order,
 * then fixed trees (fmcl_group_sum, reduce.cl). */

/* The attention products, every image and head in one launch (one work-item
 * per output element, each a plain sum in index order). Per image b and head
 * h, channel c < d of a [*, P] operand is row h d + c of that image's block;
 * images are xs, ys, zs floats apart and the [P, P] matrices of (b, h) are
 * consecutive.
 *
 * S[bh, t, s] = alpha sum_c X[c, t] Y[c, s]: dimension 0 is s < P,
 * dimension 1 the row (b heads + h) P + t < rows. */
__kernel void attention_xty(__global float *S, uint S_off, __global const float *X, uint X_off,
                            int xs, __global const float *Y, uint Y_off, int ys, float alpha,
                            int heads, int d, int P, int rows)
{
    const int s = (int)get_global_id(0), row = (int)get_global_id(1);
    if (s >= P || row >= rows) return;
    const int bh = row / P, t = row - bh * P, b = bh / heads, h = bh - b * heads;
    const size_t head = (size_t)h * d * P;
    __global const float *x = X + X_off + (size_t)b * xs + head + t;
    __global const float *y = Y + Y_off + (size_t)b * ys + head + s;
    float acc = 0.0f;
    for (int c = 0; c < d; c++) acc += x[(size_t)c * P] * y[(size_t)c * P];
    S[S_off + (size_t)row * P + s] = alpha * acc;
}

/* Z[c, i] = alpha sum_j Y[c, j] M[i ms0 + j ms1] (+ Z[c, i] when
 * accumulate), M the [P, P] matrix of the row's image and head: ms0 = P,
 * ms1 = 1 sums M's row i, ms0 = 1, ms1 = P its column i. Dimension 0 is
 * i < P, dimension 1 the channel row b C + h d + c < rows, C = heads d. */
__kernel void attention_ym(__global float *Z, uint Z_off, int zs, __global const float *Y,
                           uint Y_off, int ys, __global const float *M, uint M_off, int ms0,
                           int ms1, float alpha, int accumulate, int heads, int d, int P,
                           int rows)
{
    const int i = (int)get_global_id(0), row = (int)get_global_id(1);
    if (i >= P || row >= rows) return;
    const int C = heads * d, b = row / C, ch = row - b * C, h = ch / d;
    __global const float *y = Y + Y_off + (size_t)b * ys + (size_t)ch * P;
    __global const float *m = M + M_off + ((size_t)b * heads + h) * P * P + (size_t)i * ms0;
    float acc = 0.0f;
    for (int j = 0; j < P; j++) acc += y[j] * m[(size_t)j * ms1];
    const size_t at = Z_off + (size_t)b * zs + (size_t)ch * P + i;
    if (accumulate) Z[at] += alpha * acc;
    else Z[at] = alpha * acc;
}

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
