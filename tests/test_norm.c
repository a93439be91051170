/* GroupNorm (src/nn/norm.c): the CPU reference's backward against central
 * finite differences of its forward, the reference's statistics against
 * closed forms, then the device forward (y, mean, rstd) and backward
 * (accumulated dx, dgamma, dbeta) against the reference on odd shapes,
 * including inputs far from zero mean; bad shapes are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/image_ops.h"
#include "testlib.h"

typedef struct {
    int B, C, HW, G;
} gn_shape;

/* L = sum(y * R) of the reference forward. */
static double loss_of(gn_shape s, const float *x, const float *ga, const float *be, const float *R)
{
    size_t n = (size_t)s.B * s.C * s.HW;
    float *y = malloc(n * 4), *m = malloc(s.B * s.G * 4), *r = malloc(s.B * s.G * 4);
    fmcl_groupnorm_forward_ref(y, m, r, x, ga, be, s.B, s.C, s.HW, s.G);
    double L = 0;
    for (size_t i = 0; i < n; i++) L += (double)y[i] * R[i];
    free(y), free(m), free(r);
    return L;
}

/* Five-point central difference, error O(h^4): GroupNorm is curved where
 * a group's variance is small, and the forward's float outputs put a floor
 * of ~1e-7 / h under any difference quotient. */
static double central(gn_shape s, float *x, float *ga, float *be, const float *R, float *v)
{
    const float v0 = *v, h = 0.03f;
    const float at[4] = {v0 - 2 * h, v0 - h, v0 + h, v0 + 2 * h};
    const double w[4] = {1, -8, 8, -1};
    double acc = 0;
    for (int k = 0; k < 4; k++) {
        *v = at[k];
        acc += w[k] * loss_of(s, x, ga, be, R);
    }
    *v = v0;
    return acc / (6.0 * ((double)at[2] - at[1])); /* 12 h with the step as stored */
}

static void finite_differences(gn_shape s)
{
    size_t n = (size_t)s.B * s.C * s.HW, ng = (size_t)s.B * s.G;
    float *x = malloc(n * 4), *R = malloc(n * 4), *ga = malloc(s.C * 4), *be = malloc(s.C * 4);
    float *y = malloc(n * 4), *m = malloc(ng * 4), *r = malloc(ng * 4);
    float *dx = calloc(n, 4), *dga = calloc(s.C, 4), *dbe = calloc(s.C, 4);
    tl_fill(x, n, -2, 2, 1);
    tl_fill(R, n, -1, 1, 2);
    tl_fill(ga, s.C, 0.5f, 1.5f, 3);
    tl_fill(be, s.C, -1, 1, 4);
    fmcl_groupnorm_forward_ref(y, m, r, x, ga, be, s.B, s.C, s.HW, s.G);
    fmcl_groupnorm_backward_ref(dx, dga, dbe, R, x, m, r, ga, s.B, s.C, s.HW, s.G);
    double worst = 0;
    for (size_t i = 0; i < n + 2 * (size_t)s.C; i++) {
        float *v = i < n ? &x[i] : i < n + s.C ? &ga[i - n] : &be[i - n - s.C];
        double an = i < n ? dx[i] : i < n + s.C ? dga[i - n] : dbe[i - n - s.C];
        double e = fabs(central(s, x, ga, be, R, v) - an) / (1e-2 + fabs(an));
        worst = e > worst ? e : worst;
    }
    printf("  B%d C%d HW%d G%d: reference backward vs finite differences: max rel err %.2e\n",
           s.B, s.C, s.HW, s.G, worst);
    tl_check(worst < 1e-3, "groupnorm B%d C%d HW%d G%d: backward vs finite differences %.2e",
             s.B, s.C, s.HW, s.G, worst);
    free(x), free(R), free(ga), free(be), free(y), free(m), free(r), free(dx), free(dga),
        free(dbe);
}

/* A group holding 1, 2, ..., n has mean (n + 1) / 2 and variance (n^2 - 1) / 12. */
static void closed_form(void)
{
    enum { C = 4, HW = 5, G = 2, n = C / G * HW };
    float x[C * HW], y[C * HW], ga[C] = {1, 1, 1, 1}, be[C] = {0, 0, 0, 0}, m[G], r[G];
    for (int i = 0; i < C * HW; i++) x[i] = (float)(i % n + 1);
    fmcl_groupnorm_forward_ref(y, m, r, x, ga, be, 1, C, HW, G);
    double want_r = 1.0 / sqrt((n * n - 1) / 12.0 + 1e-5);
    tl_check(fabs(m[0] - (n + 1) / 2.0) < 1e-6 && fabs(m[1] - (n + 1) / 2.0) < 1e-6,
             "groupnorm reference mean %g, want %g", m[0], (n + 1) / 2.0);
    tl_check(fabs(r[1] - want_r) < 1e-6 * want_r, "groupnorm reference rstd %g, want %g", r[1],
             want_r);
    tl_check(fabs(y[0] + (n - 1) / 2.0 * want_r) < 1e-6, "groupnorm reference y[0] = %g", y[0]);
}

static void widen(double *d, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++) d[i] = f[i];
}

static void device_case(fmcl_ctx *ctx, gn_shape s, float lo, float hi)
{
    char tag[96], what[160];
    snprintf(tag, sizeof tag, "groupnorm B%d C%d HW%d G%d x in [%g, %g)", s.B, s.C, s.HW, s.G, lo,
             hi);
    size_t n = (size_t)s.B * s.C * s.HW, ng = (size_t)s.B * s.G;
    float *x = malloc(n * 4), *dy = malloc(n * 4), *ga = malloc(s.C * 4), *be = malloc(s.C * 4);
    float *y = malloc(n * 4), *m = malloc(ng * 4), *r = malloc(ng * 4), *got = malloc(n * 4);
    float *dx = malloc(n * 4), *dga = malloc(s.C * 4), *dbe = malloc(s.C * 4);
    double *want = malloc(n * 8);
    tl_fill(x, n, lo, hi, 5);
    tl_fill(dy, n, -1, 1, 6);
    tl_fill(ga, s.C, 0.5f, 1.5f, 7);
    tl_fill(be, s.C, -1, 1, 8);
    tl_fill(dx, n, -1, 1, 9); /* gradients start nonzero: the backward adds */
    tl_fill(dga, s.C, -1, 1, 10);
    tl_fill(dbe, s.C, -1, 1, 11);
    tl_buf bx, bdy, bga, bbe, by, bm, br, bdx, bdga, bdbe;
    if (tl_buf_new(ctx, &bx, n, x) && tl_buf_new(ctx, &bdy, n, dy) &&
        tl_buf_new(ctx, &bga, s.C, ga) && tl_buf_new(ctx, &bbe, s.C, be) &&
        tl_buf_new(ctx, &by, n, NULL) && tl_buf_new(ctx, &bm, ng, NULL) &&
        tl_buf_new(ctx, &br, ng, NULL) && tl_buf_new(ctx, &bdx, n, dx) &&
        tl_buf_new(ctx, &bdga, s.C, dga) && tl_buf_new(ctx, &bdbe, s.C, dbe)) {
        fmcl_status st = fmcl_groupnorm_forward(ctx, by.t, bm.t, br.t, bx.t, bga.t, bbe.t, s.B,
                                                s.C, s.HW, s.G);
        fmcl_groupnorm_forward_ref(y, m, r, x, ga, be, s.B, s.C, s.HW, s.G);
        if (tl_check(st == FMCL_OK, "%s forward: %s", tag, fmcl_ctx_error(ctx))) {
            const struct {
                const char *name;
                tl_buf *b;
                const float *ref;
                size_t n;
                double atol, rtol;
            } outs[] = {{"y", &by, y, n, 1e-4, 1e-4},
                        {"mean", &bm, m, ng, 1e-6, 1e-5},
                        {"rstd", &br, r, ng, 0, 1e-4}};
            for (int k = 0; k < 3; k++) {
                snprintf(what, sizeof what, "%s %s", tag, outs[k].name);
                widen(want, outs[k].ref, outs[k].n);
                if (tl_buf_read(ctx, outs[k].b, got))
                    tl_close(what, got, want, outs[k].n, outs[k].atol, outs[k].rtol);
                tl_guard_ok(ctx, outs[k].b, what);
            }
        }
        /* The backward reads the device's own statistics, as in training. */
        tl_buf_read(ctx, &bm, m);
        tl_buf_read(ctx, &br, r);
        st = fmcl_groupnorm_backward(ctx, bdx.t, bdga.t, bdbe.t, bdy.t, bx.t, bm.t, br.t, bga.t,
                                     s.B, s.C, s.HW, s.G);
        fmcl_groupnorm_backward_ref(dx, dga, dbe, dy, x, m, r, ga, s.B, s.C, s.HW, s.G);
        if (tl_check(st == FMCL_OK, "%s backward: %s", tag, fmcl_ctx_error(ctx))) {
            const struct {
                const char *name;
                tl_buf *b;
                const float *ref;
                size_t n;
            } outs[] = {
                {"dx", &bdx, dx, n}, {"dgamma", &bdga, dga, s.C}, {"dbeta", &bdbe, dbe, s.C}};
            for (int k = 0; k < 3; k++) {
                snprintf(what, sizeof what, "%s %s", tag, outs[k].name);
                widen(want, outs[k].ref, outs[k].n);
                if (tl_buf_read(ctx, outs[k].b, got))
                    tl_close(what, got, want, outs[k].n, 2e-4, 2e-4);
                tl_guard_ok(ctx, outs[k].b, what);
            }
        }
    }
    tl_buf_free(&bx), tl_buf_free(&bdy), tl_buf_free(&bga), tl_buf_free(&bbe), tl_buf_free(&by);
    tl_buf_free(&bm), tl_buf_free(&br), tl_buf_free(&bdx), tl_buf_free(&bdga), tl_buf_free(&bdbe);
    free(x), free(dy), free(ga), free(be), free(y), free(m), free(r), free(got), free(dx);
    free(dga), free(dbe), free(want);
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    device_case(ctx, (gn_shape){3, 6, 63, 3}, -2, 2);
    device_case(ctx, (gn_shape){3, 5, 63, 5}, -2, 2);
    device_case(ctx, (gn_shape){2, 8, 130, 2}, -2, 2);
    device_case(ctx, (gn_shape){3, 12, 49, 1}, 5, 7);
    device_case(ctx, (gn_shape){5, 32, 9, 8}, -3, 1);
    fmcl_t none = {NULL, 0};
    fmcl_status st = fmcl_groupnorm_forward(ctx, none, none, none, none, none, none, 2, 6, 9, 4);
    tl_check(st == FMCL_ERR_ARG && strstr(fmcl_ctx_error(ctx), "multiple of the groups"),
             "C = 6, G = 4 accepted: %s", fmcl_ctx_error(ctx));
    st = fmcl_groupnorm_backward(ctx, none, none, none, none, none, none, none, none, 0, 6, 9, 3);
    tl_check(st == FMCL_ERR_ARG, "B = 0 accepted by the backward");
    return 0;
}

int main(void)
{
    closed_form();
    finite_differences((gn_shape){2, 6, 5, 3});
    finite_differences((gn_shape){2, 4, 7, 1});
    finite_differences((gn_shape){1, 3, 4, 3});
    return tl_for_each_device(run, NULL);
}
