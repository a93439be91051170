/* The nn ops (src/nn/nn_ops.h) on every device against their double CPU
 * references, with odd shapes and guard regions around every output; the
 * reductions also against a host replay of their fixed summation order and
 * for run-to-run bitwise repeatability; the SiLU references against
 * independent formulas and central differences. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_ops.h"
#include "runtime/vec.h"
#include "testlib.h"

#define ELEM_RTOL 1e-5
#define ELEM_ATOL 1e-6

static int ok(fmcl_ctx *ctx, fmcl_status s, const char *what)
{
    return tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx));
}

static float *fdup(const float *x, size_t n)
{
    float *y = malloc(n * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    return y;
}

static double *widen(const float *x, size_t n)
{
    double *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) y[i] = x[i];
    return y;
}

/* Pre-activations in [-10, 10) with some far out, where a naive sigmoid overflows. */
static void fill_preact(float *z, size_t n, uint32_t seed)
{
    static const float far[] = {-90.f, 88.f, -30.f, 30.f, -1.2785f, 0.f};
    tl_fill(z, n, -10.f, 10.f, seed);
    for (size_t k = 0; k < sizeof far / sizeof far[0] && k * 7 < n; k++) z[k * 7] = far[k];
}

/* ---- CPU reference checks (no device) ---- */

static double silu_naive(double z) { return z / (1.0 + exp(-z)); }

static void check_silu_refs(void)
{
    enum { n = 2001 };
    float z[n], dh[n], dz[n], zc[n], h[n], zero[1] = {0.f};
    double want_d[n], want_h[n];
    for (int i = 0; i < n; i++) z[i] = -50.f + 0.05f * i; /* through 0 and silu's minimum */
    tl_fill(dh, n, -1.f, 1.f, 5);
    fmcl_silu_backward_ref(dz, dh, z, 1, n);
    for (int i = 0; i < n; i++) {
        double zi = z[i], step = 1e-4;
        double fd = (silu_naive(zi + step) - silu_naive(zi - step)) / (2 * step);
        want_d[i] = dh[i] * fd;
    }
    printf("== CPU references\n");
    tl_close("silu_backward_ref vs central differences", dz, want_d, n, 1e-7, 1e-6);

    memcpy(zc, z, sizeof z);
    fmcl_bias_silu_forward_ref(zc, h, zero, n, 1);
    for (int i = 0; i < n; i++) want_h[i] = silu_naive(z[i]);
    tl_close("bias_silu_forward_ref vs z/(1+exp(-z))", h, want_h, n, 1e-30, 1e-7);
}

/* ---- layers ---- */

static void test_layers(fmcl_ctx *ctx, int B, int N)
{
    size_t n = (size_t)B * N;
    char what[96];
    float *z0 = malloc(n * sizeof *z0), *dh = malloc(n * sizeof *dh), *b = malloc(N * sizeof *b);
    float *got = malloc(n * sizeof *got), *db0 = malloc(N * sizeof *db0);
    fill_preact(z0, n, 1 + B);
    tl_fill(dh, n, -1.f, 1.f, 2 + B);
    tl_fill(b, N, -2.f, 2.f, 3 + B);
    tl_fill(db0, N, -1.f, 1.f, 4 + B);
    printf(" layers B=%d N=%d\n", B, N);

    /* bias_silu_forward: z += b (one float add, so bitwise), h = silu(z). */
    float *zr = fdup(z0, n), *hr = malloc(n * sizeof *hr);
    fmcl_bias_silu_forward_ref(zr, hr, b, B, N);
    tl_buf tz = {0}, th = {0}, tb = {0};
    if (tl_buf_new(ctx, &tz, n, z0) && tl_buf_new(ctx, &th, n, NULL) &&
        tl_buf_new(ctx, &tb, N, b) &&
        ok(ctx, fmcl_bias_silu_forward(ctx, tz.t, th.t, tb.t, B, N), "bias_silu_forward")) {
        double *w = widen(hr, n);
        tl_buf_read(ctx, &tz, got);
        tl_close_f("bias_silu_forward z", got, zr, n, 0, 0);
        tl_buf_read(ctx, &th, got);
        tl_close("bias_silu_forward h", got, w, n, ELEM_ATOL, ELEM_RTOL);
        tl_guard_ok(ctx, &tz, "bias_silu_forward z");
        tl_guard_ok(ctx, &th, "bias_silu_forward h");
        free(w);
    }
    tl_buf_free(&tz);
    tl_buf_free(&th);

    /* bias_forward. */
    float *zf = fdup(z0, n);
    fmcl_bias_forward_ref(zf, b, B, N);
    if (tl_buf_new(ctx, &tz, n, z0) &&
        ok(ctx, fmcl_bias_forward(ctx, tz.t, tb.t, B, N), "bias_forward")) {
        tl_buf_read(ctx, &tz, got);
        tl_close_f("bias_forward", got, zf, n, 0, 0);
        tl_guard_ok(ctx, &tz, "bias_forward");
    }
    tl_buf_free(&tz);
    tl_buf_free(&tb);

    /* silu_backward, into a separate buffer and in place over dh. */
    float *dzr = malloc(n * sizeof *dzr);
    fmcl_silu_backward_ref(dzr, dh, z0, B, N);
    double *w = widen(dzr, n);
    tl_buf tdh = {0}, tdz = {0};
    if (tl_buf_new(ctx, &tz, n, z0) && tl_buf_new(ctx, &tdh, n, dh) &&
        tl_buf_new(ctx, &tdz, n, NULL) &&
        ok(ctx, fmcl_silu_backward(ctx, tdz.t, tdh.t, tz.t, B, N), "silu_backward")) {
        tl_buf_read(ctx, &tdz, got);
        tl_close("silu_backward", got, w, n, ELEM_ATOL, ELEM_RTOL);
        tl_guard_ok(ctx, &tdz, "silu_backward");
        if (ok(ctx, fmcl_silu_backward(ctx, tdh.t, tdh.t, tz.t, B, N), "silu_backward in place")) {
            tl_buf_read(ctx, &tdh, got);
            tl_close("silu_backward in place (dz = dh)", got, w, n, ELEM_ATOL, ELEM_RTOL);
            tl_guard_ok(ctx, &tdh, "silu_backward in place");
        }
    }
    tl_buf_free(&tz);
    tl_buf_free(&tdh);
    tl_buf_free(&tdz);

    /* bias_backward accumulates into db. Against the double reference within
     * the sequential-sum bound, and bitwise against the order the header
     * promises on every device, replayed in float: rows in index order within
     * chunks of FMCL_COLSUM_ROWS, then the chunks in order. */
    float *dbr = fdup(db0, N), *dbf = malloc(N * sizeof *dbf), *dbg = malloc(N * sizeof *dbg);
    fmcl_bias_backward_ref(dbr, dh, B, N);
    double bound = 0;
    for (int j = 0; j < N; j++) {
        float total = 0.f;
        double mag = fabs(db0[j]);
        for (int r0 = 0; r0 < B; r0 += FMCL_COLSUM_ROWS) {
            float acc = 0.f;
            for (int r = r0; r < B && r < r0 + FMCL_COLSUM_ROWS; r++) {
                acc += dh[(size_t)r * N + j];
                mag += fabs(dh[(size_t)r * N + j]);
            }
            total += acc;
        }
        dbf[j] = db0[j] + total;
        if (mag > bound) bound = mag;
    }
    bound *= (B + 1) * (double)FLT_EPSILON;
    tl_buf tdb = {0}, tpart = {0};
    if (tl_buf_new(ctx, &tdh, n, dh) && tl_buf_new(ctx, &tdb, N, db0) &&
        tl_buf_new(ctx, &tpart, fmcl_linear_small_wgrad_scratch(B, N, 0), NULL) &&
        ok(ctx, fmcl_bias_backward(ctx, tdb.t, tdh.t, tpart.t, B, N), "bias_backward")) {
        double *wd = widen(dbr, N);
        tl_buf_read(ctx, &tdb, dbg);
        snprintf(what, sizeof what, "bias_backward (atol = %d eps sum|.|)", B + 1);
        tl_close(what, dbg, wd, N, bound, 0);
        tl_close_f("bias_backward vs chunked float sum", dbg, dbf, N, 0, 0);
        tl_guard_ok(ctx, &tdb, "bias_backward");
        tl_guard_ok(ctx, &tpart, "bias_backward partial sums");
        free(wd);
    }
    tl_buf_free(&tdh);
    tl_buf_free(&tdb);
    tl_buf_free(&tpart);

    free(z0), free(dh), free(b), free(got), free(db0), free(zr), free(hr), free(zf);
    free(dzr), free(w), free(dbr), free(dbf), free(dbg);
}

/* ---- reductions ---- */

/* Longest chain of roundings in the two-pass sum of n terms: the grid-stride
 * slice of one item, the group tree, the final item's slice, the final tree. */
static double reduce_chain(int n)
{
    size_t g = fmcl_reduce_partials((size_t)n), wg = FMCL_REDUCE_WG;
    size_t per_item = ((size_t)n + g * wg - 1) / (g * wg), per_final = (g + wg - 1) / wg;
    return (double)(per_item + per_final + 2 * 6);
}

/* The specified summation order replayed on the host in float. */
static float sumsq_in_order(const float *x, int n)
{
    size_t G = fmcl_reduce_partials((size_t)n), stride = G * FMCL_REDUCE_WG;
    float *part = malloc(G * sizeof *part), s[FMCL_REDUCE_WG];
    for (size_t g = 0; g <= G; g++) {
        for (size_t l = 0; l < FMCL_REDUCE_WG; l++) {
            float acc = 0.f;
            if (g < G) {
                for (size_t i = g * FMCL_REDUCE_WG + l; i < (size_t)n; i += stride) {
                    float sq = x[i] * x[i];
                    acc += sq;
                }
            } else {
                for (size_t i = l; i < G; i += FMCL_REDUCE_WG) acc += part[i];
            }
            s[l] = acc;
        }
        for (size_t h = FMCL_REDUCE_WG / 2; h > 0; h >>= 1)
            for (size_t l = 0; l < h; l++) s[l] += s[l + h];
        if (g < G) part[g] = s[0];
    }
    free(part);
    return s[0];
}

static void test_sumsq(fmcl_ctx *ctx, int n)
{
    char what[96];
    float *x = malloc(n * sizeof *x), out[2];
    tl_fill(x, n, -1.5f, 1.f, 11 + n);
    size_t np = fmcl_reduce_partials((size_t)n);
    double want = fmcl_sumsq_ref(x, n);
    float order = sumsq_in_order(x, n);
    tl_buf tx = {0}, to = {0}, tp = {0};
    int good = tl_buf_new(ctx, &tx, n, x) && tl_buf_new(ctx, &to, 1, NULL) &&
               tl_buf_new(ctx, &tp, np, NULL);
    for (int run = 0; good && run < 2; run++)
        good = ok(ctx, fmcl_sumsq(ctx, to.t, tx.t, tp.t, n), "sumsq") &&
               tl_buf_read(ctx, &to, &out[run]);
    if (good) {
        snprintf(what, sizeof what, "sumsq n=%d (rtol %.0f eps)", n, reduce_chain(n) + 1);
        tl_close(what, &out[0], &want, 1, 0, (reduce_chain(n) + 1) * FLT_EPSILON);
        tl_close_f("sumsq vs its order replayed on the host", &out[0], &order, 1, 0, 0);
        tl_check(memcmp(&out[0], &out[1], sizeof out[0]) == 0,
                 "sumsq n=%d differs between two runs: %.9g then %.9g", n, out[0], out[1]);
        tl_guard_ok(ctx, &to, "sumsq out");
        tl_guard_ok(ctx, &tp, "sumsq partials");
    }
    tl_buf_free(&tx);
    tl_buf_free(&to);
    tl_buf_free(&tp);
    free(x);
}

static void test_mse(fmcl_ctx *ctx, int n)
{
    char what[96];
    float *p = malloc(n * sizeof *p), *u = malloc(n * sizeof *u);
    float *dpr = malloc(n * sizeof *dpr);
    float *dp[2] = {malloc(n * sizeof *dp[0]), malloc(n * sizeof *dp[1])};
    float loss[2];
    tl_fill(p, n, -2.f, 2.f, 21 + n);
    tl_fill(u, n, -1.f, 3.f, 22 + n);
    size_t np = fmcl_reduce_partials((size_t)n);
    double want = fmcl_mse_forward_backward_ref(dpr, p, u, n);
    tl_buf tp = {0}, tu = {0}, tdp = {0}, tl = {0}, tpart = {0};
    int good = tl_buf_new(ctx, &tp, n, p) && tl_buf_new(ctx, &tu, n, u) &&
               tl_buf_new(ctx, &tdp, n, NULL) && tl_buf_new(ctx, &tl, 1, NULL) &&
               tl_buf_new(ctx, &tpart, np, NULL);
    for (int run = 0; good && run < 2; run++)
        good = ok(ctx, fmcl_mse_forward_backward(ctx, tdp.t, tl.t, tp.t, tu.t, tpart.t, n),
                  "mse") &&
               tl_buf_read(ctx, &tl, &loss[run]) && tl_buf_read(ctx, &tdp, dp[run]);
    if (good) {
        double *w = widen(dpr, n), rtol = (reduce_chain(n) + 3) * FLT_EPSILON;
        snprintf(what, sizeof what, "mse loss n=%d (rtol %.0f eps)", n, reduce_chain(n) + 3);
        tl_close(what, &loss[0], &want, 1, 0, rtol);
        /* dp is about 2/n: an absolute floor of ELEM_ATOL would hide everything. */
        tl_close("mse dp", dp[0], w, n, 1e-7 * 2.0 / n, ELEM_RTOL);
        tl_check(memcmp(&loss[0], &loss[1], sizeof loss[0]) == 0 &&
                     memcmp(dp[0], dp[1], n * sizeof *dp[0]) == 0,
                 "mse n=%d differs between two runs: loss %.9g then %.9g", n, loss[0], loss[1]);
        tl_guard_ok(ctx, &tdp, "mse dp");
        tl_guard_ok(ctx, &tl, "mse loss");
        tl_guard_ok(ctx, &tpart, "mse partials");
        free(w);
    }
    tl_buf_free(&tp);
    tl_buf_free(&tu);
    tl_buf_free(&tdp);
    tl_buf_free(&tl);
    tl_buf_free(&tpart);
    free(p), free(u), free(dpr), free(dp[0]), free(dp[1]);
}

/* ---- fill and Adam ---- */

static void test_fill(fmcl_ctx *ctx, int n)
{
    float *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
    for (int i = 0; i < n; i++) want[i] = -0.3f;
    tl_buf t = {0};
    if (tl_buf_new(ctx, &t, n, NULL) && ok(ctx, fmcl_fill(ctx, t.t, -0.3f, n), "fill")) {
        tl_buf_read(ctx, &t, got);
        tl_close_f("fill", got, want, n, 0, 0);
        tl_guard_ok(ctx, &t, "fill");
    }
    tl_buf_free(&t);
    free(got), free(want);
}

/* Several Adam steps with fresh gradients each step, device against the
 * reference run side by side. With clip > 0 the device reads ||g||^2 from
 * fmcl_sumsq's output, as training does. Each step's g is a new buffer
 * (Oclgrind 21.10 loses track of initialised memory after a host write at an
 * offset into a buffer). */
static void test_adam(fmcl_ctx *ctx, const char *name, float weight_decay, float clip_frac)
{
    enum { n = 4099, steps = 5 };
    fmcl_adam_params ap = {
        .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = weight_decay};
    float *p = malloc(n * sizeof *p), *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v);
    float *g = malloc(n * sizeof *g), *got = malloc(n * sizeof *got);
    tl_fill(p, n, -1.f, 1.f, 31);
    tl_buf tp = {0}, tg = {0}, tm = {0}, tv = {0}, tn = {0}, tpart = {0};
    int good = tl_buf_new(ctx, &tp, n, p) && tl_buf_new(ctx, &tm, n, NULL) &&
               tl_buf_new(ctx, &tv, n, NULL) && tl_buf_new(ctx, &tn, 1, NULL) &&
               tl_buf_new(ctx, &tpart, fmcl_reduce_partials(n), NULL);
    /* Moments start at zero through fill, the way a trainer resets them. */
    good = good && ok(ctx, fmcl_fill(ctx, tm.t, 0.f, n), "fill m") &&
           ok(ctx, fmcl_fill(ctx, tv.t, 0.f, n), "fill v");
    int clipped = 0;
    for (int step = 1; good && step <= steps; step++) {
        tl_fill(g, n, -1.f, 1.f, 40 + step);
        for (int i = 0; i < n; i += 5) g[i] *= 1e-3f; /* mixed scales */
        double normsq = fmcl_sumsq_ref(g, n);
        ap.clip = clip_frac * (float)sqrt(normsq);
        clipped |= clip_frac > 0 && clip_frac < 1;
        tl_buf_free(&tg);
        good = tl_buf_new(ctx, &tg, n, g) &&
               (clip_frac <= 0 || ok(ctx, fmcl_sumsq(ctx, tn.t, tg.t, tpart.t, n), "sumsq g")) &&
               ok(ctx, fmcl_adam_step(ctx, tp.t, tg.t, tm.t, tv.t, tn.t, &ap, step, n), name);
        fmcl_adam_step_ref(p, g, m, v, normsq, &ap, step, n);
    }
    if (good) {
        char what[96];
        double *w;
        printf(" %s after %d steps%s\n", name, steps, clipped ? " (gradients clipped)" : "");
        tl_buf_read(ctx, &tp, got);
        snprintf(what, sizeof what, "%s p", name);
        tl_close(what, got, w = widen(p, n), n, ELEM_ATOL, ELEM_RTOL);
        free(w);
        tl_buf_read(ctx, &tm, got);
        snprintf(what, sizeof what, "%s m", name);
        tl_close(what, got, w = widen(m, n), n, 1e-7, ELEM_RTOL);
        free(w);
        tl_buf_read(ctx, &tv, got);
        snprintf(what, sizeof what, "%s v", name);
        tl_close(what, got, w = widen(v, n), n, 1e-12, ELEM_RTOL);
        free(w);
        tl_buf_read(ctx, &tg, got);
        snprintf(what, sizeof what, "%s leaves g unchanged", name);
        tl_close_f(what, got, g, n, 0, 0);
        tl_guard_ok(ctx, &tp, "adam p");
        tl_guard_ok(ctx, &tm, "adam m");
        tl_guard_ok(ctx, &tv, "adam v");
    }
    tl_buf_free(&tp);
    tl_buf_free(&tg);
    tl_buf_free(&tm);
    tl_buf_free(&tv);
    tl_buf_free(&tn);
    tl_buf_free(&tpart);
    free(p), free(m), free(v), free(g), free(got);
}

/* Bad arguments are refused with a message, before anything is launched. */
static void test_bad_args(fmcl_ctx *ctx)
{
    fmcl_t none = {NULL, 0};
    fmcl_adam_params ap = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    tl_check(fmcl_bias_forward(ctx, none, none, -1, 3) == FMCL_ERR_ARG && ctx->err[0],
             "bias_forward accepts B = -1");
    tl_check(fmcl_silu_backward(ctx, none, none, none, 1 << 16, 1 << 16) == FMCL_ERR_ARG,
             "silu_backward accepts 2^32 elements");
    tl_check(fmcl_mse_forward_backward(ctx, none, none, none, none, none, 0) == FMCL_ERR_ARG,
             "mse accepts n = 0");
    tl_check(fmcl_adam_step(ctx, none, none, none, none, none, &ap, 0, 10) == FMCL_ERR_ARG,
             "adam accepts step 0");
    ap.beta2 = 1.0f;
    tl_check(fmcl_adam_step(ctx, none, none, none, none, none, &ap, 1, 10) == FMCL_ERR_ARG,
             "adam accepts beta2 = 1");
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    static const int shapes[][2] = {{37, 129}, {1, 1}, {3, 1031}, {150, 67}};
    static const int sizes[] = {1, 63, 4099, 64 * 64 * 3 + 5, 200003};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        test_layers(ctx, shapes[k][0], shapes[k][1]);
    printf(" reductions\n");
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        test_sumsq(ctx, sizes[k]);
        test_mse(ctx, sizes[k]);
    }
    test_fill(ctx, 1031);
    test_adam(ctx, "adam", 0.f, 0.f);
    test_adam(ctx, "adam clipped", 0.f, 0.25f);
    test_adam(ctx, "adam clip not reached", 0.f, 2.f);
    test_adam(ctx, "adamw clipped", 0.1f, 0.25f);
    test_bad_args(ctx);
    return 0;
}

int main(void)
{
    check_silu_refs();
    return tl_for_each_device(run, NULL);
}
