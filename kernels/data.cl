#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Built-in 2D sets and row gathering: the twins of src/data/toy2d.c, which
 * documents each formula; operations here follow it one for one. */

#define CHECKER_SCALE 2.22222222f /* 1 / 0.45 */
#define GAUSS8_SCALE 0.707213579f /* 1 / 1.414 */
#define SPIRAL_SCALE 0.333333333f /* 1 / 3 */

float2 toy_point(int kind, uint4 r)
{
    if (kind == 0) { /* checkerboard */
        const float a = 4.0f * u01(r.x) - 2.0f;
        const float coin = (float)(r.y >> 31);
        const float m = (float)((int)floor(a) & 1);
        const float b = u01(r.z) - 2.0f * coin + m;
        return (float2)(a * CHECKER_SCALE, b * CHECKER_SCALE);
    }
    if (kind == 1) { /* 8gaussians */
        const float k = (float)uint_below(r.x, 8u);
        const float2 z = box_muller(r.y, r.z);
        return (float2)((4.0f * cospi(0.25f * k) + 0.5f * z.x) * GAUSS8_SCALE,
                        (4.0f * sinpi(0.25f * k) + 0.5f * z.y) * GAUSS8_SCALE);
    }
    if (kind == 2) { /* moons */
        const uint lower = r.x >> 31;
        const float u = u01(r.y);
        const float c = cospi(u), s = sinpi(u);
        const float2 z = box_muller(r.z, r.w);
        const float px = lower ? 1.0f - c : c;
        const float py = lower ? 0.5f - s : s;
        return (float2)(2.0f * (px + 0.1f * z.x - 0.5f), 2.0f * (py + 0.1f * z.y - 0.25f));
    }
    if (kind == 3) { /* rings */
        const float rad = 3.0f - 0.75f * (float)uint_below(r.x, 4u);
        const float u = u01(r.y);
        const float2 z = box_muller(r.z, r.w);
        return (float2)(rad * cospi(2.0f * u) + 0.08f * z.x, rad * sinpi(2.0f * u) + 0.08f * z.y);
    }
    /* spirals */
    const uint second = r.x >> 31;
    const float m = 3.0f * sqrt(u01(r.y));
    const float n = m * M_PI_F;
    const float px = -cospi(m) * n + 0.5f * u01(r.z);
    const float py = sinpi(m) * n + 0.5f * u01(r.w);
    return (float2)((second ? -px : px) * SPIRAL_SCALE, (second ? -py : py) * SPIRAL_SCALE);
}

/* x1: [B, 2]; one work-item per row, counter (row0 + row, 0, FMCL_STREAM_DATA,
 * step): rows [row0, row0 + B) of the whole batch. */
__kernel void toy_sample(__global float *x1, uint x1_off, int kind, ulong seed, uint step,
                         int row0, int B)
{
    const uint i = get_global_id(0);
    if (i >= (uint)B) return;
    const float2 p = toy_point(kind, philox(seed, (uint)row0 + i, 0u, FMCL_STREAM_DATA, step));
    x1[x1_off + 2u * i] = p.x;
    x1[x1_off + 2u * i + 1u] = p.y;
}

/* x1: [B, D] = rows of data: [N, D] picked by word 0 of counter
 * (row0 + b, 0, FMCL_STREAM_INDEX, step); items (d, b). */
__kernel void gather_rows(__global float *x1, uint x1_off, __global const float *data,
                          uint data_off, ulong seed, uint step, int row0, int N, int D, int B)
{
    const uint d = get_global_id(0), b = get_global_id(1);
    if (d >= (uint)D || b >= (uint)B) return;
    const uint g = (uint)row0 + b;
    const uint row = uint_below(philox(seed, g, 0u, FMCL_STREAM_INDEX, step).x, (uint)N);
    x1[x1_off + b * (uint)D + d] = data[data_off + row * (uint)D + d];
}
