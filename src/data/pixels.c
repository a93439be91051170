/* The 8-bit scaling of image data (see images.h): training batches gathered
 * and dequantised on the device (kernels/image.cl) with their reference, the
 * likelihood's fixed dequantisation on the host, and the change of units from
 * the density of x in [-1, 1]^D to that of the dequantised integers. */
#include <math.h>
#include <string.h>

#include "data/images.h"
#include "data/kernels.h"
#include "runtime/rng.h"

/* (k + u) / 128 - 1 in double, u the 24-bit uniform of word r; rounded once. */
static float dequant(unsigned k, uint32_t r)
{
    return (float)(((double)k + (double)(r >> 8) * 0x1.0p-24) / 128.0 - 1.0);
}

static void dequant_row(float *x, const unsigned char *img, uint64_t seed, uint32_t row,
                        uint32_t step, int C, int H, int W, int flip)
{
    const int D = C * H * W;
    uint32_t r[4];
    for (int d = 0; d < D; d++) {
        if (d % 4 == 0) fmcl_philox(seed, row, (uint32_t)(d / 4), FMCL_STREAM_PIXELS, step, r);
        const int col = d % W;
        const int src = flip ? d - col + (W - 1 - col) : d;
        x[d] = dequant(img[src], r[d % 4]);
    }
}

void fmcl_image_batch_ref(float *x1, const unsigned char *pix, uint64_t seed, uint32_t step,
                          int row0, int N, int C, int H, int W, int hflip, int B)
{
    const size_t D = (size_t)C * H * W;
    for (int b = 0; b < B; b++) {
        uint32_t r[4];
        const uint32_t g = (uint32_t)(row0 + b);
        fmcl_philox(seed, g, 0, FMCL_STREAM_INDEX, step, r);
        const size_t row = fmcl_uint_below(r[0], (uint32_t)N);
        dequant_row(x1 + b * D, pix + row * D, seed, g, step, C, H, W, hflip && (r[1] >> 31));
    }
}

fmcl_status fmcl_image_batch(fmcl_ctx *ctx, fmcl_t x1, fmcl_t pix, uint64_t seed, uint32_t step,
                             int N, int C, int H, int W, int hflip, int B)
{
    return fmcl_image_batch_at(ctx, x1, pix, seed, step, 0, N, C, H, W, hflip, B);
}

fmcl_status fmcl_image_batch_at(fmcl_ctx *ctx, fmcl_t x1, fmcl_t pix, uint64_t seed, uint32_t step,
                                int row0, int N, int C, int H, int W, int hflip, int B)
{
    if (C < 1 || H < 1 || W < 1 || N < 1 || B < 0 || row0 < 0)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "fmcl_image_batch: bad shape (%d images of %d x %d x %d, batch %d from "
                         "row %d); the set needs at least one image of at least one pixel",
                         N, C, H, W, B, row0);
    const uint64_t D = (uint64_t)C * (uint64_t)H * (uint64_t)W;
    if (4 * (uint64_t)pix.off + (uint64_t)N * D > UINT32_MAX || (uint64_t)B * D > UINT32_MAX)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "fmcl_image_batch: %d images of %llu bytes (batch %d) exceed the "
                         "kernel's 32-bit indices; train on fewer images or a smaller batch",
                         N, (unsigned long long)D, B);
    return fmcl_run2(ctx, FMCL_K_image_batch, (size_t)D, (size_t)B, "ttluiiiiiii", x1,
                     (fmcl_t){pix.mem, 4 * pix.off}, seed, (unsigned)step, row0, N, C, H, W, hflip,
                     B);
}

void fmcl_images_dequantize(float *x, const unsigned char *pix, int first, int n, int D,
                            uint64_t seed, uint32_t step)
{
    for (int i = 0; i < n; i++) {
        const size_t r = (size_t)first + (size_t)i;
        dequant_row(x + (size_t)i * D, pix + r * D, seed, (uint32_t)r, step, 1, 1, D, 0);
    }
}

/* x = 2 y / 2^bits - 1 maps y = k + u in [0, 2^bits)^D onto [-1, 1)^D with
 * Jacobian (2 / 2^bits)^D, so p_y(y) = p_x(x) / 2^((bits - 1) D):
 * -log p_y = -log p_x + D (bits - 1) ln 2, and bits/dim grow by bits - 1
 * (7 for 8-bit data). Standard errors do not change. */
void fmcl_nll_stats_dequantized(fmcl_nll_stats *st, int bits)
{
    st->nll += st->dim * (bits - 1) * log(2.0);
    st->bpd += bits - 1;
}

void fmcl_nll_per_point(const double *logp, int n, int dim, int bits, double *nll)
{
    const double per_bit = dim > 0 ? dim * log(2.0) : 1;
    for (int i = 0; i < n; i++) nll[i] = bits > 0 ? -logp[i] / per_bit + (bits - 1) : -logp[i];
}
