/* Philox4x32-10 on the host (the oracle for kernels/common.cl's twin) and the
 * randn launcher. The float conversions use only exact operations (shifts,
 * power-of-two scaling) so host and device agree bit for bit on uniforms; the
 * normals differ only by the devices' log/sqrt/cospi rounding. */
#include <math.h>

#include "runtime/rng.h"

/* Random123's round multipliers and Weyl key increments. */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void fmcl_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        if (r > 0) { /* the key is bumped between rounds, not before the first */
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void fmcl_philox(uint64_t seed, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t out[4])
{
    const uint32_t ctr[4] = {c0, c1, c2, c3};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    fmcl_philox4x32_10(ctr, key, out);
}

float fmcl_u01(uint32_t r) { return (float)(r >> 8) * 0x1.0p-24f; }

/* u1 = (top 24 bits + 1) 2^-24 lies in (0, 1], so log(u1) is finite. The host
 * evaluates the transcendental parts in double, then rounds once. */
void fmcl_box_muller(uint32_t r0, uint32_t r1, float *z0, float *z1)
{
    const float u1 = (float)((r0 >> 8) + 1u) * 0x1.0p-24f;
    const float u2 = fmcl_u01(r1);
    const double rad = sqrt(-2.0 * log((double)u1));
    const double a = 2.0 * M_PI * (double)u2;
    *z0 = (float)(rad * cos(a));
    *z1 = (float)(rad * sin(a));
}

uint32_t fmcl_uint_below(uint32_t r, uint32_t n) { return (uint32_t)(((uint64_t)r * n) >> 32); }

/* Element i comes from counter (i / 4, 0, stream, step): the block's four
 * words give two Box-Muller pairs, normals 4b .. 4b+3. */
void fmcl_randn_ref(float *x, uint64_t seed, uint32_t stream, uint32_t step, int n)
{
    for (int b = 0; 4 * (int64_t)b < n; b++) {
        uint32_t r[4];
        float z[4];
        fmcl_philox(seed, (uint32_t)b, 0, stream, step, r);
        fmcl_box_muller(r[0], r[1], &z[0], &z[1]);
        fmcl_box_muller(r[2], r[3], &z[2], &z[3]);
        for (int j = 0; j < 4 && 4 * b + j < n; j++) x[4 * b + j] = z[j];
    }
}

fmcl_status fmcl_randn(fmcl_ctx *ctx, fmcl_t x, uint64_t seed, uint32_t stream, uint32_t step,
                       int n)
{
    if (n < 0) return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_randn: negative length %d", n);
    return fmcl_run1(ctx, FMCL_K_randn, ((size_t)n + 3) / 4, "tluui", x, seed, (unsigned)stream,
                     (unsigned)step, n);
}
