/* Both GEMM implementations on every device, CLBlast and fmcl's packed
 * kernels, vs the double CPU reference: every transpose combination, odd
 * shapes, element offsets, leading dimensions larger than the matrix, beta
 * accumulation, and guard regions around C. 150 x 130 x 120 lies above
 * XGEMM_MIN_INDIRECT_SIZE^3 of the shipped CLBlast parameters (128^3), so the
 * tuned indirect kernel with its pad and transpose kernels runs too; 203 x 77
 * x 300 gives the packed kernel several panels per work-item and part-filled
 * vectors. The packed results must also equal their float twin
 * (fmcl_gemm_packed_ref) bit for bit, and its fused epilogues (bias, bias +
 * SiLU, SiLU's gradient, row sums) match a double reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

static const int shapes[][3] = {{1, 1, 1},    {37, 129, 3},   {13, 2, 67},    {128, 64, 33},
                                {5, 300, 17}, {203, 77, 300}, {150, 130, 120}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

/* Elements of got and want whose bits differ. */
static size_t bit_diffs(const float *got, const float *want, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += memcmp(&got[i], &want[i], sizeof got[i]) != 0;
    return d;
}

static void plain(fmcl_ctx *ctx, int packed, size_t si, int ta, int tb)
{
    int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = malloc(na * 4), *Bm = malloc(nb * 4), *C = malloc(nc * 4), *got = malloc(nc * 4),
          *twin = malloc(nc * 4), *ref = malloc(nc * 4);
    double *want = malloc(nc * sizeof *want);
    tl_fill(A, na, -1, 1, 1 + (uint32_t)si);
    tl_fill(Bm, nb, -1, 1, 2 + (uint32_t)si);
    tl_fill(C, nc, -1, 1, 3 + (uint32_t)si);
    float alpha = 0.75f, beta = ta ? 0.5f : 0.0f;
    memcpy(ref, C, nc * 4);
    memcpy(twin, C, nc * 4);
    fmcl_gemm_ref(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, ref, ldc);
    fmcl_gemm_packed_ref(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, twin, ldc, FMCL_GEMM_PLAIN,
                         NULL, NULL);
    for (size_t i = 0; i < nc; i++) want[i] = ref[i];
    tl_buf a, b, c;
    if (tl_buf_new(ctx, &a, na, A) && tl_buf_new(ctx, &b, nb, Bm) && tl_buf_new(ctx, &c, nc, C)) {
        fmcl_status s = fmcl_gemm_reserve(ctx, ta, tb, M, N, K, lda, ldb, ldc);
        if (s == FMCL_OK)
            s = fmcl_gemm(ctx, ta, tb, M, N, K, alpha, a.t, lda, b.t, ldb, beta, c.t, ldc);
        char what[96];
        snprintf(what, sizeof what, "gemm %s %c%c %dx%dx%d", packed ? "packed" : "CLBlast",
                 ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K);
        if (tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx)) &&
            tl_buf_read(ctx, &c, got)) {
            /* K-scaled tolerance: float32 sums of K products of values in [-1, 1]. */
            tl_close(what, got, want, nc, 1e-5 * sqrt((double)K) + 1e-6, 1e-5);
            tl_guard_ok(ctx, &c, what);
            if (packed) {
                size_t d = bit_diffs(got, twin, nc);
                tl_check(d == 0, "%s: %zu of %zu elements differ from the float twin's bits", what,
                         d, nc);
            }
        }
    }
    tl_buf_free(&a);
    tl_buf_free(&b);
    tl_buf_free(&c);
    free(A), free(Bm), free(C), free(got), free(twin), free(ref), free(want);
}

static double silu_grad(double z)
{
    double s = 1.0 / (1.0 + exp(-z));
    return s * (1.0 + z * (1.0 - s));
}

/* The MLP's fused shapes: forward NT with a bias (+ SiLU), input gradient NN
 * through SiLU; C, H and v share ldc = N + 2. */
static void epilogue(fmcl_ctx *ctx, size_t si, fmcl_gemm_epi epi)
{
    int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2], tb = epi != FMCL_GEMM_SILU_GRAD;
    int lda = K + 1, ldb = (tb ? K : N) + 3, ldc = N + 2;
    size_t na = (size_t)M * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    size_t nv = epi == FMCL_GEMM_SILU_GRAD ? nc : (size_t)N;
    float *A = malloc(na * 4), *Bm = malloc(nb * 4), *v = malloc(nv * 4), *C = calloc(nc, 4),
          *H = calloc(nc, 4), *gotC = malloc(nc * 4), *gotH = malloc(nc * 4);
    double *wantC = calloc(nc, sizeof *wantC), *wantH = calloc(nc, sizeof *wantH);
    tl_fill(A, na, -1, 1, 11 + (uint32_t)si);
    tl_fill(Bm, nb, -1, 1, 12 + (uint32_t)si);
    tl_fill(v, nv, -3, 3, 13 + (uint32_t)si);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double p = 0;
            for (int k = 0; k < K; k++)
                p += (double)A[(size_t)i * lda + k] *
                     (tb ? Bm[(size_t)j * ldb + k] : Bm[(size_t)k * ldb + j]);
            size_t at = (size_t)i * ldc + j;
            if (epi == FMCL_GEMM_SILU_GRAD) {
                wantC[at] = p * silu_grad(v[at]);
            } else {
                wantC[at] = p + v[j];
                if (epi == FMCL_GEMM_BIAS_SILU) wantH[at] = wantC[at] / (1.0 + exp(-wantC[at]));
            }
        }
    static const char *names[] = {"plain", "bias", "bias+silu", "silu grad"};
    char what[96];
    snprintf(what, sizeof what, "gemm packed %s %dx%dx%d", names[epi], M, N, K);
    tl_buf a, b, bv, c, h;
    if (tl_buf_new(ctx, &a, na, A) && tl_buf_new(ctx, &b, nb, Bm) && tl_buf_new(ctx, &bv, nv, v) &&
        tl_buf_new(ctx, &c, nc, C) && tl_buf_new(ctx, &h, nc, H)) {
        fmcl_status s = fmcl_gemm_epilogue(ctx, 0, tb, M, N, K, a.t, lda, b.t, ldb, c.t, ldc, epi,
                                           bv.t, epi == FMCL_GEMM_BIAS_SILU ? h.t : (fmcl_t){0});
        if (tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx)) &&
            tl_buf_read(ctx, &c, gotC) && tl_buf_read(ctx, &h, gotH)) {
            double tol = 1e-5 * sqrt((double)K) + 1e-6;
            tl_close(what, gotC, wantC, nc, 3 * tol, 1e-5);
            if (epi == FMCL_GEMM_BIAS_SILU)
                tl_close(what, gotH, wantH, nc, 3 * tol, 1e-5);
            else
                tl_close(what, gotH, wantH, nc, 0, 0); /* H untouched */
            tl_guard_ok(ctx, &c, what);
            tl_guard_ok(ctx, &h, what);
        }
    }
    tl_buf_free(&a);
    tl_buf_free(&b);
    tl_buf_free(&bv);
    tl_buf_free(&c);
    tl_buf_free(&h);
    free(A), free(Bm), free(v), free(C), free(H), free(gotC), free(gotH), free(wantC), free(wantH);
}

/* The weight gradient's shape with its bias gradient: C += op(A) B and v[i]
 * += the sum of op(A)'s row i, both the twin's bits (C's too: the plain
 * chain with alpha = beta = 1), v also against a double reference. */
static void rowsum(fmcl_ctx *ctx, size_t si, int ta)
{
    int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
    int lda = (ta ? M : K) + 1, ldb = N + 3, ldc = N + 2;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)K * ldb, nc = (size_t)M * ldc;
    float *A = malloc(na * 4), *Bm = malloc(nb * 4), *C = malloc(nc * 4), *v = malloc(M * 4),
          *twinC = malloc(nc * 4), *twinv = malloc(M * 4), *gotC = malloc(nc * 4),
          *gotv = malloc(M * 4);
    double *wantv = malloc(M * sizeof *wantv);
    tl_fill(A, na, -1, 1, 21 + (uint32_t)si);
    tl_fill(Bm, nb, -1, 1, 22 + (uint32_t)si);
    tl_fill(C, nc, -1, 1, 23 + (uint32_t)si);
    tl_fill(v, (size_t)M, -1, 1, 24 + (uint32_t)si);
    memcpy(twinC, C, nc * 4);
    memcpy(twinv, v, (size_t)M * 4);
    fmcl_gemm_packed_ref(ta, 0, M, N, K, 1.0f, A, lda, Bm, ldb, 1.0f, twinC, ldc, FMCL_GEMM_ROWSUM,
                         twinv, NULL);
    for (int i = 0; i < M; i++) {
        double sum = v[i];
        for (int k = 0; k < K; k++) sum += ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
        wantv[i] = sum;
    }
    char what[96];
    snprintf(what, sizeof what, "gemm packed row sums %cN %dx%dx%d", ta ? 'T' : 'N', M, N, K);
    tl_buf a, b, c, bv;
    if (tl_buf_new(ctx, &a, na, A) && tl_buf_new(ctx, &b, nb, Bm) && tl_buf_new(ctx, &c, nc, C) &&
        tl_buf_new(ctx, &bv, (size_t)M, v)) {
        fmcl_status s = fmcl_gemm_epilogue(ctx, ta, 0, M, N, K, a.t, lda, b.t, ldb, c.t, ldc,
                                           FMCL_GEMM_ROWSUM, bv.t, (fmcl_t){0});
        if (tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx)) &&
            tl_buf_read(ctx, &c, gotC) && tl_buf_read(ctx, &bv, gotv)) {
            size_t dc = bit_diffs(gotC, twinC, nc), dv = bit_diffs(gotv, twinv, (size_t)M);
            tl_check(dc == 0 && dv == 0,
                     "%s: %zu of %zu elements of C, %zu of %d of v differ "
                     "from the float twin's bits",
                     what, dc, nc, dv, M);
            tl_close(what, gotv, wantv, (size_t)M, 1e-5 * sqrt((double)K) + 1e-6, 1e-5);
            tl_guard_ok(ctx, &c, what);
            tl_guard_ok(ctx, &bv, what);
        }
    }
    tl_buf_free(&a);
    tl_buf_free(&b);
    tl_buf_free(&c);
    tl_buf_free(&bv);
    free(A), free(Bm), free(C), free(v), free(twinC), free(twinv), free(gotC), free(gotv),
        free(wantv);
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    for (int packed = 0; packed < 2; packed++) {
        fmcl_gemm_use(ctx, packed);
        for (size_t si = 0; si < N_SHAPES; si++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++) plain(ctx, packed, si, ta, tb);
    }
    for (size_t si = 0; si < N_SHAPES; si++)
        for (int e = FMCL_GEMM_BIAS; e <= FMCL_GEMM_SILU_GRAD; e++)
            epilogue(ctx, si, (fmcl_gemm_epi)e);
    for (size_t si = 0; si < N_SHAPES; si++)
        for (int ta = 0; ta < 2; ta++) rowsum(ctx, si, ta);
    /* Refused without the packed path, and with alpha != 1. */
    fmcl_gemm_use(ctx, 0);
    tl_buf x;
    if (tl_buf_new(ctx, &x, 64, NULL)) {
        fmcl_status s = fmcl_gemm_epilogue(ctx, 0, 1, 2, 2, 2, x.t, 2, x.t, 2, x.t, 2,
                                           FMCL_GEMM_BIAS, x.t, (fmcl_t){0});
        tl_check(s == FMCL_ERR_ARG && strstr(fmcl_ctx_error(ctx), "packed"),
                 "an epilogue through CLBlast: status %d, %s", (int)s, fmcl_ctx_error(ctx));
        fmcl_gemm_use(ctx, 1);
        s = fmcl_gemm_packed(ctx, 0, 1, 2, 2, 2, 0.5f, x.t, 2, x.t, 2, 0.0f, x.t, 2, FMCL_GEMM_BIAS,
                             x.t, (fmcl_t){0}, x.t, 64);
        tl_check(s == FMCL_ERR_ARG && strstr(fmcl_ctx_error(ctx), "alpha"),
                 "an epilogue with alpha 0.5: status %d, %s", (int)s, fmcl_ctx_error(ctx));
        s = fmcl_gemm_packed(ctx, 0, 0, 2, 2, 2, 1.0f, x.t, 2, x.t, 2, 0.0f, x.t, 2,
                             FMCL_GEMM_ROWSUM, x.t, (fmcl_t){0}, x.t, 64);
        tl_check(s == FMCL_ERR_ARG && strstr(fmcl_ctx_error(ctx), "beta 1"),
                 "row sums with beta 0: status %d, %s", (int)s, fmcl_ctx_error(ctx));
        /* B's panels of a 2x2x2 product take 32 x 2 floats (the scratch is
         * planned for the widest blocks): 32 are refused. */
        s = fmcl_gemm_packed(ctx, 0, 1, 2, 2, 2, 1.0f, x.t, 2, x.t, 2, 0.0f, x.t, 2,
                             FMCL_GEMM_PLAIN, (fmcl_t){0}, (fmcl_t){0}, x.t, 32);
        tl_check(s == FMCL_ERR_ARG && strstr(fmcl_ctx_error(ctx), "scratch"),
                 "too little scratch: status %d, %s", (int)s, fmcl_ctx_error(ctx));
    }
    tl_buf_free(&x);
    return 0;
}

int main(void) { return tl_for_each_device(run, NULL); }
