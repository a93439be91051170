/* The probability paths' training inputs (one fused kernel for every path)
 * and the network's input rows at one time (layouts in flow/paths.h and
 * flow_ops.h; kernels/path.cl holds the device twins). References compute in
 * double from the same Philox draws. */
#include <math.h>

#include "data/toy2d.h"
#include "flow/flow_ops.h"
#include "flow/kernels.h"
#include "flow/paths.h"
#include "runtime/rng.h"

/* Largest time_freqs accepted: 2^k t must stay exact and meaningful in float. */
#define MAX_TIME_FREQS 20

/* Writes a row's time columns: t, or sin(2^k pi t) then cos(2^k pi t). */
static void time_features_ref(float t, int F, float *out)
{
    if (F == 0) {
        out[0] = t;
        return;
    }
    for (int k = 0; k < F; k++) {
        const double a = M_PI * ldexp((double)t, k);
        out[k] = (float)sin(a);
        out[F + k] = (float)cos(a);
    }
}

static fmcl_status check_shape(fmcl_ctx *ctx, const char *op, int row0, int B, int D, int F)
{
    if (row0 < 0 || B < 0 || D < 0 || F < 0 || F > MAX_TIME_FREQS)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "%s: bad shape (rows from %d, batch %d, dim %d, time_freqs %d); "
                         "time_freqs must be 0..%d",
                         op, row0, B, D, F, MAX_TIME_FREQS);
    return FMCL_OK;
}

/* Normal d % 4 of the row's block d / 4: z holds the block, refilled at d % 4 == 0. */
static float noise_at(uint64_t seed, uint32_t step, int row, int d, float z[4])
{
    if (d % 4 == 0) {
        uint32_t r[4];
        fmcl_philox(seed, (uint32_t)row, (uint32_t)(d / 4), FMCL_STREAM_NOISE, step, r);
        fmcl_box_muller(r[0], r[1], &z[0], &z[1]);
        fmcl_box_muller(r[2], r[3], &z[2], &z[3]);
    }
    return z[d % 4];
}

void fmcl_path_noise_ref_at(float *x0, uint64_t seed, uint32_t step, int row0, int B, int D)
{
    float z[4];
    for (int row = 0; row < B; row++)
        for (int d = 0; d < D; d++)
            x0[(size_t)row * D + d] = noise_at(seed, step, row0 + row, d, z);
}

void fmcl_path_noise_ref(float *x0, uint64_t seed, uint32_t step, int B, int D)
{
    fmcl_path_noise_ref_at(x0, seed, step, 0, B, D);
}

void fmcl_path_interp_ref(float *X, float *U, const float *x1, const fmcl_path *p, uint64_t seed,
                          uint32_t step, int row0, int B, int D, int time_freqs)
{
    const int W = fmcl_input_width(D, time_freqs);
    for (int row = 0; row < B; row++) {
        uint32_t r[4];
        fmcl_philox(seed, (uint32_t)(row0 + row), 0, FMCL_STREAM_TIME, step, r);
        const float t = fmcl_u01(r[0]) * p->t_max;
        double s[4];
        fmcl_path_schedule(p, t, s);
        float *xr = X + (size_t)row * W, z[4];
        for (int d = 0; d < D; d++) {
            const double x0 = noise_at(seed, step, row0 + row, d, z), xd = x1[(size_t)row * D + d];
            xr[d] = (float)(s[0] * xd + s[1] * x0);
            U[(size_t)row * D + d] = (float)(s[2] * xd + s[3] * x0);
        }
        time_features_ref(t, time_freqs, xr + D);
    }
}

fmcl_status fmcl_path_interp_at(fmcl_ctx *ctx, fmcl_t X, fmcl_t U, fmcl_t x1, const fmcl_path *p,
                                uint64_t seed, uint32_t step, int row0, int B, int D,
                                int time_freqs)
{
    fmcl_status s = check_shape(ctx, "fmcl_path_interp", row0, B, D, time_freqs);
    if (s != FMCL_OK) return s;
    if (!(p->t_max > 0.0f && p->t_max <= 1.0f))
        return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_path_interp: t_max %g is outside (0, 1]",
                         (double)p->t_max);
    return fmcl_run1(ctx, FMCL_K_path_interp, (size_t)B, "ttttiiluiifffiii", X, U, x1, x1, -1, 0,
                     seed, (unsigned)step, row0, p->kind, (double)p->p0, (double)p->p1,
                     (double)p->t_max, B, D, time_freqs);
}

fmcl_status fmcl_path_interp(fmcl_ctx *ctx, fmcl_t X, fmcl_t U, fmcl_t x1, const fmcl_path *p,
                             uint64_t seed, uint32_t step, int B, int D, int time_freqs)
{
    return fmcl_path_interp_at(ctx, X, U, x1, p, seed, step, 0, B, D, time_freqs);
}

void fmcl_path_sample_ref(float *X, float *U, float *x1, int kind, const float *data, int n_data,
                          const fmcl_path *p, uint64_t seed, uint32_t step, int row0, int B, int D,
                          int time_freqs)
{
    if (kind == FMCL_KIND_ARRAY)
        fmcl_gather_rows_ref(x1, data, seed, step, row0, n_data, D, B);
    else
        fmcl_toy_sample_ref(x1, kind, seed, step, row0, B);
    fmcl_path_interp_ref(X, U, x1, p, seed, step, row0, B, D, time_freqs);
}

fmcl_status fmcl_path_sample(fmcl_ctx *ctx, fmcl_t X, fmcl_t U, int kind, fmcl_t data, int n_data,
                             const fmcl_path *p, uint64_t seed, uint32_t step, int B, int D,
                             int time_freqs)
{
    return fmcl_path_sample_at(ctx, X, U, kind, data, n_data, p, seed, step, 0, B, D, time_freqs);
}

fmcl_status fmcl_path_sample_at(fmcl_ctx *ctx, fmcl_t X, fmcl_t U, int kind, fmcl_t data,
                                int n_data, const fmcl_path *p, uint64_t seed, uint32_t step,
                                int row0, int B, int D, int time_freqs)
{
    fmcl_status s = check_shape(ctx, "fmcl_path_sample", row0, B, D, time_freqs);
    if (s != FMCL_OK) return s;
    int toy = kind >= FMCL_TOY_CHECKERBOARD && kind <= FMCL_TOY_SPIRALS;
    if (!(toy && D == 2) && !(kind == FMCL_KIND_ARRAY && n_data >= 1 && data.mem))
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "fmcl_path_sample: data kind %d with dim %d and %d rows: expected a "
                         "built-in 2D set (dim 2) or an array of at least one row",
                         kind, D, n_data);
    if (!(p->t_max > 0.0f && p->t_max <= 1.0f))
        return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_path_sample: t_max %g is outside (0, 1]",
                         (double)p->t_max);
    if (!data.mem) data = X; /* not read */
    return fmcl_run1(ctx, FMCL_K_path_interp, (size_t)B, "ttttiiluiifffiii", X, U, X, data, kind,
                     n_data, seed, (unsigned)step, row0, p->kind, (double)p->p0, (double)p->p1,
                     (double)p->t_max, B, D, time_freqs);
}

void fmcl_ot_interp_ref(float *X, float *U, const float *x1, uint64_t seed, uint32_t step,
                        float sigma_min, int B, int D, int time_freqs)
{
    const fmcl_path p = fmcl_path_ot(sigma_min);
    fmcl_path_interp_ref(X, U, x1, &p, seed, step, 0, B, D, time_freqs);
}

fmcl_status fmcl_ot_interp(fmcl_ctx *ctx, fmcl_t X, fmcl_t U, fmcl_t x1, uint64_t seed,
                           uint32_t step, float sigma_min, int B, int D, int time_freqs)
{
    if (!(sigma_min >= 0.0f && sigma_min < 1.0f))
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "fmcl_ot_interp: sigma_min %g is outside [0, 1); use a small value "
                         "such as 0 or 1e-4",
                         (double)sigma_min);
    const fmcl_path p = fmcl_path_ot(sigma_min);
    return fmcl_path_interp(ctx, X, U, x1, &p, seed, step, B, D, time_freqs);
}

void fmcl_time_input_ref(float *X, const float *x, float t, int B, int D, int time_freqs)
{
    const int W = fmcl_input_width(D, time_freqs);
    for (int row = 0; row < B; row++) {
        for (int d = 0; d < D; d++) X[(size_t)row * W + d] = x[(size_t)row * D + d];
        time_features_ref(t, time_freqs, X + (size_t)row * W + D);
    }
}

fmcl_status fmcl_time_input(fmcl_ctx *ctx, fmcl_t X, fmcl_t x, float t, int B, int D,
                            int time_freqs)
{
    fmcl_status s = check_shape(ctx, "fmcl_time_input", 0, B, D, time_freqs);
    if (s != FMCL_OK) return s;
    return fmcl_run1(ctx, FMCL_K_time_input, (size_t)B, "ttfiii", X, x, (double)t, B, D,
                     time_freqs);
}
