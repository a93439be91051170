/* Time conditioning (src/nn/cond.c): the sinusoidal embedding's reference
 * against closed forms and the device against the reference; scale-and-shift
 * conditioning's reference backward against central finite differences, and
 * the device forward (also in place) and backward against the reference on
 * odd shapes with gradients accumulated into nonzero values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/image_ops.h"
#include "testlib.h"

static void embedding_closed_forms(void)
{
    enum { D = 10 };
    float t[3] = {0.0f, 0.25f, 1.0f}, emb[3 * D];
    fmcl_time_embedding_ref(emb, t, 1000.0f, 3, D);
    int ok = 1;
    for (int k = 0; k < D / 2; k++) ok &= emb[k] == 0.0f && emb[D / 2 + k] == 1.0f; /* t = 0 */
    tl_check(ok, "embedding of t = 0 is not (0..., 1...)");
    /* Frequency k = 0 is 1: sin(250) and cos(250); the last is 10000^(-4/5). */
    tl_check(fabs(emb[D] - sin(250.0)) < 1e-7 && fabs(emb[D + D / 2] - cos(250.0)) < 1e-7,
             "embedding at k = 0: %g %g, want sin(250) %g, cos(250) %g", emb[D], emb[D + D / 2],
             sin(250.0), cos(250.0));
    double a = 1000.0 * pow(10000.0, -4.0 / 5.0);
    tl_check(fabs(emb[2 * D + 4] - sin(a)) < 1e-7 && fabs(emb[2 * D + 9] - cos(a)) < 1e-7,
             "embedding at k = 4 of t = 1: %g, want %g", emb[2 * D + 4], sin(a));
}

static void embedding_case(fmcl_ctx *ctx, int B, int D, float scale)
{
    char what[96];
    snprintf(what, sizeof what, "time_embedding B%d D%d scale %g", B, D, (double)scale);
    float *t = malloc(B * 4), *emb = malloc((size_t)B * D * 4), *got = malloc((size_t)B * D * 4);
    double *want = malloc((size_t)B * D * 8);
    tl_fill(t, B, 0, 1, 1);
    t[0] = 0.0f, t[B - 1] = 1.0f;
    fmcl_time_embedding_ref(emb, t, scale, B, D);
    for (size_t i = 0; i < (size_t)B * D; i++) want[i] = emb[i];
    tl_buf bt, be;
    if (tl_buf_new(ctx, &bt, B, t) && tl_buf_new(ctx, &be, (size_t)B * D, NULL)) {
        fmcl_status s = fmcl_time_embedding(ctx, be.t, bt.t, scale, B, D);
        /* The float argument t scale f carries a relative rounding of a few
         * ulp, so sin and cos may differ by that times the largest argument. */
        double atol = 1e-6 + 8 * 0x1p-24 * scale;
        if (tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx)) &&
            tl_buf_read(ctx, &be, got))
            tl_close(what, got, want, (size_t)B * D, atol, 0);
        tl_guard_ok(ctx, &be, what);
    }
    tl_buf_free(&bt), tl_buf_free(&be);
    free(t), free(emb), free(got), free(want);
}

static double loss_of(const float *h, const float *ss, const float *R, int B, int C, int P)
{
    size_t n = (size_t)B * C * P;
    float *y = malloc(n * 4);
    fmcl_scale_shift_forward_ref(y, h, ss, B, C, P);
    double L = 0;
    for (size_t i = 0; i < n; i++) L += (double)y[i] * R[i];
    free(y);
    return L;
}

/* y is linear in h for fixed ss and in ss for fixed h: a wide step is exact. */
static void scale_shift_differences(int B, int C, int P)
{
    size_t n = (size_t)B * C * P, ns = (size_t)B * 2 * C;
    float *h = malloc(n * 4), *ss = malloc(ns * 4), *R = malloc(n * 4);
    float *dh = calloc(n, 4), *dss = calloc(ns, 4);
    tl_fill(h, n, -2, 2, 2);
    tl_fill(ss, ns, -1, 1, 3);
    tl_fill(R, n, -1, 1, 4);
    fmcl_scale_shift_backward_ref(dh, dss, R, h, ss, B, C, P);
    double worst = 0;
    for (size_t i = 0; i < n + ns; i++) {
        float *v = i < n ? &h[i] : &ss[i - n], v0 = *v, vp = v0 + 0.25f, vm = v0 - 0.25f;
        *v = vp;
        double lp = loss_of(h, ss, R, B, C, P);
        *v = vm;
        double lm = loss_of(h, ss, R, B, C, P);
        *v = v0;
        double fd = (lp - lm) / ((double)vp - vm), an = i < n ? dh[i] : dss[i - n];
        double e = fabs(fd - an) / (1e-3 + fabs(an));
        worst = e > worst ? e : worst;
    }
    printf("  scale_shift B%d C%d P%d: reference backward vs finite differences: max rel err "
           "%.2e\n",
           B, C, P, worst);
    tl_check(worst < 1e-4, "scale_shift backward vs finite differences: %.2e", worst);
    free(h), free(ss), free(R), free(dh), free(dss);
}

static void expect(fmcl_ctx *ctx, const char *what, tl_buf *b, const float *want, double tol)
{
    float *got = malloc(b->n * 4);
    double *w = malloc(b->n * 8);
    for (size_t i = 0; i < b->n; i++) w[i] = want[i];
    if (tl_buf_read(ctx, b, got)) tl_close(what, got, w, b->n, tol, tol);
    tl_guard_ok(ctx, b, what);
    free(got), free(w);
}

static void scale_shift_case(fmcl_ctx *ctx, int B, int C, int P)
{
    char what[96];
    size_t n = (size_t)B * C * P, ns = (size_t)B * 2 * C;
    float *h = malloc(n * 4), *ss = malloc(ns * 4), *y = malloc(n * 4), *dy = malloc(n * 4);
    float *dh = malloc(n * 4), *dss = malloc(ns * 4);
    tl_fill(h, n, -2, 2, 5);
    tl_fill(ss, ns, -1, 1, 6);
    tl_fill(dy, n, -1, 1, 7);
    tl_fill(dh, n, -1, 1, 8);
    tl_fill(dss, ns, -1, 1, 9);
    tl_buf bh, bss, by, bdy, bdh, bdss, bin;
    if (tl_buf_new(ctx, &bh, n, h) && tl_buf_new(ctx, &bss, ns, ss) &&
        tl_buf_new(ctx, &by, n, NULL) && tl_buf_new(ctx, &bdy, n, dy) &&
        tl_buf_new(ctx, &bdh, n, dh) && tl_buf_new(ctx, &bdss, ns, dss) &&
        tl_buf_new(ctx, &bin, n, h)) {
        fmcl_scale_shift_forward_ref(y, h, ss, B, C, P);
        snprintf(what, sizeof what, "scale_shift B%d C%d P%d forward", B, C, P);
        if (tl_check(fmcl_scale_shift_forward(ctx, by.t, bh.t, bss.t, B, C, P) == FMCL_OK,
                     "%s: %s", what, fmcl_ctx_error(ctx)))
            expect(ctx, what, &by, y, 1e-6);
        snprintf(what, sizeof what, "scale_shift B%d C%d P%d forward in place", B, C, P);
        if (tl_check(fmcl_scale_shift_forward(ctx, bin.t, bin.t, bss.t, B, C, P) == FMCL_OK,
                     "%s: %s", what, fmcl_ctx_error(ctx)))
            expect(ctx, what, &bin, y, 1e-6);
        fmcl_scale_shift_backward_ref(dh, dss, dy, h, ss, B, C, P);
        if (tl_check(fmcl_scale_shift_backward(ctx, bdh.t, bdss.t, bdy.t, bh.t, bss.t, B, C, P) ==
                         FMCL_OK,
                     "scale_shift backward: %s", fmcl_ctx_error(ctx))) {
            snprintf(what, sizeof what, "scale_shift B%d C%d P%d dh", B, C, P);
            expect(ctx, what, &bdh, dh, 1e-6);
            snprintf(what, sizeof what, "scale_shift B%d C%d P%d dss", B, C, P);
            expect(ctx, what, &bdss, dss, 1e-4); /* sums of P products */
        }
    }
    tl_buf_free(&bh), tl_buf_free(&bss), tl_buf_free(&by), tl_buf_free(&bdy);
    tl_buf_free(&bdh), tl_buf_free(&bdss), tl_buf_free(&bin);
    free(h), free(ss), free(y), free(dy), free(dh), free(dss);
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    embedding_case(ctx, 7, 10, FMCL_TIME_SCALE);
    embedding_case(ctx, 5, 130, FMCL_TIME_SCALE);
    embedding_case(ctx, 3, 2, 1.0f);
    scale_shift_case(ctx, 3, 5, 63);
    scale_shift_case(ctx, 2, 7, 130);
    scale_shift_case(ctx, 4, 3, 1);
    fmcl_t none = {NULL, 0};
    tl_check(fmcl_time_embedding(ctx, none, none, 1000.0f, 3, 7) == FMCL_ERR_ARG,
             "an odd embedding width was accepted");
    tl_check(fmcl_scale_shift_backward(ctx, none, none, none, none, none, 2, 0, 5) == FMCL_ERR_ARG,
             "C = 0 was accepted");
    return 0;
}

int main(void)
{
    embedding_closed_forms();
    scale_shift_differences(2, 3, 5);
    return tl_for_each_device(run, NULL);
}
