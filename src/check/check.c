/* The self-check's harness (see check.h) and fmcl_check_ops, which runs the
 * op families in the order a training step and a sampler use them. */
#include "check/check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An odd value no op produces from the checks' inputs. */
static const float sentinel = 1234.5f;

const char *fmcl_check_status_name(fmcl_check_status s)
{
    switch (s) {
    case FMCL_CHECK_OK: return "OK";
    case FMCL_CHECK_FAIL: return "FAIL";
    case FMCL_CHECK_NOT_SUPPORTED: return "NOT SUPPORTED";
    }
    return "?";
}

chk_tol chk_gemm_tol(int K)
{
    double grow = K > 256 ? sqrt(K / 256.0) : 1.0;
    return (chk_tol){1e-3 * grow, 5e-3 * grow};
}

void chk_suite_init(chk_suite *s, fmcl_ctx *ctx, const fmcl_check_options *opt, fmcl_check_fn fn,
                    void *user)
{
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    if (opt) s->opt = *opt;
    if (!(s->opt.tol_scale > 0)) s->opt.tol_scale = 1.0;
    s->fn = fn;
    s->user = user;
}

fmcl_status chk_suite_end(chk_suite *s, int *failures)
{
    if (failures) *failures = s->failures;
    if (s->host_oom)
        return fmcl_fail(s->ctx, FMCL_ERR_NOMEM,
                         "the self-check ran out of host memory; close other programs and retry");
    return FMCL_OK;
}

void chk_begin(chk_case *c, chk_suite *s, const char *op, const char *shape_fmt, ...)
{
    memset(c, 0, sizeof *c);
    c->s = s;
    c->r.op = op;
    c->r.status = FMCL_CHECK_OK;
    va_list ap;
    va_start(ap, shape_fmt);
    vsnprintf(c->r.shape, sizeof c->r.shape, shape_fmt, ap);
    va_end(ap);
}

static void set_reason(chk_case *c, fmcl_check_status st, const char *fmt, va_list ap)
{
    if (c->r.status == FMCL_CHECK_OK) {
        c->r.status = st;
        vsnprintf(c->r.reason, sizeof c->r.reason, fmt, ap);
    }
}

void chk_fail(chk_case *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_reason(c, FMCL_CHECK_FAIL, fmt, ap);
    va_end(ap);
}

static void stop(chk_case *c, fmcl_check_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void stop(chk_case *c, fmcl_check_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_reason(c, st, fmt, ap);
    va_end(ap);
    c->broken = 1;
}

static void *host_alloc(chk_case *c, size_t bytes)
{
    if (c->broken) return NULL;
    if (c->n_host == CHK_MAX_HOST) {
        stop(c, FMCL_CHECK_FAIL, "internal: more than %d host arrays in one check", CHK_MAX_HOST);
        return NULL;
    }
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        c->s->host_oom = 1;
        stop(c, FMCL_CHECK_FAIL, "out of host memory for the reference (%zu bytes)", bytes);
        return NULL;
    }
    c->host[c->n_host++] = p;
    return p;
}

float *chk_host(chk_case *c, size_t n) { return host_alloc(c, n * sizeof(float)); }
double *chk_host_d(chk_case *c, size_t n) { return host_alloc(c, n * sizeof(double)); }

float *chk_dup(chk_case *c, const float *x, size_t n)
{
    float *y = chk_host(c, n);
    if (y) memcpy(y, x, n * sizeof *y);
    return y;
}

double *chk_widen(chk_case *c, const float *x, size_t n)
{
    double *y = chk_host_d(c, n);
    for (size_t i = 0; y && i < n; i++) y[i] = x[i];
    return y;
}

int chk_status(chk_case *c, fmcl_status st)
{
    if (c->broken) return 0;
    if (st == FMCL_OK) return 1;
    /* The device refused a work-group size or could not make an allocation:
     * it lacks something fmcl needs, which is not a wrong answer. */
    int unsupported = st == FMCL_ERR_UNSUPPORTED || st == FMCL_ERR_NOMEM;
    stop(c, unsupported ? FMCL_CHECK_NOT_SUPPORTED : FMCL_CHECK_FAIL, "%s",
         fmcl_ctx_error(c->s->ctx));
    return 0;
}

fmcl_t chk_buf(chk_case *c, const float *init, size_t n)
{
    fmcl_t t = {NULL, 0};
    size_t total = n + 2 * CHK_GUARD;
    if (c->broken) return t;
    if (c->n_bufs == CHK_MAX_BUFS) {
        stop(c, FMCL_CHECK_FAIL, "internal: more than %d buffers in one check", CHK_MAX_BUFS);
        return t;
    }
    /* The device buffer first: one the device cannot hold is refused before
     * the host fills a copy. */
    fmcl_t mem = {0};
    fmcl_ctx *ctx = c->s->ctx;
    if (!chk_status(c, fmcl_alloc(ctx, total * sizeof(float), &mem, "a self-check buffer")))
        return t;
    c->bufs[c->n_bufs++] = mem;
    float *h = chk_host(c, total);
    if (!h) return t;
    for (size_t i = 0; i < total; i++) h[i] = sentinel;
    for (size_t i = 0; i < n; i++) h[CHK_GUARD + i] = init ? init[i] : 0.0f;
    if (!chk_status(c, fmcl_write(ctx, mem, h, total * sizeof *h))) return t;
    return fmcl_at(mem, CHK_GUARD);
}

/* Reads a chk_buf view with its guards into case scratch; NULL on failure. */
static float *read_guarded(chk_case *c, const char *name, fmcl_t out, size_t n)
{
    if (c->broken) return NULL;
    size_t total = n + 2 * CHK_GUARD;
    float *h = chk_host(c, total);
    if (!h || !chk_status(c, fmcl_read(c->s->ctx, (fmcl_t){out.mem, out.off - CHK_GUARD}, h,
                                       total * sizeof *h)))
        return NULL;
    if (c->s->opt.tamper) c->s->opt.tamper(c->s->opt.tamper_user, c->r.op, h, n, CHK_GUARD);
    for (size_t i = 0; i < CHK_GUARD; i++) {
        size_t hi = CHK_GUARD + n + i;
        if (h[i] != sentinel || h[hi] != sentinel) {
            long at = h[i] != sentinel ? -(long)(CHK_GUARD - i) : (long)(n + i);
            chk_fail(c, "%s: wrote outside its output (element %ld of %zu changed to %g)", name, at,
                     n, (double)h[h[i] != sentinel ? i : hi]);
            break;
        }
    }
    return h + CHK_GUARD;
}

static void compare(chk_case *c, const char *name, const float *got, const double *wd,
                    const float *wf, size_t n, chk_tol tol)
{
    double scale = c->s->opt.tol_scale;
    for (size_t i = 0; i < n; i++) {
        /* cppcheck-suppress nullPointer ; every caller gives exactly one of wd and wf */
        double w = wd ? wd[i] : (double)wf[i];
        double d = fabs((double)got[i] - w);
        double t = scale * fmax(tol.atol, tol.rtol * fabs(w));
        double ratio = d == 0 ? 0 : t > 0 ? d / t : INFINITY;
        if (d > c->r.max_err || d != d) c->r.max_err = d;
        if (ratio > c->r.norm_err || ratio != ratio) c->r.norm_err = ratio;
        if (!(d <= t)) /* NaN fails too */
            chk_fail(c, "%s[%zu] = %.9g, reference %.9g: |err| %.3g > tolerance %.3g", name, i,
                     (double)got[i], w, d, t);
    }
}

void chk_expect(chk_case *c, const char *name, fmcl_t out, size_t n, const double *want,
                chk_tol tol)
{
    float *got = read_guarded(c, name, out, n);
    if (got && want) compare(c, name, got, want, NULL, n, tol);
}

void chk_expect_f(chk_case *c, const char *name, fmcl_t out, size_t n, const float *want,
                  chk_tol tol)
{
    float *got = read_guarded(c, name, out, n);
    if (got && want) compare(c, name, got, NULL, want, n, tol);
}

void chk_guards(chk_case *c, const char *name, fmcl_t out, size_t n)
{
    read_guarded(c, name, out, n);
}

void chk_compare(chk_case *c, const char *name, const float *got, const double *want, size_t n,
                 chk_tol tol)
{
    float *g = chk_dup(c, got, n);
    if (!g) return;
    if (c->s->opt.tamper) c->s->opt.tamper(c->s->opt.tamper_user, c->r.op, g, n, 0);
    compare(c, name, g, want, NULL, n, tol);
}

void chk_end(chk_case *c)
{
    if (c->r.status == FMCL_CHECK_FAIL) c->s->failures++;
    if (c->s->fn) c->s->fn(c->s->user, &c->r);
    for (int i = 0; i < c->n_bufs; i++) fmcl_release(&c->bufs[i]);
    for (int i = 0; i < c->n_host; i++) free(c->host[i]);
    c->n_bufs = c->n_host = 0;
}

void chk_fill(float *x, size_t n, float lo, float hi, uint32_t seed)
{
    uint64_t s = 0x9E3779B97F4A7C15ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = lo + (hi - lo) * (float)((s >> 40) * (1.0 / 16777216.0));
    }
}

fmcl_status fmcl_check_ops(fmcl_ctx *ctx, const fmcl_check_options *opt, fmcl_check_fn fn,
                           void *user, int *failures)
{
    chk_suite s;
    chk_suite_init(&s, ctx, opt, fn, user);
    chk_flow_ops(&s);
    chk_gemm_ops(&s);
    chk_nn_ops(&s);
    chk_layer_ops(&s);
    chk_unet_ops(&s);
    chk_solver_ops(&s);
    chk_nll_ops(&s);
    chk_image_ops(&s);
    chk_class_ops(&s);
    chk_peak_ops(&s);
    return chk_suite_end(&s, failures);
}
