/* Convolution as an implicit GEMM (image_ops.h; kernels/convgemm.cl): the
 * forward, and the input gradient of a stride-1 convolution, read the image
 * where im2col would have copied it, so neither the column buffer nor
 * col2im's pass over it is needed, and the bias (or a residual sum) goes in
 * with the store; the weight gradient packs dy, not the columns. The
 * weights are packed first into panels of two vectors' worth of output
 * channels (16, or 32 where the device runs float16: fmcl_vector_width)
 * at the start of the scratch. Two variants compute the same fma chains, so
 * the same bits: register blocks for CPU devices (PoCL) and local-memory
 * tiles for GPUs. */
#include "nn/image_ops.h"
#include "nn/kernels.h"

/* convgemm.cl's CONV_MR (pixels per block of the forward) by vector width,
 * and CONV_WR (taps per block of the weight gradient). */
static size_t mr(const fmcl_ctx *ctx) { return ctx->vw == 16 ? 7 : 5; }
#define WR 5
#define NR_MAX 32 /* the widest CONV_NR */
#define PACK_R 8
#define TM 32 /* CONV_TM, CONV_TN */
#define TN 32
#define WG 64

static size_t panels(size_t n, size_t w) { return (n + w - 1) / w; }

/* convgemm.cl's CONV_NR: output channels per panel, two of the device's vectors. */
static size_t nr(const fmcl_ctx *ctx) { return 2 * (size_t)ctx->vw; }

size_t fmcl_convgemm_scratch(const fmcl_conv_shape *cs)
{
    size_t R = (size_t)cs->C * cs->ksize * cs->ksize, R2 = (size_t)cs->K * cs->ksize * cs->ksize;
    /* Panels as wide as any device's (planned without one). */
    size_t fwd = panels((size_t)cs->K, NR_MAX) * NR_MAX * R;
    size_t dgrad = panels((size_t)cs->C, NR_MAX) * NR_MAX * R2;
    size_t M = (size_t)cs->B * fmcl_conv_out_h(cs) * fmcl_conv_out_w(cs);
    size_t wgrad = panels((size_t)cs->K, NR_MAX) * NR_MAX * M; /* dy in panels */
    size_t most = fwd > dgrad ? fwd : dgrad;
    return most > wgrad ? most : wgrad;
}

/* The product of image x [B, Ci, H, W] and packed weights Wp into y
 * [B, Ko, Ho, Wo] (mode: convgemm.cl's CONV_BIAS, CONV_BIAS_ADD, CONV_ACC). */
typedef struct {
    int B, Ci, H, W, Ko, Ho, Wo, ks, stride, pad, mode;
} conv_job;

enum { MODE_BIAS, MODE_BIAS_ADD, MODE_ACC };

/* Pixel blocks and panels per work-item: 4 x 4 (a panel of a 64-channel
 * 3x3 layer is 37 KB, shared by the item's blocks from L2), halved while
 * there would be fewer than 8 items per compute unit. */
static void blocking(const fmcl_ctx *ctx, size_t pm, size_t qn, int *pa, int *qb)
{
    size_t want = 8 * (size_t)(ctx->info.compute_units ? ctx->info.compute_units : 1);
    *pa = 4;
    *qb = 4;
    while ((*pa > 1 || *qb > 1) && panels(pm, (size_t)*pa) * panels(qn, (size_t)*qb) < want) {
        if (*pa >= *qb)
            *pa /= 2;
        else
            *qb /= 2;
    }
}

static fmcl_status product(fmcl_ctx *ctx, fmcl_t y, fmcl_t x, fmcl_t Wp, fmcl_t bias, fmcl_t res,
                           const conv_job *j)
{
    /* Unused pointers get y: the kernels never read them. */
    if (!bias.mem) bias = y;
    if (!res.mem) res = y;
    size_t M = (size_t)j->B * j->Ho * j->Wo;
    if (ctx->conv_impl == FMCL_CONV_TILED) {
        size_t tn = panels((size_t)j->Ko, TN), tm = panels(M, TM);
        return fmcl_run1_local(ctx, FMCL_K_convgemm_tiled, tn * tm * WG, WG, "tttttiiiiiiiiiiii", y,
                               x, Wp, bias, res, j->B, j->Ci, j->H, j->W, j->Ko, j->Ho, j->Wo,
                               j->ks, j->stride, j->pad, j->mode, (int)tn);
    }
    /* Blocks of CONV_MR pixels within one output row. */
    size_t pm = (size_t)j->B * j->Ho * panels((size_t)j->Wo, mr(ctx));
    size_t qn = panels((size_t)j->Ko, nr(ctx));
    int pa, qb;
    blocking(ctx, pm, qn, &pa, &qb);
    return fmcl_run2(ctx, FMCL_K_convgemm_packed, panels(qn, (size_t)qb), panels(pm, (size_t)pa),
                     "tttttiiiiiiiiiiiii", y, x, Wp, bias, res, j->B, j->Ci, j->H, j->W, j->Ko,
                     j->Ho, j->Wo, j->ks, j->stride, j->pad, j->mode, pa, qb);
}

static fmcl_status pack(fmcl_ctx *ctx, fmcl_t Wp, fmcl_t w, int Ko, int R, int ks, int flip)
{
    return fmcl_run2(ctx, FMCL_K_convgemm_pack_w, panels((size_t)R, PACK_R),
                     panels((size_t)Ko, nr(ctx)), "ttiiii", Wp, w, Ko, R, ks, flip);
}

fmcl_status fmcl_convgemm_forward(fmcl_ctx *ctx, fmcl_t y, fmcl_t x, fmcl_t w, fmcl_t bias,
                                  fmcl_t res, fmcl_t scratch, const fmcl_conv_shape *cs)
{
    const int ks = cs->ksize;
    conv_job j = {cs->B,
                  cs->C,
                  cs->H,
                  cs->W,
                  cs->K,
                  fmcl_conv_out_h(cs),
                  fmcl_conv_out_w(cs),
                  ks,
                  cs->stride,
                  cs->pad,
                  res.mem ? MODE_BIAS_ADD : MODE_BIAS};
    fmcl_status s = pack(ctx, scratch, w, cs->K, cs->C * ks * ks, ks, 0);
    return s == FMCL_OK ? product(ctx, y, x, scratch, bias, res, &j) : s;
}

/* dx += the convolution of dy with w flipped and transposed, padded by
 * ks - 1 - pad: for stride 1, each dx pixel gathers exactly the (dy, w)
 * pairs that read it. */
fmcl_status fmcl_convgemm_dgrad(fmcl_ctx *ctx, fmcl_t dx, fmcl_t dy, fmcl_t w, fmcl_t scratch,
                                const fmcl_conv_shape *cs)
{
    if (cs->stride != 1)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "conv2d: the implicit input gradient needs stride 1");
    const int ks = cs->ksize;
    conv_job j = {cs->B,
                  cs->K,
                  fmcl_conv_out_h(cs),
                  fmcl_conv_out_w(cs),
                  cs->C,
                  cs->H,
                  cs->W,
                  ks,
                  1,
                  ks - 1 - cs->pad,
                  MODE_ACC};
    fmcl_status s = pack(ctx, scratch, w, cs->C, cs->K * ks * ks, ks, 1);
    return s == FMCL_OK ? product(ctx, dx, dy, scratch, (fmcl_t){NULL, 0}, (fmcl_t){NULL, 0}, &j)
                        : s;
}

/* dw += the sum over pixels of dy times the image's taps: dy packed in panels
 * of 16 channels per pixel (at the start of scratch), then one fma chain per
 * weight over the pixels in order. */
fmcl_status fmcl_convgemm_wgrad(fmcl_ctx *ctx, fmcl_t dw, fmcl_t dy, fmcl_t x, fmcl_t scratch,
                                const fmcl_conv_shape *cs)
{
    const int Ho = fmcl_conv_out_h(cs), Wo = fmcl_conv_out_w(cs), P = Ho * Wo, M = cs->B * P;
    const int R = cs->C * cs->ksize * cs->ksize;
    size_t qn = panels((size_t)cs->K, nr(ctx));
    fmcl_status s = fmcl_run2(ctx, FMCL_K_convgemm_pack_dy, (size_t)M, qn, "ttiii", scratch, dy, M,
                              cs->K, P);
    if (s != FMCL_OK) return s;
    if (ctx->conv_impl == FMCL_CONV_TILED) {
        size_t tr = panels((size_t)R, TN), to = panels((size_t)cs->K, TM);
        return fmcl_run1_local(ctx, FMCL_K_convgemm_wgrad_tiled, tr * to * WG, WG, "tttiiiiiiiiiii",
                               dw, x, scratch, cs->B, cs->C, cs->H, cs->W, cs->K, Ho, Wo, cs->ksize,
                               cs->stride, cs->pad, (int)tr);
    }
    return fmcl_run2(ctx, FMCL_K_convgemm_wgrad_packed, qn, panels((size_t)R, WR), "tttiiiiiiiiii",
                     dw, x, scratch, cs->B, cs->C, cs->H, cs->W, cs->K, Ho, Wo, cs->ksize,
                     cs->stride, cs->pad);
}
