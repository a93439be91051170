/* The OT (CondOT) path's training inputs and the network input at one time:
 * twins of src/flow/path.c. Rows are [x, time_features(t)] of width W. */

/* One work-item per row: t = u01(word 0 of (row, 0, TIME, step)); x0's
 * element d is normal d % 4 of counter (row, d / 4, NOISE, step);
 * X[row] = [(1 - (1 - smin) t) x0 + t x1, features(t)], U[row] = x1 - (1 - smin) x0. */
__kernel void ot_interp(__global float *X, uint X_off, __global float *U, uint U_off,
                        __global const float *x1, uint x1_off, ulong seed, uint step,
                        float sigma_min, int B, int D, int F)
{
    const uint row = get_global_id(0);
    if (row >= (uint)B) return;
    const uint W = F > 0 ? (uint)(D + 2 * F) : (uint)D + 1u;
    const float t = u01(philox(seed, row, 0u, FMCL_STREAM_TIME, step).x);
    const float keep = 1.0f - sigma_min;
    const float a = 1.0f - keep * t;
    for (uint d0 = 0; d0 < (uint)D; d0 += 4u) {
        const uint4 r = philox(seed, row, d0 / 4u, FMCL_STREAM_NOISE, step);
        const float2 z01 = box_muller(r.x, r.y), z23 = box_muller(r.z, r.w);
        const float z[4] = {z01.x, z01.y, z23.x, z23.y};
        for (uint j = 0; j < 4u && d0 + j < (uint)D; j++) {
            const float x0 = z[j];
            const float xd = x1[x1_off + row * (uint)D + d0 + j];
            X[X_off + row * W + d0 + j] = a * x0 + t * xd;
            U[U_off + row * (uint)D + d0 + j] = xd - keep * x0;
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
