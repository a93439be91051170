/* Class conditioning's device ops (kernels/classes.cl) and their references:
 * a training batch's labels with dropout, the one-hot input rows, and the
 * classifier-free guidance combination. */
#include "flow/classes.h"
#include "flow/kernels.h"

#include <math.h>

#include "runtime/rng.h"

void fmcl_label_batch_ref(float *y, const unsigned char *lab, uint64_t seed, uint32_t step,
                          int row0, int N, float drop, int B)
{
    for (int b = 0; b < B; b++) {
        uint32_t pick[4], r[4];
        fmcl_philox(seed, (uint32_t)(row0 + b), 0, FMCL_STREAM_INDEX, step, pick);
        fmcl_philox(seed, (uint32_t)(row0 + b), 0, FMCL_STREAM_LABEL, step, r);
        y[b] = fmcl_u01(r[0]) < drop ? -1.0f : (float)lab[fmcl_uint_below(pick[0], (uint32_t)N)];
    }
}

fmcl_status fmcl_label_batch(fmcl_ctx *ctx, fmcl_t y, fmcl_t lab, uint64_t seed, uint32_t step,
                             int N, float drop, int B)
{
    return fmcl_label_batch_at(ctx, y, lab, seed, step, 0, N, drop, B);
}

fmcl_status fmcl_label_batch_at(fmcl_ctx *ctx, fmcl_t y, fmcl_t lab, uint64_t seed, uint32_t step,
                                int row0, int N, float drop, int B)
{
    if (N < 1 || B < 0 || row0 < 0 || !(drop >= 0.0f && drop <= 1.0f))
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "fmcl_label_batch: %d labels, batch %d from row %d, dropout %g; needs "
                         "at least one label and a dropout probability in [0, 1]",
                         N, B, row0, (double)drop);
    if (4 * (uint64_t)lab.off + (uint64_t)N > UINT32_MAX)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "fmcl_label_batch: %d labels exceed the kernel's 32-bit indices; train "
                         "on fewer images",
                         N);
    /* u01(r) = (r >> 8) 2^-24 < drop exactly when (r >> 8) < ceil(drop 2^24):
     * an integer test, the same on every device. */
    const unsigned drop24 = (unsigned)ceil((double)drop * 16777216.0);
    return fmcl_run1(ctx, FMCL_K_label_batch, (size_t)B, "ttluiiui", y,
                     (fmcl_t){lab.mem, 4 * lab.off}, seed, (unsigned)step, row0, N, drop24, B);
}

void fmcl_class_concat_ref(float *Xc, const float *X, const float *y, int W, int K, int R, int B)
{
    for (int b = 0; b < B; b++) {
        float *row = Xc + (size_t)b * (W + K);
        for (int j = 0; j < W; j++) row[j] = X[(size_t)(b % R) * W + j];
        const int c = b < R ? (int)y[b] : -1;
        for (int k = 0; k < K; k++) row[W + k] = k == c ? 1.0f : 0.0f;
    }
}

fmcl_status fmcl_class_concat(fmcl_ctx *ctx, fmcl_t Xc, fmcl_t X, fmcl_t y, int W, int K, int R,
                              int B)
{
    if (W < 1 || K < 0 || R < 1 || B < 0 || (uint64_t)B * (uint64_t)(W + K) > UINT32_MAX)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "fmcl_class_concat: bad shape (%d rows of %d + %d from %d rows); the "
                         "rows must be non-empty and fit 32-bit indices",
                         B, W, K, R);
    return fmcl_run2(ctx, FMCL_K_class_concat, (size_t)(W + K), (size_t)B, "tttiiii", Xc, X, y, W,
                     K, R, B);
}

void fmcl_guidance_ref(double *v, const float *V, float w, int n)
{
    for (int i = 0; i < n; i++) v[i] = (1.0 + w) * (double)V[i] - (double)w * V[n + i];
}

fmcl_status fmcl_guidance(fmcl_ctx *ctx, fmcl_t v, fmcl_t V, float w, int n)
{
    if (n < 0 || !isfinite(w))
        return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_guidance: length %d, scale %g", n, (double)w);
    return fmcl_run1(ctx, FMCL_K_guidance, (size_t)n, "ttfi", v, V, (double)w, n);
}
