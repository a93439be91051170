/* Self-check of the likelihood's device ops (src/flow/nll.h): Hutchinson
 * probes, the one-hot rows of the exact divergence and its accumulation. */
#include "check/check.h"
#include "flow/nll.h"

static void rademacher(chk_suite *s, int n)
{
    chk_case c;
    chk_begin(&c, s, "rademacher", "n=%d first=1001", n);
    float *want = chk_host(&c, n);
    fmcl_t z = chk_buf(&c, NULL, n);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_rademacher(s->ctx, z, 42, 1001, 3, n));
        fmcl_rademacher_ref(want, 42, 1001, 3, n);
    }
    chk_expect_f(&c, "z", z, n, want, (chk_tol){0, 0}); /* signs from integers: exact */
    chk_end(&c);
}

/* Over a buffer of noise, so every element must be written. */
static void onehot_rows(chk_suite *s, int col, int rows, int D)
{
    chk_case c;
    const size_t n = (size_t)rows * D;
    chk_begin(&c, s, "onehot_rows", "rows=%d D=%d col=%d", rows, D, col);
    float *u = chk_host(&c, n);
    if (chk_ok(&c)) chk_fill(u, n, -1.f, 1.f, 50);
    fmcl_t tu = chk_buf(&c, u, n);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_onehot_rows(s->ctx, tu, col, rows, D));
        fmcl_onehot_rows_ref(u, col, rows, D);
    }
    chk_expect_f(&c, "u", tu, n, u, (chk_tol){0, 0});
    chk_end(&c);
}

/* div = g[:, col] then div += g[:, col2], as the exact divergence sums. */
static void div_column(chk_suite *s, int rows, int ldg)
{
    chk_case c;
    chk_begin(&c, s, "div_column", "rows=%d ldg=%d set, add", rows, ldg);
    float *g = chk_host(&c, (size_t)rows * ldg), *div = chk_host(&c, rows);
    if (chk_ok(&c)) chk_fill(g, (size_t)rows * ldg, -3.f, 3.f, 51);
    fmcl_t tg = chk_buf(&c, g, (size_t)rows * ldg), tdiv = chk_buf(&c, NULL, rows);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_div_column(s->ctx, tdiv, tg, ldg, 1, 0, rows));
        chk_status(&c, fmcl_div_column(s->ctx, tdiv, tg, ldg, ldg - 1, 1, rows));
        fmcl_div_column_ref(div, g, ldg, 1, 0, rows);
        fmcl_div_column_ref(div, g, ldg, ldg - 1, 1, rows);
    }
    chk_expect_f(&c, "div", tdiv, rows, div, chk_elem(1e-6));
    chk_end(&c);
}

static void div_probe(chk_suite *s, int rows, int D, int ldg)
{
    chk_case c;
    chk_begin(&c, s, "div_probe", "rows=%d D=%d ldg=%d", rows, D, ldg);
    float *g = chk_host(&c, (size_t)rows * ldg), *z = chk_host(&c, (size_t)rows * D),
          *div = chk_host(&c, rows);
    if (chk_ok(&c)) {
        chk_fill(g, (size_t)rows * ldg, -3.f, 3.f, 52);
        fmcl_rademacher_ref(z, 7, 0, 1, rows * D);
    }
    fmcl_t tg = chk_buf(&c, g, (size_t)rows * ldg), tz = chk_buf(&c, z, (size_t)rows * D);
    fmcl_t tdiv = chk_buf(&c, NULL, rows);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_div_probe(s->ctx, tdiv, tg, ldg, tz, rows, D));
        fmcl_div_probe_ref(div, g, ldg, z, rows, D);
    }
    chk_expect_f(&c, "div", tdiv, rows, div, chk_gemm_tol(D)); /* a dot product */
    chk_end(&c);
}

void chk_nll_ops(chk_suite *s)
{
    rademacher(s, 10007);
    onehot_rows(s, 2, 1001, 3);
    div_column(s, 1001, 5);
    div_probe(s, 1001, 3, 5);
    div_probe(s, 333, 37, 40);
}
