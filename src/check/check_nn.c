/* Self-check of the layer, loss and optimiser ops (src/nn/nn_ops.h). */
#include "check/check.h"
#include "nn/nn_ops.h"
#include "runtime/vec.h"

#include <math.h>

/* Pre-activations in [-10, 10) with a few far out, where a naive sigmoid overflows. */
static void fill_preact(float *z, size_t n, uint32_t seed)
{
    static const float far[] = {-90.f, 88.f, -30.f, 30.f, -1.2785f, 0.f};
    chk_fill(z, n, -10.f, 10.f, seed);
    for (size_t k = 0; k < sizeof far / sizeof far[0] && k * 7 < n; k++) z[k * 7] = far[k];
}

static void bias_silu_forward(chk_suite *s, int B, int N)
{
    chk_case c;
    size_t n = (size_t)B * N;
    chk_begin(&c, s, "bias_silu_forward", "B=%d N=%d", B, N);
    float *z0 = chk_host(&c, n), *b = chk_host(&c, N), *h = chk_host(&c, n);
    if (chk_ok(&c)) fill_preact(z0, n, 1), chk_fill(b, N, -2.f, 2.f, 2);
    float *z = chk_dup(&c, z0, n);
    fmcl_t tz = chk_buf(&c, z0, n), th = chk_buf(&c, NULL, n), tb = chk_buf(&c, b, N);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_bias_silu_forward(s->ctx, tz, th, tb, B, N));
        fmcl_bias_silu_forward_ref(z, h, b, B, N);
    }
    chk_expect_f(&c, "z", tz, n, z, chk_elem(1e-6));
    chk_expect_f(&c, "h", th, n, h, chk_elem(1e-6));
    chk_end(&c);
}

/* Dropout: its Philox mask and scaling, exact. */
static void dropout(chk_suite *s, int backward, float p, int n)
{
    chk_case c;
    chk_begin(&c, s, backward ? "dropout_backward" : "dropout_forward", "p=%g n=%d", (double)p, n);
    float *x = chk_host(&c, (size_t)n), *y = chk_host(&c, (size_t)n);
    if (chk_ok(&c)) chk_fill(x, (size_t)n, -2.f, 2.f, 27);
    fmcl_t tx = chk_buf(&c, x, (size_t)n), ty = chk_buf(&c, NULL, (size_t)n);
    if (chk_ok(&c)) {
        chk_status(&c, backward ? fmcl_dropout_backward(s->ctx, ty, tx, p, 0xd120ull, 17, 2, 0, n)
                                : fmcl_dropout_forward(s->ctx, ty, tx, p, 0xd120ull, 17, 2, 0, n));
        fmcl_dropout_ref(y, x, p, 0xd120ull, 17, 2, 0, n);
    }
    chk_expect_f(&c, backward ? "dx" : "y", ty, (size_t)n, y, chk_elem(0));
    chk_end(&c);
}

static void bias_forward(chk_suite *s, int B, int N)
{
    chk_case c;
    size_t n = (size_t)B * N;
    chk_begin(&c, s, "bias_forward", "B=%d N=%d", B, N);
    float *z = chk_host(&c, n), *b = chk_host(&c, N);
    if (chk_ok(&c)) chk_fill(z, n, -3.f, 3.f, 3), chk_fill(b, N, -2.f, 2.f, 4);
    fmcl_t tz = chk_buf(&c, z, n), tb = chk_buf(&c, b, N);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_bias_forward(s->ctx, tz, tb, B, N));
        fmcl_bias_forward_ref(z, b, B, N);
    }
    chk_expect_f(&c, "z", tz, n, z, chk_elem(1e-6));
    chk_end(&c);
}

/* in_place: dz is written over dh, as the MLP's backward does. */
static void silu_backward(chk_suite *s, int B, int N, int in_place)
{
    chk_case c;
    size_t n = (size_t)B * N;
    chk_begin(&c, s, in_place ? "silu_backward in place" : "silu_backward", "B=%d N=%d", B, N);
    float *z = chk_host(&c, n), *dh = chk_host(&c, n), *dz = chk_host(&c, n);
    if (chk_ok(&c)) fill_preact(z, n, 5), chk_fill(dh, n, -1.f, 1.f, 6);
    fmcl_t tz = chk_buf(&c, z, n), tdh = chk_buf(&c, dh, n);
    fmcl_t tdz = in_place ? tdh : chk_buf(&c, NULL, n);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_silu_backward(s->ctx, tdz, tdh, tz, B, N));
        fmcl_silu_backward_ref(dz, dh, z, B, N);
    }
    chk_expect_f(&c, "dz", tdz, n, dz, chk_elem(1e-6));
    chk_end(&c);
}

static void silu_forward(chk_suite *s, int B, int N)
{
    chk_case c;
    size_t n = (size_t)B * N;
    chk_begin(&c, s, "silu_forward", "B=%d N=%d", B, N);
    float *z = chk_host(&c, n), *h = chk_host(&c, n);
    if (chk_ok(&c)) fill_preact(z, n, 26);
    fmcl_t tz = chk_buf(&c, z, n), th = chk_buf(&c, NULL, n);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_silu_forward(s->ctx, th, tz, B, N));
        fmcl_silu_forward_ref(h, z, B, N);
    }
    chk_expect_f(&c, "h", th, n, h, chk_elem(1e-6));
    chk_end(&c);
}

/* The narrow-side linear layer: forward, parameter gradients (accumulating)
 * and input gradient. */
static void linear_small(chk_suite *s, int B, int N, int K)
{
    chk_case c;
    size_t nz = (size_t)B * N, nx = (size_t)B * K, nw = (size_t)N * K;
    chk_begin(&c, s, "linear_small_forward", "B=%d N=%d K=%d", B, N, K);
    float *x = chk_host(&c, nx), *W = chk_host(&c, nw), *b = chk_host(&c, N);
    float *z = chk_host(&c, nz);
    if (chk_ok(&c)) {
        chk_fill(x, nx, -2.f, 2.f, 17), chk_fill(W, nw, -1.f, 1.f, 18);
        chk_fill(b, N, -1.f, 1.f, 19);
    }
    fmcl_t tx = chk_buf(&c, x, nx), tW = chk_buf(&c, W, nw), tb = chk_buf(&c, b, N);
    fmcl_t tz = chk_buf(&c, NULL, nz);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_linear_small_forward(s->ctx, tz, tx, tW, tb, B, N, K));
        fmcl_linear_small_forward_ref(z, x, W, b, B, N, K);
    }
    chk_expect_f(&c, "z", tz, nz, z, chk_gemm_tol(K + 1));
    chk_end(&c);

    chk_begin(&c, s, "linear_small_wgrad", "B=%d N=%d K=%d", B, N, K);
    float *dz = chk_host(&c, nz), *dW = chk_host(&c, nw), *db = chk_host(&c, N);
    x = chk_host(&c, nx);
    if (chk_ok(&c)) {
        chk_fill(dz, nz, -1.f, 1.f, 20), chk_fill(x, nx, -2.f, 2.f, 21);
        chk_fill(dW, nw, -1.f, 1.f, 22), chk_fill(db, N, -1.f, 1.f, 23);
    }
    fmcl_t tdz = chk_buf(&c, dz, nz), tx2 = chk_buf(&c, x, nx);
    fmcl_t tdW = chk_buf(&c, dW, nw), tdb = chk_buf(&c, db, N); /* both accumulate */
    size_t np = fmcl_linear_small_wgrad_scratch(B, N, K);
    fmcl_t tpart = chk_buf(&c, NULL, np);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_linear_small_wgrad(s->ctx, tdW, tdb, tdz, tx2, tpart, B, N, K));
        fmcl_linear_small_wgrad_ref(dW, db, dz, x, B, N, K);
    }
    chk_expect_f(&c, "dW", tdW, nw, dW, chk_gemm_tol(B + 1));
    chk_expect_f(&c, "db", tdb, N, db, chk_gemm_tol(B + 1));
    chk_guards(&c, "partial sums", tpart, np);
    chk_end(&c);

    chk_begin(&c, s, "linear_small_dx", "B=%d N=%d K=%d", B, N, K);
    float *dx = chk_host(&c, nx);
    dz = chk_host(&c, nz), W = chk_host(&c, nw);
    if (chk_ok(&c)) chk_fill(dz, nz, -1.f, 1.f, 24), chk_fill(W, nw, -1.f, 1.f, 25);
    fmcl_t tdz2 = chk_buf(&c, dz, nz), tW2 = chk_buf(&c, W, nw), tdx = chk_buf(&c, NULL, nx);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_linear_small_dx(s->ctx, tdx, tdz2, tW2, B, N, K));
        fmcl_linear_small_dx_ref(dx, dz, W, B, N, K);
    }
    chk_expect_f(&c, "dx", tdx, nx, dx, chk_gemm_tol(N));
    chk_end(&c);
}

static void bias_backward(chk_suite *s, int B, int N)
{
    chk_case c;
    size_t n = (size_t)B * N;
    chk_begin(&c, s, "bias_backward", "B=%d N=%d", B, N);
    float *dz = chk_host(&c, n), *db = chk_host(&c, N);
    if (chk_ok(&c)) chk_fill(dz, n, -1.f, 1.f, 7), chk_fill(db, N, -1.f, 1.f, 8);
    fmcl_t tdz = chk_buf(&c, dz, n), tdb = chk_buf(&c, db, N); /* db accumulates */
    size_t np = fmcl_linear_small_wgrad_scratch(B, N, 0);
    fmcl_t tpart = chk_buf(&c, NULL, np);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_bias_backward(s->ctx, tdb, tdz, tpart, B, N));
        fmcl_bias_backward_ref(db, dz, B, N);
    }
    chk_expect_f(&c, "db", tdb, N, db, chk_gemm_tol(B + 1));
    chk_guards(&c, "partial sums", tpart, np);
    chk_end(&c);
}

/* Sums of non-negative terms cannot cancel: the loss and the squared norm
 * are held to the elementwise rtol (the two-pass order's rounding chain is
 * ~30 eps = 4e-6 at these sizes). */
static void mse(chk_suite *s, int n)
{
    chk_case c;
    size_t np = fmcl_reduce_partials((size_t)n);
    chk_begin(&c, s, "mse_forward_backward", "n=%d", n);
    float *p = chk_host(&c, n), *u = chk_host(&c, n), *dp = chk_host(&c, n);
    double *loss = chk_host_d(&c, 1);
    if (chk_ok(&c)) chk_fill(p, n, -2.f, 2.f, 9), chk_fill(u, n, -1.f, 3.f, 10);
    fmcl_t tp = chk_buf(&c, p, n), tu = chk_buf(&c, u, n), tdp = chk_buf(&c, NULL, n);
    fmcl_t tl = chk_buf(&c, NULL, 1), tpart = chk_buf(&c, NULL, np);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_mse_forward_backward(s->ctx, tdp, tl, tp, tu, tpart, n));
        loss[0] = fmcl_mse_forward_backward_ref(dp, p, u, n);
    }
    chk_expect(&c, "loss", tl, 1, loss, (chk_tol){0, 1e-5});
    /* dp = 2 (p - u) / n: the floor is relative to a unit difference's 2/n. */
    chk_expect_f(&c, "dp", tdp, n, dp, chk_elem(1e-6 * 2.0 / n));
    chk_guards(&c, "partials", tpart, np);
    chk_end(&c);
}

static void sumsq(chk_suite *s, int n)
{
    chk_case c;
    size_t np = fmcl_reduce_partials((size_t)n);
    chk_begin(&c, s, "sumsq", "n=%d", n);
    float *x = chk_host(&c, n);
    double *want = chk_host_d(&c, 1);
    if (chk_ok(&c)) chk_fill(x, n, -1.5f, 1.f, 11);
    fmcl_t tx = chk_buf(&c, x, n), to = chk_buf(&c, NULL, 1), tpart = chk_buf(&c, NULL, np);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_sumsq(s->ctx, to, tx, tpart, n));
        want[0] = fmcl_sumsq_ref(x, n);
    }
    chk_expect(&c, "sum", to, 1, want, (chk_tol){0, 1e-5});
    chk_guards(&c, "partials", tpart, np);
    chk_end(&c);
}

static void fill(chk_suite *s, int n)
{
    chk_case c;
    chk_begin(&c, s, "fill", "n=%d", n);
    float *want = chk_host(&c, n);
    for (int i = 0; want && i < n; i++) want[i] = -0.3f;
    fmcl_t t = chk_buf(&c, NULL, n);
    if (chk_ok(&c)) chk_status(&c, fmcl_fill(s->ctx, t, -0.3f, n));
    chk_expect_f(&c, "x", t, n, want, (chk_tol){0, 0});
    chk_end(&c);
}

/* Several Adam(W) steps with fresh gradients; with clipping the device reads
 * ||g||^2 from fmcl_sumsq, as training does; zero_grad clears each g read. */
static void adam(chk_suite *s, const char *name, float weight_decay, float clip_frac, int zero_grad)
{
    enum { n = 4099, steps = 5 };
    chk_case c;
    fmcl_adam_params ap = {.lr = 1e-2f,
                           .beta1 = 0.9f,
                           .beta2 = 0.999f,
                           .eps = 1e-8f,
                           .weight_decay = weight_decay,
                           .zero_grad = zero_grad};
    chk_begin(&c, s, name, "n=%d steps=%d", n, steps);
    float *p = chk_host(&c, n), *m = chk_host(&c, n), *v = chk_host(&c, n);
    float *g = chk_host(&c, (size_t)steps * n);
    if (chk_ok(&c)) {
        chk_fill(p, n, -1.f, 1.f, 12);
        chk_fill(g, (size_t)steps * n, -1.f, 1.f, 13);
        for (int i = 0; i < steps * n; i += 5) g[i] *= 1e-3f; /* mixed scales */
        for (int i = 0; i < n; i++) m[i] = v[i] = 0.f;
    }
    fmcl_t tp = chk_buf(&c, p, n), tm = chk_buf(&c, NULL, n), tv = chk_buf(&c, NULL, n);
    fmcl_t tg = chk_buf(&c, g, (size_t)steps * n), tn = chk_buf(&c, NULL, 1);
    fmcl_t tpart = chk_buf(&c, NULL, fmcl_reduce_partials(n));
    for (int k = 0; k < steps && chk_ok(&c); k++) {
        float *gk = g + (size_t)k * n;
        fmcl_t tgk = fmcl_at(tg, (size_t)k * n);
        double normsq = fmcl_sumsq_ref(gk, n);
        ap.clip = clip_frac * (float)sqrt(normsq);
        if (clip_frac > 0) chk_status(&c, fmcl_sumsq(s->ctx, tn, tgk, tpart, n));
        chk_status(&c, fmcl_adam_step(s->ctx, tp, tgk, tm, tv, tn, &ap, k + 1, n));
        fmcl_adam_step_ref(p, gk, m, v, normsq, &ap, k + 1, n);
    }
    chk_expect_f(&c, "p", tp, n, p, chk_elem(1e-6));
    chk_expect_f(&c, "m", tm, n, m, chk_elem(1e-7));
    chk_expect_f(&c, "v", tv, n, v, chk_elem(1e-12));
    chk_expect_f(&c, zero_grad ? "g (zeroed)" : "g (unchanged)", tg, (size_t)steps * n, g,
                 (chk_tol){0, 0});
    chk_end(&c);
}

/* A few EMA updates with the warm-up decays training uses. */
static void ema(chk_suite *s, int n)
{
    enum { steps = 4 };
    chk_case c;
    chk_begin(&c, s, "ema_update", "n=%d steps=%d", n, steps);
    float *e = chk_host(&c, n), *p = chk_host(&c, (size_t)steps * n);
    if (chk_ok(&c)) {
        chk_fill(e, n, -1.f, 1.f, 14);
        chk_fill(p, (size_t)steps * n, -1.f, 1.f, 15);
    }
    fmcl_t te = chk_buf(&c, e, n), tp = chk_buf(&c, p, (size_t)steps * n);
    for (int k = 0; k < steps && chk_ok(&c); k++) {
        float d = fmcl_ema_decay(0.999f, k + 1);
        chk_status(&c, fmcl_ema_update(s->ctx, te, fmcl_at(tp, (size_t)k * n), d, n));
        fmcl_ema_update_ref(e, p + (size_t)k * n, d, n);
    }
    chk_expect_f(&c, "e", te, n, e, chk_elem(1e-6));
    chk_end(&c);
}

void chk_nn_ops(chk_suite *s)
{
    static const int shapes[][2] = {{37, 129}, {3, 1031}};
    static const int sizes[] = {1, 4099, 200003};
    for (int k = 0; k < 2; k++) bias_silu_forward(s, shapes[k][0], shapes[k][1]);
    for (int k = 0; k < 2; k++) bias_forward(s, shapes[k][0], shapes[k][1]);
    for (int k = 0; k < 2; k++) silu_backward(s, shapes[k][0], shapes[k][1], k);
    for (int k = 0; k < 2; k++) bias_backward(s, shapes[k][0], shapes[k][1]);
    bias_backward(s, 200, 67); /* 4 chunks of rows, the last one short */
    for (int k = 0; k < 2; k++) silu_forward(s, shapes[k][0], shapes[k][1]);
    for (int k = 0; k < 2; k++) dropout(s, k, 0.1f, 4099);
    dropout(s, 0, 0.5f, 257);
    linear_small(s, 37, 129, 3); /* the first layer's shape: wide N */
    linear_small(s, 131, 2, 67); /* the last layer's: wide K, 3 chunks of rows */
    for (int k = 0; k < 3; k++) mse(s, sizes[k]);
    for (int k = 0; k < 3; k++) sumsq(s, sizes[k]);
    fill(s, 1031);
    adam(s, "adam_step", 0.f, 0.f, 0);
    adam(s, "adam_step AdamW clipped", 0.1f, 0.25f, 0);
    adam(s, "adam_step zero_grad", 0.f, 0.f, 1);
    ema(s, 4099);
}
