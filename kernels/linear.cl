#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Linear layers with a narrow side, where a tiled GEMM would mostly multiply
 * padding: the MLP's first layer (K = dim + time features, e.g. 3) and its
 * last (N = dim, e.g. 2). x: [B, K], W: [N, K] (nn.Linear's layout), z: [B, N];
 * every sum runs in index order, so a device repeats its results bit for bit.
 * Twins of src/nn/linear.c. */

/* z = x W^T + b. Items (j, r): one per element of z, the column fastest (2D,
 * so no index division per item). The first layer's SiLU is a separate
 * elementwise pass (silu_forward): fused in here it made this kernel 3x
 * slower on PoCL than the two passes, its exp no longer vectorised. */
__kernel void linear_small_forward(__global float *z, uint z_off, __global const float *x,
                                   uint x_off, __global const float *W, uint W_off,
                                   __global const float *b, uint b_off, int B, int N, int K)
{
    const size_t j = get_global_id(0), r = get_global_id(1);
    if (j >= (size_t)N || r >= (size_t)B) return;
    float acc = 0.0f;
    for (size_t k = 0; k < (size_t)K; k++) acc += x[x_off + r * K + k] * W[W_off + j * K + k];
    z[z_off + r * N + j] = acc + b[b_off + j];
}

/* Parameter gradients in two passes over chunks of `rows` rows, so that a
 * work-group's reads stay in cache and there are many items (K = 0 gives the
 * bias gradient alone, of any layer). Outputs (j, k), k <= K, k == K the bias
 * (x[r, K] read as 1), are indexed (a, b): a the wider of j and k + 1 (j_fast:
 * a = j, b = k; else a = k, b = j), so neighbouring items read neighbouring
 * floats; A and A2 count the a and b. The launches are 2D so that no item
 * divides its index (Oclgrind rejects the freeze LLVM adds to a div-rem pair).
 * Pass 1, items (a, c): for each b,
 *   part[c, b, a] = sum over the chunk's rows r (in order) of dz[r, j] x[r, k].
 * Pass 2, items (a, b): dW[j, k] (or db[j]) += sum over chunks c (in order). */
float wgrad_term(__global const float *dz, uint dz_off, __global const float *x, uint x_off,
                 size_t r, size_t j, size_t k, int N, int K)
{
    const float g = dz[dz_off + r * N + j];
    return k < (size_t)K ? g * x[x_off + r * K + k] : g;
}

__kernel void linear_small_wgrad_part(__global float *part, uint part_off,
                                      __global const float *dz, uint dz_off,
                                      __global const float *x, uint x_off, int j_fast,
                                      int rows, int B, int N, int K)
{
    const size_t a = get_global_id(0), c = get_global_id(1);
    const size_t A = j_fast ? (size_t)N : (size_t)K + 1u, A2 = j_fast ? (size_t)K + 1u : (size_t)N;
    const size_t chunks = ((size_t)B + (size_t)rows - 1) / (size_t)rows;
    if (a >= A || c >= chunks) return;
    const size_t r0 = c * (size_t)rows, r1 = min(r0 + (size_t)rows, (size_t)B);
    for (size_t b = 0; b < A2; b++) {
        const size_t j = j_fast ? a : b, k = j_fast ? b : a;
        float acc = 0.0f;
        for (size_t r = r0; r < r1; r++) acc += wgrad_term(dz, dz_off, x, x_off, r, j, k, N, K);
        part[part_off + (c * A2 + b) * A + a] = acc;
    }
}

__kernel void linear_small_wgrad_sum(__global float *dW, uint dW_off, __global float *db,
                                     uint db_off, __global const float *part, uint part_off,
                                     int j_fast, int rows, int B, int N, int K)
{
    const size_t a = get_global_id(0), b = get_global_id(1);
    const size_t A = j_fast ? (size_t)N : (size_t)K + 1u, A2 = j_fast ? (size_t)K + 1u : (size_t)N;
    if (a >= A || b >= A2) return;
    const size_t chunks = ((size_t)B + (size_t)rows - 1) / (size_t)rows;
    float acc = 0.0f;
    for (size_t c = 0; c < chunks; c++) acc += part[part_off + (c * A2 + b) * A + a];
    const size_t j = j_fast ? a : b, k = j_fast ? b : a;
    if (k < (size_t)K)
        dW[dW_off + j * K + k] += acc;
    else
        db[db_off + j] += acc;
}

/* dx = dz W: dx[r, k] = sum over j of dz[r, j] W[j, k]. Items (k, r). */
__kernel void linear_small_dx(__global float *dx, uint dx_off, __global const float *dz,
                              uint dz_off, __global const float *W, uint W_off, int B, int N,
                              int K)
{
    const size_t k = get_global_id(0), r = get_global_id(1);
    if (k >= (size_t)K || r >= (size_t)B) return;
    float acc = 0.0f;
    for (size_t j = 0; j < (size_t)N; j++) acc += dz[dz_off + r * N + j] * W[W_off + j * K + k];
    dx[dx_off + r * K + k] = acc;
}
