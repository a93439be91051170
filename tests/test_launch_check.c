/* Launch checks (src/runtime/launch_check.c) on every device: a launch whose
 * signature disagrees with the kernel's parameters (a kind, the count) is
 * refused with FMCL_ERR_ARG naming the kernel, the argument, its declared
 * type and the given kind, and runs nothing; the right signature is
 * accepted, before and after refusals. FMCL_CHECK_LAUNCHES=1 turns the
 * checks on whatever the build; a driver without parameter info is named
 * and skipped. */
#include <stdlib.h>
#include <string.h>

#include "runtime/vec.h"
#include "testlib.h"

enum { N = 37 };

/* A refused launch: FMCL_ERR_ARG, every word in the message, x untouched. */
static void refused(fmcl_ctx *ctx, fmcl_status s, const char *what, const char *words,
                    const tl_buf *x)
{
    const char *msg = fmcl_ctx_error(ctx);
    int all = 1;
    char copy[256];
    snprintf(copy, sizeof copy, "%s", words);
    for (char *w = strtok(copy, "|"); w; w = strtok(NULL, "|")) all &= strstr(msg, w) != NULL;
    tl_check(s == FMCL_ERR_ARG && all, "%s: expected FMCL_ERR_ARG naming %s, got %s: %s", what,
             words, fmcl_status_name(s), msg);
    float got[N];
    int untouched = tl_buf_read(ctx, x, got);
    for (int i = 0; untouched && i < N; i++) untouched = got[i] == 1.0f;
    tl_check(untouched, "%s: the refused launch wrote its output", what);
    printf("  refused %-28s %s\n", what, msg);
}

/* fill(__global float *x, uint x_off, float value, int n) filled with v. */
static int accepted(fmcl_ctx *ctx, const tl_buf *x, float v, const char *what)
{
    fmcl_status s = fmcl_run1(ctx, FMCL_K_fill, N, "tfi", x->t, (double)v, N);
    float got[N];
    int ok = s == FMCL_OK && tl_buf_read(ctx, x, got);
    for (int i = 0; ok && i < N; i++) ok = got[i] == v;
    return tl_check(ok, "%s: fill with its own signature: %s", what, fmcl_ctx_error(ctx));
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    tl_buf x;
    if (!tl_buf_new(ctx, &x, N, NULL)) return 1;
    if (!accepted(ctx, &x, 1.0f, "first launch")) goto done;
    if (!ctx->check_launches) {
        /* Only a driver without parameter info turns the checks off. */
        tl_check(strstr(fmcl_ctx_notes(ctx), "launch checks: skipped") != NULL,
                 "launch checks are off without a note saying why");
        printf("SKIP (part): %s", strstr(fmcl_ctx_notes(ctx), "launch checks"));
        goto done;
    }
    fmcl_t t = x.t;
    refused(ctx, fmcl_run1(ctx, FMCL_K_fill, N, "tii", t, 2, N), "int for float",
            "kernel fill|argument 2|float value|'i'", &x);
    refused(ctx, fmcl_run1(ctx, FMCL_K_fill, N, "tfl", t, 2.0, (uint64_t)N), "ulong for int",
            "kernel fill|argument 3|int n|'l'", &x);
    refused(ctx, fmcl_run1(ctx, FMCL_K_fill, N, "ffi", 2.0, 2.0, N), "float for a tensor",
            "kernel fill|argument 0|__global float*|'f'", &x);
    refused(ctx, fmcl_run1(ctx, FMCL_K_fill, N, "Lfi", (size_t)64, 2.0, N), "local for global",
            "kernel fill|argument 0|__global|'L'", &x);
    refused(ctx, fmcl_run1(ctx, FMCL_K_fill, N, "ttfi", t, t, 2.0, N), "tensor for float",
            "kernel fill|argument 2|float value|'t'", &x);
    refused(ctx, fmcl_run1(ctx, FMCL_K_fill, N, "tfii", t, 2.0, N, N), "one argument more",
            "kernel fill|declares 4 arguments|gives 5", &x);
    refused(ctx, fmcl_run1(ctx, FMCL_K_fill, N, "tf", t, 2.0), "one argument less",
            "kernel fill|declares 4 arguments|gives 3", &x);
    /* uint against int: randn(x, x_off, ulong seed, uint stream, uint step, int n). */
    refused(ctx, fmcl_run1(ctx, FMCL_K_randn, N, "tliui", t, (uint64_t)1, 2, 3u, N), "int for uint",
            "kernel randn|argument 3|uint stream|'i'", &x);
    accepted(ctx, &x, 3.0f, "after refusals");
    accepted(ctx, &x, 4.0f, "checked once");
    tl_check(strcmp(ctx->checked[fmcl_kernel_slot(ctx, FMCL_K_fill)], "tfi") == 0,
             "the accepted signature is kept as fill's verdict");
    /* The program carries the parameter info the checks read. */
    char opts[512] = "";
    clGetProgramBuildInfo(ctx->program, ctx->device, CL_PROGRAM_BUILD_OPTIONS, sizeof opts - 1,
                          opts, NULL);
    tl_check(strstr(opts, "-cl-kernel-arg-info") != NULL,
             "checking, but the program was built without -cl-kernel-arg-info (%s)", opts);
done:
    tl_buf_free(&x);
    return 0;
}

int main(void)
{
    setenv("FMCL_CHECK_LAUNCHES", "1", 1);
    int rc = tl_for_each_device(run, NULL);
    return rc == TL_SKIP && tl_failures() ? 1 : rc;
}
