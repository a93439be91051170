/* Adaptive Dormand-Prince 5(4) for dx/dt = f(x, t) (see flow_ops.h for the
 * method, its controller and its NFE count): the device driver, its three
 * device ops (kernels/solver.cl) with their references, and a host reference
 * of the whole solver in double. The step-size controller and the initial
 * step rule are shared by the two drivers, so on a smooth problem they take
 * the same steps and differ only by float rounding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "flow/flow_ops.h"
#include "flow/kernels.h"
#include "io/atomic.h"
#include "runtime/reduce.h"
#include "runtime/vec.h"

/* The tableau in double for the references (kernels/solver.cl holds the float
 * twin): rows of a for stages 2..7 (row 7 = the 5th-order weights b), the
 * stage times c and e = b - b*, b* the embedded 4th-order weights. */
static const double A[6][6] = {
    {1.0 / 5},
    {3.0 / 40, 9.0 / 40},
    {44.0 / 45, -56.0 / 15, 32.0 / 9},
    {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
    {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
    {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84},
};
static const double C[7] = {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1};
static const double E[7] = {71.0 / 57600,      0,          -71.0 / 16695, 71.0 / 1920,
                            -17253.0 / 339200, 22.0 / 525, -1.0 / 40};

/* The controller of scipy's RK45: factors on the step size after a step. */
#define SAFETY 0.9
#define MIN_FACTOR 0.2
#define MAX_FACTOR 10.0
#define ERR_EXPONENT (-1.0 / 5) /* -1 / (order of the embedded solution + 1) */

void fmcl_adaptive_opts_default(fmcl_adaptive_opts *o)
{
    *o = (fmcl_adaptive_opts){.atol = 1e-5, .rtol = 1e-5, .max_steps = 1000};
}

/* k1, k7, k2..k6, the stage state, x_new, the partials, two scalars. */
size_t fmcl_adaptive_work(int n)
{
    return n < 1 ? 0 : 9 * (size_t)n + fmcl_reduce_partials((size_t)n) + 2;
}

/* ---- device ops ---- */

void fmcl_dopri5_stage_ref(float *xs, const float *x, const float *k1, const float *km, int stage,
                           float h, int n)
{
    const double *a = A[stage - 2];
    for (int i = 0; i < n; i++) {
        double acc = a[0] * k1[i];
        for (int j = 1; j <= stage - 2; j++) acc += a[j] * km[(size_t)(j - 1) * n + i];
        xs[i] = (float)(x[i] + (double)h * acc);
    }
}

fmcl_status fmcl_dopri5_stage(fmcl_ctx *ctx, fmcl_t xs, fmcl_t x, fmcl_t k1, fmcl_t km, int stage,
                              float h, int n)
{
    if (n < 0 || stage < 2 || stage > 7)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_dopri5_stage: stage %d (2..7), length %d", stage,
                         n);
    return fmcl_run1(ctx, FMCL_K_dopri5_stage, (size_t)n, "ttttifi", xs, x, k1, km, stage,
                     (double)h, n);
}

double fmcl_dopri5_error_ref(const float *x, const float *xn, const float *k1, const float *km,
                             const float *k7, float h, float atol, float rtol, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double e = E[0] * k1[i] + E[6] * k7[i];
        for (int j = 2; j < 6; j++) e += E[j] * km[(size_t)(j - 1) * n + i];
        const double sc = atol + rtol * fmax(fabs((double)x[i]), fabs((double)xn[i]));
        const double r = h * e / sc;
        sum += r * r;
    }
    return n > 0 ? sum / n : 0;
}

fmcl_status fmcl_dopri5_error(fmcl_ctx *ctx, fmcl_t out, fmcl_t x, fmcl_t xn, fmcl_t k1, fmcl_t km,
                              fmcl_t k7, float h, float atol, float rtol, fmcl_t partials, int n)
{
    if (n < 1) return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_dopri5_error: length %d", n);
    const size_t groups = fmcl_reduce_partials((size_t)n);
    fmcl_status s = fmcl_run1_local(
        ctx, FMCL_K_dopri5_error_partial, groups * FMCL_REDUCE_WG, FMCL_REDUCE_WG,
        "tttttt"
        "fffi",
        partials, x, xn, k1, km, k7, (double)h, (double)atol, (double)rtol, n);
    return s == FMCL_OK ? fmcl_reduce_final(ctx, out, partials, n, 1.0 / n) : s;
}

double fmcl_scaled_sumsq_ref(const float *a, const float *x, float atol, float rtol, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++) {
        const double r = a[i] / (atol + rtol * fabs((double)x[i]));
        sum += r * r;
    }
    return n > 0 ? sum / n : 0;
}

fmcl_status fmcl_scaled_sumsq(fmcl_ctx *ctx, fmcl_t out, fmcl_t a, fmcl_t x, float atol, float rtol,
                              fmcl_t partials, int n)
{
    if (n < 1) return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_scaled_sumsq: length %d", n);
    const size_t groups = fmcl_reduce_partials((size_t)n);
    fmcl_status s = fmcl_run1_local(ctx, FMCL_K_scaled_sumsq_partial, groups * FMCL_REDUCE_WG,
                                    FMCL_REDUCE_WG, "tttffi", partials, a, x, (double)atol,
                                    (double)rtol, n);
    return s == FMCL_OK ? fmcl_reduce_final(ctx, out, partials, n, 1.0 / n) : s;
}

/* ---- controller, shared by both drivers ---- */

typedef struct {
    const fmcl_adaptive_opts *o;
    double t0, t1, t, dir;
    double h;         /* size of the next attempt, before clipping to a stop */
    int stop;         /* index of the next stop; n_stops: t1 */
    int rejected_now; /* the current step has been rejected */
    double last_err;
    fmcl_adaptive_stats st;
    char msg[512];
} ctl;

/* NULL, or what is wrong with the arguments. */
static const char *check_args(const fmcl_adaptive_opts *o, double t0, double t1, int n)
{
    if (!o) return "no options (fmcl_adaptive_opts_default gives the defaults)";
    if (!(o->atol > 0) || !(o->rtol > 0) || !isfinite(o->atol) || !isfinite(o->rtol))
        return "atol and rtol must be positive numbers";
    if (o->max_steps < 1) return "max_steps must be at least 1";
    if (!(o->h0 >= 0) || !isfinite(o->h0)) return "h0 must be 0 (select) or a positive step size";
    if (n < 1) return "the state needs at least one element";
    if (!isfinite(t0) || !isfinite(t1)) return "t0 and t1 must be finite";
    if (o->n_stops < 0 || (o->n_stops > 0 && !o->stops)) return "n_stops without stops";
    const double dir = t1 >= t0 ? 1 : -1;
    for (int j = 0; j < o->n_stops; j++) {
        const double prev = j ? o->stops[j - 1] : t0;
        if (!(dir * (o->stops[j] - prev) > 0) || !(dir * (t1 - o->stops[j]) >= 0))
            return "stops must run strictly from t0 towards t1, within (t0, t1]";
    }
    return NULL;
}

static void ctl_init(ctl *c, const fmcl_adaptive_opts *o, double t0, double t1)
{
    *c = (ctl){.o = o, .t0 = t0, .t1 = t1, .t = t0, .dir = t1 >= t0 ? 1 : -1, .h = o->h0};
}

/* Hairer's rule (scipy's select_initial_step), capped at the span: the probe
 * step from d0 = ||x0||, d1 = ||f(x0)||, then the first step from
 * d2 = ||f(x0 + h0 f(x0)) - f(x0)|| / h0 (norms scaled by atol + rtol |x0|). */
static double probe_step(const ctl *c, double d0, double d1)
{
    const double h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1;
    return fmin(h0, fabs(c->t1 - c->t0));
}

static double first_step(const ctl *c, double h0, double d1, double d2)
{
    const double m = fmax(d1, d2);
    const double h1 = m <= 1e-15 ? fmax(1e-6, h0 * 1e-3) : pow(0.01 / m, 1.0 / 5);
    return fmin(fmin(100 * h0, h1), fabs(c->t1 - c->t0));
}

static double ctl_stop_time(const ctl *c)
{
    return c->stop < c->o->n_stops ? c->o->stops[c->stop] : c->t1;
}

/* The end of the next attempt: t + h, clipped to the next stop. 0, or -1
 * with c->msg set when the step budget is spent or the step size has fallen
 * below 10 ulp of t. */
static int ctl_next(ctl *c, double *t_new)
{
    const fmcl_adaptive_opts *o = c->o;
    const int tried = c->st.accepted + c->st.rejected;
    if (tried >= o->max_steps) {
        snprintf(c->msg, sizeof c->msg,
                 "dopri5: %d attempted steps (%d accepted, %d rejected) reached only t = %.9g "
                 "on the way from %g to %g; allow more steps (max_steps) or "
                 "loosen atol %g / rtol %g",
                 tried, c->st.accepted, c->st.rejected, c->t, c->t0, c->t1, o->atol, o->rtol);
        return -1;
    }
    const double min_step = 10 * fabs(nextafter(c->t, c->dir * INFINITY) - c->t);
    if (!(c->h >= min_step)) {
        snprintf(c->msg, sizeof c->msg,
                 "dopri5: the step size fell to %.3g at t = %.9g (%d accepted, %d rejected "
                 "steps) without meeting atol %g / rtol %g; %s",
                 c->h, c->t, c->st.accepted, c->st.rejected, o->atol, o->rtol,
                 isfinite(c->last_err) ? "the field changes too fast there for this tolerance"
                                       : "the error estimate is not finite: the state or the "
                                         "field holds NaN or Inf");
        return -1;
    }
    const double stop = ctl_stop_time(c), tn = c->t + c->dir * c->h;
    *t_new = c->dir * (tn - stop) > 0 ? stop : tn;
    return 0;
}

/* Judges the attempt that ends at t_new with error norm err and sets the
 * next step size. 1 when accepted (then c->t = t_new). */
static int ctl_judge(ctl *c, double t_new, double err)
{
    const double h = fabs(t_new - c->t);
    c->last_err = err;
    if (err < 1) {
        double factor = err == 0 ? MAX_FACTOR : fmin(MAX_FACTOR, SAFETY * pow(err, ERR_EXPONENT));
        if (c->rejected_now) factor = fmin(1, factor);
        c->h = h * factor;
        c->t = t_new;
        c->rejected_now = 0;
        c->st.accepted++;
        return 1;
    }
    /* fmax picks MIN_FACTOR when err is NaN: a non-finite state shrinks the step */
    c->h = h * fmax(MIN_FACTOR, SAFETY * pow(err, ERR_EXPONENT));
    c->rejected_now = 1;
    c->st.rejected++;
    return 0;
}

/* After an accepted step: 1 when it landed on a user's stop (j = c->stop). */
static int ctl_at_stop(ctl *c)
{
    if (c->stop >= c->o->n_stops || c->t != c->o->stops[c->stop]) return 0;
    c->stop++;
    return 1;
}

/* ---- device driver ---- */

#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((s = (call)) != FMCL_OK) goto done;                                                    \
    } while (0)

fmcl_status fmcl_integrate_adaptive(fmcl_ctx *ctx, const fmcl_adaptive_opts *opts, double t0,
                                    double t1, fmcl_t x, int n, fmcl_t work, fmcl_velocity_fn f,
                                    void *fuser, fmcl_step_fn after_step, void *suser,
                                    fmcl_adaptive_stats *stats)
{
    const char *bad = check_args(opts, t0, t1, n);
    if (stats) *stats = (fmcl_adaptive_stats){0};
    if (bad || !f)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_integrate_adaptive: %s",
                         bad ? bad : "no velocity function");
    ctl c;
    ctl_init(&c, opts, t0, t1);
    const size_t N = (size_t)n;
    fmcl_t ka = work, kb = fmcl_at(work, N), km = fmcl_at(work, 2 * N), xs = fmcl_at(work, 7 * N),
           xn = fmcl_at(work, 8 * N), part = fmcl_at(work, 9 * N),
           scal = fmcl_at(part, fmcl_reduce_partials(N));
    const float atol = (float)opts->atol, rtol = (float)opts->rtol;
    float ms[2];
    fmcl_status s = FMCL_OK;
    if (t0 == t1) goto done;
    TRY(f(fuser, ka, x, (float)t0));
    c.st.nfe++;
    if (c.h == 0) {
        TRY(fmcl_scaled_sumsq(ctx, scal, x, x, atol, rtol, part, n));
        TRY(fmcl_scaled_sumsq(ctx, fmcl_at(scal, 1), ka, x, atol, rtol, part, n));
        TRY(fmcl_read(ctx, scal, ms, 2 * sizeof(float)));
        const double d0 = sqrt(ms[0]), d1 = sqrt(ms[1]);
        if (!isfinite(d0) || !isfinite(d1)) {
            s = fmcl_fail(ctx, FMCL_ERR_NUMERIC,
                          "dopri5: the starting state or the field at t = %g holds NaN or Inf", t0);
            goto done;
        }
        const double h0 = probe_step(&c, d0, d1);
        TRY(fmcl_axpy_to(ctx, xs, x, (float)(c.dir * h0), ka, n));
        TRY(f(fuser, kb, xs, (float)(t0 + c.dir * h0)));
        c.st.nfe++;
        TRY(fmcl_axpy_to(ctx, xs, kb, -1.0f, ka, n));
        TRY(fmcl_scaled_sumsq(ctx, scal, xs, x, atol, rtol, part, n));
        TRY(fmcl_read(ctx, scal, ms, sizeof(float)));
        c.h = first_step(&c, h0, d1, sqrt(ms[0]) / h0);
    }
    while (c.t != t1) {
        double tn;
        if (ctl_next(&c, &tn)) {
            s = fmcl_fail(ctx, FMCL_ERR_NUMERIC, "%s", c.msg);
            goto done;
        }
        const double h = tn - c.t;
        for (int st = 2; st <= 7; st++) { /* stages 6 and 7 are at t_new (c = 1) */
            const fmcl_t xst = st == 7 ? xn : xs, kst = st == 7 ? kb : fmcl_at(km, (st - 2) * N);
            TRY(fmcl_dopri5_stage(ctx, xst, x, ka, km, st, (float)h, n));
            TRY(f(fuser, kst, xst, (float)(st >= 6 ? tn : c.t + C[st - 1] * h)));
            c.st.nfe++;
        }
        TRY(fmcl_dopri5_error(ctx, scal, x, xn, ka, km, kb, (float)h, atol, rtol, part, n));
        TRY(fmcl_read(ctx, scal, ms, sizeof(float)));
        if (!ctl_judge(&c, tn, sqrt(ms[0]))) continue;
        TRY(fmcl_copy(ctx, x, xn, N));
        const fmcl_t k7 = kb; /* first same as last: k7 is the next step's k1 */
        kb = ka;
        ka = k7;
        if (after_step) TRY(after_step(suser, c.st.accepted, (float)c.t));
        if (ctl_at_stop(&c) && opts->at_stop)
            TRY(opts->at_stop(opts->stop_user, c.stop, (float)c.t));
    }
done:
    if (stats) *stats = c.st;
    return s;
}

#undef TRY

/* ---- host reference in double ---- */

fmcl_status fmcl_integrate_adaptive_ref(const fmcl_adaptive_opts *opts, double t0, double t1,
                                        double *x, int n, fmcl_velocity_ref_fn f, void *fuser,
                                        fmcl_step_fn after_step, void *suser,
                                        fmcl_adaptive_stats *stats, char *err, size_t errlen)
{
    const char *bad = check_args(opts, t0, t1, n);
    if (stats) *stats = (fmcl_adaptive_stats){0};
    if (bad || !f)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "fmcl_integrate_adaptive_ref: %s",
                         bad ? bad : "no velocity function");
    const size_t N = (size_t)n;
    double *k = malloc(9 * N * sizeof *k); /* k1..k7, stage state, x_new */
    if (!k) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "no host memory for %d elements", n);
    double *k1 = k, *k7 = k + 6 * N, *xs = k + 7 * N, *xn = k + 8 * N;
    ctl c;
    ctl_init(&c, opts, t0, t1);
    fmcl_status s = FMCL_OK;
    if (t0 != t1) {
        f(fuser, k1, x, t0);
        c.st.nfe++;
    }
    if (t0 != t1 && c.h == 0) {
        double s0 = 0, s1 = 0, s2 = 0;
        for (size_t i = 0; i < N; i++) {
            const double sc = opts->atol + opts->rtol * fabs(x[i]);
            s0 += (x[i] / sc) * (x[i] / sc);
            s1 += (k1[i] / sc) * (k1[i] / sc);
        }
        const double d0 = sqrt(s0 / n), d1 = sqrt(s1 / n), h0 = probe_step(&c, d0, d1);
        for (size_t i = 0; i < N; i++) xs[i] = x[i] + c.dir * h0 * k1[i];
        f(fuser, k7, xs, t0 + c.dir * h0);
        c.st.nfe++;
        for (size_t i = 0; i < N; i++) {
            const double r = (k7[i] - k1[i]) / (opts->atol + opts->rtol * fabs(x[i]));
            s2 += r * r;
        }
        c.h = first_step(&c, h0, d1, sqrt(s2 / n) / h0);
    }
    while (s == FMCL_OK && c.t != t1) {
        double tn;
        if (ctl_next(&c, &tn)) {
            s = fmcl_errf(err, errlen, FMCL_ERR_NUMERIC, "%s", c.msg);
            break;
        }
        const double h = tn - c.t;
        for (int st = 2; st <= 7; st++) {
            double *xst = st == 7 ? xn : xs;
            for (size_t i = 0; i < N; i++) {
                double acc = 0;
                for (int j = 0; j < st - 1; j++) acc += A[st - 2][j] * k[j * N + i];
                xst[i] = x[i] + h * acc;
            }
            f(fuser, k + (st - 1) * N, xst, st >= 6 ? tn : c.t + C[st - 1] * h);
            c.st.nfe++;
        }
        double sum = 0;
        for (size_t i = 0; i < N; i++) {
            double e = 0;
            for (int j = 0; j < 7; j++) e += E[j] * k[j * N + i];
            const double r = h * e / (opts->atol + opts->rtol * fmax(fabs(x[i]), fabs(xn[i])));
            sum += r * r;
        }
        if (!ctl_judge(&c, tn, sqrt(sum / n))) continue;
        for (size_t i = 0; i < N; i++) {
            x[i] = xn[i];
            k1[i] = k7[i];
        }
        if (after_step) s = after_step(suser, c.st.accepted, (float)c.t);
        if (s == FMCL_OK && ctl_at_stop(&c) && opts->at_stop)
            s = opts->at_stop(opts->stop_user, c.stop, (float)c.t);
        if (s != FMCL_OK) fmcl_errf(err, errlen, s, "a step callback failed at t = %g", c.t);
    }
    if (stats) *stats = c.st;
    free(k);
    return s;
}
