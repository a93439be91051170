/* Self-check of the class-conditioning ops (src/flow/classes.h): a batch's
 * labels with dropout, the one-hot input rows, the guidance combination. */
#include "check/check.h"
#include "flow/classes.h"

/* Labels: exact (integers or -1). */
static void label_batch(chk_suite *s, int N, float drop, int B)
{
    chk_case c;
    chk_begin(&c, s, "label_batch", "N=%d drop=%g B=%d", N, (double)drop, B);
    const size_t words = ((size_t)N + 3) / 4;
    float *packed = chk_host(&c, words), *want = chk_host(&c, (size_t)B);
    if (chk_ok(&c)) {
        unsigned char *lab = (unsigned char *)packed;
        for (size_t i = 0; i < words * 4; i++) lab[i] = (unsigned char)(i * 7 % 10);
    }
    fmcl_t lab = chk_buf(&c, packed, words), y = chk_buf(&c, NULL, (size_t)B);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_label_batch(s->ctx, y, lab, 0xc1a55ull, 23, N, drop, B));
        fmcl_label_batch_ref(want, (const unsigned char *)packed, 0xc1a55ull, 23, 0, N, drop, B);
    }
    chk_expect_f(&c, "y", y, (size_t)B, want, chk_elem(0));
    chk_end(&c);
}

/* One-hot rows: copies and constants, exact. */
static void class_concat(chk_suite *s, int W, int K, int R, int B)
{
    chk_case c;
    chk_begin(&c, s, "class_concat", "W=%d K=%d R=%d B=%d", W, K, R, B);
    float *X = chk_host(&c, (size_t)R * W), *y = chk_host(&c, (size_t)R);
    float *want = chk_host(&c, (size_t)B * (W + K));
    if (chk_ok(&c)) {
        chk_fill(X, (size_t)R * W, -2.f, 2.f, 5);
        for (int r = 0; r < R; r++) y[r] = (float)(r % (K + 1) - 1); /* -1 (null) to K - 1 */
        fmcl_class_concat_ref(want, X, y, W, K, R, B);
    }
    fmcl_t tX = chk_buf(&c, X, (size_t)R * W), ty = chk_buf(&c, y, (size_t)R);
    fmcl_t tXc = chk_buf(&c, NULL, (size_t)B * (W + K));
    if (chk_ok(&c)) chk_status(&c, fmcl_class_concat(s->ctx, tXc, tX, ty, W, K, R, B));
    chk_expect_f(&c, "Xc", tXc, (size_t)B * (W + K), want, chk_elem(0));
    chk_end(&c);
}

static void guidance(chk_suite *s, float w, int n)
{
    chk_case c;
    chk_begin(&c, s, "guidance", "w=%g n=%d", (double)w, n);
    float *V = chk_host(&c, 2 * (size_t)n);
    double *want = chk_host_d(&c, (size_t)n);
    if (chk_ok(&c)) {
        chk_fill(V, 2 * (size_t)n, -3.f, 3.f, 6);
        fmcl_guidance_ref(want, V, w, n);
    }
    fmcl_t tV = chk_buf(&c, V, 2 * (size_t)n), v = chk_buf(&c, NULL, (size_t)n);
    if (chk_ok(&c)) chk_status(&c, fmcl_guidance(s->ctx, v, tV, w, n));
    /* Two products and a difference in float: a few ulp of (1 + |w|) 3. */
    chk_expect(&c, "v", v, (size_t)n, want, chk_elem(1e-6 * (1.0 + (w < 0 ? -w : w))));
    chk_end(&c);
}

void chk_class_ops(chk_suite *s)
{
    label_batch(s, 13, 0.0f, 37);
    label_batch(s, 1000, 0.3f, 333);
    class_concat(s, 7, 10, 9, 9);
    class_concat(s, 5, 3, 11, 22); /* guided: the null-class half */
    guidance(s, 2.5f, 333);
    guidance(s, -0.75f, 17);
}
