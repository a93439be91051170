/* The probability paths and the minibatch OT coupling.
 * Host: every path's alpha', sigma' against central differences of alpha,
 * sigma; closed-form properties and end points per path; the assignment
 * against brute force over all permutations (n <= 7), ties, 2-swap
 * optimality and the mean squared distance on a larger batch.
 * Every device: the fused path kernel against its double reference (odd
 * shapes, guard regions), the range of t per path, the sampler's starting
 * noise for the VE path (explicit and from a checkpoint's metadata), a few
 * coupled training steps (finite, repeatable losses), and the trainer's
 * pairs against the host's optimal pairing of the same noise and data. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow/coupling.h"
#include "flow/flow_ops.h"
#include "data/toy2d.h"
#include "flow/paths.h"
#include "nn/model.h"
#include "nn/nn_ops.h"
#include "runtime/rng.h"
#include "runtime/vec.h"
#include "testlib.h"

typedef struct {
    const char *name;
    int kind;
    float a, b; /* the path's parameters (fmcl_train_config's, by kind); 0: default */
} path_case;

static const path_case cases[] = {
    {"ot", FMCL_PATH_OT, 0, 0},
    {"ot smin=0.05", FMCL_PATH_OT, 0.05f, 0},
    {"vp", FMCL_PATH_VP, 0, 0},
    {"vp beta 0.5..5", FMCL_PATH_VP, 0.5f, 5.0f},
    {"ve", FMCL_PATH_VE, 0, 0},
    {"ve sigma 0.1..3", FMCL_PATH_VE, 0.1f, 3.0f},
    {"cosine", FMCL_PATH_COSINE, 0, 0},
    {"poly", FMCL_PATH_POLY, 0, 0},
    {"poly n=1", FMCL_PATH_POLY, 1, 0},
    {"poly n=3.5", FMCL_PATH_POLY, 3.5f, 0},
    {"linear-vp", FMCL_PATH_LINEAR_VP, 0, 0},
};
#define N_CASES (int)(sizeof cases / sizeof cases[0])

static fmcl_train_config config_of(const path_case *pc)
{
    fmcl_train_config c;
    fmcl_train_config_default(&c);
    c.path = pc->kind;
    if (pc->a == 0 && pc->b == 0) return c;
    switch (pc->kind) {
    case FMCL_PATH_OT: c.sigma_min = pc->a; break;
    case FMCL_PATH_VP: c.beta_min = pc->a, c.beta_max = pc->b; break;
    case FMCL_PATH_VE: c.sigma_lo = pc->a, c.sigma_hi = pc->b; break;
    case FMCL_PATH_POLY: c.poly_n = pc->a; break;
    }
    return c;
}

static fmcl_path path_of(const path_case *pc)
{
    fmcl_train_config c = config_of(pc);
    fmcl_path p = {0};
    tl_check(fmcl_path_from_config(NULL, &c, &p) == FMCL_OK, "%s: config rejected", pc->name);
    return p;
}

/* ---- schedules (host) ---- */

/* alpha' and sigma' against central differences of alpha and sigma, the step
 * scaled to the distance from the ends (VP and linear-VP bend sharply near
 * t = 1, the polynomial near t = 0). */
static void check_derivatives(const path_case *pc)
{
    const fmcl_path p = path_of(pc);
    /* -1: t_max itself where it lies below 1. */
    static const double ts[] = {1e-3, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, -1};
    double worst = 0;
    for (size_t k = 0; k < sizeof ts / sizeof ts[0]; k++) {
        if (ts[k] < 0 && p.t_max == 1.0f) continue;
        const double t = ts[k] < 0 ? p.t_max : ts[k] * p.t_max;
        const double h = 1e-4 * fmin(0.1, fmin(t, 1.0 - t));
        double s[4], sp[4], sm[4];
        fmcl_path_schedule(&p, t, s);
        fmcl_path_schedule(&p, t + h, sp);
        fmcl_path_schedule(&p, t - h, sm);
        for (int q = 0; q < 2; q++) {
            const double fd = (sp[q] - sm[q]) / (2 * h), want = s[2 + q];
            const double err = fabs(fd - want) / (1e-6 * fabs(want) + 1e-9);
            if (err > worst) worst = err;
            tl_check(err <= 1, "%s: d%s/dt at t=%.6g is %.12g, central difference %.12g", pc->name,
                     q ? "sigma" : "alpha", t, want, fd);
        }
    }
    printf("  %-16s derivatives vs central differences: max err/tol %.3g\n", pc->name, worst);
}

static int near(double got, double want, double tol) { return fabs(got - want) <= tol; }

/* End points (x_t is x0-like at t = 0 and x1-like at t = 1) and identities
 * each path must satisfy, written from the definitions, not from schedule.c. */
static void check_closed_forms(const path_case *pc)
{
    const fmcl_path p = path_of(pc);
    const fmcl_train_config c = config_of(pc);
    double s0[4], s1[4], sh[4];
    fmcl_path_schedule(&p, 0.0, s0);
    fmcl_path_schedule(&p, 1.0, s1);
    fmcl_path_schedule(&p, 0.5, sh);
    int ok = 1;
    switch (pc->kind) {
    case FMCL_PATH_OT:
        ok = near(s0[0], 0, 0) && near(s0[1], 1, 0) && near(s1[0], 1, 0) &&
             near(s1[1], c.sigma_min, 1e-7) &&
             near(sh[0] + sh[1], 1.5 - 0.5 * (1 - (double)c.sigma_min), 1e-15);
        break;
    case FMCL_PATH_VP: {
        /* alpha_t = exp(-1/2 int_0^(1-t) beta): Simpson's rule over beta itself. */
        for (int k = 0; k <= 20 && ok; k++) {
            const double t = k / 20.0, r = 1 - t;
            double s[4], I = 0;
            const int m = 100;
            for (int q = 0; q <= m; q++) {
                const double beta = c.beta_min + ((double)c.beta_max - c.beta_min) * (r * q / m);
                I += beta * (q == 0 || q == m ? 1 : q % 2 ? 4 : 2);
            }
            I *= r / m / 3;
            fmcl_path_schedule(&p, t, s);
            ok = near(s[0], exp(-0.5 * I), 1e-12) && near(s[0] * s[0] + s[1] * s[1], 1, 1e-12);
        }
        /* The default rates leave alpha_0 = exp(-5.025); milder ones, less x0-like. */
        const double a0_max = c.beta_min == 0.1f && c.beta_max == 20.0f ? 0.01 : 0.3;
        ok = ok && near(s1[0], 1, 0) && near(s1[1], 0, 0) && s0[0] < a0_max &&
             near(s0[1], sqrt(1 - s0[0] * s0[0]), 1e-15);
        break;
    }
    case FMCL_PATH_VE:
        ok = near(s0[0], 1, 0) && near(s1[0], 1, 0) &&
             near(s0[1], c.sigma_hi, 1e-12 * c.sigma_hi) && near(s1[1], c.sigma_lo, 1e-15) &&
             near(sh[1], sqrt((double)c.sigma_lo * c.sigma_hi), 1e-12) && sh[2] == 0;
        break;
    case FMCL_PATH_COSINE:
        ok = near(s0[0], 0, 0) && near(s0[1], 1, 0) && near(s1[0], 1, 1e-15) &&
             near(s1[1], 0, 1e-15) && near(sh[0], sqrt(0.5), 1e-15) &&
             near(sh[1], sqrt(0.5), 1e-15);
        break;
    case FMCL_PATH_POLY:
        ok = near(s0[0], 0, 0) && near(s0[1], 1, 0) && near(s1[0], 1, 0) && near(s1[1], 0, 0) &&
             near(sh[0], pow(0.5, c.poly_n), 1e-15) && near(sh[0] + sh[1], 1, 1e-15);
        break;
    case FMCL_PATH_LINEAR_VP:
        ok = near(s0[0], 0, 0) && near(s0[1], 1, 0) && near(s1[0], 1, 0) && near(s1[1], 0, 0) &&
             near(sh[0], 0.5, 0) && near(sh[0] * sh[0] + sh[1] * sh[1], 1, 1e-15);
        break;
    }
    printf("  %-16s t=0: alpha %.6g sigma %.6g   t=1: alpha %.6g sigma %.6g\n", pc->name, s0[0],
           s0[1], s1[0], s1[1]);
    tl_check(ok, "%s: end points or closed-form identities do not hold", pc->name);
}

/* Paths whose sigma' blows up at t = 1 draw t below 1 - FMCL_PATH_T_EPS;
 * bad parameters are refused. */
static void check_config_rules(void)
{
    for (int i = 0; i < N_CASES; i++) {
        const fmcl_path p = path_of(&cases[i]);
        const int singular = p.kind == FMCL_PATH_VP || p.kind == FMCL_PATH_LINEAR_VP;
        tl_check(singular ? p.t_max == (float)(1 - FMCL_PATH_T_EPS) : p.t_max == 1.0f,
                 "%s: t_max %.9g", cases[i].name, p.t_max);
        if (singular) {
            double s[4];
            fmcl_path_schedule(&p, p.t_max, s);
            tl_check(isfinite(s[3]) && fabs(s[3]) < 300, "%s: sigma' at t_max is %g", cases[i].name,
                     s[3]);
        }
    }
    fmcl_train_config c;
    fmcl_path p;
    const struct {
        int path;
        float sigma_min, poly_n, beta_min, beta_max, sigma_lo, sigma_hi;
    } bad[] = {{FMCL_PATH_OT, 1.0f, 2, 0.1f, 20, 0.01f, 50},
               {FMCL_PATH_POLY, 0, 0.5f, 0.1f, 20, 0.01f, 50},
               {FMCL_PATH_VP, 0, 2, 5.0f, 1.0f, 0.01f, 50},
               {FMCL_PATH_VP, 0, 2, 0, 0, 0.01f, 50},
               {FMCL_PATH_VE, 0, 2, 0.1f, 20, 0.0f, 50},
               {FMCL_PATH_VE, 0, 2, 0.1f, 20, 2.0f, 1.0f},
               {6, 0, 2, 0.1f, 20, 0.01f, 50}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fmcl_train_config_default(&c);
        c.path = bad[i].path, c.sigma_min = bad[i].sigma_min, c.poly_n = bad[i].poly_n;
        c.beta_min = bad[i].beta_min, c.beta_max = bad[i].beta_max;
        c.sigma_lo = bad[i].sigma_lo, c.sigma_hi = bad[i].sigma_hi;
        tl_check(fmcl_path_from_config(NULL, &c, &p) == FMCL_ERR_ARG,
                 "bad path parameters #%zu accepted", i);
    }
    for (int k = 0; k < 6; k++)
        tl_check(fmcl_name_value(FMCL_NAMES_PATH, fmcl_name(FMCL_NAMES_PATH, k)) == k,
                 "path name %d round trip", k);
    tl_check(fmcl_name_value(FMCL_NAMES_PATH, "diffusion") == -1 && !fmcl_name(FMCL_NAMES_PATH, 6),
             "unknown path names");
}

/* ---- the assignment (host) ---- */

static double pairing_cost(const double *C, int n, const int *perm)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += C[(size_t)i * n + perm[i]];
    return s;
}

static int is_permutation(const int *perm, int n)
{
    int ok = 1;
    char *hit = calloc((size_t)n, 1);
    for (int i = 0; i < n; i++) {
        if (perm[i] < 0 || perm[i] >= n || hit[perm[i]])
            ok = 0;
        else
            hit[perm[i]] = 1;
    }
    free(hit);
    return ok;
}

/* Minimum total cost over all n! permutations (Heap's algorithm). */
static double brute_min(const double *C, int n)
{
    int p[8], c[8] = {0};
    for (int i = 0; i < n; i++) p[i] = i;
    double best = pairing_cost(C, n, p);
    for (int i = 1; i < n;) {
        if (c[i] < i) {
            const int j = i % 2 ? c[i] : 0, tmp = p[j];
            p[j] = p[i], p[i] = tmp;
            const double cost = pairing_cost(C, n, p);
            if (cost < best) best = cost;
            c[i]++, i = 1;
        } else {
            c[i++] = 0;
        }
    }
    return best;
}

static int assign(const double *C, int n, int *perm)
{
    void *work = malloc(fmcl_assign_work(n));
    const int rc = fmcl_assign(C, n, perm, work);
    free(work);
    return rc;
}

/* Against brute force: random real costs (squared distances of noise and
 * uniform points) and small integer costs full of ties; twice each, to see
 * equal answers. */
static void check_assign_brute(void)
{
    int bad_perm = 0, bad_opt = 0, bad_det = 0, trials = 0;
    for (int n = 1; n <= 7; n++)
        for (int trial = 0; trial < 40; trial++, trials++) {
            double C[49];
            int perm[7], again[7];
            if (trial % 2 == 0) { /* squared distances between two 3D point sets */
                float x0[21], x1[21];
                fmcl_path_noise_ref(x0, 100 + trial, (uint32_t)n, n, 3);
                tl_fill(x1, (size_t)n * 3, -2.f, 2.f, (uint32_t)(1000 * n + trial));
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < n; j++) {
                        double s = 0;
                        for (int d = 0; d < 3; d++)
                            s += ((double)x0[i * 3 + d] - x1[j * 3 + d]) *
                                 ((double)x0[i * 3 + d] - x1[j * 3 + d]);
                        C[i * n + j] = s;
                    }
            } else { /* integers 0..2: many optimal assignments */
                float r[49];
                tl_fill(r, (size_t)n * n, 0.f, 3.f, (uint32_t)(7 * n + trial));
                for (int k = 0; k < n * n; k++) C[k] = floor(r[k]);
            }
            if (assign(C, n, perm) != 0 || !is_permutation(perm, n)) {
                bad_perm++;
                continue;
            }
            const double got = pairing_cost(C, n, perm), want = brute_min(C, n);
            if (!(fabs(got - want) <= 1e-12 * (1 + want))) bad_opt++;
            if (assign(C, n, again) != 0 || memcmp(perm, again, sizeof(int) * (size_t)n)) bad_det++;
        }
    printf("  assignment vs brute force: %d problems, n = 1..7\n", trials);
    tl_check(!bad_perm, "assignment: %d results are not permutations", bad_perm);
    tl_check(!bad_opt, "assignment: %d results cost more than the brute-force minimum", bad_opt);
    tl_check(!bad_det, "assignment: %d repeated calls gave different pairings", bad_det);

    /* Every pairing is optimal for a constant cost: ties go to the lowest index. */
    double C[36];
    int perm[6], id = 1;
    for (int k = 0; k < 36; k++) C[k] = 2.5;
    tl_check(assign(C, 6, perm) == 0, "constant costs refused");
    for (int i = 0; i < 6; i++) id &= perm[i] == i;
    tl_check(id, "constant costs: the pairing is not the identity (ties by index)");
    C[7] = NAN;
    for (int j = 0; j < 6; j++) C[6 + j] = NAN; /* row 1 has no finite cost */
    tl_check(assign(C, 6, perm) == -1, "a row of NaN costs was not refused");
}

/* A training-size batch: noise against checkerboard points. The pairing is a
 * permutation, repeatable, no exchange of two partners lowers its cost (a
 * necessary condition that brute force cannot reach at this size), and it
 * is well below the identity pairing's mean squared distance. */
static void check_pairing_batch(void)
{
    enum { B = 257, D = 2 };
    float *x0 = malloc(B * D * sizeof *x0), *x1 = malloc(B * D * sizeof *x1);
    int *perm = malloc(B * sizeof *perm), *again = malloc(B * sizeof *again);
    void *work = malloc(fmcl_ot_pairing_work(B));
    fmcl_path_noise_ref(x0, 42, 7, B, D);
    tl_check(fmcl_toy_sample_host(FMCL_TOY_CHECKERBOARD, 42, 7, B, x1) == FMCL_OK, "data");
    tl_check(fmcl_ot_pairing(x0, x1, B, D, perm, work) == 0, "pairing failed");
    tl_check(is_permutation(perm, B), "pairing: not a permutation");
    tl_check(fmcl_ot_pairing(x0, x1, B, D, again, work) == 0 &&
                 !memcmp(perm, again, B * sizeof *perm),
             "pairing: not repeatable");
    const double *C = work; /* the costs of the last call */
    int swaps = 0;
    for (int i = 0; i < B; i++)
        for (int j = i + 1; j < B; j++) {
            const double now = C[i * B + perm[i]] + C[j * B + perm[j]];
            if (C[i * B + perm[j]] + C[j * B + perm[i]] < now - 1e-9 * (1 + now)) swaps++;
        }
    tl_check(!swaps, "pairing: %d exchanges of partners would lower the cost", swaps);
    int ident[B];
    for (int i = 0; i < B; i++) ident[i] = i;
    const double ot = pairing_cost(C, B, perm) / B, id = pairing_cost(C, B, ident) / B;
    printf("  mean squared distance, batch %d: identity pairing %.4f, OT pairing %.4f\n", B, id,
           ot);
    tl_check(ot < 0.5 * id, "OT pairing %.4f not well below the identity's %.4f", ot, id);

    /* Ties in the data (every point twice): still a permutation, repeatable. */
    for (int i = 1; i < B; i += 2) memcpy(x1 + i * D, x1 + (i - 1) * D, D * sizeof *x1);
    tl_check(fmcl_ot_pairing(x0, x1, B, D, perm, work) == 0 &&
                 fmcl_ot_pairing(x0, x1, B, D, again, work) == 0 && is_permutation(perm, B) &&
                 !memcmp(perm, again, B * sizeof *perm),
             "pairing with repeated points: not a repeatable permutation");
    x1[5] = NAN;
    tl_check(fmcl_ot_pairing(x0, x1, B, D, perm, work) == -1, "a NaN data point was not refused");
    free(x0), free(x1), free(perm), free(again), free(work);
}

/* ---- device ---- */

static int ok(fmcl_ctx *ctx, fmcl_status s, const char *what)
{
    return tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx));
}

/* Device X and U against the double reference. Each element's tolerance is
 * relative to the sizes of its two terms |a x1| + |s x0| (they may cancel),
 * and the float schedule's own rounding: 1e-5 of that, plus 1e-6. */
static void check_kernel(fmcl_ctx *ctx, const path_case *pc, int B, int D, int F)
{
    const fmcl_path p = path_of(pc);
    const int W = fmcl_input_width(D, F);
    float *x1 = malloc((size_t)B * D * sizeof *x1), *x0 = malloc((size_t)B * D * sizeof *x0);
    float *X = malloc((size_t)B * W * sizeof *X), *U = malloc((size_t)B * D * sizeof *U);
    float *Xr = malloc((size_t)B * W * sizeof *Xr), *Ur = malloc((size_t)B * D * sizeof *Ur);
    tl_fill(x1, (size_t)B * D, -3.f, 3.f, 17);
    fmcl_path_noise_ref(x0, 2024, 11, B, D);
    tl_buf bx1, bX, bU;
    char what[128];
    snprintf(what, sizeof what, "path_interp %s B=%d D=%d F=%d", pc->name, B, D, F);
    if (tl_buf_new(ctx, &bx1, (size_t)B * D, x1) && tl_buf_new(ctx, &bX, (size_t)B * W, NULL) &&
        tl_buf_new(ctx, &bU, (size_t)B * D, NULL) &&
        ok(ctx, fmcl_path_interp(ctx, bX.t, bU.t, bx1.t, &p, 2024, 11, B, D, F), what) &&
        tl_buf_read(ctx, &bX, X) && tl_buf_read(ctx, &bU, U)) {
        fmcl_path_interp_ref(Xr, Ur, x1, &p, 2024, 11, 0, B, D, F);
        double worst = 0;
        int bad = 0, bad_t = 0;
        for (int r = 0; r < B; r++) {
            uint32_t w[4];
            fmcl_philox(2024, (uint32_t)r, 0, FMCL_STREAM_TIME, 11, w);
            const float t = fmcl_u01(w[0]) * p.t_max; /* the row's t, as the kernel draws it */
            double s[4];
            fmcl_path_schedule(&p, t, s);
            for (int d = 0; d < D; d++) {
                const double a = fabs((double)x1[r * D + d]), z = fabs((double)x0[r * D + d]);
                const double tx = 1e-5 * (fabs(s[0]) * a + fabs(s[1]) * z) + 1e-6;
                const double tu = 1e-5 * (fabs(s[2]) * a + fabs(s[3]) * z) + 1e-6;
                const double ex = fabs((double)X[(size_t)r * W + d] - Xr[(size_t)r * W + d]) / tx;
                const double eu = fabs((double)U[(size_t)r * D + d] - Ur[(size_t)r * D + d]) / tu;
                worst = fmax(worst, fmax(ex, eu));
                bad += !(ex <= 1) || !(eu <= 1);
            }
            for (int k = D; k < W; k++) /* time features: sinpi/cospi or t itself */
                bad_t += !(fabs(X[(size_t)r * W + k] - Xr[(size_t)r * W + k]) <= 2e-6);
        }
        printf("  %-44s err/tol %.3g\n", what, worst);
        tl_check(!bad, "%s: %d elements of X or U differ from the reference", what, bad);
        tl_check(!bad_t, "%s: %d time features differ from the reference", what, bad_t);
        tl_guard_ok(ctx, &bX, what);
        tl_guard_ok(ctx, &bU, what);
    }
    tl_buf_free(&bx1), tl_buf_free(&bX), tl_buf_free(&bU);
    free(x1), free(x0), free(X), free(U), free(Xr), free(Ur);
}

/* t as the device draws it (the F = 0 time column): inside [0, t_max), all
 * of it used, uniform (mean t_max / 2 within 5 standard errors). */
static void check_t_range(fmcl_ctx *ctx, const path_case *pc)
{
    enum { B = 20011, D = 1 };
    const fmcl_path p = path_of(pc);
    float *X = malloc(B * 2 * sizeof *X);
    tl_buf bx1, bX, bU;
    if (tl_buf_new(ctx, &bx1, B * D, NULL) && tl_buf_new(ctx, &bX, B * 2, NULL) &&
        tl_buf_new(ctx, &bU, B * D, NULL) &&
        ok(ctx, fmcl_path_interp(ctx, bX.t, bU.t, bx1.t, &p, 5, 3, B, D, 0), "t range") &&
        tl_buf_read(ctx, &bX, X)) {
        double lo = 1, hi = 0, sum = 0;
        for (int r = 0; r < B; r++) {
            const double t = X[r * 2 + 1];
            lo = fmin(lo, t), hi = fmax(hi, t), sum += t;
        }
        const double mean = sum / B, se = p.t_max / sqrt(12.0 * B);
        printf("  %-16s t in [%.6f, %.8f], mean %.5f (t_max %.8f)\n", pc->name, lo, hi, mean,
               p.t_max);
        tl_check(lo >= 0 && hi < p.t_max && hi > p.t_max - 1e-3 && lo < 1e-3,
                 "%s: t range [%g, %g] for t_max %.8f", pc->name, lo, hi, p.t_max);
        tl_check(fabs(mean - p.t_max / 2) <= 5 * se, "%s: mean t %.5f", pc->name, mean);
    }
    tl_buf_free(&bx1), tl_buf_free(&bX), tl_buf_free(&bU);
    free(X);
}

/* The first state of a sampling trajectory is x0: std * the sampling noise. */
static void check_start(fmcl_ctx *ctx, fmcl_model *m, float x0_std, double want_std,
                        const char *what)
{
    enum { N = 301 };
    const int D = fmcl_model_get_config(m)->dim;
    float *out = malloc(N * D * sizeof *out), *traj = malloc(2 * N * D * sizeof *traj);
    float *z = malloc(N * D * sizeof *z);
    double *want = malloc(N * D * sizeof *want);
    fmcl_sample_config sc = {
        .solver = FMCL_SOLVER_EULER, .steps = 1, .n = N, .seed = 9, .x0_std = x0_std};
    if (ok(ctx, fmcl_sample(m, &sc, out, traj, NULL), what)) {
        fmcl_randn_ref(z, 9, FMCL_STREAM_SAMPLE, 0, N * D);
        for (int i = 0; i < N * D; i++) want[i] = want_std * z[i];
        tl_close(what, traj, want, N * D, 1e-5 * want_std, 1e-5);
    }
    free(out), free(traj), free(z), free(want);
}

/* fmcl_sample's starting noise: explicit, the default for a fresh model, and
 * from a VE checkpoint's metadata; bad metadata is refused. */
static void check_sampler_start(fmcl_ctx *ctx)
{
    fmcl_model *m = tl_mlp(ctx, 3, 7, 1, 0, 0, 1), *loaded = NULL;
    if (!m) return;
    check_start(ctx, m, 0, 1, "start: fresh model, x0_std 0 -> N(0, I)");
    check_start(ctx, m, 50, 50, "start: x0_std 50");
    char path[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/fmcl-test-paths-%d.safetensors", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
    const struct {
        const char *kv[4];
        int n;
        fmcl_status want;
        double std;
    } metas[] = {{{"path", "ve", "sigma_hi", "20"}, 2, FMCL_OK, 20},
                 {{"path", "vp", "beta_max", "20"}, 2, FMCL_OK, 1},
                 {{"path", "ve"}, 1, FMCL_ERR_FORMAT, 0},
                 {{"path", "ve", "sigma_hi", "-3"}, 2, FMCL_ERR_FORMAT, 0},
                 {{"path", "diffusion"}, 1, FMCL_ERR_FORMAT, 0}};
    for (size_t i = 0; i < sizeof metas / sizeof metas[0]; i++) {
        float std = -1;
        fmcl_model *fresh = tl_mlp(ctx, 3, 7, 1, 0, 0, 1);
        for (int k = 0; fresh && k < metas[i].n; k++)
            ok(ctx, fmcl_model_set_meta(fresh, metas[i].kv[2 * k], metas[i].kv[2 * k + 1]),
               "metadata");
        const int saved = fresh && ok(ctx, fmcl_model_save(fresh, path), "save");
        fmcl_model_free(fresh);
        if (!saved || !ok(ctx, fmcl_model_load(ctx, path, FMCL_WEIGHTS_DEFAULT, &loaded), "load"))
            break;
        const fmcl_status s = fmcl_model_x0_std(loaded, &std);
        tl_check(s == metas[i].want, "metadata #%zu: status %d, want %d (%s)", i, s, metas[i].want,
                 fmcl_ctx_error(ctx));
        if (s == FMCL_OK) {
            tl_check(std == (float)metas[i].std, "metadata #%zu: x0_std %g", i, std);
            check_start(ctx, loaded, 0, metas[i].std, "start: from the checkpoint's path");
        }
        fmcl_model_free(loaded);
        loaded = NULL;
    }
    unlink(path);
    fmcl_model_free(m);
}

/* A few coupled training steps on the VP path: finite losses, the same bits
 * when repeated, and different from the uncoupled run's. */
static void train_losses(fmcl_ctx *ctx, int coupling, float *loss)
{
    enum { STEPS = 6 };
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.batch = 37, tc.steps = STEPS, tc.seed = 4, tc.path = FMCL_PATH_VP, tc.coupling = coupling;
    fmcl_model *m = tl_mlp(ctx, 2, 9, 2, 0, 0, 2);
    fmcl_data *d = tl_toy(FMCL_TOY_CHECKERBOARD);
    fmcl_trainer *t = NULL;
    for (int i = 0; i < STEPS; i++) loss[i] = NAN;
    if (m && d && ok(ctx, fmcl_trainer_create(m, d, &tc, &t), "trainer") &&
        ok(ctx, fmcl_trainer_run(t, STEPS), "coupled steps"))
        ok(ctx, fmcl_trainer_losses(t, 0, STEPS, loss), "losses");
    fmcl_trainer_free(t);
    fmcl_data_free(d);
    fmcl_model_free(m);
}

static void check_coupled_training(fmcl_ctx *ctx)
{
    float a[6], b[6], c[6];
    train_losses(ctx, FMCL_COUPLING_OT, a);
    train_losses(ctx, FMCL_COUPLING_OT, b);
    train_losses(ctx, FMCL_COUPLING_INDEPENDENT, c);
    int finite = 1;
    for (int i = 0; i < 6; i++) finite &= isfinite(a[i]) && a[i] > 0;
    printf("  coupled VP training losses: %.4f .. %.4f (independent: %.4f .. %.4f)\n", a[0], a[5],
           c[0], c[5]);
    tl_check(finite, "coupled training: a loss is not finite and positive");
    tl_check(!memcmp(a, b, sizeof a), "coupled training: a repeated run differs");
    tl_check(memcmp(a, c, sizeof a) != 0, "coupled training: same losses as uncoupled");

    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.batch = FMCL_COUPLING_MAX_BATCH + 1, tc.coupling = FMCL_COUPLING_OT;
    fmcl_model *m = tl_mlp(ctx, 2, 4, 1, 0, 0, 2);
    fmcl_data *d = tl_toy(FMCL_TOY_CHECKERBOARD);
    fmcl_trainer *t = NULL;
    if (m && d) {
        tl_check(fmcl_trainer_create(m, d, &tc, &t) == FMCL_ERR_ARG &&
                     strstr(fmcl_ctx_error(ctx), "at most"),
                 "coupling with batch %d not refused: %s", tc.batch, fmcl_ctx_error(ctx));
        fmcl_trainer_free(t);
    }
    fmcl_data_free(d);
    fmcl_model_free(m);
}

/* The trainer pairs the very noise its kernel draws: with a model whose
 * output is 0 and the OT path (sigma_min 0), the first loss is the mean of
 * (x1 - x0)^2 over the pairs, which must be the host's optimal pairing cost
 * for that step's noise and data (and the identity's without coupling). */
static void check_coupled_pairs(fmcl_ctx *ctx)
{
    enum { B = 41, D = 2 };
    float x0[B * D], x1[B * D];
    int perm[B], ident[B];
    void *work = malloc(fmcl_ot_pairing_work(B));
    fmcl_path_noise_ref(x0, 8, 0, B, D);
    tl_check(fmcl_toy_sample_host(FMCL_TOY_MOONS, 8, 0, B, x1) == FMCL_OK &&
                 fmcl_ot_pairing(x0, x1, B, D, perm, work) == 0,
             "the host's data and pairing");
    for (int i = 0; i < B; i++) ident[i] = i;
    const double want[2] = {pairing_cost(work, B, ident) / (B * D),
                            pairing_cost(work, B, perm) / (B * D)};
    for (int coupling = 0; coupling < 2; coupling++) {
        fmcl_train_config tc;
        fmcl_train_config_default(&tc);
        tc.batch = B, tc.steps = 1, tc.seed = 8;
        tc.coupling = coupling;
        fmcl_model *m = tl_mlp(ctx, D, 5, 1, 0, 0, 2);
        fmcl_data *moons = tl_toy(FMCL_TOY_MOONS);
        fmcl_trainer *t = NULL;
        float loss = NAN;
        if (m && moons &&
            ok(ctx, fmcl_fill(ctx, m->net.params, 0.0f, (int)m->net.n_params), "zero") &&
            ok(ctx, fmcl_trainer_create(m, moons, &tc, &t), "trainer") &&
            ok(ctx, fmcl_trainer_run(t, 1), "step") &&
            ok(ctx, fmcl_trainer_losses(t, 0, 1, &loss), "loss")) {
            printf("  zero model, first loss %s: %.6f (host pairing cost %.6f)\n",
                   coupling ? "OT coupling" : "independent", loss, want[coupling]);
            tl_check(fabs(loss - want[coupling]) <= 1e-4 * want[coupling],
                     "first loss %.6f is not the %s pairing's %.6f", loss,
                     coupling ? "optimal" : "identity", want[coupling]);
        }
        fmcl_trainer_free(t);
        fmcl_data_free(moons);
        fmcl_model_free(m);
    }
    tl_check(want[1] < want[0], "the optimal pairing does not beat the identity");
    free(work);
}

static int device_tests(fmcl_ctx *ctx, void *user)
{
    (void)user;
    for (int i = 0; i < N_CASES; i++) {
        check_kernel(ctx, &cases[i], 1001, 5, 0);
        check_kernel(ctx, &cases[i], 67, 3, 3);
    }
    for (int i = 0; i < N_CASES; i++)
        if (!cases[i].a) check_t_range(ctx, &cases[i]);
    check_sampler_start(ctx);
    check_coupled_training(ctx);
    check_coupled_pairs(ctx);
    return 0;
}

int main(void)
{
    for (int i = 0; i < N_CASES; i++) check_derivatives(&cases[i]);
    for (int i = 0; i < N_CASES; i++) check_closed_forms(&cases[i]);
    check_config_rules();
    check_assign_brute();
    check_pairing_batch();
    return tl_for_each_device(device_tests, NULL);
}
