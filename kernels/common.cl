/* Shared by every kernel file (embedded first in the one program): pragmas,
 * index helpers, Philox4x32-10. OpenCL C 1.2. */
#pragma OPENCL FP_CONTRACT OFF

/* Counter word c2 of each use (src/runtime/rng.h's enum, same values). */
#define FMCL_STREAM_DATA 1u
#define FMCL_STREAM_TIME 2u
#define FMCL_STREAM_NOISE 3u
#define FMCL_STREAM_INIT 4u
#define FMCL_STREAM_SAMPLE 5u
#define FMCL_STREAM_INDEX 6u
#define FMCL_STREAM_PROBE 7u
#define FMCL_STREAM_PIXELS 8u
#define FMCL_STREAM_LABEL 9u
#define FMCL_STREAM_DROPOUT 10u

/* Philox4x32-10 (Salmon et al. 2011, Random123 constants), the twin of
 * src/runtime/rng.c: counter c, key k -> four 32-bit words, bit-identical to the
 * host. The key is bumped between rounds, not before the first. */
uint4 philox4x32_10(uint4 c, uint2 k)
{
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k.x += 0x9E3779B9u;
            k.y += 0xBB67AE85u;
        }
        const uint hi0 = mul_hi(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
        const uint hi1 = mul_hi(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

/* Key = the 64-bit seed's low and high words; counter (c0, c1, c2, c3) =
 * (element or row, block, stream, step) as in src/runtime/rng.h. */
uint4 philox(ulong seed, uint c0, uint c1, uint c2, uint c3)
{
    return philox4x32_10((uint4)(c0, c1, c2, c3), (uint2)((uint)seed, (uint)(seed >> 32)));
}

/* [0, 1) from the top 24 bits: exact, so identical on host and device. */
float u01(uint r) { return (float)(r >> 8) * 0x1.0p-24f; }

/* Two words -> two N(0, 1) normals. u1 in (0, 1] keeps log finite; cospi and
 * sinpi of 2 u2 avoid rounding 2 pi u2 before the reduction. */
float2 box_muller(uint r0, uint r1)
{
    const float u1 = (float)((r0 >> 8) + 1u) * 0x1.0p-24f;
    const float u2 = u01(r1);
    const float rad = sqrt(-2.0f * log(u1));
    return (float2)(rad * cospi(2.0f * u2), rad * sinpi(2.0f * u2));
}

/* Integer in [0, n) without division: the high word of r * n. */
uint uint_below(uint r, uint n) { return mul_hi(r, n); }
