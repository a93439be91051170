/* The U-Net (src/nn/unet*.c). Host: configurations are validated, the
 * parameter table is contiguous with unique names, the initial parameters
 * follow their names (zeroed output convs, GroupNorm 1/0, uniform fan-in
 * bounds), the reference's gradients (every parameter tensor and some
 * inputs) match central finite differences of its forward. Devices: the initial parameters match the
 * host's and give v = 0 (ADM's zeroed output convs); with random
 * parameters, forward, parameter gradients and dx match the reference, for
 * the planned batch and a smaller one through the same activations. All of
 * it also for a class-conditional U-Net (label_emb: N(0, 1) rows, finite
 * differences through the one-hot rows, zero gradient for absent classes),
 * and for a U-Net with dropout: the dropout kernels against their reference
 * bit for bit (the mask: kept fraction, the same for the same (seed, step),
 * another for another step), finite differences of the reference under a
 * fixed (seed, step) mask, the device against the reference in training
 * and in evaluation mode. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_ops.h"
#include "nn/unet.h"
#include "testlib.h"

/* 12x8 RGB (H != W), two levels, attention at the lower one, a skip conv
 * wherever the width changes. */
static fmcl_unet_spec tiny(void)
{
    fmcl_unet_spec c;
    fmcl_unet_spec_default(&c, 3, 12, 8);
    c.base = 8;
    c.levels = 2;
    c.mult[0] = 1, c.mult[1] = 2;
    c.attn_levels = 1u << 1;
    c.heads = 2;
    c.groups = 4;
    return c;
}

#define B_TINY 3
#define K_TINY 3 /* classes of the conditional variant */

/* One-hot y [B, K]: image b of class (b + 1) % K, the last the null class
 * (zeros). An unconditional model (K = 0) has no labels. */
static void labels(int K, int B, float *y)
{
    if (K == 0) return;
    memset(y, 0, (size_t)B * K * sizeof *y);
    for (int b = 0; b + 1 < B; b++) y[(size_t)b * K + (b + 1) % K] = 1.0f;
}

/* Random parameters everywhere (no zeroed convs, so every path carries
 * gradient); GroupNorm scales near 1. */
static void random_params(const fmcl_unet_plan *p, float *params)
{
    size_t n = fmcl_unet_plan_params(p);
    tl_fill(params, n, -0.4f, 0.4f, 11);
    for (int i = 0; i < fmcl_unet_plan_tensor_count(p); i++) {
        const fmcl_unet_param *e = fmcl_unet_plan_tensor(p, i);
        if (e->init == FMCL_UNET_INIT_ONE)
            for (size_t j = 0; j < e->n; j++) params[e->off + j] += 1.0f;
    }
}

static void inputs(size_t nx, int B, float *x, float *t, float *dv)
{
    tl_fill(x, nx, -1, 1, 21);
    tl_fill(t, (size_t)B, 0, 1, 22);
    tl_fill(dv, nx, -1, 1, 23);
}

static void configs(void)
{
    char err[512];
    const int shapes[2][3] = {{1, 28, 28}, {3, 32, 32}};
    for (int i = 0; i < 2; i++) {
        fmcl_unet_spec c;
        fmcl_unet_spec_default(&c, shapes[i][0], shapes[i][1], shapes[i][2]);
        fmcl_unet_plan *p = NULL;
        fmcl_status s = fmcl_unet_plan_create(&c, 1, &p, err, sizeof err);
        if (!tl_check(s == FMCL_OK && fmcl_unet_check_spec(&c, err, sizeof err) == FMCL_OK,
                      "default %dx%dx%d: %s", c.height, c.width, c.channels, err))
            continue;
        printf("  default %dx%dx%d: %zu parameters, %.1f MFLOP forward per image, "
               "%.0f MiB for a training step at batch 128\n",
               c.height, c.width, c.channels, fmcl_unet_plan_params(p),
               fmcl_unet_plan_flops(p) / 1e6, fmcl_unet_peak_bytes(&c, 128) / 1048576.0);
        fmcl_unet_plan_free(p);
    }
    fmcl_unet_spec c = tiny();
    c.groups = 5; /* 8 channels are not a multiple of 5 */
    tl_check(fmcl_unet_check_spec(&c, err, sizeof err) == FMCL_ERR_ARG && strstr(err, "groups"),
             "groups 5 refused: %s", err);
    c = tiny();
    c.height = 13; /* not divisible by 2 */
    tl_check(fmcl_unet_check_spec(&c, err, sizeof err) == FMCL_ERR_ARG && strstr(err, "divisible"),
             "height 13 refused: %s", err);
    c = tiny();
    c.heads = 3;
    tl_check(fmcl_unet_check_spec(&c, err, sizeof err) == FMCL_ERR_ARG && strstr(err, "heads"),
             "heads 3 refused: %s", err);
    c = tiny();
    tl_check(fmcl_unet_peak_bytes(&c, 4) > fmcl_unet_peak_bytes(&c, 2) &&
                 fmcl_unet_peak_bytes(&c, 2) > 0,
             "peak memory grows with the batch");
    fmcl_unet_plan *p;
    if (tl_check(fmcl_unet_plan_create(&c, 3, &p, err, sizeof err) == FMCL_OK, "%s", err)) {
        size_t want = (fmcl_unet_plan_floats(p) + 4 * fmcl_unet_plan_params(p)) * sizeof(float);
        tl_check(fmcl_unet_peak_bytes(&c, 3) == want,
                 "peak bytes = activation buffer + parameters, gradients, Adam moments");
        fmcl_unet_plan_free(p);
    }
}

static void table(const fmcl_unet_plan *p)
{
    size_t off = 0;
    int ok = 1, n = fmcl_unet_plan_tensor_count(p);
    for (int i = 0; i < n; i++) {
        const fmcl_unet_param *e = fmcl_unet_plan_tensor(p, i);
        size_t prod = 1;
        for (int d = 0; d < e->ndim; d++) prod *= (size_t)e->shape[d];
        ok &= e->off == off && prod == e->n;
        off += e->n;
        for (int j = 0; j < i; j++) ok &= strcmp(fmcl_unet_plan_tensor(p, j)->name, e->name) != 0;
    }
    tl_check(ok && off == fmcl_unet_plan_params(p), "parameter table contiguous, names unique");
    tl_check(n > 0 && strcmp(fmcl_unet_plan_tensor(p, 0)->name, "time_embed.0.weight") == 0 &&
                 strcmp(fmcl_unet_plan_tensor(p, n - 1)->name, "out.2.bias") == 0,
             "state_dict order from time_embed.0.weight to out.2.bias");
}

/* The mode finite differences run in (evaluation unless set). */
static fmcl_unet_mode fd_mode;

static double loss_of(const fmcl_unet_plan *p, const float *params, const float *x, const float *t,
                      const float *y, const float *dv, size_t nx)
{
    float *v = malloc(nx * sizeof *v);
    fmcl_unet_forward_ref_mode(p, &fd_mode, params, x, t, y, v);
    double L = 0;
    for (size_t i = 0; i < nx; i++) L += (double)v[i] * dv[i];
    free(v);
    return L;
}

/* Five-point central difference of L in *val. */
static double central(const fmcl_unet_plan *p, float *params, float *x, const float *t,
                      const float *y, const float *dv, size_t nx, float *val)
{
    const float v0 = *val, h = 0.05f;
    const float at[4] = {v0 - 2 * h, v0 - h, v0 + h, v0 + 2 * h};
    const double w[4] = {1, -8, 8, -1};
    double acc = 0;
    for (int k = 0; k < 4; k++) {
        *val = at[k];
        acc += w[k] * loss_of(p, params, x, t, y, dv, nx);
    }
    *val = v0;
    return acc / (6.0 * ((double)at[2] - at[1]));
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The initial parameters by name, as ADM and PyTorch set them: zeroed
 * output convs (out_layers.3, proj_out, out.2), GroupNorm 1 and 0, every
 * other weight and bias uniform within 1/sqrt(fan_in) of the layer (from its
 * weight's shape) and filling most of that range. */
static void init_by_name(void)
{
    fmcl_unet_spec c = tiny();
    char err[512];
    fmcl_unet_plan *p;
    if (!tl_check(fmcl_unet_plan_create(&c, 1, &p, err, sizeof err) == FMCL_OK, "%s", err)) return;
    float *w = malloc(fmcl_unet_plan_params(p) * 4);
    fmcl_unet_init_ref(p, 7, w);
    int bad = 0, fan = 1;
    for (int i = 0; i < fmcl_unet_plan_tensor_count(p); i++) {
        const fmcl_unet_param *e = fmcl_unet_plan_tensor(p, i);
        const float *v = w + e->off;
        int zero = strstr(e->name, "out_layers.3.") || strstr(e->name, ".proj_out.") ||
                   strncmp(e->name, "out.2.", 6) == 0;
        int norm = strstr(e->name, "in_layers.0.") || strstr(e->name, "out_layers.0.") ||
                   strstr(e->name, ".norm.") || strncmp(e->name, "out.0.", 6) == 0;
        if (ends_with(e->name, ".weight") && e->ndim > 1) {
            fan = 1;
            for (int d = 1; d < e->ndim; d++) fan *= e->shape[d];
        }
        double bound = 1.0 / sqrt((double)fan), lo = 0, hi = 0;
        for (size_t j = 0; j < e->n; j++) lo = fmin(lo, v[j]), hi = fmax(hi, v[j]);
        if (zero || norm) {
            double want = norm && ends_with(e->name, ".weight") ? 1.0 : 0.0;
            for (size_t j = 0; j < e->n; j++) bad += v[j] != want;
        } else {
            bad += lo < -bound || hi > bound || (e->n >= 16 && (hi - lo) < bound);
        }
    }
    tl_check(bad == 0, "initial parameters by name: %d wrong", bad);
    free(w);
    fmcl_unet_plan_free(p);
    /* Conditional: label_emb.weight [K, 4 base] right after time_embed.2,
     * N(0, 1) as nn.Embedding's (mean and spread of its K 4 base values). */
    c.classes = 8;
    if (!tl_check(fmcl_unet_plan_create(&c, 1, &p, err, sizeof err) == FMCL_OK, "%s", err)) return;
    w = malloc(fmcl_unet_plan_params(p) * 4);
    fmcl_unet_init_ref(p, 7, w);
    const fmcl_unet_param *e = fmcl_unet_plan_tensor(p, 4);
    double m = 0, v2 = 0;
    for (size_t j = 0; j < e->n; j++)
        m += w[e->off + j], v2 += (double)w[e->off + j] * w[e->off + j];
    m /= (double)e->n, v2 = v2 / (double)e->n - m * m;
    tl_check(strcmp(e->name, "label_emb.weight") == 0 && e->ndim == 2 && e->shape[0] == 8 &&
                 e->shape[1] == 4 * c.base && fabs(m) < 0.15 && fabs(sqrt(v2) - 1) < 0.15,
             "label_emb.weight [8, %d] after time_embed.2, N(0, 1): mean %.3f std %.3f", 4 * c.base,
             m, sqrt(v2));
    free(w);
    fmcl_unet_plan_free(p);
}

/* One element of every parameter tensor (its middle one) and a dozen inputs.
 * The forward stores floats, so the differences carry ~4e-5 of rounding
 * noise: errors are relative to |g| + 0.1 (a wrong term moves them by 1e-2
 * and more). */
static void finite_differences(int K, float P)
{
    fmcl_unet_spec c = tiny();
    c.classes = K;
    c.dropout = P;
    fd_mode = (fmcl_unet_mode){P > 0, 77, 5, 0}; /* one fixed mask when dropping */
    char err[512];
    fmcl_unet_plan *p;
    if (!tl_check(fmcl_unet_plan_create(&c, 2, &p, err, sizeof err) == FMCL_OK, "%s", err)) return;
    table(p);
    size_t np = fmcl_unet_plan_params(p), nx = 2 * (size_t)c.channels * c.height * c.width;
    float *params = malloc(np * 4), *g = calloc(np, 4), *x = malloc(nx * 4), *t = malloc(8);
    float *dv = malloc(nx * 4), *dx = malloc(nx * 4), *y = K ? malloc(2 * (size_t)K * 4) : NULL;
    random_params(p, params);
    inputs(nx, 2, x, t, dv);
    if (y) labels(K, 2, y);
    fmcl_unet_grad_ref_mode(p, &fd_mode, params, x, t, y, dv, g, dx);
    if (P > 0) { /* the mask changes the gradients: the evaluation-mode ones differ */
        float *ge = calloc(np, 4);
        fmcl_unet_grad_ref(p, params, x, t, y, dv, ge, NULL);
        size_t differ = 0;
        for (size_t j = 0; j < np; j++) differ += ge[j] != g[j];
        tl_check(differ > np / 10, "dropout changes %zu of %zu parameter gradients", differ, np);
        free(ge);
    }
    double worst = 0;
    int nt = fmcl_unet_plan_tensor_count(p), checked = 0;
    for (int i = 0; i < nt; i++) {
        const fmcl_unet_param *e = fmcl_unet_plan_tensor(p, i);
        size_t j = e->off + e->n / 2;
        double fd = central(p, params, x, t, y, dv, nx, &params[j]);
        double err_ = fabs(fd - g[j]) / (0.1 + fabs(g[j]));
        if (err_ > 1e-3) printf("    %s[%zu]: fd %.6g grad %.6g\n", e->name, e->n / 2, fd, g[j]);
        worst = err_ > worst ? err_ : worst;
        checked++;
        if (strcmp(e->name, "label_emb.weight") != 0) continue;
        /* Row 1 (class 1, image 0) carries gradient, checked above and here at
         * its first element; row 0 (no image of class 0; image 1 is null)
         * none, and its finite difference is 0 too. */
        const size_t E = (size_t)e->shape[1];
        double fd1 = central(p, params, x, t, y, dv, nx, &params[e->off + E]);
        double e1 = fabs(fd1 - g[e->off + E]) / (0.1 + fabs(g[e->off + E]));
        worst = e1 > worst ? e1 : worst;
        double fd0 = central(p, params, x, t, y, dv, nx, &params[e->off]), g0 = 0;
        for (size_t k = 0; k < E; k++) g0 = fmax(g0, fabs(g[e->off + k]));
        tl_check(g0 == 0 && fabs(fd0) < 1e-4 && fabs(g[e->off + E + E / 2]) > 1e-3,
                 "label_emb: no gradient for an absent class (max %g, fd %g), some for a present "
                 "one (%g)",
                 g0, fd0, g[e->off + E + E / 2]);
        checked += 2;
    }
    for (size_t k = 0; k < 12; k++) {
        size_t j = (k * 97 + 5) % nx;
        double fd = central(p, params, x, t, y, dv, nx, &x[j]);
        double err_ = fabs(fd - dx[j]) / (0.1 + fabs(dx[j]));
        worst = err_ > worst ? err_ : worst;
        checked++;
    }
    printf("  reference gradients vs finite differences (%d classes, dropout %g, %d values): "
           "max rel err %.2e\n",
           K, (double)P, checked, worst);
    tl_check(worst < 1e-3, "U-Net reference gradients vs finite differences: %.2e", worst);
    free(params), free(g), free(x), free(t), free(dv), free(dx), free(y);
    fmcl_unet_plan_free(p);
}

/* The device's initial parameters, and v = 0 from them. */
static void initial(fmcl_ctx *ctx, fmcl_unet *u, fmcl_unet_acts *a, tl_buf *x, tl_buf *t, fmcl_t y,
                    size_t nx)
{
    float *want = malloc(u->n_params * 4), *got = malloc(u->n_params * 4), *v = malloc(nx * 4);
    fmcl_unet_init_ref(u->plan, 5, want);
    tl_buf bv;
    if (tl_check(fmcl_read(ctx, u->params, got, u->n_params * 4) == FMCL_OK, "read parameters") &&
        tl_buf_new(ctx, &bv, nx, NULL)) {
        tl_check(memcmp(want, got, u->n_params * 4) == 0, "initial parameters equal the host's");
        fmcl_status s = fmcl_unet_forward(u, a, bv.t, x->t, t->t, y, B_TINY);
        if (tl_check(s == FMCL_OK, "forward: %s", fmcl_ctx_error(ctx)) &&
            tl_buf_read(ctx, &bv, v)) {
            double m = 0;
            for (size_t i = 0; i < nx; i++) m = fmax(m, fabs(v[i]));
            tl_check(m == 0, "initial model outputs 0 (max |v| %g)", m);
        }
        tl_buf_free(&bv);
    }
    free(want), free(got), free(v);
}

/* Forward and backward on the device with random parameters vs the reference
 * for a batch of B (<= the planned B_TINY). */
static void against_ref(fmcl_ctx *ctx, fmcl_unet *u, fmcl_unet_acts *a, int B)
{
    const fmcl_unet_spec *c = &u->cfg;
    const int K = c->classes;
    char err[512];
    fmcl_unet_plan *p;
    if (!tl_check(fmcl_unet_plan_create(c, B, &p, err, sizeof err) == FMCL_OK, "%s", err)) return;
    size_t np = u->n_params, nx = (size_t)B * c->channels * c->height * c->width;
    float *params = malloc(np * 4), *x = malloc(nx * 4), *t = malloc(B * 4), *dv = malloc(nx * 4);
    float *v = malloc(nx * 4), *g = calloc(np, 4), *dx = malloc(nx * 4);
    float *gv = malloc(nx * 4), *gg = malloc(np * 4), *gdx = malloc(nx * 4);
    float *y = malloc(((size_t)B * K + 1) * 4);
    random_params(p, params);
    inputs(nx, B, x, t, dv);
    labels(K, B, y);
    fmcl_unet_forward_ref_mode(p, &a->mode, params, x, t, K ? y : NULL, v);
    fmcl_unet_grad_ref_mode(p, &a->mode, params, x, t, K ? y : NULL, dv, g, dx);
    tl_buf bx, bt, bdv, bv, bg, bdx, by = {0};
    int ok = tl_buf_new(ctx, &bx, nx, x) & tl_buf_new(ctx, &bt, B, t) &
             tl_buf_new(ctx, &bdv, nx, dv) & tl_buf_new(ctx, &bv, nx, NULL) &
             tl_buf_new(ctx, &bg, np, NULL) & tl_buf_new(ctx, &bdx, nx, NULL);
    if (K) ok &= tl_buf_new(ctx, &by, (size_t)B * K, y);
    fmcl_status s = ok ? fmcl_write(ctx, u->params, params, np * 4) : FMCL_ERR_ARG;
    if (s == FMCL_OK) s = fmcl_unet_forward(u, a, bv.t, bx.t, bt.t, by.t, B);
    if (s == FMCL_OK) s = fmcl_unet_backward(u, a, bg.t, bdv.t, bx.t, by.t, bdx.t, B);
    if (tl_check(s == FMCL_OK, "B=%d dropout %g (%s) forward/backward: %s", B, (double)c->dropout,
                 a->mode.train ? "training" : "evaluation", fmcl_ctx_error(ctx)) &&
        tl_buf_read(ctx, &bv, gv) && tl_buf_read(ctx, &bg, gg) && tl_buf_read(ctx, &bdx, gdx)) {
        /* GEMM-based ops (docs/DESIGN.md, "Tolerances": |d| <= 1e-3 or rel <= 5e-3). */
        tl_close_f("v", gv, v, nx, 1e-3, 5e-3);
        tl_close_f("parameter gradients", gg, g, np, 1e-3, 5e-3);
        tl_close_f("dx", gdx, dx, nx, 1e-3, 5e-3);
        tl_guard_ok(ctx, &bv, "v");
        tl_guard_ok(ctx, &bg, "grads");
        tl_guard_ok(ctx, &bdx, "dx");
    }
    tl_buf_free(&bx), tl_buf_free(&bt), tl_buf_free(&bdv), tl_buf_free(&bv), tl_buf_free(&bg);
    tl_buf_free(&bdx);
    if (K) tl_buf_free(&by);
    fmcl_unet_plan_free(p);
    free(params), free(x), free(t), free(dv), free(v), free(g), free(dx), free(gv), free(gg);
    free(gdx), free(y);
}

/* Dropout's kernels against the reference over n elements at probability P:
 * bitwise, forward and backward; the mask (the nonzero outputs of nonzero
 * inputs) keeps 1 - P within 5 sd, is the same again for the same (seed,
 * step) and another for the next step. */
static void dropout_kernels(fmcl_ctx *ctx, float P)
{
    enum { N = 1 << 18 };
    float *x = malloc(N * 4), *want = malloc(N * 4), *got = malloc(N * 4), *again = malloc(N * 4);
    float *next = malloc(N * 4);
    tl_fill(x, N, 1.f, 2.f, 31); /* nonzero: zeros are exactly the dropped elements */
    tl_buf bx, by, bd;
    if (!(tl_buf_new(ctx, &bx, N, x) & tl_buf_new(ctx, &by, N, NULL) &
          tl_buf_new(ctx, &bd, N, NULL)))
        goto done;
    fmcl_status s = fmcl_dropout_forward(ctx, by.t, bx.t, P, 0xd120ull, 41, 3, 0, N);
    if (!tl_check(s == FMCL_OK, "dropout_forward: %s", fmcl_ctx_error(ctx)) ||
        !tl_buf_read(ctx, &by, got))
        goto done;
    fmcl_dropout_ref(want, x, P, 0xd120ull, 41, 3, 0, N);
    tl_check(memcmp(got, want, N * 4) == 0, "dropout_forward equals its reference bit for bit");
    size_t kept = 0;
    for (int i = 0; i < N; i++) kept += got[i] != 0.0f;
    const double mean = N * (1.0 - P), sd = sqrt(N * (double)P * (1.0 - P));
    printf("  dropout %g: %zu of %d kept (expected %.0f, sd %.0f)\n", (double)P, kept, N, mean, sd);
    tl_check(fabs((double)kept - mean) <= 5 * sd,
             "dropout keeps %zu of %d, expected %.0f +- 5 "
             "x %.0f",
             kept, N, mean, sd);
    s = fmcl_dropout_backward(ctx, bd.t, bx.t, P, 0xd120ull, 41, 3, 0, N);
    if (tl_check(s == FMCL_OK, "dropout_backward: %s", fmcl_ctx_error(ctx)) &&
        tl_buf_read(ctx, &bd, again))
        tl_check(memcmp(again, want, N * 4) == 0,
                 "dropout_backward with the same (seed, step) redraws the same mask");
    s = fmcl_dropout_forward(ctx, by.t, bx.t, P, 0xd120ull, 42, 3, 0, N);
    if (tl_check(s == FMCL_OK, "dropout_forward: %s", fmcl_ctx_error(ctx)) &&
        tl_buf_read(ctx, &by, next)) {
        size_t differ = 0;
        for (int i = 0; i < N; i++) differ += (next[i] != 0.0f) != (got[i] != 0.0f);
        /* Independent masks disagree on 2 P (1 - P) of the elements. */
        tl_check(differ > N * (double)P * (1.0 - P), "the next step's mask differs in %zu of %d",
                 differ, N);
    }
    tl_check(fmcl_dropout_forward(ctx, by.t, bx.t, 1.0f, 1, 1, 0, 0, N) == FMCL_ERR_ARG,
             "dropout probability 1 is refused");
    tl_guard_ok(ctx, &by, "y");
    tl_guard_ok(ctx, &bd, "dx");
done:
    tl_buf_free(&bx), tl_buf_free(&by), tl_buf_free(&bd);
    free(x), free(want), free(got), free(again), free(next);
}

static int run_classes(fmcl_ctx *ctx, int K, float P)
{
    fmcl_unet_spec c = tiny();
    c.classes = K;
    c.dropout = P;
    fmcl_unet *u;
    fmcl_unet_acts a;
    if (!tl_check(fmcl_unet_create(ctx, &c, 5, &u) == FMCL_OK, "create: %s", fmcl_ctx_error(ctx)))
        return 1;
    if (tl_check(fmcl_unet_acts_create(u, B_TINY, &a) == FMCL_OK, "acts: %s",
                 fmcl_ctx_error(ctx))) {
        size_t nx = (size_t)B_TINY * c.channels * c.height * c.width;
        float *x = malloc(nx * 4), *t = malloc(B_TINY * 4), *dv = malloc(nx * 4);
        float *y = malloc(((size_t)B_TINY * K + 1) * 4);
        inputs(nx, B_TINY, x, t, dv);
        labels(K, B_TINY, y);
        tl_buf bx, bt, by = {0};
        int ok = tl_buf_new(ctx, &bx, nx, x) & tl_buf_new(ctx, &bt, B_TINY, t);
        if (K) ok &= tl_buf_new(ctx, &by, (size_t)B_TINY * K, y);
        if (ok) initial(ctx, u, &a, &bx, &bt, by.t, nx);
        if (K)
            tl_check(fmcl_unet_forward(u, &a, bx.t, bx.t, bt.t, (fmcl_t){NULL, 0}, B_TINY) ==
                         FMCL_ERR_ARG,
                     "a conditional forward without labels is refused");
        tl_buf_free(&bx), tl_buf_free(&bt);
        if (K) tl_buf_free(&by);
        free(x), free(t), free(dv), free(y);
        /* With dropout: the planned batch in training mode, the smaller in evaluation. */
        a.mode = (fmcl_unet_mode){P > 0, 123, 4, 0};
        against_ref(ctx, u, &a, B_TINY);
        a.mode = (fmcl_unet_mode){0, 0, 0, 0};
        against_ref(ctx, u, &a, 2);
        tl_check(fmcl_unet_forward(u, &a, (fmcl_t){NULL, 0}, (fmcl_t){NULL, 0}, (fmcl_t){NULL, 0},
                                   (fmcl_t){NULL, 0}, B_TINY + 1) == FMCL_ERR_ARG,
                 "a batch above the planned one is refused");
        fmcl_unet_acts_free(&a);
    }
    fmcl_unet_free(u);
    return 0;
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    dropout_kernels(ctx, 0.3f);
    return run_classes(ctx, 0, 0.0f) | run_classes(ctx, K_TINY, 0.0f) | run_classes(ctx, 0, 0.3f);
}

int main(void)
{
    configs();
    init_by_name();
    finite_differences(0, 0.0f);
    finite_differences(K_TINY, 0.0f);
    finite_differences(0, 0.3f);
    return tl_for_each_device(run, NULL);
}
