/* fmcl_integrate on every device, with velocity fields built from the
 * solver's own axpy_to (v = 0 + a k):
 * - v = 3 t^2 against the closed forms of each scheme's sum over its stage
 *   times (Euler: sum 3 t_k^2 h; midpoint: 1 - h^2 / 4; Heun, the
 *   trapezoid rule: 1 + h^2 / 2; RK4, Simpson's rule, and its 3/8 rule:
 *   exactly 1), forward and backward in time, and on a non-uniform grid
 *   against each rule's sum over its intervals; v = 5 t^4 against Simpson's
 *   and the 3/8 rule's distinct errors;
 * - dx/dt = lambda x against each scheme's exact discrete solution
 *   x0 R(lambda h)^N (R its stability polynomial, in double), and the
 *   empirical convergence orders 1, 2, 2, 4, 4 from errors against x0 e^lambda;
 * - a grid of the uniform points gives fmcl_integrate's result bit for bit;
 *   grid validation names what is wrong; heun_update against its reference;
 * - fmcl_sample on a small MLP: a given uniform grid equals --steps, states
 *   recorded at times equal the trajectory's grid states, off-grid times and
 *   bad grids are refused;
 * - NFE per step, step callbacks, the work buffer's bounds, names. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow_ops.h"
#include "runtime/vec.h"
#include "testlib.h"

/* The fixed-step solvers, in the order of the tables below. */
#define N_FIXED 5
static const int fixed[N_FIXED] = {FMCL_SOLVER_EULER, FMCL_SOLVER_MIDPOINT, FMCL_SOLVER_HEUN,
                                   FMCL_SOLVER_RK4, FMCL_SOLVER_RK4_38};

enum { FIELD_T2, FIELD_T4, FIELD_LINEAR };
#define LAMBDA (-2.0)
/* Relative error below which float32 rounding over a run blurs the order. */
#define NOISE_FLOOR 2e-6

typedef struct {
    fmcl_ctx *ctx;
    fmcl_t zero, ones;
    int n, field, nfe;
} velocity_field;

static fmcl_status velocity(void *user, fmcl_t v, fmcl_t x, float t)
{
    velocity_field *f = user;
    f->nfe++;
    if (f->field == FIELD_T2)
        return fmcl_axpy_to(f->ctx, v, f->zero, (float)(3.0 * t * t), f->ones, f->n);
    if (f->field == FIELD_T4)
        return fmcl_axpy_to(f->ctx, v, f->zero, (float)(5.0 * t * t * t * t), f->ones, f->n);
    return fmcl_axpy_to(f->ctx, v, f->zero, (float)LAMBDA, x, f->n);
}

typedef struct {
    int calls, steps, bad;
    float t0, t1;
    const double *ts; /* a grid, or NULL */
} step_log;

/* Step k must report k = calls and t = t0 + k (t1 - t0) / steps or ts[k]. */
static fmcl_status after_step(void *user, int k, float t)
{
    step_log *s = user;
    s->calls++;
    const float want = s->ts ? (float)s->ts[k]
                             : (float)(s->t0 + k * ((double)s->t1 - s->t0) / s->steps);
    if (k != s->calls || t != want) s->bad++;
    return FMCL_OK;
}

/* Integrates x0 (n values) with `solver` and `steps` from t0 to t1, or on
 * the grid ts when it is non-NULL; out gets the result. Checks NFE, the step
 * callbacks and the work buffer's guards. */
static int integrate_on(fmcl_ctx *ctx, velocity_field *f, int solver, float t0, float t1, int steps,
                        const double *ts, const float *x0, float *out)
{
    const int n = f->n;
    tl_buf x, work;
    if (!tl_buf_new(ctx, &x, n, x0)) return 0;
    if (!tl_buf_new(ctx, &work, (size_t)fmcl_solver_work(solver) * n, NULL)) {
        tl_buf_free(&x);
        return 0;
    }
    step_log log = {0, steps, 0, t0, t1, ts};
    f->nfe = 0;
    fmcl_status s = ts ? fmcl_integrate_grid(ctx, solver, ts, steps + 1, x.t, n, work.t, velocity,
                                             f, after_step, &log)
                       : fmcl_integrate(ctx, solver, t0, t1, steps, x.t, n, work.t, velocity, f,
                                        after_step, &log);
    int ok = tl_check(s == FMCL_OK, "fmcl_integrate %s: %s", fmcl_name(FMCL_NAMES_SOLVER, solver),
                      fmcl_ctx_error(ctx)) &&
             tl_buf_read(ctx, &x, out);
    tl_check(f->nfe == steps * fmcl_solver_nfe_per_step(solver), "%s: %d evaluations in %d steps",
             fmcl_name(FMCL_NAMES_SOLVER, solver), f->nfe, steps);
    tl_check(log.calls == steps && log.bad == 0, "%s: %d step callbacks, %d with a wrong k or t",
             fmcl_name(FMCL_NAMES_SOLVER, solver), log.calls, log.bad);
    tl_guard_ok(ctx, &x, "integrate state");
    tl_guard_ok(ctx, &work, "integrate work");
    tl_buf_free(&x);
    tl_buf_free(&work);
    return ok;
}

static int integrate(fmcl_ctx *ctx, velocity_field *f, int solver, float t0, float t1, int steps,
                     const float *x0, float *out)
{
    return integrate_on(ctx, f, solver, t0, t1, steps, NULL, x0, out);
}

/* v = 3 t^2 from t = 0 to 1 (and RK4 back from 1 to 0). */
static void check_t2(fmcl_ctx *ctx, velocity_field *f, const float *x0)
{
    const int n = f->n, N = 10;
    float *got = malloc(n * sizeof *got);
    double *want = malloc(n * sizeof *want);
    /* Exact sums: Euler 3 h^3 sum k^2 = (N-1)(2N-1) / (2N^2); midpoint
     * 3 h sum (t_k + h/2)^2 = 1 - 1 / (4 N^2); Heun (trapezoid)
     * 1 + 1 / (2 N^2); RK4 (Simpson) and its 3/8 rule 1. */
    const double incr[N_FIXED] = {(N - 1.0) * (2 * N - 1.0) / (2.0 * N * N), 1 - 1 / (4.0 * N * N),
                                  1 + 1 / (2.0 * N * N), 1, 1};
    for (int j = 0; j < N_FIXED; j++) {
        const int s = fixed[j];
        f->field = FIELD_T2;
        if (!integrate(ctx, f, s, 0.f, 1.f, N, x0, got)) continue;
        for (int i = 0; i < n; i++) want[i] = x0[i] + incr[j];
        char what[64];
        snprintf(what, sizeof what, "v=3t^2 %s, %d steps", fmcl_name(FMCL_NAMES_SOLVER, s), N);
        tl_close(what, got, want, n, 1e-5, 1e-5);
    }
    if (integrate(ctx, f, FMCL_SOLVER_RK4, 1.f, 0.f, N, x0, got)) {
        for (int i = 0; i < n; i++) want[i] = x0[i] - 1.0;
        tl_close("v=3t^2 rk4 backward from 1 to 0", got, want, n, 1e-5, 1e-5);
    }
    free(got);
    free(want);
}

/* v = 5 t^4 in 2 steps tells the two fourth-order rules apart: Simpson's
 * rule (classic RK4) overshoots by h^5 f^(4) / 2880 per step, the 3/8 rule
 * (torchdiffeq's "rk4") by (3/80) (h/3)^5 f^(4), with f^(4) = 120: their
 * sums are 1 + 1 / (24 N^4) and 1 + 1 / (54 N^4). */
static void check_t4(fmcl_ctx *ctx, velocity_field *f, const float *x0)
{
    const int n = f->n, N = 2;
    static const int solvers[2] = {FMCL_SOLVER_RK4, FMCL_SOLVER_RK4_38};
    const double incr[2] = {1 + 1 / (24.0 * N * N * N * N), 1 + 1 / (54.0 * N * N * N * N)};
    float *got = malloc(n * sizeof *got);
    double *want = malloc(n * sizeof *want);
    for (int j = 0; j < 2; j++) {
        f->field = FIELD_T4;
        if (!integrate(ctx, f, solvers[j], 0.f, 1.f, N, x0, got)) continue;
        for (int i = 0; i < n; i++) want[i] = x0[i] + incr[j];
        char what[64];
        snprintf(what, sizeof what, "v=5t^4 %s, %d steps", fmcl_name(FMCL_NAMES_SOLVER, solvers[j]),
                 N);
        tl_close(what, got, want, n, 1e-6, 1e-6);
    }
    free(got);
    free(want);
}

/* The scheme's one-step factor for dx/dt = lambda x: x_{k+1} = R(z) x_k, z = lambda h. */
static double stability(int solver, double z)
{
    switch (solver) {
    case FMCL_SOLVER_EULER: return 1 + z;
    case FMCL_SOLVER_MIDPOINT:
    case FMCL_SOLVER_HEUN: return 1 + z + z * z / 2;
    default: return 1 + z + z * z / 2 + z * z * z / 6 + z * z * z * z / 24;
    }
}

/* Orders log2(e_N / e_2N) in double (the exact discrete solution) for
 * N = 8..64, and on the device for the N whose errors stay above float
 * noise; the device results must equal x0 R^N to float rounding. */
static void check_orders(fmcl_ctx *ctx, velocity_field *f, const float *x0)
{
    static const int Ns[4] = {8, 16, 32, 64};
    const int n = f->n;
    const double exact = exp(LAMBDA);
    float *got = malloc(n * sizeof *got);
    double *want = malloc(n * sizeof *want);
    for (int js = 0; js < N_FIXED; js++) {
        const int s = fixed[js];
        const int p = fmcl_solver_nfe_per_step(s); /* 1, 2, 2, 4, 4: also the orders */
        double e_host[4], e_dev[4];
        for (int j = 0; j < 4; j++) {
            const int N = Ns[j];
            const double h = (float)(1.0 / N); /* the step the solver uses */
            const double r = pow(stability(s, LAMBDA * h), N);
            e_host[j] = fabs(r - exact) / exact;
            e_dev[j] = -1;
            f->field = FIELD_LINEAR;
            if (!integrate(ctx, f, s, 0.f, 1.f, N, x0, got)) continue;
            double e = 0;
            for (int i = 0; i < n; i++) {
                want[i] = x0[i] * r;
                e += fabs(got[i] - x0[i] * exact) / fabs(x0[i] * exact);
            }
            e_dev[j] = e / n;
            char what[80];
            snprintf(what, sizeof what, "x' = %gx %s N=%d vs x0 R^N", LAMBDA,
                     fmcl_name(FMCL_NAMES_SOLVER, s), N);
            tl_close(what, got, want, n, 0, 1e-6 * N);
        }
        for (int j = 0; j + 1 < 4; j++) {
            const double oh = log2(e_host[j] / e_host[j + 1]);
            printf("  %-9s order N=%d..%d: double %.3f", fmcl_name(FMCL_NAMES_SOLVER, s), Ns[j],
                   Ns[j + 1], oh);
            tl_check(fabs(oh - p) <= 0.2, "%s: order %.3f in double, want %d",
                     fmcl_name(FMCL_NAMES_SOLVER, s), oh, p);
            if (e_dev[j + 1] < 0 || e_host[j + 1] < NOISE_FLOOR) {
                printf("\n");
                tl_skip("%s order N=%d..%d on the device: errors of %.1e are float noise",
                        fmcl_name(FMCL_NAMES_SOLVER, s), Ns[j], Ns[j + 1], e_host[j + 1]);
                continue;
            }
            const double od = log2(e_dev[j] / e_dev[j + 1]);
            printf(", device %.3f (errors %.2e, %.2e)\n", od, e_dev[j], e_dev[j + 1]);
            tl_check(fabs(od - p) <= 0.2, "%s: order %.3f on the device, want %d",
                     fmcl_name(FMCL_NAMES_SOLVER, s), od, p);
        }
    }
    free(got);
    free(want);
}

static void check_names(fmcl_ctx *ctx, velocity_field *f)
{
    for (int j = 0; j < N_FIXED; j++)
        tl_check(fmcl_name_value(FMCL_NAMES_SOLVER, fmcl_name(FMCL_NAMES_SOLVER, fixed[j])) ==
                         fixed[j] &&
                     fmcl_solver_work(fixed[j]) >= 1,
                 "solver %d name round trip", fixed[j]);
    tl_check(fmcl_name_value(FMCL_NAMES_SOLVER, "dopri5") == FMCL_SOLVER_DOPRI5 &&
                 fmcl_name_value(FMCL_NAMES_SOLVER, "heun") == FMCL_SOLVER_HEUN,
             "dopri5 and heun by name");
    tl_check(fmcl_name_value(FMCL_NAMES_SOLVER, "dopri9") == -1 && fmcl_solver_nfe_per_step(7) == 0,
             "unknown solvers are rejected");
    ctx->err[0] = 0;
    fmcl_status st = fmcl_integrate(ctx, 7, 0.f, 1.f, 4, f->zero, f->n, f->zero, velocity, f, NULL,
                                    NULL);
    tl_check(st == FMCL_ERR_ARG && ctx->err[0],
             "integrate rejects an unknown solver with a message");
    ctx->err[0] = 0;
    st = fmcl_integrate(ctx, FMCL_SOLVER_DOPRI5, 0.f, 1.f, 4, f->zero, f->n, f->zero, velocity, f,
                        NULL, NULL);
    tl_check(st == FMCL_ERR_ARG && strstr(ctx->err, "fmcl_integrate_adaptive"),
             "fixed-step integrate points dopri5 to fmcl_integrate_adaptive: '%s'", ctx->err);
}

/* Each rule's exact integral of 3 t^2 over [a, b] with one step. */
static double rule_t2(int solver, double a, double b)
{
    const double h = b - a, m = a + h / 2;
    switch (solver) {
    case FMCL_SOLVER_EULER: return 3 * h * a * a;
    case FMCL_SOLVER_MIDPOINT: return 3 * h * m * m;
    case FMCL_SOLVER_HEUN: return 1.5 * h * (a * a + b * b);
    default: return h / 6 * (3 * a * a + 12 * m * m + 3 * b * b); /* Simpson */
    }
}

/* Grids: the uniform points reproduce fmcl_integrate bit for bit (on
 * x' = lambda x); on t_k = (k/N)^2 and backwards on 1 - (k/N)^2 v = 3t^2
 * gives each rule's sum over the intervals. */
static void check_grid(fmcl_ctx *ctx, velocity_field *f, const float *x0)
{
    enum { N = 13 };
    const int n = f->n;
    double ts[N + 1], sq[N + 1], back[N + 1];
    for (int k = 0; k <= N; k++) {
        ts[k] = 0 + k * (1.0 - 0.0) / N; /* fmcl_integrate's own formula */
        sq[k] = (double)k * k / ((double)N * N);
        back[k] = 1 - sq[k];
    }
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    double *want = malloc(n * sizeof *want);
    for (int j = 0; j < N_FIXED; j++) {
        const int s = fixed[j];
        char what[96];
        f->field = FIELD_LINEAR;
        if (integrate(ctx, f, s, 0.f, 1.f, N, x0, a) &&
            integrate_on(ctx, f, s, 0.f, 1.f, N, ts, x0, b))
            tl_check(memcmp(a, b, n * sizeof *a) == 0,
                     "%s: the grid of uniform points differs from %d uniform steps",
                     fmcl_name(FMCL_NAMES_SOLVER, s), N);
        f->field = FIELD_T2;
        for (int dir = 0; dir < 2; dir++) {
            const double *g = dir ? back : sq;
            double sum = 0;
            for (int k = 0; k < N; k++) sum += rule_t2(s, g[k], g[k + 1]);
            if (!integrate_on(ctx, f, s, (float)g[0], (float)g[N], N, g, x0, a)) continue;
            for (int i = 0; i < n; i++) want[i] = x0[i] + sum;
            snprintf(what, sizeof what, "v=3t^2 %s on %s", fmcl_name(FMCL_NAMES_SOLVER, s),
                     dir ? "1 - (k/N)^2 (backward)" : "(k/N)^2");
            tl_close(what, a, want, n, 1e-5, 1e-5);
        }
    }
    free(a);
    free(b);
    free(want);
}

static void check_grid_validation(void)
{
    static const double ok[4] = {0, 0.1, 0.7, 1}, start[3] = {0.1, 0.5, 1}, end[3] = {0, 0.5, 0.9},
                        flat[4] = {0, 0.5, 0.5, 1}, down[4] = {0, 0.6, 0.4, 1};
    const double nan_grid[3] = {0, NAN, 1};
    struct {
        const double *g;
        int n;
        const char *says; /* what the message must contain */
    } bad[] = {
        {ok, 1, "at least 2 points"},  {NULL, 4, "at least 2 points"}, {start, 3, "t[0] = 0.1"},
        {end, 3, "t[2] = 0.9"},        {flat, 4, "t[2] = 0.5"},        {down, 4, "not greater"},
        {nan_grid, 3, "not a finite"},
    };
    char err[256];
    tl_check(fmcl_grid_check(ok, 4, err, sizeof err) == FMCL_OK, "a valid grid is refused");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        fmcl_status s = fmcl_grid_check(bad[i].g, bad[i].n, err, sizeof err);
        tl_check(s == FMCL_ERR_ARG && strstr(err, bad[i].says),
                 "bad grid %zu: status %d, message '%s' (want '%s')", i, s, err, bad[i].says);
    }
}

static void check_heun_op(fmcl_ctx *ctx, int n)
{
    float *x = malloc(n * sizeof *x), *k = malloc(2 * (size_t)n * sizeof *k),
          *got = malloc(n * sizeof *got);
    tl_fill(x, n, -2.f, 2.f, 31);
    tl_fill(k, 2 * (size_t)n, -3.f, 3.f, 32);
    tl_buf bx, b1, b2;
    if (tl_buf_new(ctx, &bx, n, x) && tl_buf_new(ctx, &b1, n, k) &&
        tl_buf_new(ctx, &b2, n, k + n)) {
        tl_check(fmcl_heun_update(ctx, bx.t, b1.t, b2.t, 0.0731f, n) == FMCL_OK, "heun_update: %s",
                 fmcl_ctx_error(ctx));
        fmcl_heun_update_ref(x, k, k + n, 0.0731f, n);
        char what[64];
        snprintf(what, sizeof what, "heun_update n=%d", n);
        if (tl_buf_read(ctx, &bx, got)) tl_close_f(what, got, x, n, 1e-6, 1e-6);
        tl_guard_ok(ctx, &bx, "heun_update");
    }
    tl_buf_free(&bx);
    tl_buf_free(&b1);
    tl_buf_free(&b2);
    free(x);
    free(k);
    free(got);
}

/* fmcl_sample with grids and recorded times, on a small random MLP. */
static void check_sample(fmcl_ctx *ctx)
{
    fmcl_model *m = tl_mlp(ctx, 3, 20, 2, 2, 0, 11);
    if (!m) return;
    enum { N = 257, S = 10, P = N * 3 };
    double grid[S + 1], off_grid[2] = {0.2, 0.25};
    for (int k = 0; k <= S; k++) grid[k] = (double)k / S;
    static const double times[3] = {0, 0.3, 1}, bad_grid[3] = {0, 0.7, 0.6};
    float *a = malloc(sizeof(float) * P), *b = malloc(sizeof(float) * P),
          *traj = malloc(sizeof(float) * (S + 1) * P), *rec = malloc(sizeof(float) * 3 * P);
    fmcl_sample_stats st = {0};
    int nfe = 0;
    fmcl_sample_config c = {.solver = FMCL_SOLVER_HEUN, .steps = S, .n = N, .seed = 9};
    tl_check(fmcl_sample(m, &c, a, traj, &nfe) == FMCL_OK && nfe == 2 * S,
             "sample heun %d steps: NFE %d (%s)", S, nfe, fmcl_ctx_error(ctx));
    c.steps = 0; /* the grid replaces steps */
    c.grid = grid;
    c.grid_points = S + 1;
    c.times = times;
    c.n_times = 3;
    c.stats = &st;
    tl_check(fmcl_sample(m, &c, b, rec, &nfe) == FMCL_OK, "sample on a grid: %s",
             fmcl_ctx_error(ctx));
    tl_check(memcmp(a, b, sizeof(float) * P) == 0, "a uniform grid differs from --steps");
    tl_check(st.solves == 1 && st.nfe == 2 * S && st.accepted == S && st.rejected == 0,
             "grid stats: %d solves, NFE %d, %d + %d steps", st.solves, st.nfe, st.accepted,
             st.rejected);
    tl_check(memcmp(rec, traj, sizeof(float) * P) == 0 &&
                 memcmp(rec + P, traj + 3 * P, sizeof(float) * P) == 0 &&
                 memcmp(rec + 2 * P, traj + S * P, sizeof(float) * P) == 0,
             "states recorded at 0, 0.3, 1 differ from the trajectory's grid states");
    ctx->err[0] = 0;
    c.times = off_grid;
    c.n_times = 2;
    tl_check(fmcl_sample(m, &c, b, rec, NULL) == FMCL_ERR_ARG && strstr(ctx->err, "0.25"),
             "a time off the grid: '%s'", ctx->err);
    c.grid = bad_grid;
    c.grid_points = 3;
    tl_check(fmcl_sample(m, &c, b, NULL, NULL) == FMCL_ERR_ARG && strstr(ctx->err, "t[2]"),
             "a decreasing grid: '%s'", ctx->err);
    free(a);
    free(b);
    free(traj);
    free(rec);
    fmcl_model_free(m);
}

static int device_checks(fmcl_ctx *ctx, void *user)
{
    (void)user;
    enum { n = 1001 };
    float *x0 = malloc(n * sizeof *x0), *ones = malloc(n * sizeof *ones);
    tl_fill(x0, n, -2.f, 2.f, 5);
    for (int i = 0; i < n; i++) ones[i] = 1.f;
    tl_buf bz, bo;
    if (tl_buf_new(ctx, &bz, n, NULL) && tl_buf_new(ctx, &bo, n, ones)) {
        velocity_field f = {ctx, bz.t, bo.t, n, FIELD_T2, 0};
        check_t2(ctx, &f, x0);
        check_t4(ctx, &f, x0);
        for (int i = 0; i < n; i++)
            x0[i] = 0.5f + 1.5f * i / (n - 1); /* away from 0: relative errors */
        check_orders(ctx, &f, x0);
        check_grid(ctx, &f, x0);
        check_names(ctx, &f);
        tl_buf_free(&bo);
    }
    tl_buf_free(&bz);
    check_heun_op(ctx, 1);
    check_heun_op(ctx, 10007);
    check_grid_validation();
    check_sample(ctx);
    free(x0);
    free(ones);
    return 0;
}

int main(void) { return tl_for_each_device(device_checks, NULL); }
