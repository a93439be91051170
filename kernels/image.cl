#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Training batches of 8-bit images: the twin of fmcl_image_batch_ref
 * (src/data/pixels.c), which documents the draws. */

/* x1: [B, D], D = C H W; pix: N x D bytes from byte pix_off; items (d, b);
 * row b draws as example row0 + b of the whole batch. */
__kernel void image_batch(__global float *x1, uint x1_off, __global const uchar *pix,
                          uint pix_off, ulong seed, uint step, int row0, int N, int C, int H,
                          int W, int hflip, int B)
{
    const uint d = get_global_id(0), b = get_global_id(1);
    const uint D = (uint)C * (uint)H * (uint)W;
    if (d >= D || b >= (uint)B) return;
    const uint g = (uint)row0 + b;
    const uint4 pick = philox(seed, g, 0u, FMCL_STREAM_INDEX, step);
    const uint row = uint_below(pick.x, (uint)N);
    uint src = d;
    if (hflip && (pick.y >> 31)) {
        const uint x = d % (uint)W;
        src = d - x + ((uint)W - 1u - x);
    }
    const uint4 r = philox(seed, g, d / 4u, FMCL_STREAM_PIXELS, step);
    /* Word d % 4 through a private array: Oclgrind 21.10 picked the wrong
     * words from the equivalent chain of selects on r's components. */
    uint words[4];
    vstore4(r, 0, words);
    const uint w = words[d % 4u];
    const float v = (float)pix[pix_off + row * D + src] + u01(w);
    x1[x1_off + b * D + d] = v * 0.0078125f - 1.0f;
}
