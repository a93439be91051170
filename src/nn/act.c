/* Bias, SiLU and dropout layers (kernels/act.cl) and their references.
 * SiLU(z) = z sigmoid(z), silu'(z) = s (1 + z (1 - s)) with s = sigmoid(z). */
#include <limits.h>
#include <math.h>

#include "nn/kernels.h"
#include "nn/nn_ops.h"
#include "runtime/rng.h"

static fmcl_status check_shape(fmcl_ctx *ctx, const char *op, int B, int N)
{
    if (B < 0 || N < 0 || (N > 0 && B > INT_MAX / N))
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "%s: shape [%d, %d] is negative or has more than %d elements; use a "
                         "smaller batch or width",
                         op, B, N, INT_MAX);
    return FMCL_OK;
}

/* sigmoid(z) and 1 - sigmoid(z), each from exp(-|z|) so neither overflows
 * nor cancels. */
static double sigmoid_pair(double z, double *one_minus)
{
    double e = exp(-fabs(z)), r = 1.0 / (1.0 + e);
    *one_minus = z >= 0 ? e * r : r;
    return z >= 0 ? r : e * r;
}

fmcl_status fmcl_bias_silu_forward(fmcl_ctx *ctx, fmcl_t z, fmcl_t h, fmcl_t b, int B, int N)
{
    fmcl_status s = check_shape(ctx, "bias_silu_forward", B, N);
    if (s != FMCL_OK) return s;
    return fmcl_run2(ctx, FMCL_K_bias_silu_forward, (size_t)N, (size_t)B, "tttii", z, h, b, B, N);
}

void fmcl_bias_silu_forward_ref(float *z, float *h, const float *b, int B, int N)
{
    for (int r = 0; r < B; r++)
        for (int j = 0; j < N; j++) {
            size_t i = (size_t)r * N + j;
            float v = z[i] + b[j]; /* z is stored in float, as on the device */
            double c, s = sigmoid_pair(v, &c);
            z[i] = v;
            h[i] = (float)(v * s);
        }
}

fmcl_status fmcl_silu_forward(fmcl_ctx *ctx, fmcl_t h, fmcl_t z, int B, int N)
{
    fmcl_status s = check_shape(ctx, "silu_forward", B, N);
    if (s != FMCL_OK) return s;
    return fmcl_run1(ctx, FMCL_K_silu_forward, (size_t)B * N, "tti", h, z, B * N);
}

void fmcl_silu_forward_ref(float *h, const float *z, int B, int N)
{
    size_t n = (size_t)B * N;
    for (size_t i = 0; i < n; i++) {
        double c, s = sigmoid_pair(z[i], &c);
        h[i] = (float)(z[i] * s);
    }
}

fmcl_status fmcl_bias_forward(fmcl_ctx *ctx, fmcl_t z, fmcl_t b, int B, int N)
{
    fmcl_status s = check_shape(ctx, "bias_forward", B, N);
    if (s != FMCL_OK) return s;
    return fmcl_run2(ctx, FMCL_K_bias_forward, (size_t)N, (size_t)B, "ttii", z, b, B, N);
}

void fmcl_bias_forward_ref(float *z, const float *b, int B, int N)
{
    for (int r = 0; r < B; r++)
        for (int j = 0; j < N; j++) z[(size_t)r * N + j] += b[j];
}

fmcl_status fmcl_silu_backward(fmcl_ctx *ctx, fmcl_t dz, fmcl_t dh, fmcl_t z, int B, int N)
{
    fmcl_status s = check_shape(ctx, "silu_backward", B, N);
    if (s != FMCL_OK) return s;
    return fmcl_run1(ctx, FMCL_K_silu_backward, (size_t)B * N, "ttti", dz, dh, z, B * N);
}

void fmcl_silu_backward_ref(float *dz, const float *dh, const float *z, int B, int N)
{
    size_t n = (size_t)B * N;
    for (size_t i = 0; i < n; i++) {
        double c, s = sigmoid_pair(z[i], &c);
        dz[i] = (float)(dh[i] * (s * (1.0 + z[i] * c)));
    }
}

/* keep_i: u01(r) >= p with r = philox(seed; i, site, DROPOUT, step).x, which
 * is (r >> 8) >= ceil(p 2^24), an integer test the same on every device;
 * the scale 1 / (1 - p) is rounded to float once, here, for both sides. */
static unsigned dropout_p24(float p) { return (unsigned)ceil((double)p * 16777216.0); }
static float dropout_scale(float p) { return (float)(1.0 / (1.0 - (double)p)); }

void fmcl_dropout_ref(float *y, const float *x, float p, uint64_t seed, uint32_t step,
                      uint32_t site, uint32_t first, int n)
{
    const unsigned p24 = dropout_p24(p);
    const float scale = dropout_scale(p);
    for (int i = 0; i < n; i++) {
        uint32_t r[4];
        fmcl_philox(seed, first + (uint32_t)i, site, FMCL_STREAM_DROPOUT, step, r);
        y[i] = (r[0] >> 8) >= p24 ? x[i] * scale : 0.0f;
    }
}

static fmcl_status dropout_run(fmcl_ctx *ctx, int kernel, const char *op, fmcl_t out, fmcl_t in,
                               float p, uint64_t seed, uint32_t step, uint32_t site, uint32_t first,
                               int n)
{
    if (n < 0 || !(p >= 0.0f && p < 1.0f))
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "%s: %d elements with probability %g; needs n >= 0 and p in [0, 1)", op, n,
                         (double)p);
    return fmcl_run1(ctx, kernel, (size_t)n, "ttluuuufi", out, in, seed, (unsigned)step,
                     (unsigned)site, (unsigned)first, dropout_p24(p), (double)dropout_scale(p), n);
}

fmcl_status fmcl_dropout_forward(fmcl_ctx *ctx, fmcl_t y, fmcl_t x, float p, uint64_t seed,
                                 uint32_t step, uint32_t site, uint32_t first, int n)
{
    return dropout_run(ctx, FMCL_K_dropout_forward, "dropout_forward", y, x, p, seed, step, site,
                       first, n);
}

fmcl_status fmcl_dropout_backward(fmcl_ctx *ctx, fmcl_t dx, fmcl_t dy, float p, uint64_t seed,
                                  uint32_t step, uint32_t site, uint32_t first, int n)
{
    return dropout_run(ctx, FMCL_K_dropout_backward, "dropout_backward", dx, dy, p, seed, step,
                       site, first, n);
}
