/* GEMM through CLBlast (the only file that includes it) or fmcl's packed
 * kernels (gemm_packed.c; PoCL's CPU devices by default). One temporary
 * buffer is sized at setup (fmcl_gemm_reserve) so that calls inside a
 * training step allocate nothing. CLBlast's built-in parameters are poor on
 * some devices (PoCL on x86: ~7 GFLOP/s where tuned ones give ~40), so
 * parameters from `fmcl tune` (the user's cache folder) or shipped in
 * data/clblast_tuned.txt are applied when device, driver and CLBlast match
 * (tune.h). */
#include "runtime/runtime.h"

#include <clblast_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/atomic.h"
#include "runtime/profile.h"
#include "runtime/tune.h"

extern const char fmcl_tuned_params[];

#define STR_(x) #x
#define STR(x) STR_(x)

const char *fmcl_clblast_version(void)
{
    return STR(CLBLAST_VERSION_MAJOR) "." STR(CLBLAST_VERSION_MINOR) "." STR(CLBLAST_VERSION_PATCH);
}

fmcl_status fmcl_gemm_override(fmcl_ctx *ctx, const fmcl_tune_kernel *k)
{
    const char *names[FMCL_TUNE_MAX_PARAMS];
    for (int i = 0; i < k->n; i++) names[i] = k->param[i];
    CLBlastStatusCode rc = CLBlastOverrideParameters(ctx->device, k->name, CLBlastPrecisionSingle,
                                                     (size_t)k->n, names, k->value);
    if (rc == CLBlastSuccess) return FMCL_OK;
    const char *why = rc == CLBlastInvalidOverrideKernel      ? "no such kernel"
                      : rc == CLBlastMissingOverrideParameter ? "not every parameter given"
                      : rc == CLBlastInvalidLocalMemUsage     ? "too much local memory"
                                                              : "refused";
    return fmcl_fail(ctx, FMCL_ERR_GEMM, "CLBlast %s parameters: %s (status %d)", k->name, why,
                     (int)rc);
}

/* Applies every kernel of s; 1 when CLBlast took all of them. */
static int apply_set(fmcl_ctx *ctx, const fmcl_tune_set *s, const char *from,
                     fmcl_tuned_from source)
{
    int all = 1;
    for (int i = 0; i < s->n_kernels; i++)
        if (fmcl_gemm_override(ctx, &s->kernel[i]) != FMCL_OK) {
            fmcl_note(ctx, "warning: %s: %s; CLBlast's defaults kept for it\n", from, ctx->err);
            ctx->err[0] = 0;
            all = 0;
        } else {
            ctx->tuned_from = source;
        }
    if (all) fmcl_note(ctx, "tuned CLBlast parameters applied from %s\n", from);
    return all;
}

/* The section of sets made for id; NULL, with a warning note when one was
 * made for this device under another driver or CLBlast. */
static const fmcl_tune_set *find_set(fmcl_ctx *ctx, const fmcl_tune_set *sets, int n,
                                     const fmcl_tune_set *id, const char *from)
{
    char why[400] = "";
    for (int i = 0; i < n; i++) {
        char w[400];
        if (fmcl_tune_matches(&sets[i], id, w, sizeof w)) return &sets[i];
        if (!why[0] && strcmp(sets[i].platform, id->platform) == 0 &&
            strcmp(sets[i].device, id->device) == 0)
            snprintf(why, sizeof why, "%s", w);
    }
    if (why[0])
        fmcl_note(ctx, "warning: tuned CLBlast parameters in %s ignored: %s; run `fmcl tune`\n",
                  from, why);
    return NULL;
}

/* 1 when every kernel of s passes fmcl tune's validity rules on this device;
 * else a warning note names the file, the kernel and the rule, and the set
 * is not applied (CLBlast would take absurd values such as MWG=1000000, and
 * every GEMM would then fail). */
static int valid_set(fmcl_ctx *ctx, const fmcl_tune_set *s, const char *from)
{
    size_t lmem, max_wg;
    fmcl_tune_limits(ctx, &lmem, &max_wg);
    for (int i = 0; i < s->n_kernels; i++) {
        char buf[128];
        const char *bad = fmcl_tune_invalid(&s->kernel[i], max_wg, lmem, buf, sizeof buf);
        if (bad) {
            fmcl_note(ctx,
                      "warning: tuned CLBlast parameters in %s ignored: kernel %s: %s; run "
                      "`fmcl tune` again or delete the file\n",
                      from, s->kernel[i].name, bad);
            return 0;
        }
    }
    return 1;
}

#define MAX_SETS 16

/* The user's file from `fmcl tune` first, then the sections shipped in
 * data/clblast_tuned.txt; a file that is malformed or made for another
 * driver or CLBlast is ignored with a warning note, never applied. */
void fmcl_gemm_apply_tuning(fmcl_ctx *ctx)
{
    const char *env = getenv("FMCL_NO_TUNING");
    if (env && *env && strcmp(env, "0") != 0) {
        ctx->tuned_from = FMCL_TUNED_OFF;
        return;
    }
    fmcl_tune_set id, sets[MAX_SETS];
    fmcl_tune_identity(&ctx->info, &id);
    int n = 0;
    char path[1024], err[512];
    if (fmcl_tune_path(&ctx->info, path, sizeof path) && access(path, F_OK) == 0) {
        unsigned char *text = NULL;
        size_t len = 0;
        fmcl_status s = fmcl_read_file(path, 1 << 16, &text, &len, err, sizeof err);
        if (s == FMCL_OK)
            s = fmcl_tune_parse((const char *)text, len, sets, MAX_SETS, &n, err, sizeof err);
        free(text);
        if (s != FMCL_OK)
            fmcl_note(ctx, "warning: tuned CLBlast parameters in %s ignored: %s\n", path, err);
        const fmcl_tune_set *mine = s == FMCL_OK ? find_set(ctx, sets, n, &id, path) : NULL;
        if (mine && valid_set(ctx, mine, path) && apply_set(ctx, mine, path, FMCL_TUNED_FILE))
            return;
    }
    if (fmcl_tune_parse(fmcl_tuned_params, strlen(fmcl_tuned_params), sets, MAX_SETS, &n, err,
                        sizeof err) != FMCL_OK) {
        fmcl_note(ctx, "warning: fmcl's shipped CLBlast parameters are malformed (%s)\n", err);
        return;
    }
    const fmcl_tune_set *shipped = find_set(ctx, sets, n, &id, "fmcl's data/clblast_tuned.txt");
    if (shipped && valid_set(ctx, shipped, "fmcl's data/clblast_tuned.txt"))
        apply_set(ctx, shipped, "fmcl's data/clblast_tuned.txt", FMCL_TUNED_SHIPPED);
}

fmcl_status fmcl_gemm_choose(fmcl_ctx *ctx)
{
    const char *env = getenv("FMCL_GEMM");
    if (env && strcmp(env, "clblast") == 0)
        ctx->gemm_packed = 0;
    else if (env && strcmp(env, "packed") == 0)
        ctx->gemm_packed = 1;
    else if (env && *env)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "FMCL_GEMM=%s: expected \"clblast\" or \"packed\" (or unset: packed "
                         "kernels on PoCL's CPU devices, CLBlast elsewhere)",
                         env);
    else
        ctx->gemm_packed = ctx->sched.packed_gemm;
    fmcl_note(ctx, "GEMM: %s\n", ctx->gemm_packed ? "fmcl's packed kernels" : "CLBlast");
    return FMCL_OK;
}

void fmcl_gemm_use(fmcl_ctx *ctx, int packed) { ctx->gemm_packed = packed != 0; }

static CLBlastTranspose tr(int t) { return t ? CLBlastTransposeYes : CLBlastTransposeNo; }

static fmcl_status gemm_fail(fmcl_ctx *ctx, CLBlastStatusCode rc, const char *what, int M, int N,
                             int K)
{
    if (rc == CLBlastInsufficientMemoryTemp || rc == CLBlastInsufficientMemoryC ||
        rc == CL_MEM_OBJECT_ALLOCATION_FAILURE || rc == CL_OUT_OF_RESOURCES)
        return fmcl_fail(ctx, FMCL_ERR_NOMEM,
                         "%s %dx%dx%d: out of device memory (CLBlast status %d); a smaller "
                         "batch or model needs less",
                         what, M, N, K, (int)rc);
    return fmcl_fail(ctx, FMCL_ERR_GEMM, "%s %dx%dx%d failed: CLBlast status %d on %s", what, M, N,
                     K, (int)rc, ctx->info.device_name);
}

fmcl_status fmcl_gemm_reserve(fmcl_ctx *ctx, int ta, int tb, int M, int N, int K, int lda, int ldb,
                              int ldc)
{
    size_t bytes = 0;
    if (ctx->gemm_packed) {
        bytes = fmcl_gemm_packed_scratch(ta, M, N, K) * sizeof(float);
    } else {
        CLBlastStatusCode rc = CLBlastSGemmTempBufferSize(
            CLBlastLayoutRowMajor, tr(ta), tr(tb), (size_t)M, (size_t)N, (size_t)K, 0, (size_t)lda,
            0, (size_t)ldb, 0, (size_t)ldc, &ctx->queue, &bytes);
        if (rc != CLBlastSuccess) return gemm_fail(ctx, rc, "sizing GEMM scratch", M, N, K);
    }
    if (bytes <= ctx->gemm_tmp_bytes && ctx->gemm_tmp.mem) return FMCL_OK;
    fmcl_status s = fmcl_finish(ctx); /* the old buffer may still be in use */
    if (s != FMCL_OK) return s;
    fmcl_release(&ctx->gemm_tmp);
    ctx->gemm_tmp_bytes = 0;
    s = fmcl_alloc(ctx, bytes, &ctx->gemm_tmp, "GEMM scratch buffer");
    if (s == FMCL_OK) ctx->gemm_tmp_bytes = bytes;
    return s;
}

/* The packed path on the context's scratch, grown only when no
 * fmcl_gemm_reserve covered the shape. */
static fmcl_status packed(fmcl_ctx *ctx, int ta, int tb, int M, int N, int K, float alpha, fmcl_t A,
                          int lda, fmcl_t B, int ldb, float beta, fmcl_t C, int ldc,
                          fmcl_gemm_epi epi, fmcl_t v, fmcl_t H)
{
    fmcl_status s = fmcl_gemm_reserve(ctx, ta, tb, M, N, K, lda, ldb, ldc);
    if (s != FMCL_OK) return s;
    return fmcl_gemm_packed(ctx, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epi, v, H,
                            ctx->gemm_tmp, ctx->gemm_tmp_bytes / sizeof(float));
}

fmcl_status fmcl_gemm(fmcl_ctx *ctx, int ta, int tb, int M, int N, int K, float alpha, fmcl_t A,
                      int lda, fmcl_t B, int ldb, float beta, fmcl_t C, int ldc)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "GEMM with empty shape %dx%dx%d", M, N, K);
    if (ctx->gemm_packed)
        return packed(ctx, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, FMCL_GEMM_PLAIN,
                      (fmcl_t){0}, (fmcl_t){0});
    CLBlastStatusCode rc;
    cl_event *ev = fmcl_profile_slot(ctx, FMCL_PROF_GEMM); /* NULL unless profiling */
    if (ctx->gemm_tmp.mem)
        rc = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, tr(ta), tr(tb), (size_t)M, (size_t)N,
                                        (size_t)K, alpha, A.mem, A.off, (size_t)lda, B.mem, B.off,
                                        (size_t)ldb, beta, C.mem, C.off, (size_t)ldc, &ctx->queue,
                                        ev, ctx->gemm_tmp.mem);
    else
        rc = CLBlastSgemm(CLBlastLayoutRowMajor, tr(ta), tr(tb), (size_t)M, (size_t)N, (size_t)K,
                          alpha, A.mem, A.off, (size_t)lda, B.mem, B.off, (size_t)ldb, beta, C.mem,
                          C.off, (size_t)ldc, &ctx->queue, ev);
    fmcl_profile_done(ctx, ev, rc == CLBlastSuccess);
    return rc == CLBlastSuccess ? FMCL_OK : gemm_fail(ctx, rc, "GEMM", M, N, K);
}

int fmcl_gemm_fuses(const fmcl_ctx *ctx) { return ctx->gemm_packed; }

fmcl_status fmcl_gemm_epilogue(fmcl_ctx *ctx, int ta, int tb, int M, int N, int K, fmcl_t A,
                               int lda, fmcl_t B, int ldb, fmcl_t C, int ldc, fmcl_gemm_epi epi,
                               fmcl_t v, fmcl_t H)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "GEMM with empty shape %dx%dx%d", M, N, K);
    if (!ctx->gemm_packed)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "fused GEMM epilogues need the packed GEMM");
    return packed(ctx, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, epi == FMCL_GEMM_ROWSUM ? 1.0f : 0.0f,
                  C, ldc, epi, v, H);
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
