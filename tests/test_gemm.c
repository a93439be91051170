/* GEMM through CLBlast vs the double CPU reference: every transpose
 * combination, odd shapes, element offsets, leading dimensions larger than
 * the matrix, beta accumulation, and guard regions around C. 150 x 130 x 120
 * lies above XGEMM_MIN_INDIRECT_SIZE^3 of the shipped parameters (128^3), so
 * the tuned indirect kernel with its pad and transpose kernels runs too. */
#include <math.h>
#include <stdlib.h>

#include "testlib.h"

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    static const int shapes[][3] = {{1, 1, 1}, {37, 129, 3}, {13, 2, 67}, {128, 64, 33}, {5, 300, 17},
                                 {150, 130, 120}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
                int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
                size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb,
                       nc = (size_t)M * ldc;
                float *A = malloc(na * 4), *Bm = malloc(nb * 4), *C = malloc(nc * 4),
                      *got = malloc(nc * 4);
                double *want = malloc(nc * sizeof *want);
                tl_fill(A, na, -1, 1, 1 + (uint32_t)si);
                tl_fill(Bm, nb, -1, 1, 2 + (uint32_t)si);
                tl_fill(C, nc, -1, 1, 3 + (uint32_t)si);
                float alpha = 0.75f, beta = ta ? 0.5f : 0.0f;
                float *ref = malloc(nc * 4);
                for (size_t i = 0; i < nc; i++) ref[i] = C[i];
                fmcl_gemm_ref(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, ref, ldc);
                for (size_t i = 0; i < nc; i++) want[i] = ref[i];
                tl_buf a, b, c;
                if (tl_buf_new(ctx, &a, na, A) && tl_buf_new(ctx, &b, nb, Bm) &&
                    tl_buf_new(ctx, &c, nc, C)) {
                    fmcl_status s = fmcl_gemm_reserve(ctx, ta, tb, M, N, K, lda, ldb, ldc);
                    if (s == FMCL_OK)
                        s = fmcl_gemm(ctx, ta, tb, M, N, K, alpha, a.t, lda, b.t, ldb, beta, c.t,
                                      ldc);
                    char what[96];
                    snprintf(what, sizeof what, "gemm %c%c %dx%dx%d", ta ? 'T' : 'N',
                             tb ? 'T' : 'N', M, N, K);
                    if (tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx)) &&
                        tl_buf_read(ctx, &c, got)) {
                        /* K-scaled tolerance: float32 sums of K products of values in [-1, 1]. */
                        tl_close(what, got, want, nc, 1e-5 * sqrt((double)K) + 1e-6, 1e-5);
                        tl_guard_ok(ctx, &c, what);
                    }
                }
                tl_buf_free(&a);
                tl_buf_free(&b);
                tl_buf_free(&c);
                free(A), free(Bm), free(C), free(got), free(want), free(ref);
            }
    return 0;
}

int main(void) { return tl_for_each_device(run, NULL); }
