/* fmcl's own GEMM for CPU devices (kernels/gemm.cl), PoCL's by default
 * (vendor.c): op(B), and op(A) when transposed, packed into k-major panels,
 * then one register block of C per pair of panels. On the 2-core EPYC here
 * PoCL ran CLBlast's GPU-shaped tiles at 38-46 GFLOP/s after tuning and this
 * at 145-180 (PyTorch's OpenBLAS: 105-150), which is what lets a PoCL
 * training step outrun PyTorch; on AVX-512 its float16 blocks run at 115-148
 * GFLOP/s per core, 70-85% of the FMA peak. GPUs keep CLBlast (gemm.c).
 * Every element is one float fma chain over k in order, so the product is
 * the same bits on every device, and fmcl_gemm_packed_ref repeats it on the
 * host (its epilogues' exp may differ from a device's by an ulp or two). */
#include <math.h>

#include "runtime/runtime.h"

/* kernels/gemm.cl's GEMM_MR and GEMM_NR for a vector width (ctx->vw), and
 * GEMM_PACK_K. */
#define MR_8 5
#define MR_16 8
#define PACK_K 8

static size_t mr(const fmcl_ctx *ctx) { return ctx->vw == 16 ? MR_16 : MR_8; }
static size_t nr(const fmcl_ctx *ctx) { return 2 * (size_t)ctx->vw; }
static size_t panels(size_t n, size_t w) { return (n + w - 1) / w; }

/* Planned for either width's blocks, so that it does not depend on the device. */
size_t fmcl_gemm_packed_scratch(int ta, int M, int N, int K)
{
    size_t a8 = panels((size_t)M, MR_8) * MR_8, a16 = panels((size_t)M, MR_16) * MR_16;
    return ((ta ? (a8 > a16 ? a8 : a16) : 0) + panels((size_t)N, 32) * 32) * (size_t)K;
}

/* Panels per work-item: a block of 4 B panels by 4 A panels stays in a core's
 * L2 at K = 4096 (the MLP's weight gradient); halved while there would be
 * fewer than 8 work-items per compute unit to share out. */
static void blocking(const fmcl_ctx *ctx, size_t pm, size_t qn, size_t *pa, size_t *qb)
{
    size_t want = 8 * (size_t)(ctx->info.compute_units ? ctx->info.compute_units : 1);
    *pa = 4;
    *qb = 4;
    while ((*pa > 1 || *qb > 1) && panels(pm, *pa) * panels(qn, *qb) < want) {
        if (*pa >= *qb)
            *pa /= 2;
        else
            *qb /= 2;
    }
}

fmcl_status fmcl_gemm_packed(fmcl_ctx *ctx, int ta, int tb, int M, int N, int K, float alpha,
                             fmcl_t A, int lda, fmcl_t B, int ldb, float beta, fmcl_t C, int ldc,
                             fmcl_gemm_epi epi, fmcl_t v, fmcl_t H, fmcl_t scratch,
                             size_t scratch_n)
{
    /* On a CPU device an overrun would land in the host's heap. */
    size_t need = fmcl_gemm_packed_scratch(ta, M, N, K);
    if (scratch_n < need)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "packed GEMM %dx%dx%d needs %zu floats of scratch, given %zu", M, N, K,
                         need, scratch_n);
    if (epi == FMCL_GEMM_ROWSUM && (alpha != 1.0f || beta != 1.0f))
        return fmcl_fail(ctx, FMCL_ERR_ARG, "the GEMM row-sum epilogue needs alpha 1 and beta 1");
    if (epi != FMCL_GEMM_PLAIN && epi != FMCL_GEMM_ROWSUM && (alpha != 1.0f || beta != 0.0f))
        return fmcl_fail(ctx, FMCL_ERR_ARG, "a fused GEMM epilogue needs alpha 1 and beta 0");
    /* Unused pointers get C: the kernel never reads them. */
    if (!v.mem) v = C;
    if (!H.mem) H = C;
    const size_t MR = mr(ctx), NR = nr(ctx);
    size_t pm = panels((size_t)M, MR), qn = panels((size_t)N, NR), kc = panels((size_t)K, PACK_K);
    fmcl_t Ap = scratch, Bp = ta ? fmcl_at(scratch, pm * MR * (size_t)K) : scratch;
    /* A transposed is packed; A as it is is read in place. */
    fmcl_status s = FMCL_OK;
    if (ta) s = fmcl_run2(ctx, FMCL_K_gemm_pack_a, kc, pm, "ttiii", Ap, A, lda, M, K);
    if (s == FMCL_OK)
        s = fmcl_run2(ctx, FMCL_K_gemm_pack_b, kc, qn, "ttiiii", Bp, B, ldb, tb, N, K);
    size_t pa, qb;
    blocking(ctx, pm, qn, &pa, &qb);
    if (s == FMCL_OK)
        s = fmcl_run2(ctx, FMCL_K_gemm_packed, panels(qn, qb), panels(pm, pa), "ttttiitiiiiffiii",
                      C, H, v, ta ? Ap : A, lda, ta, Bp, M, N, K, ldc, (double)alpha, (double)beta,
                      (int)epi, (int)pa, (int)qb);
    return s;
}

/* act.cl's fmcl_sigmoid_pair. */
static float sigmoid_pair(float z, float *one_minus)
{
    const float e = expf(-fabsf(z)), r = 1.0f / (1.0f + e), er = e * r;
    *one_minus = z >= 0.0f ? er : r;
    return z >= 0.0f ? r : er;
}

void fmcl_gemm_packed_ref(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                          const float *B, int ldb, float beta, float *C, int ldc, fmcl_gemm_epi epi,
                          float *v, float *H)
{
    for (int i = 0; i < M; i++) {
        if (epi == FMCL_GEMM_ROWSUM) {
            float rs = 0.0f;
            for (int k = 0; k < K; k++) rs += ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
            v[i] += rs;
        }
        for (int j = 0; j < N; j++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                acc = fmaf(a, b, acc);
            }
            size_t at = (size_t)i * ldc + j;
            float c;
            if (epi == FMCL_GEMM_BIAS || epi == FMCL_GEMM_BIAS_SILU) acc += v[j];
            if (epi == FMCL_GEMM_BIAS_SILU) {
                H[at] = acc * sigmoid_pair(acc, &c);
            } else if (epi == FMCL_GEMM_SILU_GRAD) {
                float s = sigmoid_pair(v[at], &c);
                acc *= s * (1.0f + v[at] * c);
            } else {
                acc = beta == 0.0f ? alpha * acc : alpha * acc + beta * C[at];
            }
            C[at] = acc;
        }
    }
}
