#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* The probability paths' training inputs and the network input at one time:
 * twins of src/flow/path.c and src/flow/schedule.c. Rows are
 * [x, time_features(t)] of width W. */

/* fmcl_path_kind (include/fmcl.h), same values. */
#define PATH_OT 0
#define PATH_VP 1
#define PATH_VE 2
#define PATH_COSINE 3
#define PATH_POLY 4
#define PATH_LINEAR_VP 5

/* The network's time columns for one row (see src/flow/flow_ops.h): F == 0
 * writes t; F > 0 writes sin(2^k pi t) for k < F, then cos(2^k pi t). The
 * argument 2^k t is exact, so sinpi/cospi see no rounded multiple of pi. */
void time_features(float t, int F, __global float *out, uint off)
{
    if (F == 0) {
        out[off] = t;
        return;
    }
    for (int k = 0; k < F; k++) {
        const float a = t * (float)(1u << k);
        out[off + k] = sinpi(a);
        out[off + F + k] = cospi(a);
    }
}

/* (alpha_t, sigma_t, alpha'_t, sigma'_t) of a path; p0, p1 as in
 * src/flow/paths.h. VP's 1 - alpha^2 goes through expm1 and linear-VP's
 * 1 - t^2 through (1 - t)(1 + t): both stay accurate as sigma -> 0 near t = 1. */
float4 path_schedule(int kind, float p0, float p1, float t)
{
    switch (kind) {
    case PATH_VP: {
        const float r = 1.0f - t, db = p1 - p0;
        const float T = p0 * r + 0.5f * db * r * r, beta = p0 + db * r;
        const float a = exp(-0.5f * T), sig = sqrt(-expm1(-T)), da = 0.5f * beta * a;
        return (float4)(a, sig, da, -a * da / sig);
    }
    case PATH_VE: {
        const float L = log(p1 / p0), sig = p0 * exp((1.0f - t) * L);
        return (float4)(1.0f, sig, 0.0f, -L * sig);
    }
    case PATH_COSINE: {
        const float a = sinpi(0.5f * t), sig = cospi(0.5f * t);
        return (float4)(a, sig, M_PI_2_F * sig, -M_PI_2_F * a);
    }
    case PATH_POLY: {
        const float a = pow(t, p0), da = p0 * pow(t, p0 - 1.0f);
        return (float4)(a, 1.0f - a, da, -da);
    }
    case PATH_LINEAR_VP: {
        const float sig = sqrt((1.0f - t) * (1.0f + t));
        return (float4)(t, sig, 1.0f, -t / sig);
    }
    default: { /* PATH_OT, p0 = sigma_min */
        const float keep = 1.0f - p0;
        return (float4)(t, 1.0f - keep * t, 1.0f, -keep);
    }
    }
}

/* One work-item per row: t = u01(word 0 of (g, 0, TIME, step)) t_max; x0's
 * element d is normal d % 4 of counter (g, d / 4, NOISE, step), where
 * g = row0 + row is the row's example in the whole batch (rows [row0,
 * row0 + B) of it are this rank's share, docs/DESIGN.md "Data-parallel
 * training");
 * X[row] = [alpha x1 + sigma x0, features(t)], U[row] = alpha' x1 + sigma' x0.
 * The row's data point x1 comes from source: < 0 the buffer x1 [B, D]; a
 * built-in set's kind (0..4, D = 2) drawn here as toy_sample draws it; 5
 * (FMCL_DATA_ARRAY) the row of data [n_data, D] that gather_rows picks. So
 * data, noise, t and the interpolant are one kernel, bit for bit the same as
 * drawing x1 first. Unused buffers may be any valid ones. */
#define SOURCE_ARRAY 5

__kernel void path_interp(__global float *X, uint X_off, __global float *U, uint U_off,
                          __global const float *x1, uint x1_off, __global const float *data,
                          uint data_off, int source, int n_data, ulong seed, uint step,
                          int row0, int kind, float p0, float p1, float t_max, int B, int D,
                          int F)
{
    const uint row = get_global_id(0);
    if (row >= (uint)B) return;
    const uint W = F > 0 ? (uint)(D + 2 * F) : (uint)D + 1u;
    const uint g = (uint)row0 + row;
    const float t = u01(philox(seed, g, 0u, FMCL_STREAM_TIME, step).x) * t_max;
    const float4 s = path_schedule(kind, p0, p1, t);
    float2 toy = (float2)(0.0f, 0.0f);
    uint src = row * (uint)D;
    if (source >= 0 && source < SOURCE_ARRAY)
        toy = toy_point(source, philox(seed, g, 0u, FMCL_STREAM_DATA, step));
    else if (source == SOURCE_ARRAY)
        src = uint_below(philox(seed, g, 0u, FMCL_STREAM_INDEX, step).x, (uint)n_data) *
              (uint)D;
    for (uint d0 = 0; d0 < (uint)D; d0 += 4u) {
        const uint4 r = philox(seed, g, d0 / 4u, FMCL_STREAM_NOISE, step);
        const float2 z01 = box_muller(r.x, r.y), z23 = box_muller(r.z, r.w);
        const float z[4] = {z01.x, z01.y, z23.x, z23.y};
        for (uint j = 0; j < 4u && d0 + j < (uint)D; j++) {
            const uint d = d0 + j;
            const float x0 = z[j];
            const float xd = source < 0               ? x1[x1_off + src + d]
                             : source == SOURCE_ARRAY ? data[data_off + src + d]
                             : d == 0                 ? toy.x
                                                      : toy.y;
            X[X_off + row * W + d] = s.x * xd + s.y * x0;
            U[U_off + row * (uint)D + d] = s.z * xd + s.w * x0;
        }
    }
    time_features(t, F, X, X_off + row * W + (uint)D);
}

/* X: [B, W] = [x, features(t)] for one t; one work-item per row. */
__kernel void time_input(__global float *X, uint X_off, __global const float *x, uint x_off,
                         float t, int B, int D, int F)
{
    const uint row = get_global_id(0);
    if (row >= (uint)B) return;
    const uint W = F > 0 ? (uint)(D + 2 * F) : (uint)D + 1u;
    for (uint d = 0; d < (uint)D; d++) X[X_off + row * W + d] = x[x_off + row * (uint)D + d];
    time_features(t, F, X, X_off + row * W + (uint)D);
}
