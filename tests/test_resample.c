/* Nearest 2x upsampling and channel concatenation (src/nn/resample.c): the
 * references' backward is the adjoint of their forward (<f(x), r> =
 * <x, f*(r)>, the finite-difference check of a linear map, exact here), the
 * upsampling reference against its definition on a hand-made image, then the
 * device against the references on odd shapes: copies bitwise, gradients
 * accumulated into nonzero values, guard regions intact. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/image_ops.h"
#include "testlib.h"

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static void adjoints(void)
{
    enum { B = 2, C = 3, H = 5, W = 7, Ca = 2, Cb = 3, HW = 11 };
    static float x[B * C * H * W], y[4 * B * C * H * W], r[4 * B * C * H * W], dx[B * C * H * W];
    tl_fill(x, B * C * H * W, -1, 1, 1);
    tl_fill(r, 4 * B * C * H * W, -1, 1, 2);
    fmcl_upsample2x_forward_ref(y, x, B, C, H, W);
    fmcl_upsample2x_backward_ref(dx, r, B, C, H, W);
    double l = dot(y, r, 4 * B * C * H * W), rr = dot(x, dx, B * C * H * W);
    /* The backward stores float sums: agreement to float rounding. */
    tl_check(fabs(l - rr) < 1e-6 * (1 + fabs(l)), "upsample: <up(x), r> %.17g != <x, up*(r)> %.17g",
             l, rr);
    /* y[b, c, 2h + i, 2w + j] = x[b, c, h, w] on a numbered image. */
    int exact = 1;
    for (int b = 0; b < B * C; b++)
        for (int oy = 0; oy < 2 * H; oy++)
            for (int ox = 0; ox < 2 * W; ox++)
                exact &= y[(b * 2 * H + oy) * 2 * W + ox] == x[(b * H + oy / 2) * W + ox / 2];
    tl_check(exact, "upsample reference does not repeat each pixel 2x2");

    static float a[B * Ca * HW], bb[B * Cb * HW], cat[B * (Ca + Cb) * HW], rc[B * (Ca + Cb) * HW];
    static float da[B * Ca * HW], db[B * Cb * HW];
    tl_fill(a, B * Ca * HW, -1, 1, 3);
    tl_fill(bb, B * Cb * HW, -1, 1, 4);
    tl_fill(rc, B * (Ca + Cb) * HW, -1, 1, 5);
    fmcl_concat_forward_ref(cat, a, bb, B, Ca, Cb, HW);
    fmcl_concat_backward_ref(da, db, rc, B, Ca, Cb, HW);
    l = dot(cat, rc, B * (Ca + Cb) * HW);
    rr = dot(a, da, B * Ca * HW) + dot(bb, db, B * Cb * HW);
    tl_check(fabs(l - rr) < 1e-6 * (1 + fabs(l)), "concat: <cat(a, b), r> %.17g != %.17g", l, rr);
    /* Sample 1, channel Ca (b's first) starts at (Ca + Cb) * HW + Ca * HW. */
    tl_check(cat[(Ca + Cb + Ca) * HW] == bb[Cb * HW] && cat[(Ca + Cb) * HW] == a[Ca * HW],
             "concat reference puts sample 1's channels in the wrong place");
    printf("  references: adjoint identities and layouts checked\n");
}

/* A guarded device buffer read back and compared with want: bitwise when
 * tol is 0 (copies, single float additions), else within tol. */
static void expect(fmcl_ctx *ctx, const char *what, tl_buf *b, const float *want, double tol)
{
    float *got = malloc(b->n * 4);
    double *w = malloc(b->n * 8);
    for (size_t i = 0; i < b->n; i++) w[i] = want[i];
    if (tl_buf_read(ctx, b, got)) {
        if (tol > 0)
            tl_close(what, got, w, b->n, tol, tol);
        else if (tl_check(memcmp(got, want, b->n * 4) == 0, "%s differs from the reference", what))
            printf("  %-40s n=%-8zu bitwise equal\n", what, b->n);
    }
    tl_guard_ok(ctx, b, what);
    free(got), free(w);
}

static void upsample_case(fmcl_ctx *ctx, int B, int C, int H, int W)
{
    char what[96];
    size_t n = (size_t)B * C * H * W;
    float *x = malloc(n * 4), *y = malloc(4 * n * 4), *dy = malloc(4 * n * 4), *dx = malloc(n * 4);
    tl_fill(x, n, -1, 1, 6);
    tl_fill(dy, 4 * n, -1, 1, 7);
    tl_fill(dx, n, -1, 1, 8);
    tl_buf bx, by, bdy, bdx;
    if (tl_buf_new(ctx, &bx, n, x) && tl_buf_new(ctx, &by, 4 * n, NULL) &&
        tl_buf_new(ctx, &bdy, 4 * n, dy) && tl_buf_new(ctx, &bdx, n, dx)) {
        snprintf(what, sizeof what, "upsample2x B%d C%d %dx%d forward", B, C, H, W);
        fmcl_upsample2x_forward_ref(y, x, B, C, H, W);
        if (tl_check(fmcl_upsample2x_forward(ctx, by.t, bx.t, B, C, H, W) == FMCL_OK, "%s: %s",
                     what, fmcl_ctx_error(ctx)))
            expect(ctx, what, &by, y, 0); /* a copy: bitwise */
        snprintf(what, sizeof what, "upsample2x B%d C%d %dx%d backward", B, C, H, W);
        fmcl_upsample2x_backward_ref(dx, dy, B, C, H, W);
        if (tl_check(fmcl_upsample2x_backward(ctx, bdx.t, bdy.t, B, C, H, W) == FMCL_OK, "%s: %s",
                     what, fmcl_ctx_error(ctx)))
            expect(ctx, what, &bdx, dx, 1e-6);
    }
    tl_buf_free(&bx), tl_buf_free(&by), tl_buf_free(&bdy), tl_buf_free(&bdx);
    free(x), free(y), free(dy), free(dx);
}

static void concat_case(fmcl_ctx *ctx, int B, int Ca, int Cb, int HW)
{
    char what[96];
    size_t na = (size_t)B * Ca * HW, nb = (size_t)B * Cb * HW, ny = na + nb;
    float *a = malloc(na * 4), *b = malloc(nb * 4), *y = malloc(ny * 4), *dy = malloc(ny * 4);
    float *da = malloc(na * 4), *db = malloc(nb * 4);
    tl_fill(a, na, -1, 1, 9);
    tl_fill(b, nb, -1, 1, 10);
    tl_fill(dy, ny, -1, 1, 11);
    tl_fill(da, na, -1, 1, 12);
    tl_fill(db, nb, -1, 1, 13);
    tl_buf ba, bb, by, bdy, bda, bdb;
    if (tl_buf_new(ctx, &ba, na, a) && tl_buf_new(ctx, &bb, nb, b) &&
        tl_buf_new(ctx, &by, ny, NULL) && tl_buf_new(ctx, &bdy, ny, dy) &&
        tl_buf_new(ctx, &bda, na, da) && tl_buf_new(ctx, &bdb, nb, db)) {
        snprintf(what, sizeof what, "concat B%d C%d+%d HW%d forward", B, Ca, Cb, HW);
        fmcl_concat_forward_ref(y, a, b, B, Ca, Cb, HW);
        if (tl_check(fmcl_concat_forward(ctx, by.t, ba.t, bb.t, B, Ca, Cb, HW) == FMCL_OK, "%s: %s",
                     what, fmcl_ctx_error(ctx)))
            expect(ctx, what, &by, y, 0);
        fmcl_concat_backward_ref(da, db, dy, B, Ca, Cb, HW);
        if (tl_check(fmcl_concat_backward(ctx, bda.t, bdb.t, bdy.t, B, Ca, Cb, HW) == FMCL_OK,
                     "concat backward: %s", fmcl_ctx_error(ctx))) {
            snprintf(what, sizeof what, "concat B%d C%d+%d HW%d backward da", B, Ca, Cb, HW);
            expect(ctx, what, &bda, da, 0); /* one float addition each, as the reference */
            snprintf(what, sizeof what, "concat B%d C%d+%d HW%d backward db", B, Ca, Cb, HW);
            expect(ctx, what, &bdb, db, 0);
        }
    }
    tl_buf_free(&ba), tl_buf_free(&bb), tl_buf_free(&by), tl_buf_free(&bdy);
    tl_buf_free(&bda), tl_buf_free(&bdb);
    free(a), free(b), free(y), free(dy), free(da), free(db);
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    upsample_case(ctx, 3, 5, 7, 9);
    upsample_case(ctx, 1, 2, 1, 1);
    upsample_case(ctx, 2, 3, 14, 13);
    concat_case(ctx, 3, 5, 7, 63);
    concat_case(ctx, 2, 1, 1, 1);
    concat_case(ctx, 4, 16, 3, 49);
    fmcl_t none = {NULL, 0};
    tl_check(fmcl_upsample2x_forward(ctx, none, none, 2, 3, 0, 4) == FMCL_ERR_ARG,
             "upsampling accepted H = 0");
    tl_check(fmcl_concat_backward(ctx, none, none, none, 2, 3, -1, 4) == FMCL_ERR_ARG,
             "concatenation accepted Cb = -1");
    tl_check(fmcl_upsample2x_backward(ctx, none, none, 1 << 14, 1 << 10, 16, 16) == FMCL_ERR_ARG,
             "upsampling accepted a tensor over 2^31 floats");
    return 0;
}

int main(void)
{
    adjoints();
    return tl_for_each_device(run, NULL);
}
