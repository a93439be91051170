/* Nearest 2x upsampling and channel concatenation (image_ops.h): launchers
 * for kernels/resample.cl and their references. Concatenation is two
 * strided block copies (one block of C * HW floats per sample). */
#include <limits.h>

#include "nn/image_ops.h"
#include "nn/kernels.h"

/* The largest tensor, B * C * H * W * scale floats, must fit the kernels'
 * int indices (for concatenation H is the pixel count and W 1). */
static fmcl_status check_sizes(fmcl_ctx *ctx, const char *op, int B, int C, int H, int W, int scale)
{
    if (B < 1 || C < 1 || H < 1 || W < 1)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "%s: B=%d C=%d H=%d W=%d: sizes must be >= 1", op, B, C,
                         H, W);
    if ((double)B * C * H * W * scale > INT_MAX)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "%s: B=%d C=%d H=%d W=%d makes a tensor of more than 2^31 - 1 floats; "
                         "use a smaller batch",
                         op, B, C, H, W);
    return FMCL_OK;
}

fmcl_status fmcl_upsample2x_forward(fmcl_ctx *ctx, fmcl_t y, fmcl_t x, int B, int C, int H, int W)
{
    fmcl_status s = check_sizes(ctx, "upsample2x_forward", B, C, H, W, 4);
    if (s != FMCL_OK) return s;
    int rows = B * C * H * 2;
    return fmcl_run2(ctx, FMCL_K_upsample2x_forward, (size_t)W * 2, (size_t)rows, "ttii", y, x,
                     rows, W);
}

fmcl_status fmcl_upsample2x_backward(fmcl_ctx *ctx, fmcl_t dx, fmcl_t dy, int B, int C, int H,
                                     int W)
{
    fmcl_status s = check_sizes(ctx, "upsample2x_backward", B, C, H, W, 4);
    if (s != FMCL_OK) return s;
    int rows = B * C * H;
    return fmcl_run2(ctx, FMCL_K_upsample2x_backward, (size_t)W, (size_t)rows, "ttii", dx, dy, rows,
                     W);
}

/* B blocks of C * HW floats between tensors whose samples are dst_c and
 * src_c channels apart. */
static fmcl_status copy_channels(fmcl_ctx *ctx, fmcl_t dst, fmcl_t src, int B, int C, int HW,
                                 int dst_c, int src_c, int accumulate)
{
    int L = C * HW;
    return fmcl_run2(ctx, FMCL_K_copy_blocks, (size_t)L, (size_t)B, "ttiiiii", dst, src, L, B,
                     dst_c * HW, src_c * HW, accumulate);
}

fmcl_status fmcl_concat_forward(fmcl_ctx *ctx, fmcl_t y, fmcl_t a, fmcl_t b, int B, int Ca, int Cb,
                                int HW)
{
    int C = Ca < 1 || Cb < 1 || Ca > INT_MAX - Cb ? 0 : Ca + Cb;
    fmcl_status s = check_sizes(ctx, "concat_forward", B, C, HW, 1, 1);
    if (s == FMCL_OK) s = copy_channels(ctx, y, a, B, Ca, HW, C, Ca, 0);
    if (s == FMCL_OK) s = copy_channels(ctx, fmcl_at(y, (size_t)Ca * HW), b, B, Cb, HW, C, Cb, 0);
    return s;
}

fmcl_status fmcl_concat_backward(fmcl_ctx *ctx, fmcl_t da, fmcl_t db, fmcl_t dy, int B, int Ca,
                                 int Cb, int HW)
{
    int C = Ca < 1 || Cb < 1 || Ca > INT_MAX - Cb ? 0 : Ca + Cb;
    fmcl_status s = check_sizes(ctx, "concat_backward", B, C, HW, 1, 1);
    if (s == FMCL_OK) s = copy_channels(ctx, da, dy, B, Ca, HW, Ca, C, 1);
    if (s == FMCL_OK) s = copy_channels(ctx, db, fmcl_at(dy, (size_t)Ca * HW), B, Cb, HW, Cb, C, 1);
    return s;
}

void fmcl_upsample2x_forward_ref(float *y, const float *x, int B, int C, int H, int W)
{
    for (size_t bc = 0; bc < (size_t)B * C; bc++)
        for (int oy = 0; oy < 2 * H; oy++)
            for (int ox = 0; ox < 2 * W; ox++)
                y[(bc * 2 * H + oy) * 2 * W + ox] = x[(bc * H + oy / 2) * W + ox / 2];
}

void fmcl_upsample2x_backward_ref(float *dx, const float *dy, int B, int C, int H, int W)
{
    for (size_t bc = 0; bc < (size_t)B * C; bc++)
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++) {
                double acc = 0;
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++)
                        acc += dy[(bc * 2 * H + 2 * h + i) * 2 * W + 2 * w + j];
                dx[(bc * H + h) * W + w] = (float)(dx[(bc * H + h) * W + w] + acc);
            }
}

void fmcl_concat_forward_ref(float *y, const float *a, const float *b, int B, int Ca, int Cb,
                             int HW)
{
    for (int n = 0; n < B; n++)
        for (int c = 0; c < Ca + Cb; c++) {
            const float *src = c < Ca ? a + ((size_t)n * Ca + c) * HW
                                      : b + ((size_t)n * Cb + c - Ca) * HW;
            for (int p = 0; p < HW; p++) y[((size_t)n * (Ca + Cb) + c) * HW + p] = src[p];
        }
}

void fmcl_concat_backward_ref(float *da, float *db, const float *dy, int B, int Ca, int Cb, int HW)
{
    for (int n = 0; n < B; n++)
        for (int c = 0; c < Ca + Cb; c++)
            for (int p = 0; p < HW; p++) {
                float g = dy[((size_t)n * (Ca + Cb) + c) * HW + p];
                if (c < Ca)
                    da[((size_t)n * Ca + c) * HW + p] += g;
                else
                    db[((size_t)n * Cb + c - Ca) * HW + p] += g;
            }
}
