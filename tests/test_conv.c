/* 2D convolution (src/nn/conv.c, conv_gemm.c): the CPU reference's backward
 * against central finite differences of its forward, then the device forward
 * and backward against the reference on odd shapes (3x3 stride 1 and 2, 1x1;
 * chunks that divide the batch and chunks that leave a remainder), with
 * gradients accumulated into nonzero values and guard regions, in each of
 * the three ways (im2col, implicit GEMM packed and tiled; the two implicit
 * ones must agree to the bit, and also add a residual); invalid shapes are
 * refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/image_ops.h"
#include "testlib.h"

typedef struct {
    size_t nx, nw, ny;
} sizes;

static sizes sizes_of(const fmcl_conv_shape *cs)
{
    size_t P = (size_t)fmcl_conv_out_h(cs) * fmcl_conv_out_w(cs);
    return (sizes){(size_t)cs->B * cs->C * cs->H * cs->W,
                   (size_t)cs->K * cs->C * cs->ksize * cs->ksize, (size_t)cs->B * cs->K * P};
}

static void tag_of(char *tag, size_t cap, const fmcl_conv_shape *cs)
{
    snprintf(tag, cap, "B%d C%d %dx%d K%d k%d s%d p%d chunk%d", cs->B, cs->C, cs->H, cs->W, cs->K,
             cs->ksize, cs->stride, cs->pad, cs->chunk);
}

/* L = sum(y * R) from the reference forward. */
static double loss_of(const fmcl_conv_shape *cs, const float *x, const float *w, const float *b,
                      const float *R, float *y)
{
    sizes z = sizes_of(cs);
    fmcl_conv2d_forward_ref(y, x, w, b, cs);
    double L = 0;
    for (size_t i = 0; i < z.ny; i++) L += (double)y[i] * R[i];
    return L;
}

/* Central difference w.r.t. *v. The layer is linear in each input, so a
 * large step is exact and keeps the float rounding of y small relative to it. */
static double central(const fmcl_conv_shape *cs, const float *x, const float *w, const float *b,
                      const float *R, float *y, float *v)
{
    float v0 = *v, vp = v0 + 0.25f, vm = v0 - 0.25f;
    *v = vp;
    double lp = loss_of(cs, x, w, b, R, y);
    *v = vm;
    double lm = loss_of(cs, x, w, b, R, y);
    *v = v0;
    return (lp - lm) / ((double)vp - (double)vm);
}

static double worst_rel(double worst, double fd, double an)
{
    double e = fabs(fd - an) / (1e-3 + fabs(an));
    return e > worst ? e : worst;
}

static void finite_differences(fmcl_conv_shape cs)
{
    char tag[96];
    tag_of(tag, sizeof tag, &cs);
    sizes z = sizes_of(&cs);
    float *x = malloc(z.nx * 4), *w = malloc(z.nw * 4), *b = malloc(cs.K * 4);
    float *R = malloc(z.ny * 4), *y = malloc(z.ny * 4);
    float *dx = calloc(z.nx, 4), *dw = calloc(z.nw, 4), *db = calloc(cs.K, 4);
    tl_fill(x, z.nx, -1, 1, 1);
    tl_fill(w, z.nw, -1, 1, 2);
    tl_fill(b, cs.K, -1, 1, 3);
    tl_fill(R, z.ny, -1, 1, 4);
    fmcl_conv2d_backward_ref(dx, dw, db, R, x, w, &cs);
    double worst = 0;
    for (size_t i = 0; i < z.nx; i++)
        worst = worst_rel(worst, central(&cs, x, w, b, R, y, &x[i]), dx[i]);
    for (size_t i = 0; i < z.nw; i++)
        worst = worst_rel(worst, central(&cs, x, w, b, R, y, &w[i]), dw[i]);
    for (int i = 0; i < cs.K; i++)
        worst = worst_rel(worst, central(&cs, x, w, b, R, y, &b[i]), db[i]);
    printf("  %-40s reference backward vs finite differences: max rel err %.2e\n", tag, worst);
    tl_check(worst < 1e-4, "%s: reference backward disagrees with finite differences (%.2e)", tag,
             worst);
    free(x), free(w), free(b), free(R), free(y), free(dx), free(dw), free(db);
}

static void widen(double *d, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++) d[i] = f[i];
}

static const char *const impl_names[] = {"im2col", "implicit packed", "implicit tiled"};

/* The implicit variants' results per case (0: y, 1: dw, 2: dx), kept to
 * compare their bits: both run the same fma chains. */
static float *first[3];
static size_t first_n[3];

static void same_bits(int impl, int k, const float *got, size_t n, const char *what)
{
    if (impl == FMCL_CONV_PACKED && (first[k] = realloc(first[k], n * 4))) {
        memcpy(first[k], got, n * 4);
        first_n[k] = n;
    } else if (impl == FMCL_CONV_TILED && first[k] && first_n[k] == n) {
        size_t differ = 0;
        for (size_t i = 0; i < n; i++) differ += memcmp(&got[i], &first[k][i], 4) != 0;
        tl_check(differ == 0, "%s: %zu values differ in their bits from the packed variant's", what,
                 differ);
    }
}

/* The implicit GEMM's forward with a residual: y = conv(x) + bias + res. */
static void residual_case(fmcl_ctx *ctx, const fmcl_conv_shape *cs, const char *tag,
                          const tl_buf *bx, const tl_buf *bw, const tl_buf *bb, const tl_buf *bres,
                          const tl_buf *bs, const float *y, const float *res, float *got,
                          double *want, size_t ny)
{
    char what[160];
    tl_buf by;
    if (!tl_buf_new(ctx, &by, ny, NULL)) return;
    fmcl_status s = fmcl_convgemm_forward(ctx, by.t, bx->t, bw->t, bb->t, bres->t, bs->t, cs);
    for (size_t i = 0; i < ny; i++) want[i] = (double)y[i] + res[i];
    snprintf(what, sizeof what, "%s forward + residual", tag);
    if (tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx)) && tl_buf_read(ctx, &by, got))
        tl_close(what, got, want, ny, 1e-4, 1e-4);
    tl_guard_ok(ctx, &by, what);
    tl_buf_free(&by);
}

/* Device vs reference; with_dx 0 passes no input gradient. */
static void device_case(fmcl_ctx *ctx, fmcl_conv_shape cs, int with_dx)
{
    char tag[128], what[192];
    tag_of(tag, sizeof tag, &cs);
    int impl = ctx->conv_impl;
    snprintf(tag + strlen(tag), sizeof tag - strlen(tag), " %s", impl_names[impl]);
    sizes z = sizes_of(&cs);
    size_t ns = fmcl_conv_scratch(&cs), nmax = z.nx > z.nw ? z.nx : z.nw;
    nmax = nmax > z.ny ? nmax : z.ny;
    float *x = malloc(z.nx * 4), *w = malloc(z.nw * 4), *b = malloc(cs.K * 4);
    float *dy = malloc(z.ny * 4), *y = malloc(z.ny * 4), *got = malloc(nmax * 4);
    float *dx = malloc(z.nx * 4), *dw = malloc(z.nw * 4), *db = malloc(cs.K * 4);
    double *want = malloc(nmax * 8);
    tl_fill(x, z.nx, -1, 1, 5);
    tl_fill(w, z.nw, -0.5f, 0.5f, 6);
    tl_fill(b, cs.K, -1, 1, 7);
    tl_fill(dy, z.ny, -1, 1, 8);
    /* Gradients start nonzero: the backward must add to them. */
    tl_fill(dx, z.nx, -1, 1, 9);
    tl_fill(dw, z.nw, -1, 1, 10);
    tl_fill(db, cs.K, -1, 1, 11);
    tl_buf bx, bw, bb, by, bdy, bdx, bdw, bdb, bs;
    int ok = tl_check(ns > 0, "%s: no scratch size", tag) &&
             tl_check(fmcl_conv_reserve(ctx, &cs) == FMCL_OK, "reserve: %s", fmcl_ctx_error(ctx)) &&
             tl_buf_new(ctx, &bx, z.nx, x) && tl_buf_new(ctx, &bw, z.nw, w) &&
             tl_buf_new(ctx, &bb, cs.K, b) && tl_buf_new(ctx, &by, z.ny, NULL) &&
             tl_buf_new(ctx, &bdy, z.ny, dy) && tl_buf_new(ctx, &bdx, z.nx, dx) &&
             tl_buf_new(ctx, &bdw, z.nw, dw) && tl_buf_new(ctx, &bdb, cs.K, db) &&
             tl_buf_new(ctx, &bs, ns, NULL);
    if (ok) {
        fmcl_status s = fmcl_conv2d_forward(ctx, by.t, bx.t, bw.t, bb.t, bs.t, &cs);
        fmcl_conv2d_forward_ref(y, x, w, b, &cs);
        widen(want, y, z.ny);
        snprintf(what, sizeof what, "%s forward", tag);
        if (tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx)) &&
            tl_buf_read(ctx, &by, got))
            tl_close(what, got, want, z.ny, 1e-4, 1e-4);
        tl_guard_ok(ctx, &by, what);
        tl_guard_ok(ctx, &bs, "conv scratch");
        same_bits(impl, 0, got, z.ny, what);
        if (impl != FMCL_CONV_IM2COL)
            residual_case(ctx, &cs, tag, &bx, &bw, &bb, &bdy, &bs, y, dy, got, want, z.ny);

        fmcl_t tdx = with_dx ? bdx.t : (fmcl_t){NULL, 0};
        s = fmcl_conv2d_backward(ctx, tdx, bdw.t, bdb.t, bdy.t, bx.t, bw.t, bs.t, &cs);
        fmcl_conv2d_backward_ref(with_dx ? dx : NULL, dw, db, dy, x, w, &cs);
        snprintf(what, sizeof what, "%s backward", tag);
        if (tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx))) {
            /* Sums of up to B*Ho*Wo (dw, dbias) or K*ks*ks (dx) products. */
            const struct {
                const char *name;
                tl_buf *buf;
                const float *ref;
                size_t n;
            } outs[] = {{"dw", &bdw, dw, z.nw}, {"dbias", &bdb, db, cs.K}, {"dx", &bdx, dx, z.nx}};
            for (int k = 0; k < 3; k++) {
                snprintf(what, sizeof what, "%s %s%s", tag, outs[k].name,
                         k == 2 && !with_dx ? " (untouched)" : "");
                widen(want, outs[k].ref, outs[k].n);
                if (tl_buf_read(ctx, outs[k].buf, got)) {
                    tl_close(what, got, want, outs[k].n, 2e-4, 2e-4);
                    if (k != 1) same_bits(impl, k ? 2 : 1, got, outs[k].n, what);
                }
                tl_guard_ok(ctx, outs[k].buf, what);
            }
        }
    }
    tl_buf_free(&bx), tl_buf_free(&bw), tl_buf_free(&bb), tl_buf_free(&by), tl_buf_free(&bdy);
    tl_buf_free(&bdx), tl_buf_free(&bdw), tl_buf_free(&bdb), tl_buf_free(&bs);
    free(x), free(w), free(b), free(dy), free(y), free(got), free(dx), free(dw), free(db);
    free(want);
}

static void refusals(fmcl_ctx *ctx)
{
    const fmcl_conv_shape good = {3, 5, 7, 9, 4, 3, 1, 1, 3};
    fmcl_conv_shape bad[6];
    for (int i = 0; i < 6; i++) bad[i] = good;
    bad[0].pad = 3;   /* padding >= kernel */
    bad[1].chunk = 4; /* chunk > B */
    bad[2].stride = 0;
    bad[3].C = 0;
    bad[4].H = 1, bad[4].pad = 0; /* image smaller than the kernel */
    bad[5].B = 1 << 20, bad[5].chunk = 1 << 20, bad[5].C = 1 << 10; /* over 2^31 floats */
    for (int i = 0; i < 6; i++) {
        fmcl_status s = fmcl_conv2d_forward(ctx, (fmcl_t){NULL, 0}, (fmcl_t){NULL, 0},
                                            (fmcl_t){NULL, 0}, (fmcl_t){NULL, 0}, (fmcl_t){NULL, 0},
                                            &bad[i]);
        tl_check(s == FMCL_ERR_ARG && strstr(fmcl_ctx_error(ctx), "conv2d: "),
                 "bad shape %d: status %d, '%s'", i, (int)s, fmcl_ctx_error(ctx));
        tl_check(fmcl_conv_scratch(&bad[i]) == 0, "bad shape %d has a scratch size", i);
    }
    printf("  invalid shapes refused: %s\n", fmcl_ctx_error(ctx));
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    /* B, C, H, W, K, ksize, stride, pad, chunk */
    const fmcl_conv_shape cases[] = {
        {3, 5, 7, 9, 4, 3, 1, 1, 3},
        {3, 5, 7, 9, 4, 3, 1, 1, 2},
        {3, 5, 7, 9, 6, 3, 2, 1, 1},
        {3, 5, 8, 9, 6, 3, 2, 1, 3},
        {3, 5, 7, 9, 7, 1, 1, 0, 2},
        {2, 3, 7, 5, 4, 3, 1, 1, 2},
        {2, 17, 13, 11, 33, 3, 2, 1, 2},
        {2, 17, 13, 11, 33, 3, 1, 1, 2},
        {1, 2, 12, 23, 37, 3, 1, 1, 1}, /* rows of whole interior blocks, 3 panels */
        /* Rows of 14 and 7: float16 blocks of 7 pixels whose window reaches
         * the padding on the right, on both sides. */
        {2, 3, 6, 14, 5, 3, 1, 1, 2},
        {2, 4, 7, 7, 3, 3, 1, 1, 2},
    };
    const int n = (int)(sizeof cases / sizeof cases[0]), chosen = ctx->conv_impl;
    /* Every variant on every device: each case packed, then tiled (whose bits
     * must match), then im2col. */
    for (int i = 0; i < n; i++)
        for (int impl = FMCL_CONV_PACKED; impl <= FMCL_CONV_TILED + 1; impl++) {
            fmcl_conv_use(ctx, (fmcl_conv_impl)(impl % 3));
            device_case(ctx, cases[i], i != 5);
        }
    fmcl_conv_use(ctx, (fmcl_conv_impl)chosen);
    refusals(ctx);
    for (int k = 0; k < 3; k++) {
        free(first[k]);
        first[k] = NULL;
    }
    return 0;
}

int main(void)
{
    finite_differences((fmcl_conv_shape){2, 3, 5, 6, 2, 3, 1, 1, 2});
    finite_differences((fmcl_conv_shape){2, 3, 5, 6, 2, 3, 2, 1, 1});
    finite_differences((fmcl_conv_shape){2, 3, 5, 4, 2, 1, 1, 0, 2});
    return tl_for_each_device(run, NULL);
}
