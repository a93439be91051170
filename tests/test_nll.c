/* The likelihood (src/flow/nll.c) on every device:
 * - its device ops against their references (Rademacher probes bit for bit);
 * - closed forms through fields computed on the host: a constant field c
 *   gives log p1(x) = log N(x - c; 0, I); for Gaussian data N(m, s^2 I) the OT
 *   path's marginal field is affine and the model density is
 *   N(m, (s^2 + smin^2) I) (derivation at gaussian_field); the linear field
 *   v = A x, A = [[a, b], [0, a]], has x0 = e^-A x1 and div = 2a, while its
 *   Hutchinson estimate is off by exactly -b z1 z2 per solve, which tests
 *   that one probe is used for the whole solve and K solves are averaged;
 * - the MLP: exact divergence against central differences of the double
 *   reference forward, each Hutchinson probe against z^T J z of the
 *   reference Jacobian and their mean against the trace within the central
 *   limit theorem's bounds, fmcl_log_prob against an RK4 (classic and the
 *   3/8 rule) of the augmented ODE in double on the host, the per-point NLL
 *   in input order, and its density integrating to 1 on a grid;
 * - the statistics and per-point values, the heat map and argument errors
 *   (no device). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stb_image.h>

#include "flow/flow_ops.h"
#include "flow/nll.h"
#include "io/raster.h"
#include "testlib.h"

#define LOG_2PI 1.8378770664093453

static double log_normal(const double *x, int D, double var)
{
    double sq = 0;
    for (int j = 0; j < D; j++) sq += x[j] * x[j];
    return -0.5 * sq / var - 0.5 * D * (LOG_2PI + log(var));
}

/* ---- device ops --------------------------------------------------------------- */

static void test_ops(fmcl_ctx *ctx)
{
    enum { ROWS = 37, D = 3, LDG = 5 };
    const int n = ROWS * D;
    float z[ROWS * D], zr[ROWS * D], g[ROWS * LDG], div[ROWS], want[ROWS];
    tl_buf bz, bg, bd;
    tl_fill(g, ROWS * LDG, -2, 2, 5);
    if (!tl_buf_new(ctx, &bz, n, NULL) || !tl_buf_new(ctx, &bg, ROWS * LDG, g) ||
        !tl_buf_new(ctx, &bd, ROWS, NULL))
        return;
    /* Probes: bit for bit, from an odd first element, about half negative. */
    tl_check(fmcl_rademacher(ctx, bz.t, 42, 1001, 3, n) == FMCL_OK, "rademacher: %s",
             fmcl_ctx_error(ctx));
    tl_buf_read(ctx, &bz, z);
    fmcl_rademacher_ref(zr, 42, 1001, 3, n);
    tl_check(memcmp(z, zr, sizeof z) == 0, "rademacher differs from its reference");
    int neg = 0, pm1 = 1;
    for (int i = 0; i < n; i++) {
        neg += z[i] < 0;
        pm1 &= z[i] == 1.0f || z[i] == -1.0f;
    }
    tl_check(pm1 && neg > n / 4 && neg < 3 * n / 4, "rademacher: %d of %d negative", neg, n);
    float z2[ROWS * D];
    fmcl_rademacher_ref(z2, 42, 1001, 4, n);
    tl_check(memcmp(z, z2, sizeof z) != 0, "another solve draws another probe");
    fmcl_rademacher_ref(z2, 42, 1001 + 7, 3, n - 7); /* the same elements, fewer at once */
    tl_check(memcmp(zr + 7, z2, sizeof(float) * (n - 7)) == 0, "probe depends on the chunking");
    tl_guard_ok(ctx, &bz, "rademacher");

    float u[ROWS * D], ur[ROWS * D];
    tl_check(fmcl_onehot_rows(ctx, bz.t, 2, ROWS, D) == FMCL_OK, "onehot: %s", fmcl_ctx_error(ctx));
    tl_buf_read(ctx, &bz, u);
    fmcl_onehot_rows_ref(ur, 2, ROWS, D);
    tl_close_f("onehot_rows", u, ur, n, 0, 0);
    tl_guard_ok(ctx, &bz, "onehot_rows");

    tl_check(fmcl_div_column(ctx, bd.t, bg.t, LDG, 1, 0, ROWS) == FMCL_OK &&
                 fmcl_div_column(ctx, bd.t, bg.t, LDG, 4, 1, ROWS) == FMCL_OK,
             "div_column: %s", fmcl_ctx_error(ctx));
    tl_buf_read(ctx, &bd, div);
    fmcl_div_column_ref(want, g, LDG, 1, 0, ROWS);
    fmcl_div_column_ref(want, g, LDG, 4, 1, ROWS);
    tl_close_f("div_column (set, add)", div, want, ROWS, 0, 1e-6);
    tl_guard_ok(ctx, &bd, "div_column");

    tl_buf_free(&bz);
    if (!tl_buf_new(ctx, &bz, n, zr)) return;
    tl_check(fmcl_div_probe(ctx, bd.t, bg.t, LDG, bz.t, ROWS, D) == FMCL_OK, "div_probe: %s",
             fmcl_ctx_error(ctx));
    tl_buf_read(ctx, &bd, div);
    fmcl_div_probe_ref(want, g, LDG, zr, ROWS, D);
    tl_close_f("div_probe", div, want, ROWS, 1e-6, 1e-5);
    tl_guard_ok(ctx, &bd, "div_probe");
    tl_buf_free(&bz);
    tl_buf_free(&bg);
    tl_buf_free(&bd);
}

/* ---- closed-form fields, computed on the host ---------------------------------- */

enum { F_CONST, F_GAUSS, F_LINEAR };
#define MAXD 4
#define LDG_PAD 2 /* vjp rows carry junk past D, which must be ignored */

typedef struct {
    fmcl_ctx *ctx;
    int kind, D, nfe;
    double c[MAXD], x0_std;  /* constant field, from N(0, x0_std^2 I) */
    double m[MAXD], s, smin; /* Gaussian data N(m, s^2 I), OT path */
    double a, b;             /* linear field A = [[a, b], [0, a]] */
    float t;                 /* of the last velocity call */
    float *hx, *hv;
} host_field;

/* OT path x_t = sigma_t x0 + t x1, sigma_t = 1 - (1 - smin) t, x1 ~ N(m, s^2 I):
 * x_t ~ N(t m, V_t I) with V_t = sigma_t^2 + t^2 s^2. The marginal field is
 * E[x1 - (1 - smin) x0 | x_t = x] = m + a_t (x - t m), a_t = V_t' / (2 V_t)
 * (Gaussian conditioning: Cov(x1, x_t) = t s^2, Cov(x0, x_t) = sigma_t), whose
 * flow is x_t = t m + sqrt(V_t) e, so p1 = N(m, V_1 I), V_1 = s^2 + smin^2. */
static double gauss_a(const host_field *f, double t)
{
    const double sig = 1 - (1 - f->smin) * t, V = sig * sig + t * t * f->s * f->s;
    return (t * f->s * f->s - (1 - f->smin) * sig) / V;
}

static fmcl_status hf_velocity(void *user, fmcl_t v, fmcl_t x, float t, int rows)
{
    host_field *f = user;
    const int D = f->D;
    f->t = t;
    f->nfe++;
    fmcl_status s = fmcl_read(f->ctx, x, f->hx, sizeof(float) * rows * D);
    const double a = gauss_a(f, t);
    for (int r = 0; r < rows && s == FMCL_OK; r++) {
        const float *xr = f->hx + r * D;
        float *vr = f->hv + r * D;
        for (int j = 0; j < D; j++) {
            if (f->kind == F_CONST)
                vr[j] = (float)f->c[j];
            else if (f->kind == F_GAUSS)
                vr[j] = (float)(f->m[j] + a * (xr[j] - t * f->m[j]));
            else
                vr[j] = (float)(f->a * xr[j] + (j == 0 ? f->b * xr[1] : 0));
        }
    }
    return s == FMCL_OK ? fmcl_write(f->ctx, v, f->hv, sizeof(float) * rows * D) : s;
}

/* g = J^T u per row, then LDG_PAD junk columns. */
static fmcl_status hf_vjp(void *user, fmcl_t g, fmcl_t u, int rows)
{
    host_field *f = user;
    const int D = f->D, ld = D + LDG_PAD;
    float *hg = malloc(sizeof(float) * rows * ld);
    fmcl_status s = hg ? fmcl_read(f->ctx, u, f->hx, sizeof(float) * rows * D) : FMCL_ERR_NOMEM;
    const double a = gauss_a(f, f->t);
    for (int r = 0; r < rows && s == FMCL_OK; r++) {
        const float *ur = f->hx + r * D;
        float *gr = hg + r * ld;
        for (int j = 0; j < D; j++) {
            if (f->kind == F_CONST)
                gr[j] = 0;
            else if (f->kind == F_GAUSS)
                gr[j] = (float)(a * ur[j]);
            else
                gr[j] = (float)(f->a * ur[j] + (j == 1 ? f->b * ur[0] : 0));
        }
        for (int j = D; j < ld; j++) gr[j] = 1e30f;
    }
    if (s == FMCL_OK) s = fmcl_write(f->ctx, g, hg, sizeof(float) * rows * ld);
    free(hg);
    return s;
}

/* logp of the field's density at t = 1 in closed form. */
static double hf_exact(const host_field *f, const float *x)
{
    double y[MAXD];
    const int D = f->D;
    if (f->kind == F_CONST) {
        for (int j = 0; j < D; j++) y[j] = x[j] - f->c[j];
        return log_normal(y, D, f->x0_std * f->x0_std);
    }
    if (f->kind == F_GAUSS) {
        for (int j = 0; j < D; j++) y[j] = x[j] - f->m[j];
        return log_normal(y, D, f->s * f->s + f->smin * f->smin);
    }
    const double ea = exp(-f->a); /* e^-A = e^-a [[1, -b], [0, 1]] */
    y[0] = ea * (x[0] - f->b * x[1]);
    y[1] = ea * x[1];
    return log_normal(y, 2, 1) - 2 * f->a;
}

/* Runs fmcl_field_log_prob on n points, rows at a time; returns the largest
 * |logp - want|, want[i] from hf_exact plus shift[i] (may be NULL). */
static double run_field(host_field *f, const fmcl_nll_config *cfg, const float *x, int n, int rows,
                        const double *shift, const char *what)
{
    f->hx = malloc(sizeof(float) * rows * (f->D + LDG_PAD));
    f->hv = malloc(sizeof(float) * rows * f->D);
    double *lp = malloc(sizeof(double) * n), worst = 0;
    fmcl_field fld = {.dim = f->D,
                      .ldg = f->D + LDG_PAD,
                      .max_rows = rows,
                      .x0_std = f->kind == F_CONST ? (float)f->x0_std : 1.0f,
                      .velocity = hf_velocity,
                      .vjp = hf_vjp,
                      .user = f};
    int nfe = -1;
    f->nfe = 0;
    fmcl_sample_stats st;
    fmcl_nll_config c = *cfg;
    c.stats = &st;
    fmcl_status s = fmcl_field_log_prob(f->ctx, &fld, &c, x, n, lp, &nfe);
    if (tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(f->ctx)))
        for (int i = 0; i < n; i++) {
            double d = fabs(lp[i] - hf_exact(f, x + i * f->D) - (shift ? shift[i] : 0));
            worst = d > worst || d != d ? d : worst;
        }
    const int K = cfg->hutchinson > 0 ? cfg->hutchinson : 1, chunks = (n + rows - 1) / rows;
    tl_check(st.solves == K * chunks && st.nfe == f->nfe,
             "%s: %d solves, NFE %d, expected %d "
             "solves and the field's count %d",
             what, st.solves, st.nfe, K * chunks, f->nfe);
    if (cfg->solver == FMCL_SOLVER_DOPRI5) { /* 1 + 1 (first step) + 6 per attempt */
        tl_check(st.nfe == 2 * st.solves + 6 * (st.accepted + st.rejected) && nfe <= st.nfe &&
                     nfe * st.solves >= st.nfe,
                 "%s: dopri5 NFE %d (most %d) for %d + %d steps", what, st.nfe, nfe, st.accepted,
                 st.rejected);
        printf("  dopri5: %d solves, NFE %d (most %d), %d accepted, %d rejected\n", st.solves,
               st.nfe, nfe, st.accepted, st.rejected);
    } else {
        const int per_solve = cfg->steps * fmcl_solver_nfe_per_step(cfg->solver);
        tl_check(nfe == per_solve && st.nfe == per_solve * K * chunks &&
                     st.accepted == cfg->steps * K * chunks && st.rejected == 0,
                 "%s: NFE %d per solve and %d in all, expected %d and %d", what, nfe, st.nfe,
                 per_solve, per_solve * K * chunks);
    }
    free(lp);
    free(f->hx);
    free(f->hv);
    return worst;
}

static void expect_small(const char *what, double err, double tol)
{
    printf("  %-52s max|err| %.3g (tol %.3g)\n", what, err, tol);
    tl_check(err <= tol, "%s: max |logp - closed form| %.3g > %.3g", what, err, tol);
}

static void test_closed_forms(fmcl_ctx *ctx)
{
    enum { N = 37 };
    float x[N * 3];
    fmcl_nll_config cfg;
    fmcl_nll_config_default(&cfg);

    /* Constant field: exact for any solver and step count. */
    host_field cf = {.ctx = ctx, .kind = F_CONST, .D = 3, .c = {1, -0.5, 2}, .x0_std = 1};
    tl_fill(x, N * 3, -3, 4, 21);
    cfg.solver = FMCL_SOLVER_EULER;
    cfg.steps = 1;
    expect_small("constant field, Euler 1 step", run_field(&cf, &cfg, x, N, 16, NULL, "const"),
                 2e-5);
    cfg.solver = FMCL_SOLVER_RK4;
    cfg.steps = 5;
    cfg.hutchinson = 2;
    expect_small("constant field, RK4 5 steps, Hutchinson 2",
                 run_field(&cf, &cfg, x, N, 16, NULL, "const"), 2e-5);
    cf.x0_std = 2.5; /* the VE path's noise: p1(x) = N(x - c; 0, 2.5^2 I) */
    cfg.solver = FMCL_SOLVER_HEUN;
    expect_small("constant field from N(0, 2.5^2 I), Heun 5 steps",
                 run_field(&cf, &cfg, x, N, 16, NULL, "const"), 2e-5);

    /* Gaussian data through the OT path's exact field: points from the data
     * and from its tails. Hutchinson is exact here (J = a_t I). */
    for (int k = 0; k < 2; k++) {
        host_field gf = {
            .ctx = ctx, .kind = F_GAUSS, .D = 3, .m = {0.5, -1, 2}, .s = 0.4, .smin = k ? 0.1 : 0};
        tl_fill(x, N * 3, -2, 2, 22);
        for (int i = 0; i < N * 3; i++) x[i] = (float)(gf.m[i % 3] + gf.s * x[i]);
        char what[96];
        cfg.hutchinson = 0;
        cfg.solver = FMCL_SOLVER_RK4;
        cfg.steps = 20;
        double e_rk4 = run_field(&gf, &cfg, x, N, N, NULL, "gauss");
        snprintf(what, sizeof what, "Gaussian OT field smin %.1f, RK4 20 steps", gf.smin);
        expect_small(what, e_rk4, 5e-5);
        cfg.hutchinson = 1;
        snprintf(what, sizeof what, "Gaussian OT field smin %.1f, Hutchinson 1", gf.smin);
        expect_small(what, run_field(&gf, &cfg, x, N, N, NULL, "gauss"), 5e-5);
        /* dopri5 at its defaults (1e-5 per element: the global error of log p,
         * which sums D elements times |x0| and delta, may be ~10x that) and
         * at a loose tolerance, which must cost fewer steps and be worse. */
        cfg.hutchinson = 0;
        cfg.solver = FMCL_SOLVER_DOPRI5;
        snprintf(what, sizeof what, "Gaussian OT field smin %.1f, dopri5 1e-5", gf.smin);
        const double e_tight = run_field(&gf, &cfg, x, N, N, NULL, "gauss");
        const int nfe_tight = gf.nfe; /* this run's evaluations */
        expect_small(what, e_tight, 5e-4);
        cfg.atol = cfg.rtol = 1e-2;
        snprintf(what, sizeof what, "Gaussian OT field smin %.1f, dopri5 1e-2", gf.smin);
        const double e_loose = run_field(&gf, &cfg, x, N, N, NULL, "gauss");
        expect_small(what, e_loose, 0.1);
        tl_check(e_loose > e_tight && gf.nfe < nfe_tight,
                 "dopri5 at 1e-2 should be cheaper and less accurate than at 1e-5");
        cfg.atol = cfg.rtol = 0;
        /* Euler is first order: halving h about halves its error. */
        cfg.hutchinson = 0;
        cfg.solver = FMCL_SOLVER_EULER;
        cfg.steps = 25;
        double e25 = run_field(&gf, &cfg, x, N, N, NULL, "gauss");
        cfg.steps = 50;
        double e50 = run_field(&gf, &cfg, x, N, N, NULL, "gauss");
        printf("  Euler errors: 25 steps %.3g, 50 steps %.3g (ratio %.2f)\n", e25, e50, e25 / e50);
        tl_check(e25 / e50 > 1.7 && e25 / e50 < 2.3 && e50 > 10 * e_rk4,
                 "Euler's error should halve with the step: %.3g, %.3g", e25, e50);
    }

    /* Linear field: exact, then Hutchinson off by -b z1 z2 per solve. */
    host_field lf = {.ctx = ctx, .kind = F_LINEAR, .D = 2, .a = 0.3, .b = 0.8};
    tl_fill(x, N * 2, -2, 2, 23);
    cfg = (fmcl_nll_config){.solver = FMCL_SOLVER_RK4, .steps = 8, .seed = 5};
    expect_small("linear field, exact divergence", run_field(&lf, &cfg, x, N, 16, NULL, "lin"),
                 5e-5);
    double shift[N];
    for (int K = 1; K <= 16; K += 15) {
        int flips = 0;
        for (int i = 0; i < N; i++) {
            double sum = 0;
            for (int k = 0; k < K; k++) {
                float z[2];
                fmcl_rademacher_ref(z, cfg.seed, (uint32_t)(2 * i), (uint32_t)k, 2);
                sum += (double)z[0] * z[1];
            }
            shift[i] = -lf.b * sum / K;
            flips += shift[i] > 0;
        }
        cfg.hutchinson = K;
        char what[96];
        snprintf(what, sizeof what, "linear field, Hutchinson %d (%d of %d shifted up)", K, flips,
                 N);
        expect_small(what, run_field(&lf, &cfg, x, N, 16, shift, "lin"), 5e-5);
        if (K == 1) tl_check(flips > 5 && flips < N - 5, "probes of both signs: %d", flips);
    }
}

/* ---- the MLP --------------------------------------------------------------- */

typedef struct {
    fmcl_model *model;
    const fmcl_mlp *m; /* its network */
    float *P;          /* parameters */
    double *grads;
} mlp_ref;

/* v (double, rows x D) of the reference MLP at float points x and time t. */
static void ref_v(const mlp_ref *r, const float *x, float t, int rows, double *v)
{
    const fmcl_mlp *m = r->m;
    float *X = malloc(sizeof(float) * rows * m->in[0]);
    fmcl_time_input_ref(X, x, t, rows, m->cfg.dim, m->cfg.time_freqs);
    fmcl_mlp_forward_ref(m, r->P, X, rows, v);
    free(X);
}

/* J: rows x D x D, J[r][i][j] = dv_i/dx_j, rows of J by the reference backward. */
static void ref_jacobian(const mlp_ref *r, const float *x, float t, int rows, double *J)
{
    const fmcl_mlp *m = r->m;
    const int D = m->cfg.dim, W = m->in[0];
    float *X = malloc(sizeof(float) * rows * W);
    double *dout = calloc((size_t)rows * D, sizeof *dout), *dX = malloc(sizeof(double) * rows * W);
    fmcl_time_input_ref(X, x, t, rows, D, m->cfg.time_freqs);
    for (int i = 0; i < D; i++) {
        for (int q = 0; q < rows; q++)
            for (int j = 0; j < D; j++) dout[q * D + j] = j == i;
        fmcl_mlp_backward_ref(m, r->P, X, dout, rows, r->grads, dX);
        for (int q = 0; q < rows; q++)
            for (int j = 0; j < D; j++) J[((size_t)q * D + i) * D + j] = dX[(size_t)q * W + j];
    }
    free(X);
    free(dout);
    free(dX);
}

static void mlp_ref_free(mlp_ref *r)
{
    fmcl_model_free(r->model);
    free(r->P);
    free(r->grads);
}

static int mlp_ref_init(fmcl_ctx *ctx, fmcl_mlp_spec cfg, uint64_t seed, mlp_ref *r)
{
    r->model = tl_mlp(ctx, cfg.dim, cfg.width, cfg.depth, cfg.time_freqs, cfg.classes, seed);
    if (!r->model) return 0;
    r->m = r->model->mlp;
    r->P = malloc(sizeof(float) * r->m->n_params);
    r->grads = calloc(r->m->n_params, sizeof(double));
    if (tl_check(r->P && r->grads, "no host memory for %zu parameters", r->m->n_params) &&
        tl_check(fmcl_read(ctx, r->m->params, r->P, sizeof(float) * r->m->n_params) == FMCL_OK,
                 "read parameters: %s", fmcl_ctx_error(ctx)))
        return 1;
    mlp_ref_free(r);
    return 0;
}

/* Divergence at one (x, t): exact vs central differences; every probe vs
 * z^T J z; the probes' mean vs the trace. */
static void test_mlp_divergence(fmcl_ctx *ctx, fmcl_mlp_spec cfg)
{
    enum { ROWS = 37, PROBES = 256 };
    const int D = cfg.dim;
    const float t = 0.37f;
    mlp_ref r;
    if (!mlp_ref_init(ctx, cfg, 9, &r)) return;
    fmcl_net_field mf;
    fmcl_field f;
    if (!tl_check(fmcl_net_field_create(&r.model->net, 1.0f, ROWS, &mf, &f) == FMCL_OK, "field: %s",
                  fmcl_ctx_error(ctx))) {
        mlp_ref_free(&r);
        return;
    }
    float *x = malloc(sizeof(float) * ROWS * D), *xp = malloc(sizeof(float) * ROWS * D);
    float *z = malloc(sizeof(float) * ROWS * D), div[ROWS], got[ROWS];
    double *J = malloc(sizeof(double) * ROWS * D * D), *vp = malloc(sizeof(double) * ROWS * D),
           *vm = malloc(sizeof(double) * ROWS * D);
    double fd[ROWS], trace[ROWS], var[ROWS], mean[ROWS] = {0}, zjz[ROWS];
    tl_fill(x, (size_t)ROWS * D, -2, 2, 31);
    /* Central differences with a power-of-two step, so x +- h is exact. */
    const float h = 1.0f / 1024;
    for (int q = 0; q < ROWS; q++) fd[q] = 0;
    for (int j = 0; j < D; j++) {
        memcpy(xp, x, sizeof(float) * ROWS * D);
        for (int q = 0; q < ROWS; q++) xp[q * D + j] = x[q * D + j] + h;
        ref_v(&r, xp, t, ROWS, vp);
        for (int q = 0; q < ROWS; q++) xp[q * D + j] = x[q * D + j] - h;
        ref_v(&r, xp, t, ROWS, vm);
        for (int q = 0; q < ROWS; q++) fd[q] += (vp[q * D + j] - vm[q * D + j]) / (2.0 * h);
    }
    ref_jacobian(&r, x, t, ROWS, J);
    for (int q = 0; q < ROWS; q++) {
        trace[q] = var[q] = 0;
        for (int i = 0; i < D; i++) {
            trace[q] += J[((size_t)q * D + i) * D + i];
            for (int j = i + 1; j < D; j++) { /* Var z^T J z = sum_{i<j} (J_ij + J_ji)^2 */
                double sij = J[((size_t)q * D + i) * D + j] + J[((size_t)q * D + j) * D + i];
                var[q] += sij * sij;
            }
        }
    }
    char tag[64];
    snprintf(tag, sizeof tag, "D%d w%d d%d f%d", D, cfg.width, cfg.depth, cfg.time_freqs);
    char what[128];
    snprintf(what, sizeof what, "%s: reference trace vs differences", tag);
    float trf[ROWS];
    for (int q = 0; q < ROWS; q++) trf[q] = (float)trace[q];
    tl_close(what, trf, fd, ROWS, 1e-5, 1e-4);

    tl_buf bx, bv, bd, bz, bu, bg;
    int made = tl_buf_new(ctx, &bx, (size_t)ROWS * D, x) &
               tl_buf_new(ctx, &bv, (size_t)ROWS * D, NULL) & tl_buf_new(ctx, &bd, ROWS, NULL) &
               tl_buf_new(ctx, &bz, (size_t)ROWS * D, NULL) &
               tl_buf_new(ctx, &bu, (size_t)ROWS * D, NULL) &
               tl_buf_new(ctx, &bg, (size_t)ROWS * f.ldg, NULL);
    const fmcl_t none = {NULL, 0};
    fmcl_status s = made ? f.velocity(f.user, bv.t, bx.t, t, ROWS) : FMCL_ERR_NOMEM;
    if (s == FMCL_OK) s = fmcl_field_div(ctx, &f, bd.t, none, bu.t, bg.t, ROWS);
    tl_check(s == FMCL_OK, "%s: divergence: %s", tag, fmcl_ctx_error(ctx));
    tl_buf_read(ctx, &bd, div);
    snprintf(what, sizeof what, "%s: exact divergence vs differences", tag);
    tl_close(what, div, fd, ROWS, 1e-3, 5e-3);

    int probes_ok = 1;
    double worst = 0;
    for (int k = 0; k < PROBES && s == FMCL_OK; k++) {
        s = fmcl_rademacher(ctx, bz.t, 77, 0, (uint32_t)k, ROWS * D);
        if (s == FMCL_OK) s = fmcl_field_div(ctx, &f, bd.t, bz.t, bu.t, bg.t, ROWS);
        if (s != FMCL_OK || !tl_buf_read(ctx, &bd, got) || !tl_buf_read(ctx, &bz, z)) break;
        for (int q = 0; q < ROWS; q++) {
            zjz[q] = 0;
            for (int i = 0; i < D; i++)
                for (int j = 0; j < D; j++)
                    zjz[q] += (double)z[q * D + i] * J[((size_t)q * D + i) * D + j] * z[q * D + j];
            double d = fabs(got[q] - zjz[q]) / (1e-3 + 5e-3 * fabs(zjz[q]));
            worst = d > worst ? d : worst;
            probes_ok &= d <= 1;
            mean[q] += got[q] / PROBES;
        }
    }
    tl_check(s == FMCL_OK, "%s: probes: %s", tag, fmcl_ctx_error(ctx));
    printf("  %-40s probes=%d  err/tol=%.3g  %s\n", tag, PROBES, worst, probes_ok ? "ok" : "FAIL");
    tl_check(probes_ok, "%s: a probe's z^T J z differs from the reference", tag);
    double worst_z = 0;
    for (int q = 0; q < ROWS; q++) {
        double zs = fabs(mean[q] - trace[q]) / (sqrt(var[q] / PROBES) + 1e-3);
        worst_z = zs > worst_z ? zs : worst_z;
    }
    printf("  %-40s Hutchinson mean vs trace: max %.2f standard errors\n", tag, worst_z);
    tl_check(worst_z < 4.5, "%s: Hutchinson's mean is %.2f standard errors from the trace", tag,
             worst_z);
    tl_guard_ok(ctx, &bd, "divergence");
    tl_guard_ok(ctx, &bg, "vjp rows");
    tl_buf_free(&bx);
    tl_buf_free(&bv);
    tl_buf_free(&bd);
    tl_buf_free(&bz);
    tl_buf_free(&bu);
    tl_buf_free(&bg);
    fmcl_net_field_free(&mf);
    free(x);
    free(xp);
    free(z);
    free(J);
    free(vp);
    free(vm);
    mlp_ref_free(&r);
}

/* RK4 of [x, delta] from t = 1 to 0 in double with the reference MLP: the
 * classic scheme, or (rule38) Kutta's 3/8 rule. */
static void ref_log_prob(const mlp_ref *r, const float *x1, int n, int steps, int rule38,
                         double *logp)
{
    const int D = r->m->cfg.dim, A = D + 1;
    double *s = malloc(sizeof(double) * n * A), *k[4], *st = malloc(sizeof(double) * n * A);
    double *v = malloc(sizeof(double) * n * D), *J = malloc(sizeof(double) * n * D * D);
    float *xf = malloc(sizeof(float) * n * D);
    for (int q = 0; q < 4; q++) k[q] = malloc(sizeof(double) * n * A);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < D; j++) s[i * A + j] = x1[i * D + j];
        s[i * A + D] = 0;
    }
    /* Butcher tableaux: stage q's state is s + hs sum_j a[q][j] k[j]. */
    static const double classic[4][3] = {{0}, {0.5}, {0, 0.5}, {0, 0, 1}},
                        r38[4][3] = {{0}, {1 / 3.}, {-1 / 3., 1}, {1, -1, 1}};
    static const double c_classic[4] = {0, 0.5, 0.5, 1}, c_38[4] = {0, 1 / 3., 2 / 3., 1};
    static const double b_classic[4] = {1 / 6., 2 / 6., 2 / 6., 1 / 6.},
                        b_38[4] = {1 / 8., 3 / 8., 3 / 8., 1 / 8.};
    const double(*a)[3] = rule38 ? r38 : classic, *c = rule38 ? c_38 : c_classic,
          *b = rule38 ? b_38 : b_classic;
    const double hs = -1.0 / steps;
    for (int step = 0; step < steps; step++) {
        for (int q = 0; q < 4; q++) {
            for (int i = 0; i < n * A; i++) {
                st[i] = s[i];
                for (int j = 0; j < q; j++) st[i] += hs * a[q][j] * k[j][i];
            }
            for (int i = 0; i < n; i++)
                for (int j = 0; j < D; j++) xf[i * D + j] = (float)st[i * A + j];
            const float tq = (float)(1.0 + (step + c[q]) * hs);
            ref_v(r, xf, tq, n, v);
            ref_jacobian(r, xf, tq, n, J);
            for (int i = 0; i < n; i++) {
                k[q][i * A + D] = 0;
                for (int j = 0; j < D; j++) {
                    k[q][i * A + j] = v[i * D + j];
                    k[q][i * A + D] += J[((size_t)i * D + j) * D + j];
                }
            }
        }
        for (int i = 0; i < n * A; i++)
            s[i] += hs * (b[0] * k[0][i] + b[1] * k[1][i] + b[2] * k[2][i] + b[3] * k[3][i]);
    }
    for (int i = 0; i < n; i++) logp[i] = log_normal(s + i * A, D, 1) + s[i * A + D];
    for (int q = 0; q < 4; q++) free(k[q]);
    free(s);
    free(st);
    free(v);
    free(J);
    free(xf);
}

/* fmcl_log_prob against the double RK4, and p integrating to 1. The last
 * layer is scaled up so the random network's field is far from zero. */
static void test_mlp_log_prob(fmcl_ctx *ctx)
{
    enum { N = 37, G = 41 };
    fmcl_mlp_spec mc = {.dim = 2, .width = 16, .depth = 2, .time_freqs = 2};
    mlp_ref r;
    if (!mlp_ref_init(ctx, mc, 4, &r)) return;
    const fmcl_mlp *m = r.m;
    for (size_t j = m->w_off[m->n_layers - 1]; j < m->n_params; j++) r.P[j] *= 3;
    if (!tl_check(fmcl_write(ctx, m->params, r.P, sizeof(float) * m->n_params) == FMCL_OK,
                  "write parameters: %s", fmcl_ctx_error(ctx))) {
        mlp_ref_free(&r);
        return;
    }
    float x[N * 2];
    tl_fill(x, N * 2, -2.5f, 2.5f, 41);
    double want[N], lp[N];
    fmcl_nll_config cfg = {.solver = FMCL_SOLVER_RK4, .steps = 8};
    ref_log_prob(&r, x, N, cfg.steps, 0, want);
    int nfe = 0;
    tl_check(fmcl_log_prob(r.model, &cfg, x, N, lp, &nfe) == FMCL_OK, "log_prob: %s",
             fmcl_ctx_error(ctx));
    float got[N];
    for (int i = 0; i < N; i++) got[i] = (float)lp[i];
    tl_close("MLP log p vs RK4 in double", got, want, N, 2e-3, 1e-3);
    tl_check(nfe == 32, "NFE %d, expected 32", nfe);

    /* Per-point NLL (fmcl nll --out): each point's -log p in input order,
     * against the double reference; the points reversed give them reversed. */
    double nll[N], want_nll[N];
    float rev[N * 2];
    fmcl_nll_per_point(lp, N, 2, 0, nll);
    for (int i = 0; i < N; i++) got[i] = (float)nll[i], want_nll[i] = -want[i];
    tl_close("per-point NLL in nats vs RK4 in double", got, want_nll, N, 2e-3, 1e-3);
    for (int i = 0; i < N; i++) memcpy(rev + 2 * i, x + 2 * (N - 1 - i), 2 * sizeof *rev);
    if (tl_check(fmcl_log_prob(r.model, &cfg, rev, N, lp, NULL) == FMCL_OK, "log_prob: %s",
                 fmcl_ctx_error(ctx))) {
        fmcl_nll_per_point(lp, N, 2, 0, nll);
        for (int i = 0; i < N; i++) got[i] = (float)nll[i], want_nll[i] = -want[N - 1 - i];
        tl_close("per-point NLL of the points reversed, reversed", got, want_nll, N, 2e-3, 1e-3);
    }

    /* Kutta's 3/8 rule (torchdiffeq's rk4) against the same in double. */
    cfg.solver = FMCL_SOLVER_RK4_38;
    ref_log_prob(&r, x, N, cfg.steps, 1, want);
    tl_check(fmcl_log_prob(r.model, &cfg, x, N, lp, &nfe) == FMCL_OK && nfe == 32,
             "log_prob rk4-38: NFE %d: %s", nfe, fmcl_ctx_error(ctx));
    for (int i = 0; i < N; i++) got[i] = (float)lp[i];
    tl_close("MLP log p, rk4-38 vs the 3/8 rule in double", got, want, N, 2e-3, 1e-3);

    /* Hutchinson: K single-probe solves (seeds 1..K) give each point's
     * spread; the average of K solves (seed 0) lies within the CLT's bounds
     * of the exact solve. With the solver's steps fixed, delta is linear in
     * the divergence, so the estimate is unbiased at any step count: a few
     * midpoint steps suffice. */
    enum { K = 24 };
    double ex[N], hk[N], one[N], sq[N] = {0}, worst = 0;
    fmcl_net_field mf;
    fmcl_field f;
    if (!tl_check(fmcl_net_field_create(&r.model->net, 1.0f, N, &mf, &f) == FMCL_OK, "field: %s",
                  fmcl_ctx_error(ctx))) {
        mlp_ref_free(&r);
        return;
    }
    cfg = (fmcl_nll_config){.solver = FMCL_SOLVER_MIDPOINT, .steps = 3};
    tl_check(fmcl_field_log_prob(ctx, &f, &cfg, x, N, ex, NULL) == FMCL_OK, "log_prob: %s",
             fmcl_ctx_error(ctx));
    cfg.hutchinson = 1;
    for (int k = 1; k <= K; k++) {
        cfg.seed = (uint64_t)k;
        tl_check(fmcl_field_log_prob(ctx, &f, &cfg, x, N, one, NULL) == FMCL_OK, "log_prob: %s",
                 fmcl_ctx_error(ctx));
        for (int i = 0; i < N; i++) sq[i] += (one[i] - ex[i]) * (one[i] - ex[i]) / K;
    }
    cfg.hutchinson = K;
    cfg.seed = 0;
    tl_check(fmcl_field_log_prob(ctx, &f, &cfg, x, N, hk, NULL) == FMCL_OK, "log_prob: %s",
             fmcl_ctx_error(ctx));
    fmcl_net_field_free(&mf);
    for (int i = 0; i < N; i++) {
        double zs = fabs(hk[i] - ex[i]) / (sqrt(sq[i] / K) + 1e-4);
        worst = zs > worst ? zs : worst;
    }
    printf("  Hutchinson average of %d solves vs exact: max %.2f standard errors\n", K, worst);
    tl_check(worst < 4.5, "Hutchinson's average is %.2f standard errors from the exact log p",
             worst);

    /* The density on a grid over [-6, 6]^2 sums to 1 (midpoint rule). */
    const double lo = -6, cell = 12.0 / G;
    float *grid = malloc(sizeof(float) * G * G * 2);
    double *gl = malloc(sizeof(double) * G * G), mass = 0;
    for (int i = 0; i < G; i++)
        for (int j = 0; j < G; j++) {
            grid[2 * (i * G + j)] = (float)(lo + (j + 0.5) * cell);
            grid[2 * (i * G + j) + 1] = (float)(lo + (i + 0.5) * cell);
        }
    cfg = (fmcl_nll_config){.solver = FMCL_SOLVER_RK4, .steps = 8};
    tl_check(fmcl_log_prob(r.model, &cfg, grid, G * G, gl, NULL) == FMCL_OK, "log_prob grid: %s",
             fmcl_ctx_error(ctx));
    for (int i = 0; i < G * G; i++) mass += exp(gl[i]) * cell * cell;
    printf("  density integrates to %.5f over [-6, 6]^2\n", mass);
    tl_check(fabs(mass - 1) < 5e-3, "the model's density integrates to %.5f, not 1", mass);
    free(grid);
    free(gl);
    mlp_ref_free(&r);
}

static void test_errors(fmcl_ctx *ctx)
{
    fmcl_model *m = tl_mlp(ctx, 2, 8, 1, 0, 0, 1);
    if (!m) return;
    float x[2] = {0, 0};
    double lp[1];
    fmcl_nll_config cfg = {.solver = 7, .steps = 4};
    tl_check(fmcl_log_prob(m, &cfg, x, 1, lp, NULL) == FMCL_ERR_ARG &&
                 strstr(fmcl_ctx_error(ctx), "solver must be one of"),
             "unknown solver: %s", fmcl_ctx_error(ctx));
    cfg = (fmcl_nll_config){.solver = FMCL_SOLVER_EULER, .steps = 0};
    tl_check(fmcl_log_prob(m, &cfg, x, 1, lp, NULL) == FMCL_ERR_ARG, "zero steps accepted");
    cfg.steps = 1;
    tl_check(fmcl_log_prob(m, &cfg, x, 0, lp, NULL) == FMCL_ERR_ARG, "no points accepted");
    fmcl_model_free(m);
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    test_ops(ctx);
    test_closed_forms(ctx);
    test_mlp_divergence(ctx, (fmcl_mlp_spec){.dim = 3, .width = 19, .depth = 2});
    test_mlp_divergence(ctx, (fmcl_mlp_spec){.dim = 2, .width = 13, .depth = 3, .time_freqs = 3});
    test_mlp_log_prob(ctx);
    test_errors(ctx);
    return 0;
}

/* ---- no device ------------------------------------------------------------- */

static void test_stats(void)
{
    const double lp[4] = {-1, -2, -3, -6};
    fmcl_nll_stats st;
    fmcl_nll_stats_of(lp, 4, 2, &st);
    const double se = sqrt((4.0 + 1 + 0 + 9) / 3 / 4);
    tl_check(fabs(st.nll - 3) < 1e-12 && fabs(st.nll_se - se) < 1e-12,
             "stats: nll %g +- %g, expected 3 +- %g", st.nll, st.nll_se, se);
    tl_check(fabs(st.bpd - 3 / (2 * log(2.0))) < 1e-12 &&
                 fabs(st.bpd_se - se / (2 * log(2.0))) < 1e-12,
             "stats: %g +- %g bits/dim", st.bpd, st.bpd_se);
    double nll[4], mean_bpd = 0;
    fmcl_nll_per_point(lp, 4, 2, 0, nll);
    tl_check(nll[0] == 1 && nll[1] == 2 && nll[2] == 3 && nll[3] == 6,
             "per point: -log p in nats, in order");
    fmcl_nll_per_point(lp, 4, 2, 8, nll);
    for (int i = 0; i < 4; i++) mean_bpd += nll[i] / 4;
    fmcl_nll_stats_dequantized(&st, 8);
    tl_check(fabs(nll[3] - (6 / (2 * log(2.0)) + 7)) < 1e-12 && fabs(mean_bpd - st.bpd) < 1e-12,
             "per point, 8-bit images: bits/dim + 7, their mean the reported %g", st.bpd);
    fmcl_nll_stats_of(lp, 1, 5, &st);
    tl_check(st.nll == 1 && st.nll_se == 0 && st.n == 1 && st.dim == 5, "stats of one point");
}

/* Left half 0, right half 1: the viridis ends, each half of the panel. */
static void test_heatmap(void)
{
    enum { G = 7 };
    float v[G * G];
    for (int i = 0; i < G * G; i++) v[i] = (i % G) * 2 >= G ? 1.0f : 0.0f;
    char path[] = "/tmp/fmcl-heatmap-XXXXXX";
    int fd = mkstemp(path);
    if (!tl_check(fd >= 0, "mkstemp")) return;
    close(fd);
    char err[256];
    tl_check(fmcl_plot_heatmap(path, "density", "test", v, G, -1, 1, err, sizeof err) == FMCL_OK,
             "heatmap: %s", err);
    int w, h, comp;
    unsigned char *px = stbi_load(path, &w, &h, &comp, 3);
    if (tl_check(px != NULL, "heatmap PNG does not decode")) {
        const fmcl_rgb lo = fmcl_viridis(0), hi = fmcl_viridis(1);
        long n_lo = 0, n_hi = 0, max_lo = -1, min_hi = w;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const unsigned char *p = px + 3 * ((size_t)y * w + x);
                if (p[0] == lo.r && p[1] == lo.g && p[2] == lo.b) {
                    n_lo++;
                    max_lo = x > max_lo ? x : max_lo;
                }
                if (p[0] == hi.r && p[1] == hi.g && p[2] == hi.b) {
                    n_hi++;
                    min_hi = x < min_hi ? x : min_hi;
                }
            }
        /* Columns 0-3 of 7 low, 4-6 high: high / low = 3 / 4 of the panel. */
        double ratio = (double)n_hi / (n_lo > 0 ? n_lo : 1);
        tl_check(n_lo > 10000 && ratio > 0.7 && ratio < 0.8 && max_lo < min_hi,
                 "heatmap: %ld low and %ld high pixels, low up to x %ld, high from %ld", n_lo, n_hi,
                 max_lo, min_hi);
        stbi_image_free(px);
    }
    char bad[256];
    tl_check(fmcl_plot_heatmap(path, "d", NULL, v, 0, -1, 1, bad, sizeof bad) == FMCL_ERR_ARG,
             "heatmap with no cells accepted");
    unlink(path);
}

int main(void)
{
    test_stats();
    test_heatmap();
    if (tl_failures()) return tl_summary();
    return tl_for_each_device(run, NULL);
}
