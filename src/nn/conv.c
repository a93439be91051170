/* 2D convolution (image_ops.h): im2col + one GEMM per chunk of images on the
 * device (kernels/conv.cl), direct loops in double for the reference. Where
 * the context runs convolutions as implicit GEMMs (conv_gemm.c) the forward,
 * the weight gradient and a stride-1 layer's input gradient go there instead.
 *
 * Chunk layout: the columns of nb images side by side, cols[C*ks*ks, nb*P],
 * so one GEMM tmp[K, nb*P] = w[K, C*ks*ks] cols serves the whole chunk; its
 * [K, nb*P] result is scattered back to NCHW with the bias. Backward per
 * chunk: dyt[K, nb*P] = dy in the same layout; dw += dyt colsᵀ; then
 * dcols = wᵀ dyt overwrites the columns (no longer needed) and col2im
 * gathers them into dx. The bias gradient is one fixed-order reduction over
 * the whole batch. Scratch: cols (C*ks*ks*nb*P) then tmp/dyt (K*nb*P). */
#include <limits.h>
#include <stdio.h>

#include "nn/image_ops.h"
#include "nn/kernels.h"

/* Writes what is wrong with the shape into msg; 0 when it is valid and every
 * tensor and the scratch fit the kernels' int indices. */
static int shape_problem(const fmcl_conv_shape *cs, char *msg, size_t cap)
{
    if (cs->B < 1 || cs->C < 1 || cs->H < 1 || cs->W < 1 || cs->K < 1) {
        snprintf(msg, cap, "shape B=%d C=%d H=%d W=%d K=%d has a size below 1", cs->B, cs->C, cs->H,
                 cs->W, cs->K);
        return 1;
    }
    if (cs->ksize < 1 || cs->ksize > 15 || cs->stride < 1 || cs->pad < 0 || cs->pad >= cs->ksize) {
        snprintf(msg, cap,
                 "kernel %d, stride %d, padding %d: need 1 <= kernel <= 15, stride >= 1 and "
                 "0 <= padding < kernel",
                 cs->ksize, cs->stride, cs->pad);
        return 1;
    }
    if (cs->chunk < 1 || cs->chunk > cs->B) {
        snprintf(msg, cap, "chunk %d is outside 1..B (B = %d)", cs->chunk, cs->B);
        return 1;
    }
    /* Each dimension bounded first, so the products below cannot overflow. */
    const int big = 1 << 15;
    if (cs->C > big || cs->H > big || cs->W > big || cs->K > big) {
        snprintf(msg, cap, "C=%d H=%d W=%d K=%d: sizes above %d are not supported", cs->C, cs->H,
                 cs->W, cs->K, big);
        return 1;
    }
    if (cs->H + 2 * cs->pad < cs->ksize || cs->W + 2 * cs->pad < cs->ksize) {
        snprintf(msg, cap, "a %dx%d image padded by %d is smaller than the %dx%d kernel", cs->H,
                 cs->W, cs->pad, cs->ksize, cs->ksize);
        return 1;
    }
    size_t P = (size_t)fmcl_conv_out_h(cs) * fmcl_conv_out_w(cs);
    size_t rows = (size_t)cs->C * cs->ksize * cs->ksize;
    size_t sizes[] = {(size_t)cs->B * cs->C * cs->H * cs->W, (size_t)cs->B * cs->K * P,
                      (size_t)cs->K * rows, (rows + (size_t)cs->K) * cs->chunk * P};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i] > INT_MAX) {
            snprintf(msg, cap,
                     "B=%d C=%d H=%d W=%d K=%d chunk %d needs a tensor or scratch of more than "
                     "2^31 - 1 floats; use a smaller batch or chunk",
                     cs->B, cs->C, cs->H, cs->W, cs->K, cs->chunk);
            return 1;
        }
    return 0;
}

fmcl_status fmcl_conv_validate(fmcl_ctx *ctx, const fmcl_conv_shape *cs)
{
    char msg[256];
    if (shape_problem(cs, msg, sizeof msg)) return fmcl_fail(ctx, FMCL_ERR_ARG, "conv2d: %s", msg);
    return FMCL_OK;
}

size_t fmcl_conv_scratch(const fmcl_conv_shape *cs)
{
    char msg[256];
    if (shape_problem(cs, msg, sizeof msg)) return 0;
    size_t P = (size_t)fmcl_conv_out_h(cs) * fmcl_conv_out_w(cs);
    size_t cols = ((size_t)cs->C * cs->ksize * cs->ksize + (size_t)cs->K) * cs->chunk * P;
    size_t packed = fmcl_convgemm_scratch(cs); /* the implicit GEMM's weights */
    return cols > packed ? cols : packed;
}

/* The three GEMMs of a chunk of nb images (N = nb * P columns). */
static fmcl_status reserve_chunk(fmcl_ctx *ctx, int K, int rows, int N)
{
    fmcl_status s = fmcl_gemm_reserve(ctx, 0, 0, K, N, rows, rows, N, N);
    if (s == FMCL_OK) s = fmcl_gemm_reserve(ctx, 0, 1, K, rows, N, N, N, rows);
    if (s == FMCL_OK) s = fmcl_gemm_reserve(ctx, 1, 0, rows, N, K, rows, N, N);
    return s;
}

fmcl_status fmcl_conv_reserve(fmcl_ctx *ctx, const fmcl_conv_shape *cs)
{
    fmcl_status s = fmcl_conv_validate(ctx, cs);
    if (s != FMCL_OK) return s;
    int P = fmcl_conv_out_h(cs) * fmcl_conv_out_w(cs);
    int rows = cs->C * cs->ksize * cs->ksize, rest = cs->B % cs->chunk;
    s = reserve_chunk(ctx, cs->K, rows, cs->chunk * P);
    if (s == FMCL_OK && rest) s = reserve_chunk(ctx, cs->K, rows, rest * P);
    return s;
}

/* cols of images [b0, b0 + nb) into scratch. */
static fmcl_status im2col(fmcl_ctx *ctx, fmcl_t cols, fmcl_t x, const fmcl_conv_shape *cs, int b0,
                          int nb)
{
    int Ho = fmcl_conv_out_h(cs), Wo = fmcl_conv_out_w(cs);
    int n1 = cs->C * cs->ksize * cs->ksize * nb * Ho;
    fmcl_t xb = fmcl_at(x, (size_t)b0 * cs->C * cs->H * cs->W);
    return fmcl_run1(ctx, FMCL_K_conv_im2col, (size_t)n1, "ttiiiiiiiiii", cols, xb, n1, Wo, Ho, nb,
                     cs->C, cs->H, cs->W, cs->ksize, cs->stride, cs->pad);
}

fmcl_status fmcl_conv2d_forward(fmcl_ctx *ctx, fmcl_t y, fmcl_t x, fmcl_t w, fmcl_t bias,
                                fmcl_t scratch, const fmcl_conv_shape *cs)
{
    fmcl_status s = fmcl_conv_validate(ctx, cs);
    if (s != FMCL_OK) return s;
    if (ctx->conv_impl != FMCL_CONV_IM2COL)
        return fmcl_convgemm_forward(ctx, y, x, w, bias, (fmcl_t){NULL, 0}, scratch, cs);
    int P = fmcl_conv_out_h(cs) * fmcl_conv_out_w(cs);
    int rows = cs->C * cs->ksize * cs->ksize;
    fmcl_t cols = scratch, tmp = fmcl_at(scratch, (size_t)rows * cs->chunk * P);
    for (int b0 = 0; s == FMCL_OK && b0 < cs->B; b0 += cs->chunk) {
        int nb = cs->B - b0 < cs->chunk ? cs->B - b0 : cs->chunk, N = nb * P;
        s = im2col(ctx, cols, x, cs, b0, nb);
        if (s == FMCL_OK)
            s = fmcl_gemm(ctx, 0, 0, cs->K, N, rows, 1.0f, w, rows, cols, N, 0.0f, tmp, N);
        if (s == FMCL_OK)
            s = fmcl_run2(ctx, FMCL_K_conv_scatter_bias, (size_t)P, (size_t)nb * cs->K, "tttiii",
                          fmcl_at(y, (size_t)b0 * cs->K * P), tmp, bias, P, cs->K, nb);
    }
    return s;
}

fmcl_status fmcl_conv2d_backward(fmcl_ctx *ctx, fmcl_t dx, fmcl_t dw, fmcl_t dbias, fmcl_t dy,
                                 fmcl_t x, fmcl_t w, fmcl_t scratch, const fmcl_conv_shape *cs)
{
    fmcl_status s = fmcl_conv_validate(ctx, cs);
    if (s != FMCL_OK) return s;
    int Ho = fmcl_conv_out_h(cs), Wo = fmcl_conv_out_w(cs), P = Ho * Wo;
    int rows = cs->C * cs->ksize * cs->ksize, HW = cs->H * cs->W;
    fmcl_t cols = scratch, dyt = fmcl_at(scratch, (size_t)rows * cs->chunk * P);
    s = fmcl_run1_local(ctx, FMCL_K_conv_bias_backward, (size_t)cs->K * FMCL_REDUCE_WG,
                        FMCL_REDUCE_WG, "ttiii", dbias, dy, cs->B, cs->K, P);
    /* The implicit GEMM takes the weight gradient, and the input gradient
     * of a stride-1 layer; a strided one's goes through the loop below. */
    const int implicit = ctx->conv_impl != FMCL_CONV_IM2COL;
    if (implicit) {
        if (s == FMCL_OK) s = fmcl_convgemm_wgrad(ctx, dw, dy, x, scratch, cs);
        if (s != FMCL_OK || !dx.mem) return s;
        if (cs->stride == 1) return fmcl_convgemm_dgrad(ctx, dx, dy, w, scratch, cs);
    }
    for (int b0 = 0; s == FMCL_OK && b0 < cs->B; b0 += cs->chunk) {
        int nb = cs->B - b0 < cs->chunk ? cs->B - b0 : cs->chunk, N = nb * P;
        if (!implicit) s = im2col(ctx, cols, x, cs, b0, nb);
        if (s == FMCL_OK)
            s = fmcl_run2(ctx, FMCL_K_conv_gather_dy, (size_t)P, (size_t)cs->K * nb, "ttiii", dyt,
                          fmcl_at(dy, (size_t)b0 * cs->K * P), P, cs->K, nb);
        if (s == FMCL_OK && !implicit)
            s = fmcl_gemm(ctx, 0, 1, cs->K, rows, N, 1.0f, dyt, N, cols, N, 1.0f, dw, rows);
        if (s != FMCL_OK || !dx.mem) continue;
        s = fmcl_gemm(ctx, 1, 0, rows, N, cs->K, 1.0f, w, rows, dyt, N, 0.0f, cols, N);
        if (s == FMCL_OK)
            s = fmcl_run2(ctx, FMCL_K_conv_col2im, (size_t)cs->W, (size_t)nb * cs->C * cs->H,
                          "ttiiiiiiiiiii", fmcl_at(dx, (size_t)b0 * cs->C * HW), cols,
                          nb * cs->C * cs->H, N, P, cs->C, cs->H, cs->W, Ho, Wo, cs->ksize,
                          cs->stride, cs->pad);
    }
    return s;
}

/* ---- reference: direct loops, double accumulation ---- */

/* The input pixel (iy, ix) that output (oy, ox) reads at tap (ky, kx), or -1. */
static long tap(const fmcl_conv_shape *cs, int oy, int ox, int ky, int kx)
{
    int iy = oy * cs->stride - cs->pad + ky, ix = ox * cs->stride - cs->pad + kx;
    return iy < 0 || iy >= cs->H || ix < 0 || ix >= cs->W ? -1 : (long)iy * cs->W + ix;
}

void fmcl_conv2d_forward_ref(float *y, const float *x, const float *w, const float *bias,
                             const fmcl_conv_shape *cs)
{
    int Ho = fmcl_conv_out_h(cs), Wo = fmcl_conv_out_w(cs), ks = cs->ksize;
    size_t HW = (size_t)cs->H * cs->W;
    for (int b = 0; b < cs->B; b++)
        for (int k = 0; k < cs->K; k++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    double acc = bias[k];
                    for (int c = 0; c < cs->C; c++)
                        for (int ky = 0; ky < ks; ky++)
                            for (int kx = 0; kx < ks; kx++) {
                                long t = tap(cs, oy, ox, ky, kx);
                                size_t wi = (((size_t)k * cs->C + c) * ks + ky) * ks + kx;
                                if (t >= 0)
                                    acc += (double)w[wi] * x[((size_t)b * cs->C + c) * HW + t];
                            }
                    y[(((size_t)b * cs->K + k) * Ho + oy) * Wo + ox] = (float)acc;
                }
}

void fmcl_conv2d_backward_ref(float *dx, float *dw, float *dbias, const float *dy, const float *x,
                              const float *w, const fmcl_conv_shape *cs)
{
    int Ho = fmcl_conv_out_h(cs), Wo = fmcl_conv_out_w(cs), ks = cs->ksize;
    size_t HW = (size_t)cs->H * cs->W, P = (size_t)Ho * Wo;
    for (int k = 0; k < cs->K; k++) {
        double acc = 0;
        for (int b = 0; b < cs->B; b++)
            for (size_t p = 0; p < P; p++) acc += dy[((size_t)b * cs->K + k) * P + p];
        dbias[k] = (float)(dbias[k] + acc);
    }
    /* dw[k, c, ky, kx] = sum over b, oy, ox of dy[b, k, oy, ox] x[b, c, tap]. */
    for (int k = 0; k < cs->K; k++)
        for (int c = 0; c < cs->C; c++)
            for (int ky = 0; ky < ks; ky++)
                for (int kx = 0; kx < ks; kx++) {
                    double acc = 0;
                    for (int b = 0; b < cs->B; b++)
                        for (int oy = 0; oy < Ho; oy++)
                            for (int ox = 0; ox < Wo; ox++) {
                                long t = tap(cs, oy, ox, ky, kx);
                                if (t >= 0)
                                    acc += (double)dy[((size_t)b * cs->K + k) * P +
                                                      (size_t)oy * Wo + ox] *
                                           x[((size_t)b * cs->C + c) * HW + t];
                            }
                    size_t i = (((size_t)k * cs->C + c) * ks + ky) * ks + kx;
                    dw[i] = (float)(dw[i] + acc);
                }
    if (!dx) return;
    /* dx[b, c, tap] gathers dy[b, k, oy, ox] w[k, c, ky, kx] over k and the
     * outputs that read it: accumulated in a double image per (b, c). */
    for (int b = 0; b < cs->B; b++)
        for (int c = 0; c < cs->C; c++) {
            float *dxc = dx + ((size_t)b * cs->C + c) * HW;
            for (size_t t = 0; t < HW; t++) {
                int iy = (int)(t / cs->W), ix = (int)(t % cs->W);
                double acc = 0;
                for (int k = 0; k < cs->K; k++)
                    for (int ky = 0; ky < ks; ky++)
                        for (int kx = 0; kx < ks; kx++) {
                            int ty = iy + cs->pad - ky, tx = ix + cs->pad - kx;
                            if (ty < 0 || tx < 0 || ty % cs->stride || tx % cs->stride) continue;
                            int oy = ty / cs->stride, ox = tx / cs->stride;
                            if (oy >= Ho || ox >= Wo) continue;
                            acc += (double)dy[((size_t)b * cs->K + k) * P + (size_t)oy * Wo + ox] *
                                   w[(((size_t)k * cs->C + c) * ks + ky) * ks + kx];
                        }
                dxc[t] = (float)(dxc[t] + acc);
            }
        }
}
