/* Time conditioning (src/nn/cond.c): the sinusoidal embedding's reference
 * against closed forms and the device against the reference; scale-and-shift
 * conditioning's reference backward against central finite differences (the
 * device runs it inside GroupNorm: test_norm). */
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

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    embedding_case(ctx, 7, 10, FMCL_TIME_SCALE);
    embedding_case(ctx, 5, 130, FMCL_TIME_SCALE);
    embedding_case(ctx, 3, 2, 1.0f);
    fmcl_t none = {NULL, 0};
    tl_check(fmcl_time_embedding(ctx, none, none, 1000.0f, 3, 7) == FMCL_ERR_ARG,
             "an odd embedding width was accepted");
    return 0;
}

int main(void)
{
    embedding_closed_forms();
    scale_shift_differences(2, 3, 5);
    return tl_for_each_device(run, NULL);
}
