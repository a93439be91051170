/* tiny_workload's piece for the image layers (src/nn/image_ops.h), which
 * have no public entry point yet: every layer forward and backward once at
 * tiny odd shapes, so tests/oclgrind.sh sees each of their kernels run.
 * Values are checked only for being finite (test_conv, test_norm,
 * test_resample, test_cond and fmcl check compare them with references). */
#include <math.h>

#include "nn/image_ops.h"
#include "nn/nn_ops.h"
#include "testlib.h"
#include "tiny_layers.h"

enum { MAXN = 512, NBUF = 14 };

static void all_finite(fmcl_ctx *ctx, const tl_buf *b, const char *what)
{
    float v[MAXN];
    if (!tl_check(b->n <= MAXN, "%s: %zu elements, more than %d", what, b->n, MAXN) ||
        !tl_buf_read(ctx, b, v))
        return;
    size_t i = 0;
    while (i < b->n && isfinite(v[i])) i++;
    tl_check(i == b->n, "%s: element %zu is not finite", what, i);
}

static int ok(fmcl_ctx *ctx, fmcl_status s, const char *what)
{
    return tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx));
}

static const char *const conv_impls[] = {"im2col", "implicit GEMM packed", "implicit GEMM tiled"};

static void conv_once(fmcl_ctx *ctx, tl_buf *b, fmcl_conv_shape cs, const char *what, int impl)
{
    size_t P = (size_t)fmcl_conv_out_h(&cs) * fmcl_conv_out_w(&cs);
    size_t nx = (size_t)cs.B * cs.C * cs.H * cs.W, nw = (size_t)cs.K * cs.C * cs.ksize * cs.ksize;
    size_t ny = (size_t)cs.B * cs.K * P;
    float x[MAXN];
    tl_fill(x, MAXN, -1.f, 1.f, 3);
    if (tl_buf_new(ctx, &b[0], nx, x) && tl_buf_new(ctx, &b[1], nw, x) &&
        tl_buf_new(ctx, &b[2], cs.K, x) && tl_buf_new(ctx, &b[3], ny, NULL) &&
        tl_buf_new(ctx, &b[4], fmcl_conv_scratch(&cs), NULL) && tl_buf_new(ctx, &b[5], nx, NULL) &&
        tl_buf_new(ctx, &b[6], nw, NULL) && tl_buf_new(ctx, &b[7], cs.K, NULL) &&
        ok(ctx, fmcl_conv_reserve(ctx, &cs), what) &&
        ok(ctx, fmcl_conv2d_forward(ctx, b[3].t, b[0].t, b[1].t, b[2].t, b[4].t, &cs), what) &&
        ok(ctx,
           fmcl_conv2d_backward(ctx, b[5].t, b[6].t, b[7].t, b[3].t, b[0].t, b[1].t, b[4].t, &cs),
           what)) {
        all_finite(ctx, &b[5], what);
        all_finite(ctx, &b[6], what);
        if (impl != FMCL_CONV_IM2COL &&
            ok(ctx, fmcl_convgemm_forward(ctx, b[3].t, b[0].t, b[1].t, b[2].t, b[3].t, b[4].t, &cs),
               what))
            all_finite(ctx, &b[3], what);
    }
    printf("  image layers: %s, %s\n", what, conv_impls[impl]);
    for (int i = 0; i < 8; i++) tl_buf_free(&b[i]);
}
/* Forward and backward of one convolution in each of the three ways, and the
 * implicit GEMM's forward with a residual; every buffer initialised. */
static void conv(fmcl_ctx *ctx, tl_buf *b, fmcl_conv_shape cs, const char *what)
{
    for (int impl = 0; impl < 3; impl++) {
        fmcl_conv_impl chosen = (fmcl_conv_impl)ctx->conv_impl;
        fmcl_conv_use(ctx, (fmcl_conv_impl)impl);
        conv_once(ctx, b, cs, what, impl);
        fmcl_conv_use(ctx, chosen);
    }
}

/* Self-attention forward and backward over P positions (qkv from x). */
static void attention(fmcl_ctx *ctx, tl_buf *b, const float *x, int B, int C, int P, int heads,
                      const char *what)
{
    const size_t nq = (size_t)B * 3 * C * P, na = fmcl_attention_scratch(B, P, heads);
    if (tl_buf_new(ctx, &b[0], nq, x) && tl_buf_new(ctx, &b[1], (size_t)B * C * P, NULL) &&
        tl_buf_new(ctx, &b[2], na, NULL) && tl_buf_new(ctx, &b[3], na, NULL) &&
        tl_buf_new(ctx, &b[4], nq, NULL) &&
        ok(ctx, fmcl_attention_reserve(ctx, B, C, P, heads), what) &&
        ok(ctx, fmcl_attention_forward(ctx, b[1].t, b[2].t, b[0].t, B, C, P, heads), what) &&
        ok(ctx,
           fmcl_attention_backward(ctx, b[4].t, b[1].t, b[0].t, b[2].t, b[3].t, B, C, P, heads),
           what))
        all_finite(ctx, &b[4], what);
    printf("  image layers: %s\n", what);
    for (int i = 0; i < 5; i++) tl_buf_free(&b[i]);
}

void tiny_layers(fmcl_ctx *ctx)
{
    enum { B = 2, C = 4, H = 3, W = 5, HW = H * W, G = 2, D = 6 };
    tl_buf b[NBUF] = {0};
    /* B, C, H, W, K, ksize, stride, pad, chunk */
    conv(ctx, b, (fmcl_conv_shape){B, 2, 5, 3, 3, 3, 1, 1, 1}, "conv 3x3 stride 1");
    conv(ctx, b, (fmcl_conv_shape){B, 2, 5, 3, 3, 3, 2, 1, 2}, "conv 3x3 stride 2");
    conv(ctx, b, (fmcl_conv_shape){B, 3, 3, 3, 2, 1, 1, 0, 2}, "conv 1x1");
    /* Pixels 5-9 of the middle row read no padding: the packed variant's
     * block without column tests. */
    conv(ctx, b, (fmcl_conv_shape){1, 1, 3, 11, 2, 3, 1, 1, 1}, "conv 3x3, an inner block");

    const size_t n = (size_t)B * C * HW;
    float x[MAXN], t[B] = {0.25f, 1.0f};
    tl_fill(x, MAXN, -1.f, 1.f, 4);
    tl_buf *bx = &b[0], *bgamma = &b[1], *by = &b[2], *bmean = &b[3], *brstd = &b[4];
    tl_buf *bz = &b[5], *bdx = &b[6], *bdgamma = &b[7], *bup = &b[8], *bcat = &b[9];
    tl_buf *bss = &b[10], *bt = &b[11], *bdss = &b[12], *bemb = &b[13];
    const char *what = "groupnorm, scale-shift, upsampling, concatenation, time embedding, "
                       "dropout";
    if (tl_buf_new(ctx, bx, n, x) && tl_buf_new(ctx, bgamma, C, x) &&
        tl_buf_new(ctx, by, n, NULL) && tl_buf_new(ctx, bmean, B * G, NULL) &&
        tl_buf_new(ctx, brstd, B * G, NULL) && tl_buf_new(ctx, bz, n, NULL) &&
        tl_buf_new(ctx, bdx, n, NULL) && tl_buf_new(ctx, bdgamma, C, NULL) &&
        tl_buf_new(ctx, bup, 4 * n, NULL) && tl_buf_new(ctx, bcat, 2 * n, NULL) &&
        tl_buf_new(ctx, bss, B * 2 * C, x) && tl_buf_new(ctx, bt, B, t) &&
        tl_buf_new(ctx, bdss, B * 2 * C, NULL) && tl_buf_new(ctx, bemb, B * D, NULL) &&
        /* y = groupnorm(x), z = silu(scale_shift(groupnorm(x))) and back,
         * with x standing in for dz, bup as the backward's scratch. */
        ok(ctx,
           fmcl_groupnorm_forward(ctx, by->t, bmean->t, brstd->t, bx->t, bgamma->t, bgamma->t,
                                  (fmcl_t){NULL, 0}, 0, B, C, HW, G),
           what) &&
        ok(ctx,
           fmcl_groupnorm_forward(ctx, bz->t, bmean->t, brstd->t, bx->t, bgamma->t, bgamma->t,
                                  bss->t, 1, B, C, HW, G),
           what) &&
        ok(ctx,
           fmcl_groupnorm_backward(ctx, bdx->t, bdgamma->t, bdgamma->t, bdss->t, bx->t, bx->t,
                                   bmean->t, brstd->t, bgamma->t, bgamma->t, bss->t, 1, bup->t, B,
                                   C, HW, G),
           what) &&
        ok(ctx, fmcl_upsample2x_forward(ctx, bup->t, bx->t, B, C, H, W), what) &&
        ok(ctx, fmcl_upsample2x_backward(ctx, bdx->t, bup->t, B, C, H, W), what) &&
        ok(ctx, fmcl_concat_forward(ctx, bcat->t, bx->t, by->t, B, C, C, HW), what) &&
        ok(ctx, fmcl_concat_backward(ctx, bdx->t, bz->t, bcat->t, B, C, C, HW), what) &&
        ok(ctx, fmcl_time_embedding(ctx, bemb->t, bt->t, FMCL_TIME_SCALE, B, D), what) &&
        ok(ctx, fmcl_dropout_forward(ctx, bz->t, bx->t, 0.5f, 3, 1, 2, 0, (int)n), what) &&
        ok(ctx, fmcl_dropout_backward(ctx, bdss->t, bz->t, 0.5f, 3, 1, 2, 0, B * 2 * C), what)) {
        all_finite(ctx, bdx, what);
        all_finite(ctx, bdss, what);
        all_finite(ctx, bemb, what);
    }
    printf("  image layers: %s\n", what);
    for (int i = 0; i < NBUF; i++) tl_buf_free(&b[i]);

    attention(ctx, b, x, B, 4, 5, 2, "self-attention, 2 heads over 5 positions (one kernel)");
    attention(ctx, b, x, 1, 2, 65, 1, "self-attention over 65 positions (a launch per product)");
}
