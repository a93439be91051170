/* Launcher and double-precision reference of the FMA-peak kernel. */
#include "runtime/peak.h"

fmcl_status fmcl_peak_fma(fmcl_ctx *ctx, fmcl_t out, float a, float b, int iters, int n)
{
    if (n < 0 || iters < 0)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "peak_fma: negative size (n %d, iters %d)", n, iters);
    return fmcl_run1(ctx, FMCL_K_peak_fma, (size_t)n, "tffii", out, (double)a, (double)b, iters, n);
}

void fmcl_peak_fma_ref(float *out, float a, float b, int iters, int n)
{
    static const double start[16] = {0,   1,   2,   3,   -1,   -2,   -3,   -4,
                                     0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, -3.5};
    for (int i = 0; i < n; i++) {
        double sum = 0;
        for (int c = 0; c < 16; c++) {
            double x = (i % 64) * 0.015625 + start[c];
            for (int k = 0; k < iters; k++) x = x * a + b;
            sum += x;
        }
        out[i] = (float)sum;
    }
}
