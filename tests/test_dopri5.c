/* fmcl_integrate_adaptive (Dormand-Prince 5(4)) on every device:
 * - its three ops (stage combination, error norm, scaled norm) against their
 *   double references, with guard regions;
 * - dx/dt = lambda x against an independent model of the whole solver built
 *   from the method's closed forms (one step multiplies x by the stability
 *   polynomial R(z), z = lambda h, and the error estimate is E(z) x), with
 *   the step-size controller and initial step rule written out again here:
 *   the same accepted and rejected steps, forwards and backwards in time;
 * - v = cos(t) x and a rotation against the double host reference, step by
 *   step, and against their exact solutions;
 * - the error meets the tolerance and shrinks with it; NFE counted by the
 *   callback equals stats.nfe = 1 + (h0 selected) + 6 (accepted + rejected);
 * - stops land exactly, max_steps and a NaN field are refused, bad arguments
 *   rejected, repeated runs identical;
 * - fmcl_sample with dopri5 and recorded times against RK4 on a small MLP. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow_ops.h"
#include "nn/nn_ops.h"
#include "runtime/vec.h"
#include "testlib.h"

#define MAX_STEPS_LOG 4096

enum { LINEAR, COSINE, ROTATION, NAN_AFTER_HALF };
#define OMEGA 5.0 /* rotation rate: more than 3/4 of a turn over [0, 1] */

typedef struct {
    fmcl_ctx *ctx;
    fmcl_t zero;
    int n, kind, nfe;
    double lambda;
} field;

/* The device field, from axpy_to: v = 0 + a x. */
static fmcl_status velocity(void *user, fmcl_t v, fmcl_t x, float t)
{
    field *f = user;
    f->nfe++;
    const int m = f->n / 2;
    switch (f->kind) {
    case LINEAR: return fmcl_axpy_to(f->ctx, v, f->zero, (float)f->lambda, x, f->n);
    case COSINE: return fmcl_axpy_to(f->ctx, v, f->zero, cosf(t), x, f->n);
    case NAN_AFTER_HALF: return fmcl_axpy_to(f->ctx, v, f->zero, t > 0.5f ? NAN : -1.0f, x, f->n);
    default: { /* [u, w]: u' = -omega w, w' = omega u */
        fmcl_status s = fmcl_axpy_to(f->ctx, v, f->zero, (float)-OMEGA, fmcl_at(x, m), m);
        return s == FMCL_OK ? fmcl_axpy_to(f->ctx, fmcl_at(v, m), f->zero, (float)OMEGA, x, m) : s;
    }
    }
}

static void velocity_ref(void *user, double *v, const double *x, double t)
{
    const field *f = user;
    const int m = f->n / 2;
    for (int i = 0; i < f->n; i++) {
        if (f->kind == LINEAR)
            v[i] = f->lambda * x[i];
        else if (f->kind == COSINE)
            v[i] = cos(t) * x[i];
        else
            v[i] = i < m ? -OMEGA * x[i + m] : OMEGA * x[i - m];
    }
}

/* The exact solution at t1 from x0 at t0. */
static void exact(const field *f, const float *x0, double t0, double t1, double *out)
{
    const int m = f->n / 2;
    const double c = cos(OMEGA * (t1 - t0)), s = sin(OMEGA * (t1 - t0));
    for (int i = 0; i < f->n; i++) {
        if (f->kind == LINEAR)
            out[i] = x0[i] * exp(f->lambda * (t1 - t0));
        else if (f->kind == COSINE)
            out[i] = x0[i] * exp(sin(t1) - sin(t0));
        else
            out[i] = i < m ? c * x0[i] - s * x0[i + m] : s * x0[i - m] + c * x0[i];
    }
}

/* Accepted step times as the callbacks report them. */
typedef struct {
    int count, bad;
    float t[MAX_STEPS_LOG];
} step_log;

static fmcl_status log_step(void *user, int k, float t)
{
    step_log *l = user;
    if (k != l->count + 1) l->bad++;
    if (l->count < MAX_STEPS_LOG) l->t[l->count] = t;
    l->count++;
    return FMCL_OK;
}

/* ---- the closed-form model of dopri5 on x' = lambda x ---- */

static double poly(const double *c, int deg, double z)
{
    double p = 0;
    for (int i = deg; i >= 0; i--) p = p * z + c[i];
    return p;
}

/* R(z) = sum_{k<=5} z^k / k! + z^6 / 600 and the estimate
 * E(z) = -97/120000 z^5 + 13/40000 z^6 - 1/24000 z^7, both worked out from
 * the tableau with exact rational arithmetic. */
static double stab_R(double z)
{
    static const double c[7] = {1, 1, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 600};
    return poly(c, 6, z);
}

static double stab_E(double z)
{
    static const double c[8] = {0, 0, 0, 0, 0, -97.0 / 120000, 13.0 / 40000, -1.0 / 24000};
    return poly(c, 7, z);
}

typedef struct {
    int accepted, rejected, nfe;
    double t[MAX_STEPS_LOG];
} model_run;

static double rms_scaled(const double *a, const double *x, const double *y, double atol,
                         double rtol, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) {
        const double sc = atol + rtol * fmax(fabs(x[i]), fabs(y ? y[i] : x[i]));
        s += (a[i] / sc) * (a[i] / sc);
    }
    return sqrt(s / n);
}

/* scipy's RK45 on x' = lambda x with Hairer's initial step (capped at the
 * span) unless h_first > 0, x updated in place. */
static void model_linear(double lambda, double *x, int n, double atol, double rtol, double t0,
                         double t1, double h_first, model_run *r)
{
    const double dir = t1 > t0 ? 1 : -1, span = fabs(t1 - t0);
    double *a = malloc(n * sizeof *a), *y = malloc(n * sizeof *y);
    memset(r, 0, sizeof *r);
    for (int i = 0; i < n; i++) a[i] = lambda * x[i];
    const double d0 = rms_scaled(x, x, NULL, atol, rtol, n),
                 d1 = rms_scaled(a, x, NULL, atol, rtol, n);
    double h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1;
    h0 = fmin(h0, span);
    for (int i = 0; i < n; i++) a[i] = lambda * (x[i] + dir * h0 * lambda * x[i]) - lambda * x[i];
    const double d2 = rms_scaled(a, x, NULL, atol, rtol, n) / h0;
    const double h1 = fmax(d1, d2) <= 1e-15 ? fmax(1e-6, h0 * 1e-3) : pow(0.01 / fmax(d1, d2), 0.2);
    double h = h_first > 0 ? h_first : fmin(fmin(100 * h0, h1), span), t = t0;
    r->nfe = h_first > 0 ? 1 : 2;
    int rejected_now = 0;
    while (t != t1 && r->accepted + r->rejected < 10000) {
        double tn = t + dir * h;
        if (dir * (tn - t1) > 0) tn = t1;
        h = fabs(tn - t);
        const double z = lambda * (tn - t), R = stab_R(z), E = stab_E(z);
        for (int i = 0; i < n; i++) {
            y[i] = R * x[i];
            a[i] = E * x[i];
        }
        const double err = rms_scaled(a, x, y, atol, rtol, n);
        r->nfe += 6;
        if (err < 1) {
            double factor = err == 0 ? 10 : fmin(10, 0.9 * pow(err, -0.2));
            if (rejected_now) factor = fmin(1, factor);
            h *= factor;
            t = tn;
            memcpy(x, y, n * sizeof *x);
            if (r->accepted < MAX_STEPS_LOG) r->t[r->accepted] = t;
            r->accepted++;
            rejected_now = 0;
        } else {
            h *= fmax(0.2, 0.9 * pow(err, -0.2));
            rejected_now = 1;
            r->rejected++;
        }
    }
    free(a);
    free(y);
}

/* ---- runs ---- */

typedef struct {
    fmcl_adaptive_stats st;
    step_log log;
    int counted; /* NFE seen by the callback */
    fmcl_status status;
} run_result;

/* Integrates x0 on the device; out gets the end state. */
static int run_device(fmcl_ctx *ctx, field *f, const fmcl_adaptive_opts *o, double t0, double t1,
                      const float *x0, float *out, run_result *r)
{
    tl_buf x, work;
    memset(r, 0, sizeof *r);
    if (!tl_buf_new(ctx, &x, f->n, x0)) return 0;
    if (!tl_buf_new(ctx, &work, fmcl_adaptive_work(f->n), NULL)) {
        tl_buf_free(&x);
        return 0;
    }
    f->nfe = 0;
    ctx->err[0] = 0;
    r->status = fmcl_integrate_adaptive(ctx, o, t0, t1, x.t, f->n, work.t, velocity, f, log_step,
                                        &r->log, &r->st);
    r->counted = f->nfe;
    int ok = tl_buf_read(ctx, &x, out);
    tl_guard_ok(ctx, &x, "dopri5 state");
    tl_guard_ok(ctx, &work, "dopri5 work");
    tl_buf_free(&x);
    tl_buf_free(&work);
    return ok;
}

/* NFE: the callback's count, stats and the formula agree. */
static void check_nfe(const char *what, const run_result *r, int selected)
{
    const int want = 1 + selected + 6 * (r->st.accepted + r->st.rejected);
    tl_check(r->counted == r->st.nfe && r->st.nfe == want,
             "%s: NFE counted %d, reported %d, formula 1 + %d + 6 (%d + %d) = %d", what, r->counted,
             r->st.nfe, selected, r->st.accepted, r->st.rejected, want);
    tl_check(r->log.count == r->st.accepted && r->log.bad == 0,
             "%s: %d step callbacks for %d accepted steps (%d out of order)", what, r->log.count,
             r->st.accepted, r->log.bad);
}

/* Step times against a reference. The device's error estimate carries float
 * rounding of about 1e-9 to 1e-8 relative to the state (the stage states'
 * rounding, through f, into the difference of two solutions), i.e. an
 * absolute noise of ~1e-6 / tol in err. Where err is far below 1 (after the
 * deliberately small selected first step: err ~ 5e-5) that shifts the
 * growth factor: measured up to 0.12% at tol 1e-3 (later step ends within
 * 7e-4 of the reference's), up to 20% at tol 1e-5, where a borderline step
 * may then be rejected by one and not the other. Strict runs (tol 1e-3) must
 * take the same accepted and rejected steps, each ending within dt; every
 * run must end its first step within 1e-6 of the reference's. */
static void check_steps(const char *what, const run_result *r, const double *t, int accepted,
                        int rejected, int strict, double dt)
{
    double worst = 0;
    const int same = r->st.accepted == accepted && r->st.rejected == rejected;
    const double first = r->log.count && accepted ? fabs(r->log.t[0] - t[0]) : INFINITY;
    for (int k = 0; same && k < accepted && k < MAX_STEPS_LOG; k++)
        worst = fmax(worst, fabs(r->log.t[k] - t[k]));
    printf("  %-44s steps %d+%d rejected (reference %d+%d), |dt| first %.2g, max %.2g\n", what,
           r->st.accepted, r->st.rejected, accepted, rejected, first, same ? worst : NAN);
    if (strict) tl_check(same && worst <= dt, "%s: device steps differ from the reference", what);
    tl_check(first <= 1e-6, "%s: first step ends %.3g from the reference's", what, first);
}

/* The global error within the sum of the accepted steps' tolerances. */
static void check_global(const char *what, const float *got, const double *want, int n,
                         const fmcl_adaptive_opts *o, int accepted)
{
    double q = 0;
    for (int i = 0; i < n; i++)
        q = fmax(q, fabs(got[i] - want[i]) / (o->atol + o->rtol * fabs(want[i])));
    printf("  %-44s global error %.2f tolerances (%d steps)\n", what, q, accepted);
    tl_check(q <= fmax(1, accepted), "%s: global error %.2f tolerances after %d steps", what, q,
             accepted);
}

/* Each lambda forwards and backwards, at tolerance 1e-3 (step by step, also
 * from a given h0) and 1e-5. */
static void check_linear(fmcl_ctx *ctx, field *f, const float *x0)
{
    static const double lambdas[4] = {-3.0, -0.7, 0.5, 2.0};
    const int n = f->n;
    float *got = malloc(n * sizeof *got);
    double *x = malloc(n * sizeof *x), *want = malloc(n * sizeof *want);
    model_run *m = malloc(sizeof *m);
    run_result *r = malloc(sizeof *r);
    for (int c = 0; c < 24; c++) {
        const int back = c & 1, variant = (c >> 1) % 3; /* 1e-3; 1e-3 from h0 0.1; 1e-5 */
        const double t0 = back ? 1 : 0, t1 = back ? 0 : 1;
        fmcl_adaptive_opts o;
        fmcl_adaptive_opts_default(&o);
        o.atol = o.rtol = variant < 2 ? 1e-3 : 1e-5;
        o.h0 = variant == 1 ? 0.1 : 0;
        f->kind = LINEAR;
        f->lambda = lambdas[c / 6];
        char what[96];
        snprintf(what, sizeof what, "x' = %gx %s, tol %g%s", f->lambda, back ? "1 to 0" : "0 to 1",
                 o.atol, o.h0 > 0 ? ", h0 0.1" : "");
        if (!run_device(ctx, f, &o, t0, t1, x0, got, r)) continue;
        tl_check(r->status == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx));
        for (int i = 0; i < n; i++) x[i] = x0[i];
        model_linear(f->lambda, x, n, o.atol, o.rtol, t0, t1, o.h0, m);
        check_steps(what, r, m->t, m->accepted, m->rejected, variant < 2, 2e-3);
        check_nfe(what, r, o.h0 == 0);
        /* the device's own steps through R(z): the 5th-order weights */
        double g = 1, tp = t0;
        for (int k = 0; k < r->log.count && k < MAX_STEPS_LOG; k++) {
            g *= stab_R(f->lambda * (r->log.t[k] - tp));
            tp = r->log.t[k];
        }
        for (int i = 0; i < n; i++) want[i] = g * x0[i];
        char w2[128];
        snprintf(w2, sizeof w2, "%s: x0 prod R(z_k)", what);
        tl_close(w2, got, want, n, 0, 2e-6 * (r->st.accepted + 1));
        exact(f, x0, t0, t1, want);
        check_global(what, got, want, n, &o, r->st.accepted);
    }
    free(got);
    free(x);
    free(want);
    free(m);
    free(r);
}

/* Device vs the double host reference step by step, and the exact solution. */
static void check_vs_ref(fmcl_ctx *ctx, field *f, const float *x0, int kind, double t0, double t1,
                         double tol, double h0)
{
    const int n = f->n;
    float *got = malloc(n * sizeof *got);
    double *x = malloc(n * sizeof *x), *want = malloc(n * sizeof *want);
    run_result *r = malloc(sizeof *r), *ref = malloc(sizeof *ref);
    fmcl_adaptive_opts o;
    fmcl_adaptive_opts_default(&o);
    o.h0 = h0;
    o.atol = o.rtol = tol;
    f->kind = kind;
    char what[96], err[512];
    snprintf(what, sizeof what, "%s %g to %g, tol %g, h0 %g",
             kind == COSINE ? "x' = cos(t) x" : "rotation", t0, t1, tol, h0);
    if (run_device(ctx, f, &o, t0, t1, x0, got, r)) {
        for (int i = 0; i < n; i++) x[i] = x0[i];
        memset(ref, 0, sizeof *ref);
        fmcl_status s = fmcl_integrate_adaptive_ref(&o, t0, t1, x, n, velocity_ref, f, log_step,
                                                    &ref->log, &ref->st, err, sizeof err);
        tl_check(r->status == FMCL_OK && s == FMCL_OK, "%s: %s / %s", what, fmcl_ctx_error(ctx),
                 err);
        double ts[MAX_STEPS_LOG];
        for (int k = 0; k < ref->log.count && k < MAX_STEPS_LOG; k++) ts[k] = ref->log.t[k];
        check_steps(what, r, ts, ref->st.accepted, ref->st.rejected, tol > 1e-4, 2e-3);
        check_nfe(what, r, h0 == 0);
        tl_check(tol <= 1e-4 || ref->st.nfe == r->st.nfe, "%s: reference NFE %d, device %d", what,
                 ref->st.nfe, r->st.nfe);
        char w2[128];
        snprintf(w2, sizeof w2, "%s vs host reference", what);
        tl_close(w2, got, x, n, 1e-5, 1e-5);
        exact(f, x0, t0, t1, want);
        check_global(what, got, want, n, &o, r->st.accepted);
    }
    free(got);
    free(x);
    free(want);
    free(r);
    free(ref);
}

/* Tighter tolerances: smaller errors, more evaluations, each within tolerance. */
static void check_tolerances(fmcl_ctx *ctx, field *f, const float *x0, int kind)
{
    static const double tols[4] = {1e-3, 1e-4, 1e-5, 1e-6};
    const int n = f->n;
    float *got = malloc(n * sizeof *got);
    double *want = malloc(n * sizeof *want);
    run_result *r = malloc(sizeof *r);
    double prev_err = INFINITY;
    int prev_nfe = 0;
    f->kind = kind;
    f->lambda = -2.0;
    exact(f, x0, 0, 1, want);
    for (int j = 0; j < 4; j++) {
        fmcl_adaptive_opts o;
        fmcl_adaptive_opts_default(&o);
        o.atol = o.rtol = tols[j];
        if (!run_device(ctx, f, &o, 0, 1, x0, got, r)) continue;
        double e = 0;
        for (int i = 0; i < n; i++) e = fmax(e, fabs(got[i] - want[i]));
        char what[64];
        snprintf(what, sizeof what, "field %d, tol %.0e: NFE %d, max error %.3g", kind, tols[j],
                 r->st.nfe, e);
        tl_check(r->status == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx));
        check_global(what, got, want, n, &o, r->st.accepted);
        tl_check(e < prev_err && r->st.nfe > prev_nfe,
                 "tol %g: error %.3g (before %.3g), NFE %d (before %d): not shrinking", tols[j], e,
                 prev_err, r->st.nfe, prev_nfe);
        check_nfe("tolerance sweep", r, 1);
        prev_err = e;
        prev_nfe = r->st.nfe;
    }
    free(got);
    free(want);
    free(r);
}

/* Stops: landed on exactly, state there exact to tolerance; a given h0. */
typedef struct {
    fmcl_ctx *ctx;
    fmcl_t x;
    int n, calls, bad;
    const double *stops;
    float *states;
} stop_log;

static fmcl_status at_stop(void *user, int j, float t)
{
    stop_log *s = user;
    if (j != s->calls + 1 || t != (float)s->stops[j - 1]) s->bad++;
    s->calls++;
    return fmcl_read(s->ctx, s->x, s->states + (size_t)(j - 1) * s->n, s->n * sizeof(float));
}

static void check_stops(fmcl_ctx *ctx, field *f, const float *x0)
{
    static const double stops[3] = {0.25, 0.3, 0.9};
    const int n = f->n;
    float *states = malloc(3 * n * sizeof *states);
    double *want = malloc(n * sizeof *want);
    tl_buf x, work;
    f->kind = COSINE;
    if (tl_buf_new(ctx, &x, n, x0) && tl_buf_new(ctx, &work, fmcl_adaptive_work(n), NULL)) {
        stop_log sl = {ctx, x.t, n, 0, 0, stops, states};
        fmcl_adaptive_opts o;
        fmcl_adaptive_opts_default(&o);
        o.stops = stops;
        o.n_stops = 3;
        o.at_stop = at_stop;
        o.stop_user = &sl;
        o.h0 = 0.01;
        run_result r = {0};
        f->nfe = 0;
        fmcl_status s = fmcl_integrate_adaptive(ctx, &o, 0, 1, x.t, n, work.t, velocity, f,
                                                log_step, &r.log, &r.st);
        r.counted = f->nfe;
        tl_check(s == FMCL_OK && sl.calls == 3 && sl.bad == 0, "stops: %d calls, %d wrong (%s)",
                 sl.calls, sl.bad, fmcl_ctx_error(ctx));
        check_nfe("stops, given h0", &r, 0);
        int landed = 0;
        for (int k = 0; k < r.log.count; k++)
            for (int j = 0; j < 3; j++) landed += r.log.t[k] == (float)stops[j];
        tl_check(landed == 3, "stops: %d accepted steps end on a stop, want 3", landed);
        for (int j = 0; j < 3; j++) {
            exact(f, x0, 0, stops[j], want);
            char what[64];
            snprintf(what, sizeof what, "state at stop %g", stops[j]);
            check_global(what, states + (size_t)j * n, want, n, &o, r.st.accepted);
        }
    }
    tl_buf_free(&x);
    tl_buf_free(&work);
    free(states);
    free(want);
}

/* Refusals: max_steps (x at the last accepted step, as the reference), a
 * field that turns NaN, bad arguments. None may hang. */
static void check_refusals(fmcl_ctx *ctx, field *f, const float *x0)
{
    const int n = f->n;
    float *got = malloc(n * sizeof *got);
    double *x = malloc(n * sizeof *x);
    run_result *r = malloc(sizeof *r), *ref = malloc(sizeof *ref);
    char err[512];
    fmcl_adaptive_opts o;
    fmcl_adaptive_opts_default(&o);
    o.max_steps = 3;
    f->kind = LINEAR;
    f->lambda = -2.0;
    if (run_device(ctx, f, &o, 0, 1, x0, got, r)) {
        tl_check(r->status == FMCL_ERR_NUMERIC && strstr(ctx->err, "max_steps") &&
                     r->st.accepted + r->st.rejected == 3,
                 "max_steps 3: status %d, %d + %d steps, message '%s'", r->status, r->st.accepted,
                 r->st.rejected, ctx->err);
        check_nfe("max_steps", r, 1);
        printf("  max_steps refusal: %s\n", ctx->err);
        for (int i = 0; i < n; i++) x[i] = x0[i];
        memset(ref, 0, sizeof *ref);
        fmcl_status s = fmcl_integrate_adaptive_ref(&o, 0, 1, x, n, velocity_ref, f, log_step,
                                                    &ref->log, &ref->st, err, sizeof err);
        tl_check(s == FMCL_ERR_NUMERIC && ref->st.accepted == r->st.accepted && strstr(err, "max"),
                 "reference with max_steps 3: status %d, %d accepted: %s", s, ref->st.accepted,
                 err);
        if (r->st.accepted > 0) { /* x is the state at the last accepted step */
            exact(f, x0, 0, r->log.t[r->st.accepted - 1], x);
            check_global("state left at the last accepted step", got, x, n, &o, r->st.accepted);
        }
    }
    f->kind = NAN_AFTER_HALF;
    fmcl_adaptive_opts_default(&o);
    if (run_device(ctx, f, &o, 0, 1, x0, got, r)) {
        tl_check(r->status == FMCL_ERR_NUMERIC && strstr(ctx->err, "NaN") &&
                     r->st.accepted + r->st.rejected < o.max_steps,
                 "NaN field: status %d after %d + %d steps, message '%s'", r->status,
                 r->st.accepted, r->st.rejected, ctx->err);
        printf("  NaN refusal after %d + %d steps: %s\n", r->st.accepted, r->st.rejected, ctx->err);
    }
    tl_buf x1, w1;
    if (tl_buf_new(ctx, &x1, n, x0) && tl_buf_new(ctx, &w1, fmcl_adaptive_work(n), NULL)) {
        static const double bad_stops[2] = {0.5, 0.4}, late[1] = {1.5};
        struct {
            const char *what;
            double atol, h0, t1;
            int max_steps, len;
            const double *stops;
            int n_stops;
        } cases[] = {
            {"atol 0", 0, 0, 1, 10, n, NULL, 0},
            {"negative h0", 1e-5, -1, 1, 10, n, NULL, 0},
            {"max_steps 0", 1e-5, 0, 1, 0, n, NULL, 0},
            {"empty state", 1e-5, 0, 1, 10, 0, NULL, 0},
            {"stops out of order", 1e-5, 0, 1, 10, n, bad_stops, 2},
            {"stop beyond t1", 1e-5, 0, 1, 10, n, late, 1},
            {"stop behind a backward t1", 1e-5, 0, -1, 10, n, bad_stops, 1},
        };
        f->kind = LINEAR;
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            fmcl_adaptive_opts_default(&o);
            o.atol = cases[c].atol;
            o.h0 = cases[c].h0;
            o.max_steps = cases[c].max_steps;
            o.stops = cases[c].stops;
            o.n_stops = cases[c].n_stops;
            ctx->err[0] = 0;
            f->nfe = 0;
            fmcl_status s = fmcl_integrate_adaptive(ctx, &o, 0, cases[c].t1, x1.t, cases[c].len,
                                                    w1.t, velocity, f, NULL, NULL, NULL);
            tl_check(s == FMCL_ERR_ARG && ctx->err[0] && f->nfe == 0, "%s: status %d, message '%s'",
                     cases[c].what, s, ctx->err);
        }
    }
    tl_buf_free(&x1);
    tl_buf_free(&w1);
    free(got);
    free(x);
    free(r);
    free(ref);
}

/* Same device, same input: bit-identical state and statistics. */
static void check_repeat(fmcl_ctx *ctx, field *f, const float *x0)
{
    const int n = f->n;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    run_result *ra = malloc(sizeof *ra), *rb = malloc(sizeof *rb);
    fmcl_adaptive_opts o;
    fmcl_adaptive_opts_default(&o);
    f->kind = ROTATION;
    if (run_device(ctx, f, &o, 0, 1, x0, a, ra) && run_device(ctx, f, &o, 0, 1, x0, b, rb))
        tl_check(ra->status == FMCL_OK && rb->status == FMCL_OK &&
                     memcmp(a, b, n * sizeof *a) == 0 && ra->st.nfe == rb->st.nfe &&
                     memcmp(ra->log.t, rb->log.t, sizeof(float) * ra->log.count) == 0,
                 "two identical runs differ (status %d, %d)", ra->status, rb->status);
    free(a);
    free(b);
    free(ra);
    free(rb);
}

/* ---- the device ops against their references ---- */

static void check_ops(fmcl_ctx *ctx, int n)
{
    float *x = malloc(n * sizeof *x), *k = malloc(7 * (size_t)n * sizeof *k),
          *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got), sc[2];
    tl_fill(x, n, -2.f, 2.f, 11);
    tl_fill(k, 7 * (size_t)n, -3.f, 3.f, 12);
    tl_buf bx, bk1, bkm, bk7, bxs, bp, bs;
    const float h = 0.0371f, atol = 1e-5f, rtol = 1e-4f;
    if (tl_buf_new(ctx, &bx, n, x) && tl_buf_new(ctx, &bk1, n, k) &&
        tl_buf_new(ctx, &bkm, 5 * (size_t)n, k + n) &&
        tl_buf_new(ctx, &bk7, n, k + 6 * (size_t)n) && tl_buf_new(ctx, &bxs, n, NULL) &&
        tl_buf_new(ctx, &bp, fmcl_reduce_partials(n), NULL) && tl_buf_new(ctx, &bs, 2, NULL)) {
        char what[64];
        for (int st = 2; st <= 7; st++) {
            tl_check(fmcl_dopri5_stage(ctx, bxs.t, bx.t, bk1.t, bkm.t, st, h, n) == FMCL_OK,
                     "dopri5_stage: %s", fmcl_ctx_error(ctx));
            fmcl_dopri5_stage_ref(want, x, k, k + n, st, h, n);
            snprintf(what, sizeof what, "dopri5_stage %d n=%d", st, n);
            if (tl_buf_read(ctx, &bxs, got)) tl_close_f(what, got, want, n, 1e-6, 1e-6);
        }
        tl_guard_ok(ctx, &bxs, "dopri5_stage");
        /* x_new for the error norm: the stage-7 state just written */
        tl_check(fmcl_dopri5_error(ctx, bs.t, bx.t, bxs.t, bk1.t, bkm.t, bk7.t, h, atol, rtol, bp.t,
                                   n) == FMCL_OK &&
                     fmcl_scaled_sumsq(ctx, fmcl_at(bs.t, 1), bk1.t, bx.t, atol, rtol, bp.t, n) ==
                         FMCL_OK &&
                     fmcl_read(ctx, bs.t, sc, sizeof sc) == FMCL_OK,
                 "error norms: %s", fmcl_ctx_error(ctx));
        double w[2] = {fmcl_dopri5_error_ref(x, got, k, k + n, k + 6 * (size_t)n, h, atol, rtol, n),
                       fmcl_scaled_sumsq_ref(k, x, atol, rtol, n)};
        snprintf(what, sizeof what, "dopri5_error, scaled_sumsq n=%d", n);
        tl_close(what, sc, w, 2, 0, 1e-5);
        tl_guard_ok(ctx, &bs, "error norms");
        tl_guard_ok(ctx, &bp, "error norm partials");
    }
    tl_buf_free(&bx);
    tl_buf_free(&bk1);
    tl_buf_free(&bkm);
    tl_buf_free(&bk7);
    tl_buf_free(&bxs);
    tl_buf_free(&bp);
    tl_buf_free(&bs);
    free(x);
    free(k);
    free(want);
    free(got);
}

/* ---- through fmcl_sample, on a small random MLP ---- */

static void check_sample(fmcl_ctx *ctx)
{
    fmcl_model *m = tl_mlp(ctx, 2, 24, 2, 0, 0, 7);
    if (!m) return;
    enum { N = 301 };
    static const double times[3] = {0, 0.5, 1}, half[1] = {0.5};
    float *d = malloc(sizeof(float) * N * 2), *rk = malloc(sizeof(float) * N * 2),
          *traj = malloc(sizeof(float) * 3 * N * 2), *rtraj = malloc(sizeof(float) * 2 * N * 2);
    fmcl_sample_stats st = {0}, rst = {0};
    int nfe = 0;
    fmcl_sample_config dc = {.solver = FMCL_SOLVER_DOPRI5,
                             .n = N,
                             .seed = 3,
                             .atol = 1e-6,
                             .rtol = 1e-6,
                             .times = times,
                             .n_times = 3,
                             .stats = &st};
    fmcl_sample_config rc = {.solver = FMCL_SOLVER_RK4,
                             .steps = 200,
                             .n = N,
                             .seed = 3,
                             .times = half,
                             .n_times = 1,
                             .stats = &rst};
    fmcl_status s1 = fmcl_sample(m, &dc, d, traj, &nfe);
    tl_check(s1 == FMCL_OK, "sample dopri5: %s", fmcl_ctx_error(ctx));
    fmcl_status s2 = fmcl_sample(m, &rc, rk, rtraj, NULL);
    tl_check(s2 == FMCL_OK, "sample rk4: %s", fmcl_ctx_error(ctx));
    if (s1 == FMCL_OK && s2 == FMCL_OK) {
        printf("  fmcl_sample dopri5: NFE %d, %d accepted, %d rejected\n", st.nfe, st.accepted,
               st.rejected);
        tl_check(st.solves == 1 && nfe == st.nfe && st.nfe == 2 + 6 * (st.accepted + st.rejected),
                 "sample stats: %d solves, nfe %d / %d, %d + %d steps", st.solves, nfe, st.nfe,
                 st.accepted, st.rejected);
        tl_check(rst.nfe == 800 && rst.accepted == 200 && rst.rejected == 0,
                 "rk4 stats: nfe %d, %d steps", rst.nfe, rst.accepted);
        double *w = malloc(sizeof(double) * N * 2);
        for (int i = 0; i < 2 * N; i++) w[i] = rk[i];
        tl_close("dopri5 samples vs rk4 200 steps", d, w, 2 * N, 2e-5, 2e-5);
        for (int i = 0; i < 2 * N; i++) w[i] = rtraj[i];
        tl_close("dopri5 state at t = 0.5 vs rk4", traj + 2 * N, w, 2 * N, 2e-5, 2e-5);
        tl_check(memcmp(traj + 4 * N, d, sizeof(float) * 2 * N) == 0,
                 "the state recorded at t = 1 is the output");
        free(w);
    }
    /* Two chunks: two solves, each its own steps. */
    float *big = malloc(sizeof(float) * 5000 * 2);
    dc.n = 5000;
    dc.times = NULL;
    tl_check(fmcl_sample(m, &dc, big, NULL, &nfe) == FMCL_OK && st.solves == 2 &&
                 st.nfe == 4 + 6 * (st.accepted + st.rejected) && nfe <= st.nfe,
             "5000 points: %d solves, NFE %d (per solve at most %d), %d + %d steps", st.solves,
             st.nfe, nfe, st.accepted, st.rejected);
    /* Refusals: recording without times, a grid, a negative tolerance. */
    ctx->err[0] = 0;
    dc.n = N;
    tl_check(fmcl_sample(m, &dc, d, traj, NULL) == FMCL_ERR_ARG && strstr(ctx->err, "times"),
             "dopri5 recording without times: '%s'", ctx->err);
    dc.grid = times;
    dc.grid_points = 3;
    tl_check(fmcl_sample(m, &dc, d, NULL, NULL) == FMCL_ERR_ARG && strstr(ctx->err, "grid"),
             "dopri5 with a grid: '%s'", ctx->err);
    dc.grid = NULL;
    dc.atol = -1;
    tl_check(fmcl_sample(m, &dc, d, NULL, NULL) == FMCL_ERR_ARG, "negative atol: '%s'", ctx->err);
    free(big);
    free(d);
    free(rk);
    free(traj);
    free(rtraj);
    fmcl_model_free(m);
}

static int device_checks(fmcl_ctx *ctx, void *user)
{
    (void)user;
    enum { n = 1001 }; /* odd; the rotation uses 1000 (two halves) */
    float *x0 = malloc(n * sizeof *x0);
    for (int i = 0; i < n; i++) x0[i] = 0.5f + 1.5f * i / (n - 1);
    check_ops(ctx, 1);
    check_ops(ctx, 1001);
    check_ops(ctx, 70001); /* more groups than the reduction's cap */
    tl_buf bz;
    if (tl_buf_new(ctx, &bz, n, NULL)) {
        field f = {ctx, bz.t, n, LINEAR, 0, -2.0};
        check_linear(ctx, &f, x0);
        check_vs_ref(ctx, &f, x0, COSINE, 0, 1, 1e-3, 0);
        check_vs_ref(ctx, &f, x0, COSINE, 0, 1, 1e-5, 0);
        check_vs_ref(ctx, &f, x0, COSINE, 1, -0.5, 1e-3, 0.1);
        check_vs_ref(ctx, &f, x0, COSINE, 1, -0.5, 1e-5, 0);
        check_tolerances(ctx, &f, x0, LINEAR);
        check_tolerances(ctx, &f, x0, COSINE);
        check_stops(ctx, &f, x0);
        check_refusals(ctx, &f, x0);
        field r = f;
        r.n = n - 1;
        tl_fill(x0, n - 1, -2.f, 2.f, 4);
        check_vs_ref(ctx, &r, x0, ROTATION, 0, 1, 1e-3, 0);
        check_vs_ref(ctx, &r, x0, ROTATION, 0, 1, 1e-4, 0.05);
        check_tolerances(ctx, &r, x0, ROTATION);
        check_repeat(ctx, &r, x0);
    }
    tl_buf_free(&bz);
    check_sample(ctx);
    free(x0);
    return 0;
}

int main(void) { return tl_for_each_device(device_checks, NULL); }
