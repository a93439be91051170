/* Linear layers with a narrow side (kernels/linear.cl) and their references
 * in double: the MLP's first and last layers, whose 3 inputs or 2 outputs
 * leave a tiled GEMM multiplying padding (CLBlast pads K = 3 or N = 2 to a
 * whole tile, and the pad and transpose passes cost more than the product).
 * Their two-pass column sums also give every layer's bias gradient. */
#include <limits.h>

#include "nn/kernels.h"
#include "nn/nn_ops.h"

static fmcl_status check_shape(fmcl_ctx *ctx, const char *op, int B, int N, int K)
{
    int ok = B >= 0 && N >= 0 && K >= 0;
    if (ok && N > 0) ok = B <= INT_MAX / N && K + 1 <= INT_MAX / N;
    if (ok && K > 0) ok = B <= INT_MAX / K;
    if (ok) return FMCL_OK;
    return fmcl_fail(ctx, FMCL_ERR_ARG,
                     "%s: shape B=%d N=%d K=%d is negative or has more than %d elements; use a "
                     "smaller batch or width",
                     op, B, N, K, INT_MAX);
}

fmcl_status fmcl_linear_small_forward(fmcl_ctx *ctx, fmcl_t z, fmcl_t x, fmcl_t W, fmcl_t b, int B,
                                      int N, int K)
{
    fmcl_status s = check_shape(ctx, "linear_small_forward", B, N, K);
    if (s != FMCL_OK) return s;
    return fmcl_run2(ctx, FMCL_K_linear_small_forward, (size_t)N, (size_t)B, "ttttiii", z, x, W, b,
                     B, N, K);
}

void fmcl_linear_small_forward_ref(float *z, const float *x, const float *W, const float *b, int B,
                                   int N, int K)
{
    for (int r = 0; r < B; r++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++) acc += (double)x[(size_t)r * K + k] * W[(size_t)j * K + k];
            z[(size_t)r * N + j] = (float)(acc + b[j]);
        }
}

/* FMCL_COLSUM_ROWS rows per chunk: a work-group of 128 columns then reads
 * 32 KiB, and a batch of 4096 makes 64 chunks. */
size_t fmcl_linear_small_wgrad_scratch(int B, int N, int K)
{
    return ((size_t)B + FMCL_COLSUM_ROWS - 1) / FMCL_COLSUM_ROWS * (size_t)N * ((size_t)K + 1);
}

fmcl_status fmcl_linear_small_wgrad(fmcl_ctx *ctx, fmcl_t dW, fmcl_t db, fmcl_t dz, fmcl_t x,
                                    fmcl_t part, int B, int N, int K)
{
    fmcl_status s = check_shape(ctx, "linear_small_wgrad", B, N, K);
    if (s != FMCL_OK) return s;
    size_t n_part = fmcl_linear_small_wgrad_scratch(B, N, K);
    if (n_part > INT_MAX)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "linear_small_wgrad: B=%d N=%d K=%d needs %zu partial sums, more than "
                         "%d; use a smaller batch or width",
                         B, N, K, n_part, INT_MAX);
    int j_fast = N >= K;
    size_t A = j_fast ? (size_t)N : (size_t)K + 1, A2 = j_fast ? (size_t)K + 1 : (size_t)N;
    size_t chunks = ((size_t)B + FMCL_COLSUM_ROWS - 1) / FMCL_COLSUM_ROWS;
    s = fmcl_run2(ctx, FMCL_K_linear_small_wgrad_part, A, chunks, "tttiiiii", part, dz, x, j_fast,
                  FMCL_COLSUM_ROWS, B, N, K);
    if (s != FMCL_OK) return s;
    return fmcl_run2(ctx, FMCL_K_linear_small_wgrad_sum, A, A2, "tttiiiii", dW, db, part, j_fast,
                     FMCL_COLSUM_ROWS, B, N, K);
}

void fmcl_linear_small_wgrad_ref(float *dW, float *db, const float *dz, const float *x, int B,
                                 int N, int K)
{
    for (int j = 0; j < N; j++) {
        for (int k = 0; k < K; k++) {
            double acc = 0;
            for (int r = 0; r < B; r++) acc += (double)dz[(size_t)r * N + j] * x[(size_t)r * K + k];
            dW[(size_t)j * K + k] = (float)(dW[(size_t)j * K + k] + acc);
        }
        double acc = 0;
        for (int r = 0; r < B; r++) acc += dz[(size_t)r * N + j];
        db[j] = (float)(db[j] + acc);
    }
}

fmcl_status fmcl_linear_small_dx(fmcl_ctx *ctx, fmcl_t dx, fmcl_t dz, fmcl_t W, int B, int N, int K)
{
    fmcl_status s = check_shape(ctx, "linear_small_dx", B, N, K);
    if (s != FMCL_OK) return s;
    return fmcl_run2(ctx, FMCL_K_linear_small_dx, (size_t)K, (size_t)B, "tttiii", dx, dz, W, B, N,
                     K);
}

void fmcl_linear_small_dx_ref(float *dx, const float *dz, const float *W, int B, int N, int K)
{
    for (int r = 0; r < B; r++)
        for (int k = 0; k < K; k++) {
            double acc = 0;
            for (int j = 0; j < N; j++) acc += (double)dz[(size_t)r * N + j] * W[(size_t)j * K + k];
            dx[(size_t)r * K + k] = (float)acc;
        }
}

/* K = 0: the same passes with the bias column alone (dW and x never read). */
fmcl_status fmcl_bias_backward(fmcl_ctx *ctx, fmcl_t db, fmcl_t dz, fmcl_t part, int B, int N)
{
    return fmcl_linear_small_wgrad(ctx, db, db, dz, dz, part, B, N, 0);
}

void fmcl_bias_backward_ref(float *db, const float *dz, int B, int N)
{
    for (int j = 0; j < N; j++) {
        double acc = 0;
        for (int r = 0; r < B; r++) acc += dz[(size_t)r * N + j];
        db[j] = (float)(db[j] + acc);
    }
}
