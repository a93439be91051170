/* fmcl_integrate on every device, with velocity fields built from the
 * solver's own axpy_to (v = 0 + a k):
 * - v = 3 t^2 against the closed forms of each scheme's sum over its stage
 *   times (Euler: sum 3 t_k^2 h; midpoint: 1 - h^2 / 4; RK4, Simpson's rule:
 *   exactly 1), forward and backward in time;
 * - dx/dt = lambda x against each scheme's exact discrete solution
 *   x0 R(lambda h)^N (R its stability polynomial, in double), and the
 *   empirical convergence orders 1, 2, 4 from errors against x0 e^lambda;
 * - NFE per step, step callbacks, the work buffer's bounds, names. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow_ops.h"
#include "testlib.h"

enum { FIELD_T2, FIELD_LINEAR };
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
    return fmcl_axpy_to(f->ctx, v, f->zero, (float)LAMBDA, x, f->n);
}

typedef struct {
    int calls, steps, bad;
    float t0, t1;
} step_log;

/* Step k must report k = calls and t = t0 + k (t1 - t0) / steps. */
static fmcl_status after_step(void *user, int k, float t)
{
    step_log *s = user;
    s->calls++;
    const float want = (float)(s->t0 + k * ((double)s->t1 - s->t0) / s->steps);
    if (k != s->calls || t != want) s->bad++;
    return FMCL_OK;
}

/* Integrates x0 (n values) with `solver` and `steps` from t0 to t1; out gets
 * the result. Checks NFE, the step callbacks and the work buffer's guards. */
static int integrate(fmcl_ctx *ctx, velocity_field *f, int solver, float t0, float t1, int steps,
                     const float *x0, float *out)
{
    const int n = f->n;
    tl_buf x, work;
    if (!tl_buf_new(ctx, &x, n, x0)) return 0;
    if (!tl_buf_new(ctx, &work, (size_t)fmcl_solver_work(solver) * n, NULL)) {
        tl_buf_free(&x);
        return 0;
    }
    step_log log = {0, steps, 0, t0, t1};
    f->nfe = 0;
    fmcl_status s = fmcl_integrate(ctx, solver, t0, t1, steps, x.t, n, work.t, velocity, f,
                                   after_step, &log);
    int ok = tl_check(s == FMCL_OK, "fmcl_integrate %s: %s", fmcl_solver_name(solver),
                      fmcl_ctx_error(ctx)) &&
             tl_buf_read(ctx, &x, out);
    tl_check(f->nfe == steps * fmcl_solver_nfe_per_step(solver), "%s: %d evaluations in %d steps",
             fmcl_solver_name(solver), f->nfe, steps);
    tl_check(log.calls == steps && log.bad == 0, "%s: %d step callbacks, %d with a wrong k or t",
             fmcl_solver_name(solver), log.calls, log.bad);
    tl_guard_ok(ctx, &x, "integrate state");
    tl_guard_ok(ctx, &work, "integrate work");
    tl_buf_free(&x);
    tl_buf_free(&work);
    return ok;
}

/* v = 3 t^2 from t = 0 to 1 (and RK4 back from 1 to 0). */
static void check_t2(fmcl_ctx *ctx, velocity_field *f, const float *x0)
{
    const int n = f->n, N = 10;
    float *got = malloc(n * sizeof *got);
    double *want = malloc(n * sizeof *want);
    /* Exact sums: Euler 3 h^3 sum k^2 = (N-1)(2N-1) / (2N^2); midpoint
     * 3 h sum (t_k + h/2)^2 = 1 - 1 / (4 N^2); RK4 (Simpson) 1. */
    const double incr[3] = {(N - 1.0) * (2 * N - 1.0) / (2.0 * N * N), 1 - 1 / (4.0 * N * N), 1};
    for (int s = FMCL_SOLVER_EULER; s <= FMCL_SOLVER_RK4; s++) {
        f->field = FIELD_T2;
        if (!integrate(ctx, f, s, 0.f, 1.f, N, x0, got)) continue;
        for (int i = 0; i < n; i++) want[i] = x0[i] + incr[s];
        char what[64];
        snprintf(what, sizeof what, "v=3t^2 %s, %d steps", fmcl_solver_name(s), N);
        tl_close(what, got, want, n, 1e-5, 1e-5);
    }
    if (integrate(ctx, f, FMCL_SOLVER_RK4, 1.f, 0.f, N, x0, got)) {
        for (int i = 0; i < n; i++) want[i] = x0[i] - 1.0;
        tl_close("v=3t^2 rk4 backward from 1 to 0", got, want, n, 1e-5, 1e-5);
    }
    free(got);
    free(want);
}

/* The scheme's one-step factor for dx/dt = lambda x: x_{k+1} = R(z) x_k, z = lambda h. */
static double stability(int solver, double z)
{
    switch (solver) {
    case FMCL_SOLVER_EULER: return 1 + z;
    case FMCL_SOLVER_MIDPOINT: return 1 + z + z * z / 2;
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
    for (int s = FMCL_SOLVER_EULER; s <= FMCL_SOLVER_RK4; s++) {
        const int p = fmcl_solver_nfe_per_step(s); /* 1, 2, 4: also the orders */
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
            snprintf(what, sizeof what, "x' = %gx %s N=%d vs x0 R^N", LAMBDA, fmcl_solver_name(s),
                     N);
            tl_close(what, got, want, n, 0, 1e-6 * N);
        }
        for (int j = 0; j + 1 < 4; j++) {
            const double oh = log2(e_host[j] / e_host[j + 1]);
            printf("  %-9s order N=%d..%d: double %.3f", fmcl_solver_name(s), Ns[j], Ns[j + 1], oh);
            tl_check(fabs(oh - p) <= 0.2, "%s: order %.3f in double, want %d", fmcl_solver_name(s),
                     oh, p);
            if (e_dev[j + 1] < 0 || e_host[j + 1] < NOISE_FLOOR) {
                printf(", device: errors %.1e at float noise, not used\n", e_host[j + 1]);
                continue;
            }
            const double od = log2(e_dev[j] / e_dev[j + 1]);
            printf(", device %.3f (errors %.2e, %.2e)\n", od, e_dev[j], e_dev[j + 1]);
            tl_check(fabs(od - p) <= 0.2, "%s: order %.3f on the device, want %d",
                     fmcl_solver_name(s), od, p);
        }
    }
    free(got);
    free(want);
}

static void check_names(fmcl_ctx *ctx, velocity_field *f)
{
    for (int s = FMCL_SOLVER_EULER; s <= FMCL_SOLVER_RK4; s++)
        tl_check(fmcl_solver_from_name(fmcl_solver_name(s)) == s && fmcl_solver_work(s) >= 1,
                 "solver %d name round trip", s);
    tl_check(fmcl_solver_from_name("dopri9") == -1 && fmcl_solver_nfe_per_step(7) == 0,
             "unknown solvers are rejected");
    ctx->err[0] = 0;
    fmcl_status st = fmcl_integrate(ctx, 7, 0.f, 1.f, 4, f->zero, f->n, f->zero, velocity, f, NULL,
                                    NULL);
    tl_check(st == FMCL_ERR_ARG && ctx->err[0],
             "integrate rejects an unknown solver with a message");
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
        for (int i = 0; i < n; i++)
            x0[i] = 0.5f + 1.5f * i / (n - 1); /* away from 0: relative errors */
        check_orders(ctx, &f, x0);
        check_names(ctx, &f);
        tl_buf_free(&bo);
    }
    tl_buf_free(&bz);
    free(x0);
    free(ones);
    return 0;
}

int main(void) { return tl_for_each_device(device_checks, NULL); }
