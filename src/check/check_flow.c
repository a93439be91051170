/* Self-check of the flow-matching ops that build training batches and model
 * inputs (src/flow/flow_ops.h, src/flow/paths.h): random draws, data, the
 * probability paths and the time features. */
#include "check/check.h"
#include "data/toy2d.h"
#include "flow/flow_ops.h"
#include "flow/paths.h"
#include "runtime/rng.h"

#include <math.h>

/* The devices' log/sqrt/cos/sin may differ from the host's correctly rounded
 * double by a few ulp of the largest intermediate (|z| <= 5.8, angles up to
 * 2 pi, spiral angles up to 9.4 rad times the radius): absolute floors. */
#define TRANSC_ATOL 2e-6
#define TOY_ATOL 5e-5

static void randn(chk_suite *s, int n)
{
    chk_case c;
    chk_begin(&c, s, "randn", "n=%d", n);
    float *want = chk_host(&c, n);
    fmcl_t x = chk_buf(&c, NULL, n);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_randn(s->ctx, x, 99, FMCL_STREAM_SAMPLE, 3, n));
        fmcl_randn_ref(want, 99, FMCL_STREAM_SAMPLE, 3, n);
    }
    chk_expect_f(&c, "x", x, n, want, chk_elem(TRANSC_ATOL));
    chk_end(&c);
}

static void toy_sample(chk_suite *s, int kind, int B)
{
    chk_case c;
    chk_begin(&c, s, "toy_sample", "%s B=%d", fmcl_kind_name(kind), B);
    float *want = chk_host(&c, 2 * (size_t)B);
    fmcl_t x = chk_buf(&c, NULL, 2 * (size_t)B);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_toy_sample(s->ctx, x, kind, 77 + kind, 5, B));
        fmcl_toy_sample_ref(want, kind, 77 + kind, 5, 0, B);
    }
    chk_expect_f(&c, "x1", x, 2 * (size_t)B, want, chk_elem(TOY_ATOL));
    chk_end(&c);
}

static void gather_rows(chk_suite *s, int N, int D, int B)
{
    chk_case c;
    chk_begin(&c, s, "gather_rows", "N=%d D=%d B=%d", N, D, B);
    float *data = chk_host(&c, (size_t)N * D), *want = chk_host(&c, (size_t)B * D);
    if (chk_ok(&c)) chk_fill(data, (size_t)N * D, -3.f, 3.f, 21);
    fmcl_t td = chk_buf(&c, data, (size_t)N * D), tx = chk_buf(&c, NULL, (size_t)B * D);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_gather_rows(s->ctx, tx, td, 0x1234567890ull, 9, N, D, B));
        fmcl_gather_rows_ref(want, data, 0x1234567890ull, 9, 0, N, D, B);
    }
    chk_expect_f(&c, "x1", tx, (size_t)B * D, want, (chk_tol){0, 0}); /* a copy */
    chk_end(&c);
}

static void ot_interp(chk_suite *s, int B, int D, int F)
{
    chk_case c;
    const float smin = 0.01f;
    const size_t W = (size_t)fmcl_input_width(D, F);
    chk_begin(&c, s, "ot_interp", "B=%d D=%d F=%d", B, D, F);
    float *x1 = chk_host(&c, (size_t)B * D), *X = chk_host(&c, B * W),
          *U = chk_host(&c, (size_t)B * D);
    if (chk_ok(&c)) chk_fill(x1, (size_t)B * D, -2.f, 2.f, 22);
    fmcl_t tx1 = chk_buf(&c, x1, (size_t)B * D), tX = chk_buf(&c, NULL, B * W),
           tU = chk_buf(&c, NULL, (size_t)B * D);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_ot_interp(s->ctx, tX, tU, tx1, 31337, 4, smin, B, D, F));
        fmcl_ot_interp_ref(X, U, x1, 31337, 4, smin, B, D, F);
    }
    chk_expect_f(&c, "X", tX, B * W, X, chk_elem(TRANSC_ATOL));
    chk_expect_f(&c, "U", tU, (size_t)B * D, U, chk_elem(TRANSC_ATOL));
    chk_end(&c);
}

/* Every path through the trainer's fused op. The device evaluates the
 * schedule in float (exp, log, pow, sinpi, expm1), so each value is off by a
 * few ulp of the terms alpha x1 and sigma x0 that it sums; where they cancel,
 * the floor is relative to the output's largest value (VE's sigma reaches 50). */
static void path_interp(chk_suite *s, int kind, int B, int D, int F)
{
    chk_case c;
    const size_t W = (size_t)fmcl_input_width(D, F);
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.path = kind;
    fmcl_path p;
    chk_begin(&c, s, "path_interp", "%s B=%d D=%d F=%d", fmcl_name(FMCL_NAMES_PATH, kind), B, D, F);
    chk_status(&c, fmcl_path_from_config(s->ctx, &tc, &p));
    float *x1 = chk_host(&c, (size_t)B * D), *X = chk_host(&c, B * W),
          *U = chk_host(&c, (size_t)B * D);
    if (chk_ok(&c)) chk_fill(x1, (size_t)B * D, -2.f, 2.f, 29);
    fmcl_t tx1 = chk_buf(&c, x1, (size_t)B * D), tX = chk_buf(&c, NULL, B * W),
           tU = chk_buf(&c, NULL, (size_t)B * D);
    double xmax = 1, umax = 1;
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_path_interp(s->ctx, tX, tU, tx1, &p, 4242, 6, B, D, F));
        fmcl_path_interp_ref(X, U, x1, &p, 4242, 6, 0, B, D, F);
        for (size_t i = 0; i < B * W; i++) xmax = fmax(xmax, fabs(X[i]));
        for (size_t i = 0; i < (size_t)B * D; i++) umax = fmax(umax, fabs(U[i]));
    }
    chk_expect_f(&c, "X", tX, B * W, X, chk_elem(1e-5 * xmax));
    chk_expect_f(&c, "U", tU, (size_t)B * D, U, chk_elem(1e-5 * umax));
    chk_end(&c);
}

/* Data drawn inside the path kernel (a built-in set, or rows of an array):
 * against the double reference, and bit for bit against the two launches it
 * replaces (fmcl_toy_sample or fmcl_gather_rows, then fmcl_path_interp). */
static void path_sample(chk_suite *s, int kind, int B, int D, int F)
{
    enum { rows = 37 };
    chk_case c;
    const size_t W = (size_t)fmcl_input_width(D, F), bd = (size_t)B * D;
    fmcl_path p = {FMCL_PATH_OT, 0.f, 0.f, 1.f};
    chk_begin(&c, s, "path_sample", "%s B=%d D=%d F=%d", fmcl_kind_name(kind), B, D, F);
    float *data = chk_host(&c, (size_t)rows * D), *x1 = chk_host(&c, bd);
    float *X = chk_host(&c, B * W), *U = chk_host(&c, bd);
    float *X2 = chk_host(&c, B * W), *U2 = chk_host(&c, bd);
    if (chk_ok(&c)) chk_fill(data, (size_t)rows * D, -2.f, 2.f, 31);
    fmcl_t td = chk_buf(&c, data, (size_t)rows * D), tx1 = chk_buf(&c, NULL, bd);
    fmcl_t tX = chk_buf(&c, NULL, B * W), tU = chk_buf(&c, NULL, bd);
    fmcl_t tX2 = chk_buf(&c, NULL, B * W), tU2 = chk_buf(&c, NULL, bd);
    fmcl_ctx *ctx = s->ctx;
    double xmax = 1, umax = 1;
    if (chk_ok(&c)) {
        fmcl_t src = kind == FMCL_KIND_ARRAY ? td : (fmcl_t){0};
        chk_status(&c, fmcl_path_sample(ctx, tX, tU, kind, src, rows, &p, 99, 4, B, D, F));
        if (kind == FMCL_KIND_ARRAY)
            chk_status(&c, fmcl_gather_rows(ctx, tx1, td, 99, 4, rows, D, B));
        else
            chk_status(&c, fmcl_toy_sample(ctx, tx1, kind, 99, 4, B));
        chk_status(&c, fmcl_path_interp(ctx, tX2, tU2, tx1, &p, 99, 4, B, D, F));
        chk_status(&c, fmcl_read(ctx, tX2, X2, B * W * sizeof *X2));
        chk_status(&c, fmcl_read(ctx, tU2, U2, bd * sizeof *U2));
        fmcl_path_sample_ref(X, U, x1, kind, data, rows, &p, 99, 4, 0, B, D, F);
        for (size_t i = 0; i < B * W; i++) xmax = fmax(xmax, fabs(X[i]));
        for (size_t i = 0; i < bd; i++) umax = fmax(umax, fabs(U[i]));
    }
    chk_expect_f(&c, "X", tX, B * W, X, chk_elem(1e-5 * xmax));
    chk_expect_f(&c, "U", tU, bd, U, chk_elem(1e-5 * umax));
    chk_expect_f(&c, "X (vs two launches)", tX, B * W, X2, (chk_tol){0, 0});
    chk_expect_f(&c, "U (vs two launches)", tU, bd, U2, (chk_tol){0, 0});
    chk_end(&c);
}

static void time_input(chk_suite *s, int B, int D, int F)
{
    chk_case c;
    const size_t W = (size_t)fmcl_input_width(D, F);
    chk_begin(&c, s, "time_input", "B=%d D=%d F=%d", B, D, F);
    float *x = chk_host(&c, (size_t)B * D), *X = chk_host(&c, B * W);
    if (chk_ok(&c)) chk_fill(x, (size_t)B * D, -1.f, 1.f, 23);
    fmcl_t tx = chk_buf(&c, x, (size_t)B * D), tX = chk_buf(&c, NULL, B * W);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_time_input(s->ctx, tX, tx, 0.3721f, B, D, F));
        fmcl_time_input_ref(X, x, 0.3721f, B, D, F);
    }
    chk_expect_f(&c, "X", tX, B * W, X, chk_elem(TRANSC_ATOL));
    chk_end(&c);
}

void chk_flow_ops(chk_suite *s)
{
    randn(s, 1);
    randn(s, 10007);
    for (int kind = FMCL_TOY_CHECKERBOARD; kind <= FMCL_TOY_SPIRALS; kind++)
        toy_sample(s, kind, 1001);
    gather_rows(s, 101, 3, 1003);
    ot_interp(s, 1001, 2, 0);
    ot_interp(s, 333, 5, 3);
    for (int kind = FMCL_PATH_OT; kind <= FMCL_PATH_LINEAR_VP; kind++)
        path_interp(s, kind, 1001, 3, kind == FMCL_PATH_COSINE ? 2 : 0);
    for (int kind = FMCL_TOY_CHECKERBOARD; kind <= FMCL_TOY_SPIRALS; kind++)
        path_sample(s, kind, 257, 2, kind == FMCL_TOY_MOONS ? 3 : 0);
    path_sample(s, FMCL_KIND_ARRAY, 259, 5, 0);
    time_input(s, 333, 7, 0);
    time_input(s, 333, 7, 4);
}
