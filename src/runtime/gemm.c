/* GEMM through CLBlast: the only file that includes it. One temporary buffer
 * is sized at setup (fmcl_gemm_reserve) so that calls inside a training step
 * allocate nothing. */
#include "runtime/runtime.h"

#include <clblast_c.h>

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
