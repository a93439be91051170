/* GroupNorm with its optional scale-shift and SiLU (src/nn/norm.c): the CPU
 * reference's backward against central finite differences of its forward,
 * the reference's statistics against closed forms, then the device forward
 * (y, mean, rstd) and backward (accumulated dx, dgamma, dbeta, dss) against
 * the reference on odd shapes (rows of 9 to 130 values, whole and partial
 * vectors of the kernels' 16), including inputs far from zero mean; bad
 * shapes are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/image_ops.h"
#include "testlib.h"

typedef struct {
    int B, C, HW, G;
    int ss, silu; /* with a scale and shift, with SiLU */
} gn_shape;

/* L = sum(y * R) of the reference forward. */
static double loss_of(gn_shape s, const float *x, const float *ga, const float *be, const float *ss,
                      const float *R)
{
    size_t n = (size_t)s.B * s.C * s.HW;
    float *y = malloc(n * 4), *m = malloc(s.B * s.G * 4), *r = malloc(s.B * s.G * 4);
    fmcl_groupnorm_forward_ref(y, m, r, x, ga, be, s.ss ? ss : NULL, s.silu, s.B, s.C, s.HW, s.G);
    double L = 0;
    for (size_t i = 0; i < n; i++) L += (double)y[i] * R[i];
    free(y), free(m), free(r);
    return L;
}

/* Five-point central difference, error O(h^4): GroupNorm is curved where
 * a group's variance is small, and the forward's float outputs put a floor
 * of ~1e-7 / h under any difference quotient. */
static double central(gn_shape s, float *x, float *ga, float *be, float *ss, const float *R,
                      float *v)
{
    const float v0 = *v, h = 0.03f;
    const float at[4] = {v0 - 2 * h, v0 - h, v0 + h, v0 + 2 * h};
    const double w[4] = {1, -8, 8, -1};
    double acc = 0;
    for (int k = 0; k < 4; k++) {
        *v = at[k];
        acc += w[k] * loss_of(s, x, ga, be, ss, R);
    }
    *v = v0;
    return acc / (6.0 * ((double)at[2] - at[1])); /* 12 h with the step as stored */
}

static void finite_differences(gn_shape s)
{
    size_t n = (size_t)s.B * s.C * s.HW, ng = (size_t)s.B * s.G, nss = (size_t)s.B * 2 * s.C;
    float *x = malloc(n * 4), *R = malloc(n * 4), *ga = malloc(s.C * 4), *be = malloc(s.C * 4);
    float *y = malloc(n * 4), *m = malloc(ng * 4), *r = malloc(ng * 4), *ss = malloc(nss * 4);
    float *dx = calloc(n, 4), *dga = calloc(s.C, 4), *dbe = calloc(s.C, 4), *dss = calloc(nss, 4);
    tl_fill(x, n, -2, 2, 1);
    tl_fill(R, n, -1, 1, 2);
    tl_fill(ga, s.C, 0.5f, 1.5f, 3);
    tl_fill(be, s.C, -1, 1, 4);
    tl_fill(ss, nss, -0.5f, 0.5f, 12);
    fmcl_groupnorm_forward_ref(y, m, r, x, ga, be, s.ss ? ss : NULL, s.silu, s.B, s.C, s.HW, s.G);
    fmcl_groupnorm_backward_ref(dx, dga, dbe, s.ss ? dss : NULL, R, x, m, r, ga, be,
                                s.ss ? ss : NULL, s.silu, s.B, s.C, s.HW, s.G);
    double worst = 0;
    size_t nv = n + 2 * (size_t)s.C + (s.ss ? nss : 0);
    for (size_t i = 0; i < nv; i++) {
        float *v = i < n             ? &x[i]
                   : i < n + s.C     ? &ga[i - n]
                   : i < n + 2 * s.C ? &be[i - n - s.C]
                                     : &ss[i - n - 2 * s.C];
        double an = i < n             ? dx[i]
                    : i < n + s.C     ? dga[i - n]
                    : i < n + 2 * s.C ? dbe[i - n - s.C]
                                      : dss[i - n - 2 * s.C];
        double e = fabs(central(s, x, ga, be, ss, R, v) - an) / (1e-2 + fabs(an));
        worst = e > worst ? e : worst;
    }
    printf("  B%d C%d HW%d G%d%s%s: reference backward vs finite differences: max rel err %.2e\n",
           s.B, s.C, s.HW, s.G, s.ss ? " scale-shift" : "", s.silu ? " silu" : "", worst);
    tl_check(worst < 1e-3,
             "groupnorm B%d C%d HW%d G%d ss %d silu %d: backward vs finite "
             "differences %.2e",
             s.B, s.C, s.HW, s.G, s.ss, s.silu, worst);
    free(x), free(R), free(ga), free(be), free(y), free(m), free(r), free(dx), free(dga), free(dbe),
        free(ss), free(dss);
}

/* A group holding 1, 2, ..., n has mean (n + 1) / 2 and variance (n^2 - 1) / 12. */
static void closed_form(void)
{
    enum { C = 4, HW = 5, G = 2, n = C / G * HW };
    float x[C * HW], y[C * HW], ga[C] = {1, 1, 1, 1}, be[C] = {0, 0, 0, 0}, m[G], r[G];
    for (int i = 0; i < C * HW; i++) x[i] = (float)(i % n + 1);
    fmcl_groupnorm_forward_ref(y, m, r, x, ga, be, NULL, 0, 1, C, HW, G);
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
    char tag[128], what[192];
    snprintf(tag, sizeof tag, "groupnorm B%d C%d HW%d G%d%s%s x in [%g, %g)", s.B, s.C, s.HW, s.G,
             s.ss ? " scale-shift" : "", s.silu ? " silu" : "", lo, hi);
    size_t n = (size_t)s.B * s.C * s.HW, ng = (size_t)s.B * s.G, nss = (size_t)s.B * 2 * s.C;
    size_t nscr = fmcl_groupnorm_scratch(s.B, s.C, s.HW), big = n > nss ? n : nss;
    float *x = malloc(n * 4), *dy = malloc(n * 4), *ga = malloc(s.C * 4), *be = malloc(s.C * 4);
    float *y = malloc(n * 4), *m = malloc(ng * 4), *r = malloc(ng * 4), *got = malloc(big * 4);
    float *dx = malloc(n * 4), *dga = malloc(s.C * 4), *dbe = malloc(s.C * 4);
    float *ss = malloc(nss * 4), *dss = malloc(nss * 4);
    double *want = malloc(big * 8);
    tl_fill(x, n, lo, hi, 5);
    tl_fill(dy, n, -1, 1, 6);
    tl_fill(ga, s.C, 0.5f, 1.5f, 7);
    tl_fill(be, s.C, -1, 1, 8);
    tl_fill(ss, nss, -1, 1, 12);
    tl_fill(dx, n, -1, 1, 9); /* gradients start nonzero: the backward adds */
    tl_fill(dga, s.C, -1, 1, 10);
    tl_fill(dbe, s.C, -1, 1, 11);
    tl_fill(dss, nss, -1, 1, 13);
    tl_buf bx, bdy, bga, bbe, by, bm, br, bdx, bdga, bdbe, bss, bdss, bscr;
    if (tl_buf_new(ctx, &bx, n, x) && tl_buf_new(ctx, &bdy, n, dy) &&
        tl_buf_new(ctx, &bga, s.C, ga) && tl_buf_new(ctx, &bbe, s.C, be) &&
        tl_buf_new(ctx, &by, n, NULL) && tl_buf_new(ctx, &bm, ng, NULL) &&
        tl_buf_new(ctx, &br, ng, NULL) && tl_buf_new(ctx, &bdx, n, dx) &&
        tl_buf_new(ctx, &bdga, s.C, dga) && tl_buf_new(ctx, &bdbe, s.C, dbe) &&
        tl_buf_new(ctx, &bss, nss, ss) && tl_buf_new(ctx, &bdss, nss, dss) &&
        tl_buf_new(ctx, &bscr, nscr, NULL)) {
        fmcl_t tss = s.ss ? bss.t : (fmcl_t){NULL, 0}, tdss = s.ss ? bdss.t : (fmcl_t){NULL, 0};
        fmcl_status st = fmcl_groupnorm_forward(ctx, by.t, bm.t, br.t, bx.t, bga.t, bbe.t, tss,
                                                s.silu, s.B, s.C, s.HW, s.G);
        fmcl_groupnorm_forward_ref(y, m, r, x, ga, be, s.ss ? ss : NULL, s.silu, s.B, s.C, s.HW,
                                   s.G);
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
        st = fmcl_groupnorm_backward(ctx, bdx.t, bdga.t, bdbe.t, tdss, bdy.t, bx.t, bm.t, br.t,
                                     bga.t, bbe.t, tss, s.silu, bscr.t, s.B, s.C, s.HW, s.G);
        fmcl_groupnorm_backward_ref(dx, dga, dbe, s.ss ? dss : NULL, dy, x, m, r, ga, be,
                                    s.ss ? ss : NULL, s.silu, s.B, s.C, s.HW, s.G);
        if (tl_check(st == FMCL_OK, "%s backward: %s", tag, fmcl_ctx_error(ctx))) {
            const struct {
                const char *name;
                tl_buf *b;
                const float *ref;
                size_t n;
            } outs[] = {{"dx", &bdx, dx, n},
                        {"dgamma", &bdga, dga, s.C},
                        {"dbeta", &bdbe, dbe, s.C},
                        {"dss", &bdss, dss, nss}};
            for (int k = 0; k < 4; k++) {
                snprintf(what, sizeof what, "%s %s", tag, outs[k].name);
                widen(want, outs[k].ref, outs[k].n);
                /* without a scale and shift dss must come back untouched */
                double tol = k < 3 || s.ss ? 2e-4 : 0;
                if (tl_buf_read(ctx, outs[k].b, got))
                    tl_close(what, got, want, outs[k].n, tol, tol);
                tl_guard_ok(ctx, outs[k].b, what);
            }
            tl_guard_ok(ctx, &bscr, "groupnorm scratch");
        }
    }
    tl_buf_free(&bx), tl_buf_free(&bdy), tl_buf_free(&bga), tl_buf_free(&bbe), tl_buf_free(&by);
    tl_buf_free(&bm), tl_buf_free(&br), tl_buf_free(&bdx), tl_buf_free(&bdga), tl_buf_free(&bdbe);
    tl_buf_free(&bss), tl_buf_free(&bdss), tl_buf_free(&bscr);
    free(x), free(dy), free(ga), free(be), free(y), free(m), free(r), free(got), free(dx);
    free(dga), free(dbe), free(ss), free(dss), free(want);
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    for (int v = 0; v < 3; v++) { /* plain, with SiLU, with scale-shift and SiLU */
        int ss = v == 2, silu = v > 0;
        device_case(ctx, (gn_shape){3, 6, 63, 3, ss, silu}, -2, 2);
        device_case(ctx, (gn_shape){3, 5, 63, 5, ss, silu}, -2, 2);
        device_case(ctx, (gn_shape){2, 8, 130, 2, ss, silu}, -2, 2);
        device_case(ctx, (gn_shape){3, 12, 49, 1, ss, silu}, 5, 7);
        device_case(ctx, (gn_shape){5, 32, 9, 8, ss, silu}, -3, 1);
        device_case(ctx, (gn_shape){2, 16, 32, 4, ss, silu}, -2, 2);
    }
    fmcl_t none = {NULL, 0};
    fmcl_status st = fmcl_groupnorm_forward(ctx, none, none, none, none, none, none, none, 0, 2, 6,
                                            9, 4);
    tl_check(st == FMCL_ERR_ARG && strstr(fmcl_ctx_error(ctx), "multiple of the groups"),
             "C = 6, G = 4 accepted: %s", fmcl_ctx_error(ctx));
    st = fmcl_groupnorm_backward(ctx, none, none, none, none, none, none, none, none, none, none,
                                 none, 0, none, 0, 6, 9, 3);
    tl_check(st == FMCL_ERR_ARG, "B = 0 accepted by the backward");
    return 0;
}

int main(void)
{
    closed_form();
    finite_differences((gn_shape){2, 6, 5, 3, 0, 0});
    finite_differences((gn_shape){2, 4, 7, 1, 0, 0});
    finite_differences((gn_shape){1, 3, 4, 3, 0, 0});
    finite_differences((gn_shape){2, 6, 5, 3, 0, 1});
    finite_differences((gn_shape){2, 4, 7, 2, 1, 1});
    return tl_for_each_device(run, NULL);
}
