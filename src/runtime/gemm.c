/* GEMM through CLBlast: the only file that includes it. One temporary buffer
 * is sized at setup (fmcl_gemm_reserve) so that calls inside a training step
 * allocate nothing. CLBlast's built-in parameters are poor on some devices
 * (PoCL on x86: ~7 GFLOP/s where tuned ones give ~40), so parameters tuned
 * here, shipped in data/clblast_tuned.txt, are applied when the device
 * matches. */
#include "runtime/runtime.h"

#include <clblast_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char fmcl_tuned_params[];

#define MAX_TUNED 32

/* Applies one "Kernel NAME=VALUE ..." line; CLBlast wants every parameter of
 * the kernel at once. */
static void apply_line(fmcl_ctx *ctx, const char *line, size_t len)
{
    char buf[1024], *names[MAX_TUNED], *save = NULL;
    size_t values[MAX_TUNED], n = 0;
    if (len >= sizeof buf) return;
    memcpy(buf, line, len);
    buf[len] = 0;
    char *kernel = strtok_r(buf, " \t", &save);
    for (char *tok = strtok_r(NULL, " \t", &save); tok && n < MAX_TUNED;
         tok = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) return;
        *eq = 0;
        names[n] = tok;
        values[n++] = strtoul(eq + 1, NULL, 10);
    }
    if (!kernel || n == 0) return;
    CLBlastStatusCode rc = CLBlastOverrideParameters(ctx->device, kernel, CLBlastPrecisionSingle,
                                                     n, (const char **)names, values);
    if (rc != CLBlastSuccess)
        fmcl_note(ctx,
                  "warning: tuned CLBlast parameters for %s rejected (status %d), using "
                  "CLBlast's defaults\n",
                  kernel, (int)rc);
    else
        fmcl_note(ctx, "tuned CLBlast parameters applied: %s\n", kernel);
}

/* data/clblast_tuned.txt: "device PLATFORM | DEVICE" lines start a section
 * whose kernel lines apply to that exact platform and device name. */
void fmcl_gemm_apply_tuning(fmcl_ctx *ctx)
{
    const char *env = getenv("FMCL_NO_TUNING");
    if (env && *env && strcmp(env, "0") != 0) return;
    char want[300];
    snprintf(want, sizeof want, "device %s | %s", ctx->info.platform_name, ctx->info.device_name);
    int match = 0;
    for (const char *p = fmcl_tuned_params; *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 7 && strncmp(p, "device ", 7) == 0)
            match = len == strlen(want) && strncmp(p, want, len) == 0;
        else if (match && len > 0 && p[0] != '#')
            apply_line(ctx, p, len);
        p += len + (end ? 1 : 0);
    }
}

static CLBlastTranspose tr(int t) { return t ? CLBlastTransposeYes : CLBlastTransposeNo; }

static fmcl_status gemm_fail(fmcl_ctx *ctx, CLBlastStatusCode rc, const char *what, int M, int N,
                             int K)
{
    if (rc == CLBlastInsufficientMemoryTemp || rc == CLBlastInsufficientMemoryC ||
        rc == CL_MEM_OBJECT_ALLOCATION_FAILURE || rc == CL_OUT_OF_RESOURCES)
        return fmcl_fail(ctx, FMCL_ERR_NOMEM,
                         "%s %dx%dx%d: out of device memory (CLBlast status %d); use a smaller "
                         "--batch or --width",
                         what, M, N, K, (int)rc);
    return fmcl_fail(ctx, FMCL_ERR_GEMM, "%s %dx%dx%d failed: CLBlast status %d on %s", what, M, N,
                     K, (int)rc, ctx->info.device_name);
}

fmcl_status fmcl_gemm_reserve(fmcl_ctx *ctx, int ta, int tb, int M, int N, int K, int lda,
                              int ldb, int ldc)
{
    size_t bytes = 0;
    CLBlastStatusCode rc =
        CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, tr(ta), tr(tb), (size_t)M, (size_t)N,
                                   (size_t)K, 0, (size_t)lda, 0, (size_t)ldb, 0, (size_t)ldc,
                                   &ctx->queue, &bytes);
    if (rc != CLBlastSuccess) return gemm_fail(ctx, rc, "sizing GEMM scratch", M, N, K);
    if (bytes <= ctx->gemm_tmp_bytes && ctx->gemm_tmp) return FMCL_OK;
    fmcl_status s = fmcl_finish(ctx); /* the old buffer may still be in use */
    if (s != FMCL_OK) return s;
    fmcl_release(&ctx->gemm_tmp);
    ctx->gemm_tmp_bytes = 0;
    s = fmcl_alloc(ctx, bytes, &ctx->gemm_tmp, "GEMM scratch buffer");
    if (s == FMCL_OK) ctx->gemm_tmp_bytes = bytes;
    return s;
}

fmcl_status fmcl_gemm(fmcl_ctx *ctx, int ta, int tb, int M, int N, int K, float alpha, fmcl_t A,
                      int lda, fmcl_t B, int ldb, float beta, fmcl_t C, int ldc)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "GEMM with empty shape %dx%dx%d", M, N, K);
    CLBlastStatusCode rc;
    if (ctx->gemm_tmp)
        rc = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, tr(ta), tr(tb), (size_t)M,
                                        (size_t)N, (size_t)K, alpha, A.mem, A.off, (size_t)lda,
                                        B.mem, B.off, (size_t)ldb, beta, C.mem, C.off,
                                        (size_t)ldc, &ctx->queue, NULL, ctx->gemm_tmp);
    else
        rc = CLBlastSgemm(CLBlastLayoutRowMajor, tr(ta), tr(tb), (size_t)M, (size_t)N, (size_t)K,
                          alpha, A.mem, A.off, (size_t)lda, B.mem, B.off, (size_t)ldb, beta,
                          C.mem, C.off, (size_t)ldc, &ctx->queue, NULL);
    return rc == CLBlastSuccess ? FMCL_OK : gemm_fail(ctx, rc, "GEMM", M, N, K);
}

void fmcl_gemm_release(fmcl_ctx *ctx)
{
    /* CLBlast caches programs per context in process-wide state; drop them
     * while the context is alive, not in its own exit-time destructors. */
    CLBlastClearCache();
    fmcl_release(&ctx->gemm_tmp);
    ctx->gemm_tmp_bytes = 0;
}

void fmcl_gemm_ref(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                acc += a * b;
            }
            double c = beta == 0.0f ? 0.0 : (double)beta * C[(size_t)i * ldc + j];
            C[(size_t)i * ldc + j] = (float)(alpha * acc + c);
        }
}
