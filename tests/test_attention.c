/* Multi-head self-attention (src/nn/attention.c): the CPU reference's
 * backward against central finite differences of its forward, its
 * probabilities against closed forms (rows sum to 1; equal keys attend
 * uniformly), then the device forward (out, att) and backward (dqkv
 * accumulated into nonzero values) against the reference on odd shapes,
 * rows longer than a work-group included; bad shapes are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/image_ops.h"
#include "testlib.h"

typedef struct {
    int B, C, P, heads;
} at_shape;

static double loss_of(at_shape a, const float *qkv, const float *R)
{
    size_t n = (size_t)a.B * a.C * a.P;
    float *out = malloc(n * 4), *att = malloc((size_t)a.B * a.heads * a.P * a.P * 4);
    fmcl_attention_forward_ref(out, att, qkv, a.B, a.C, a.P, a.heads);
    double L = 0;
    for (size_t i = 0; i < n; i++) L += (double)out[i] * R[i];
    free(out), free(att);
    return L;
}

/* Five-point central difference (error O(h^4)); see test_norm.c. */
static double central(at_shape a, float *qkv, const float *R, float *v)
{
    const float v0 = *v, h = 0.03f;
    const float at[4] = {v0 - 2 * h, v0 - h, v0 + h, v0 + 2 * h};
    const double w[4] = {1, -8, 8, -1};
    double acc = 0;
    for (int k = 0; k < 4; k++) {
        *v = at[k];
        acc += w[k] * loss_of(a, qkv, R);
    }
    *v = v0;
    return acc / (6.0 * ((double)at[2] - at[1]));
}

static void finite_differences(at_shape a)
{
    size_t n = (size_t)a.B * 3 * a.C * a.P, no = (size_t)a.B * a.C * a.P;
    float *qkv = malloc(n * 4), *R = malloc(no * 4), *g = calloc(n, 4);
    tl_fill(qkv, n, -1.5f, 1.5f, 1);
    tl_fill(R, no, -1, 1, 2);
    fmcl_attention_backward_ref(g, R, qkv, a.B, a.C, a.P, a.heads);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(central(a, qkv, R, &qkv[i]) - g[i]) / (1e-2 + fabs(g[i]));
        worst = e > worst ? e : worst;
    }
    printf("  B%d C%d P%d heads %d: reference backward vs finite differences: max rel err %.2e\n",
           a.B, a.C, a.P, a.heads, worst);
    tl_check(worst < 1e-3, "attention backward vs finite differences: %.2e", worst);
    free(qkv), free(R), free(g);
}

/* Rows of att sum to 1; with all keys equal every query attends uniformly,
 * so out is the mean of v over positions. */
static void closed_forms(void)
{
    enum { B = 1, C = 4, P = 5, heads = 2 };
    float qkv[B * 3 * C * P], out[B * C * P], att[B * heads * P * P];
    tl_fill(qkv, sizeof qkv / 4, -2, 2, 3);
    fmcl_attention_forward_ref(out, att, qkv, B, C, P, heads);
    double worst = 0;
    for (int r = 0; r < B * heads * P; r++) {
        double s = 0;
        for (int j = 0; j < P; j++) s += att[r * P + j];
        worst = fmax(worst, fabs(s - 1));
    }
    tl_check(worst < 1e-6, "attention rows sum to 1 within %.2e", worst);
    for (int c = 0; c < C; c++)
        for (int p = 0; p < P; p++) qkv[(C + c) * P + p] = 0.5f * (float)c; /* keys equal */
    fmcl_attention_forward_ref(out, att, qkv, B, C, P, heads);
    worst = 0;
    for (int c = 0; c < C; c++) {
        double mean = 0;
        for (int p = 0; p < P; p++) mean += qkv[(2 * C + c) * P + p] / (double)P;
        for (int p = 0; p < P; p++) worst = fmax(worst, fabs(out[c * P + p] - mean));
    }
    tl_check(worst < 1e-6, "equal keys: out differs from the mean of v by %.2e", worst);
}

static void widen(double *d, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++) d[i] = f[i];
}

static void device_case(fmcl_ctx *ctx, at_shape a)
{
    char tag[96], what[128];
    snprintf(tag, sizeof tag, "attention B%d C%d P%d heads %d", a.B, a.C, a.P, a.heads);
    size_t n = (size_t)a.B * 3 * a.C * a.P, no = (size_t)a.B * a.C * a.P;
    size_t na = fmcl_attention_scratch(a.B, a.P, a.heads), nmax = n > na ? n : na;
    float *qkv = malloc(n * 4), *dout = malloc(no * 4), *out = malloc(no * 4);
    float *att = malloc(na * 4), *dqkv = malloc(n * 4), *got = malloc(nmax * 4);
    double *want = malloc(nmax * 8);
    tl_fill(qkv, n, -1.5f, 1.5f, 4);
    tl_fill(dout, no, -1, 1, 5);
    tl_fill(dqkv, n, -0.01f, 0.01f, 6); /* small: the gradient dominates */
    tl_buf bqkv, bdout, bout, batt, bdqkv, bs;
    if (tl_buf_new(ctx, &bqkv, n, qkv) && tl_buf_new(ctx, &bdout, no, dout) &&
        tl_buf_new(ctx, &bout, no, NULL) && tl_buf_new(ctx, &batt, na, NULL) &&
        tl_buf_new(ctx, &bdqkv, n, dqkv) && tl_buf_new(ctx, &bs, na, NULL) &&
        tl_check(fmcl_attention_reserve(ctx, a.B, a.C, a.P, a.heads) == FMCL_OK, "reserve: %s",
                 fmcl_ctx_error(ctx))) {
        fmcl_attention_forward_ref(out, att, qkv, a.B, a.C, a.P, a.heads);
        fmcl_status s = fmcl_attention_forward(ctx, bout.t, batt.t, bqkv.t, a.B, a.C, a.P, a.heads);
        if (tl_check(s == FMCL_OK, "%s forward: %s", tag, fmcl_ctx_error(ctx))) {
            snprintf(what, sizeof what, "%s out", tag);
            widen(want, out, no);
            if (tl_buf_read(ctx, &bout, got)) tl_close(what, got, want, no, 1e-5, 1e-4);
            tl_guard_ok(ctx, &bout, what);
            snprintf(what, sizeof what, "%s att", tag);
            widen(want, att, na);
            if (tl_buf_read(ctx, &batt, got)) tl_close(what, got, want, na, 1e-6, 1e-4);
            tl_guard_ok(ctx, &batt, what);
        }
        fmcl_attention_backward_ref(dqkv, dout, qkv, a.B, a.C, a.P, a.heads);
        s = fmcl_attention_backward(ctx, bdqkv.t, bdout.t, bqkv.t, batt.t, bs.t, a.B, a.C, a.P,
                                    a.heads);
        if (tl_check(s == FMCL_OK, "%s backward: %s", tag, fmcl_ctx_error(ctx))) {
            snprintf(what, sizeof what, "%s dqkv", tag);
            widen(want, dqkv, n);
            if (tl_buf_read(ctx, &bdqkv, got)) tl_close(what, got, want, n, 2e-5, 2e-4);
            tl_guard_ok(ctx, &bdqkv, what);
            tl_guard_ok(ctx, &bs, "attention scratch");
        }
    }
    tl_buf_free(&bqkv), tl_buf_free(&bdout), tl_buf_free(&bout), tl_buf_free(&batt);
    tl_buf_free(&bdqkv), tl_buf_free(&bs);
    free(qkv), free(dout), free(out), free(att), free(dqkv), free(got), free(want);
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    device_case(ctx, (at_shape){3, 6, 35, 2});
    device_case(ctx, (at_shape){2, 8, 49, 4});
    device_case(ctx, (at_shape){2, 5, 70, 1});
    device_case(ctx, (at_shape){2, 64, 49, 4}); /* the default U-Net's 7x7 attention */
    device_case(ctx, (at_shape){1, 3, 1, 3});
    fmcl_t none = {NULL, 0};
    fmcl_status s = fmcl_attention_forward(ctx, none, none, none, 2, 6, 9, 4);
    tl_check(s == FMCL_ERR_ARG && strstr(fmcl_ctx_error(ctx), "multiple of the heads"),
             "C = 6 with 4 heads accepted: %s", fmcl_ctx_error(ctx));
    s = fmcl_attention_backward(ctx, none, none, none, none, none, 64, 64, 4096, 4);
    tl_check(s == FMCL_ERR_ARG, "an attention matrix over 2^31 floats was accepted");
    return 0;
}

int main(void)
{
    closed_forms();
    finite_differences((at_shape){2, 4, 5, 2});
    finite_differences((at_shape){1, 3, 6, 1});
    return tl_for_each_device(run, NULL);
}
