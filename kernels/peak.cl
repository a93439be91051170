#pragma OPENCL FP_CONTRACT OFF
/* Arithmetic throughput for `fmcl bench`: each work-item runs iters rounds
 * of 16 independent scalar chains x = fma(x, a, b) with no memory traffic in
 * the loop (32 FLOP per round), then writes their sum. Scalar because
 * Oclgrind 21.10's --uninitialized crashes on vector fma chains; GPUs run
 * scalar work-items at full rate, but PoCL does not vectorise this loop
 * across work-items, so there it shows its scalar FMA rate (about a third of
 * what float4 chains reached) and GEMM can exceed it. a and b are arguments
 * so nothing folds; with |a| < 1 the chains settle at b / (1 - a), so the
 * result checks against a double reference.
 * out[n]; shapes last. */
__kernel void peak_fma(__global float *out, uint out_off, float a, float b, int iters, int n)
{
    int i = get_global_id(0);
    if (i >= n) return;
    float base = (float)(i % 64) * 0.015625f;
    float x0 = base, x1 = base + 1.0f, x2 = base + 2.0f, x3 = base + 3.0f;
    float x4 = base - 1.0f, x5 = base - 2.0f, x6 = base - 3.0f, x7 = base - 4.0f;
    float x8 = base + 0.5f, x9 = base + 1.5f, x10 = base + 2.5f, x11 = base + 3.5f;
    float x12 = base - 0.5f, x13 = base - 1.5f, x14 = base - 2.5f, x15 = base - 3.5f;
    for (int k = 0; k < iters; k++) {
        x0 = fma(x0, a, b);
        x1 = fma(x1, a, b);
        x2 = fma(x2, a, b);
        x3 = fma(x3, a, b);
        x4 = fma(x4, a, b);
        x5 = fma(x5, a, b);
        x6 = fma(x6, a, b);
        x7 = fma(x7, a, b);
        x8 = fma(x8, a, b);
        x9 = fma(x9, a, b);
        x10 = fma(x10, a, b);
        x11 = fma(x11, a, b);
        x12 = fma(x12, a, b);
        x13 = fma(x13, a, b);
        x14 = fma(x14, a, b);
        x15 = fma(x15, a, b);
    }
    float s0 = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7));
    float s1 = ((x8 + x9) + (x10 + x11)) + ((x12 + x13) + (x14 + x15));
    out[out_off + i] = s0 + s1;
}
