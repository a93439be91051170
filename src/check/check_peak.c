/* Self-check of the FMA-peak kernel that `fmcl bench` times (runtime/peak.h). */
#include "check/check.h"
#include "runtime/peak.h"

static void peak(chk_suite *s, int n, int iters)
{
    chk_case c;
    const float a = 0.75f, b = 0.125f;
    chk_begin(&c, s, "peak_fma", "n=%d iters=%d", n, iters);
    float *want = chk_host(&c, (size_t)n);
    fmcl_t out = chk_buf(&c, NULL, (size_t)n);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_peak_fma(s->ctx, out, a, b, iters, n));
        fmcl_peak_fma_ref(want, a, b, iters, n);
    }
    /* 32 chains summed: the absolute floor covers the sum's rounding. */
    chk_expect_f(&c, "out", out, (size_t)n, want, chk_elem(1e-5));
    chk_end(&c);
}

void chk_peak_ops(chk_suite *s)
{
    peak(s, 67, 37);
    peak(s, 130, 1);
}
