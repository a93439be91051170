#include "testlib.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int n_pass, n_fail;
static const float sentinel = 1234.5f;

int tl_check(int ok, const char *fmt, ...)
{
    if (ok) {
        n_pass++;
        return 1;
    }
    n_fail++;
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    return 0;
}

static int close_impl(const char *what, const float *got, const double *wd, const float *wf,
                      size_t n, double atol, double rtol)
{
    double max_abs = 0, max_norm = 0;
    size_t worst = 0;
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

int tl_failures(void) { return n_fail; }

int tl_summary(void)
{
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
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
    size_t total = n + 2 * TL_GUARD;
    float *h = malloc(total * sizeof *h);
    if (!h) return 0;
    for (size_t i = 0; i < total; i++) h[i] = sentinel;
    for (size_t i = 0; i < n; i++) h[TL_GUARD + i] = init ? init[i] : 0.0f;
    b->n = n;
    b->mem = NULL;
    int ok = fmcl_alloc(ctx, total * sizeof *h, &b->mem, "test buffer") == FMCL_OK;
    b->t = (fmcl_t){b->mem, TL_GUARD};
    if (ok) ok = fmcl_write(ctx, (fmcl_t){b->mem, 0}, h, total * sizeof *h) == FMCL_OK;
    free(h);
    if (!ok) printf("FAIL allocating a test buffer: %s\n", fmcl_ctx_error(ctx));
    return ok;
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
    int ok = h && fmcl_read(ctx, (fmcl_t){b->mem, 0}, h, total * sizeof *h) == FMCL_OK;
    for (size_t i = 0; ok && i < TL_GUARD; i++)
        ok = h[i] == sentinel && h[TL_GUARD + b->n + i] == sentinel;
    free(h);
    return tl_check(ok, "%s: write outside its output (guard region changed)", what);
}

void tl_buf_free(tl_buf *b) { fmcl_release(&b->mem); }

int tl_for_each_device(int (*fn)(fmcl_ctx *ctx, void *user), void *user)
{
    char err[1024];
    const char *env = getenv("FMCL_TEST_DEVICES");
    char specs[64][64];
    int nspec = 0;
    if (env && *env) {
        const char *p = env;
        while (*p && nspec < 64) {
            const char *e = strchr(p, ';');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len > 0 && len < sizeof specs[0]) {
                memcpy(specs[nspec], p, len);
                specs[nspec++][len] = 0;
            }
            p += len + (e ? 1 : 0);
        }
    } else {
        fmcl_device_info *devs = NULL;
        int count = 0;
        if (fmcl_devices(&devs, &count, err, sizeof err) != FMCL_OK || count == 0) {
            printf("SKIP: no OpenCL device (%s)\n", err);
            free(devs);
            return TL_SKIP;
        }
        for (int i = 0; i < count && i < 64; i++)
            snprintf(specs[nspec++], sizeof specs[0], "%d:%d", devs[i].platform_index,
                     devs[i].device_index);
        free(devs);
    }
    if (nspec == 0) return TL_SKIP;
    for (int i = 0; i < nspec; i++) {
        fmcl_ctx *ctx = NULL;
        if (fmcl_ctx_create(&ctx, specs[i], err, sizeof err) != FMCL_OK) {
            tl_check(0, "device %s: %s", specs[i], err);
            continue;
        }
        const fmcl_device_info *d = fmcl_ctx_device(ctx);
        printf("== device %s: %s / %s\n", specs[i], d->platform_name, d->device_name);
        fn(ctx, user);
        fmcl_ctx_destroy(ctx);
    }
    return tl_summary();
}
