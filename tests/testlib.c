#include "testlib.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Where checks are counted: the host (outside tl_run_devices), or one record
 * per device spec, which also says why a device did not run. */
#define TL_MAX_DEVICES 64
#define TL_MAX_SKIPS 32
typedef struct {
    char spec[64], name[300], skipped[400];
    int checks, fails;
} tl_count;

static tl_count host = {.spec = "host"}, devices[TL_MAX_DEVICES];
static int n_devices, current = -1, devices_asked;
static char skips[TL_MAX_SKIPS][400];
static int n_skips;
static const float sentinel = 1234.5f;

static tl_count *here(void) { return current >= 0 ? &devices[current] : &host; }

/* A failure that is not the outcome of a check (a setup step, the harness's
 * own findings): counted where we are, printed with the device's spec. */
static void vfail(tl_count *c, const char *fmt, va_list ap)
{
    c->fails++;
    if (c == &host)
        printf("FAIL ");
    else
        printf("FAIL [%s] ", c->spec);
    vprintf(fmt, ap);
    printf("\n");
}

static void fail(tl_count *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(tl_count *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, fmt, ap);
    va_end(ap);
}

int tl_check(int ok, const char *fmt, ...)
{
    tl_count *c = here();
    c->checks++;
    if (ok) return 1;
    va_list ap;
    va_start(ap, fmt);
    vfail(c, fmt, ap);
    va_end(ap);
    return 0;
}

void tl_skip(const char *fmt, ...)
{
    char msg[sizeof skips[0]];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("SKIP %s\n", msg);
    msg[strcspn(msg, "\n")] = 0; /* the summary keeps one line each */
    if (n_skips < TL_MAX_SKIPS) memcpy(skips[n_skips], msg, sizeof msg);
    n_skips++;
}

static int close_impl(const char *what, const float *got, const double *wd, const float *wf,
                      size_t n, double atol, double rtol)
{
    double max_abs = 0, max_norm = 0;
    size_t worst = 0;
    if (n == 0) /* a comparison of nothing could not fail */
        return tl_check(0, "%s: no elements to compare", what);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        double w = wd ? wd[i] : (double)wf[i];
        double d = fabs((double)got[i] - w);
        if (!(d <= atol + rtol * fabs(w))) { /* NaN fails too */
            if (ok) worst = i;
            ok = 0;
        }
        if (d > max_abs || d != d) max_abs = d;
        double nd = d / (atol + rtol * fabs(w));
        if (nd > max_norm || nd != nd) max_norm = nd;
    }
    printf("  %-40s n=%-8zu max|err|=%.3g  err/tol=%.3g  %s\n", what, n, max_abs, max_norm,
           ok ? "ok" : "FAIL");
    if (!ok)
        printf("    first failure at %zu: got %.9g want %.9g\n", worst, (double)got[worst],
               wd ? wd[worst] : (double)wf[worst]);
    return tl_check(ok, "%s exceeds tolerance (atol %g, rtol %g)", what, atol, rtol);
}

int tl_close(const char *what, const float *got, const double *want, size_t n, double atol,
             double rtol)
{
    return close_impl(what, got, want, NULL, n, atol, rtol);
}

int tl_close_f(const char *what, const float *got, const float *want, size_t n, double atol,
               double rtol)
{
    return close_impl(what, got, NULL, want, n, atol, rtol);
}

int tl_failures(void)
{
    int n = host.fails;
    for (int i = 0; i < n_devices; i++) n += devices[i].fails;
    return n;
}

int tl_summary(void)
{
    int checks = host.checks, ran = 0;
    printf("== checks: host: %d checks, %d failures\n", host.checks, host.fails);
    for (int i = 0; i < n_devices; i++) {
        const tl_count *d = &devices[i];
        if (d->skipped[0]) continue;
        printf("== checks: device %s (%s): %d checks, %d failures\n", d->spec, d->name, d->checks,
               d->fails);
        checks += d->checks;
        ran++;
    }
    for (int i = 0; i < n_skips && i < TL_MAX_SKIPS; i++) printf("== skipped: %s\n", skips[i]);
    if (n_skips > TL_MAX_SKIPS) printf("== skipped: %d more\n", n_skips - TL_MAX_SKIPS);
    int none = devices_asked && ran == 0;
    /* Counted once: tl_summary may run again after more checks. */
    static int no_check_counted;
    if (checks == 0 && !none && !no_check_counted) {
        no_check_counted = 1;
        fail(&host, "this test ran no check");
    }
    int failures = tl_failures();
    printf("== summary: %d checks, %d failures, %d skipped%s\n", checks, failures, n_skips,
           none && !failures ? "; no device ran: SKIP" : "");
    return failures ? 1 : none ? TL_SKIP : 0;
}

void tl_fill(float *x, size_t n, float lo, float hi, uint32_t seed)
{
    uint64_t s = 0x9E3779B97F4A7C15ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = lo + (hi - lo) * (float)((s >> 40) * (1.0 / 16777216.0));
    }
}

int tl_buf_new(fmcl_ctx *ctx, tl_buf *b, size_t n, const float *init)
{
    b->n = n;
    b->mem = (fmcl_t){0};
    b->t = (fmcl_t){NULL, TL_GUARD};
    if (n > SIZE_MAX / sizeof(float) - 2 * TL_GUARD) {
        fail(here(), "a test buffer of %zu floats does not fit in memory", n);
        return 0;
    }
    /* The device's refusal first: a buffer past max_alloc asks no host memory. */
    size_t total = n + 2 * TL_GUARD;
    if (fmcl_alloc(ctx, total * sizeof(float), &b->mem, "test buffer") != FMCL_OK) {
        fail(here(), "allocating a test buffer of %zu floats: %s", n, fmcl_ctx_error(ctx));
        return 0;
    }
    float *h = malloc(total * sizeof *h);
    if (!h) {
        fail(here(), "no host memory for a test buffer of %zu floats", n);
        tl_buf_free(b);
        return 0;
    }
    for (size_t i = 0; i < total; i++) h[i] = sentinel;
    for (size_t i = 0; i < n; i++) h[TL_GUARD + i] = init ? init[i] : 0.0f;
    b->t = fmcl_at(b->mem, TL_GUARD);
    fmcl_status s = fmcl_write(ctx, b->mem, h, total * sizeof *h);
    free(h);
    if (s != FMCL_OK) {
        fail(here(), "writing a test buffer of %zu floats: %s", n, fmcl_ctx_error(ctx));
        tl_buf_free(b);
        return 0;
    }
    return 1;
}

int tl_buf_read(fmcl_ctx *ctx, const tl_buf *b, float *out)
{
    fmcl_status s = fmcl_read(ctx, b->t, out, b->n * sizeof *out);
    return tl_check(s == FMCL_OK, "read back: %s", fmcl_ctx_error(ctx));
}

int tl_guard_ok(fmcl_ctx *ctx, const tl_buf *b, const char *what)
{
    size_t total = b->n + 2 * TL_GUARD;
    float *h = malloc(total * sizeof *h);
    if (!h) {
        fail(here(), "%s: no host memory to read the guard regions back", what);
        return 0;
    }
    if (fmcl_read(ctx, b->mem, h, total * sizeof *h) != FMCL_OK) {
        fail(here(), "%s: reading the guard regions back: %s", what, fmcl_ctx_error(ctx));
        free(h);
        return 0;
    }
    int ok = 1;
    for (size_t i = 0; ok && i < TL_GUARD; i++)
        ok = h[i] == sentinel && h[TL_GUARD + b->n + i] == sentinel;
    free(h);
    return tl_check(ok, "%s: write outside its output (guard region changed)", what);
}

void tl_buf_free(tl_buf *b)
{
    fmcl_release(&b->mem);
    b->t = (fmcl_t){NULL, TL_GUARD};
}

/* The specs to run: $FMCL_TEST_DEVICES, else every device found. Returns how
 * many, 0 after a skip or a failure it has reported. */
static int device_specs(char (*specs)[64], int cap)
{
    const char *env = getenv("FMCL_TEST_DEVICES");
    int n = 0;
    if (env && *env) {
        for (const char *p = env; *p;) {
            const char *e = strchr(p, ';');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len >= sizeof specs[0] || (len > 0 && n == cap)) {
                fail(&host, "FMCL_TEST_DEVICES: '%.*s' is %s", (int)len, p,
                     len >= sizeof specs[0] ? "longer than 63 characters" : "one spec too many");
                return 0;
            }
            if (len > 0) {
                memcpy(specs[n], p, len);
                specs[n++][len] = 0;
            }
            p += len + (e ? 1 : 0);
        }
        if (n == 0) tl_skip("FMCL_TEST_DEVICES='%s' names no device", env);
        return n;
    }
    char err[1024] = "";
    fmcl_device_info *devs = NULL;
    int count = 0;
    fmcl_status s = fmcl_devices_list(&devs, &count, err, sizeof err);
    if (s == FMCL_OK || s == FMCL_ERR_NO_PLATFORM || s == FMCL_ERR_NO_DEVICE) {
        if (count == 0) tl_skip("no OpenCL device (%s)", err[0] ? err : "none found");
        for (int i = 0; i < count && n < cap; i++)
            snprintf(specs[n++], sizeof specs[0], "%d:%d", devs[i].platform_index,
                     devs[i].device_index);
        for (int i = cap; i < count; i++)
            tl_skip("device %d:%d (%s / %s): more than %d devices", devs[i].platform_index,
                    devs[i].device_index, devs[i].platform_name, devs[i].device_name, cap);
    } else {
        fail(&host, "listing the OpenCL devices: %s", err);
    }
    fmcl_devices_free(devs);
    return n;
}

int tl_run_devices(int (*fn)(fmcl_ctx *ctx, void *user), void *user)
{
    char specs[TL_MAX_DEVICES][64], err[2048];
    devices_asked = 1;
    int nspec = device_specs(specs, TL_MAX_DEVICES), ran = 0;
    for (int i = 0; i < nspec && n_devices < TL_MAX_DEVICES; i++) {
        tl_count *d = &devices[n_devices++];
        memset(d, 0, sizeof *d);
        snprintf(d->spec, sizeof d->spec, "%.63s", specs[i]);
        fmcl_ctx *ctx = NULL;
        err[0] = 0;
        fmcl_status s = fmcl_ctx_create(&ctx, specs[i], err, sizeof err);
        if (s == FMCL_ERR_UNSUPPORTED || s == FMCL_ERR_NO_DEVICE || s == FMCL_ERR_NO_PLATFORM) {
            snprintf(d->skipped, sizeof d->skipped, "device %.63s (%s)", specs[i],
                     fmcl_status_name(s));
            tl_skip("%s: %s", d->skipped, err);
            continue;
        }
        if (s != FMCL_OK) {
            snprintf(d->name, sizeof d->name, "no context");
            fail(d, "device %s: creating a context: %s", d->spec, err);
            continue;
        }
        const fmcl_device_info *info = fmcl_ctx_device(ctx);
        snprintf(d->name, sizeof d->name, "%s / %s", info->platform_name, info->device_name);
        printf("== device %s: %s\n", d->spec, d->name);
        current = (int)(d - devices);
        int rc = fn(ctx, user);
        if (rc != 0) fail(d, "device %s (%s): the test function returned %d", d->spec, d->name, rc);
        if (d->checks == 0) fail(d, "device %s (%s): ran no check", d->spec, d->name);
        current = -1;
        fmcl_ctx_free(ctx);
        ran++;
    }
    return ran;
}

int tl_for_each_device(int (*fn)(fmcl_ctx *ctx, void *user), void *user)
{
    tl_run_devices(fn, user);
    return tl_summary();
}

fmcl_model *tl_mlp(fmcl_ctx *ctx, int dim, int width, int depth, int F, int K, uint64_t seed)
{
    fmcl_model_config mc;
    fmcl_model_config_default(&mc, FMCL_MODEL_MLP);
    mc.dim = dim, mc.classes = K;
    mc.mlp = (fmcl_mlp_config){.width = width, .depth = depth, .time_freqs = F};
    fmcl_model *m = NULL;
    fmcl_status s = fmcl_model_create(ctx, &mc, seed, &m);
    tl_check(s == FMCL_OK, "MLP %d-%dx%d (F %d, K %d): %s", dim, width, depth, F, K,
             fmcl_ctx_error(ctx));
    return m;
}

fmcl_data *tl_toy(fmcl_toy which)
{
    char err[256] = "";
    fmcl_data *d = NULL;
    tl_check(fmcl_data_create_toy(which, &d, err, sizeof err) == FMCL_OK, "toy set %d: %s",
             (int)which, err);
    return d;
}

fmcl_data *tl_points(const float *x, int n, int dim)
{
    char err[256] = "";
    fmcl_data *d = NULL;
    tl_check(fmcl_data_create_points(x, n, dim, &d, err, sizeof err) == FMCL_OK,
             "%d points of %d dimensions: %s", n, dim, err);
    return d;
}

fmcl_data *tl_pixels(const uint8_t *pixels, const uint8_t *labels, int n, int c, int h, int w)
{
    char err[256] = "";
    fmcl_data *d = NULL;
    const int shape[3] = {c, h, w};
    tl_check(fmcl_data_create_pixels(pixels, labels, n, shape, &d, err, sizeof err) == FMCL_OK,
             "%d images of %d x %d x %d: %s", n, c, h, w, err);
    return d;
}
