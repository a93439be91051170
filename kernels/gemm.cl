#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* GEMM for CPU devices that run a work-item as one thread with vector
 * registers (PoCL; vendor.c chooses), where CLBlast's work-group tiling fits
 * poorly: row-major C[M, N] = alpha op(A) op(B) + beta C with op(A)
 * M x K and op(B) K x N. Twin of src/runtime/gemm_packed.c.
 *
 * gemm_pack_b copies op(B) into panels of GEMM_NR columns, k-major and zero
 * past the edge, so that gemm_packed reads its vectors contiguously whatever
 * the transpose. gemm_pack_a does the same for a transposed A in panels of
 * GEMM_MR rows (read in place, its columns ran at half the speed at K =
 * 4096); an A that is not transposed is read in place, its GEMM_MR rows as
 * GEMM_MR sequential streams (as fast as packed, and one pass fewer). Each of
 * its work-items keeps a GEMM_MR x GEMM_NR block of C in registers, two
 * vectors of FMCL_VW floats per row (convgemm.cl's width): with float8, 5 x 16
 * is ten accumulators, which with two B vectors and a broadcast fit AVX2's
 * sixteen registers (6 x 16 spilled one and ran 4x slower on PoCL); with
 * float16 (AVX-512's 32 registers) 8 x 32, sixteen accumulators (5 x 32 was
 * as fast at K = 512 and slower at K = 4096, 12 x 32 slower with A read in
 * place: twelve streams).
 * Every element of C is one fma chain over k in order, then alpha and beta:
 * the same bits on every device, however the work is split. */
#ifndef FMCL_VW
#define FMCL_VW 8
#endif
#if FMCL_VW == 16
#define GEMM_VEC float16
#define GEMM_VINT int16
#define GEMM_VLOAD vload16
#define GEMM_VSTORE vstore16
#define GEMM_MR 8
#else
#define GEMM_VEC float8
#define GEMM_VINT int8
#define GEMM_VLOAD vload8
#define GEMM_VSTORE vstore8
#define GEMM_MR 5
#endif
#define GEMM_NR (2 * FMCL_VW)
#define GEMM_PACK_K 8 /* values of k per packing work-item */

/* Items (kc, p): panel p's rows w = 0..W-1 (elements i = p W + w of the
 * panelled dimension, n of them) at k = kc GEMM_PACK_K ... Element (i, k) of
 * the source is src[i ld + k] when k_contig, else src[k ld + i]. */
void gemm_pack(__global float *dst, __global const float *src, size_t ld, int n, int K,
               int k_contig, const int W, size_t kc, size_t p)
{
    const size_t k0 = kc * GEMM_PACK_K, k1 = min(k0 + GEMM_PACK_K, (size_t)K);
    for (size_t k = k0; k < k1; k++)
        for (int w = 0; w < W; w++) {
            const size_t i = p * W + (size_t)w;
            float v = 0.0f;
            if (i < (size_t)n) v = k_contig ? src[i * ld + k] : src[k * ld + i];
            dst[(p * (size_t)K + k) * W + (size_t)w] = v;
        }
}

/* Ap[p, k, r] = Aᵀ[p GEMM_MR + r, k] = A[k, p GEMM_MR + r] for a transposed A
 * (an untransposed one is read in place): items (kc, p), p < ceil(M / GEMM_MR). */
__kernel void gemm_pack_a(__global float *Ap, uint Ap_off, __global const float *A, uint A_off,
                          int lda, int M, int K)
{
    const size_t kc = get_global_id(0), p = get_global_id(1);
    if (kc * GEMM_PACK_K >= (size_t)K || p * GEMM_MR >= (size_t)M) return;
    const size_t k0 = kc * GEMM_PACK_K, i0 = p * GEMM_MR;
    if (k0 + GEMM_PACK_K <= (size_t)K && i0 + GEMM_MR <= (size_t)M) {
        /* A whole block: GEMM_MR neighbours from each row k. */
        __global float *out = Ap + Ap_off + (p * (size_t)K + k0) * GEMM_MR;
        for (size_t k = 0; k < GEMM_PACK_K; k++) {
            __global const float *in = A + A_off + (k0 + k) * lda + i0;
#if GEMM_MR == 8
            vstore8(vload8(0, in), 0, out + k * GEMM_MR);
#else
            vstore4(vload4(0, in), 0, out + k * GEMM_MR);
            out[k * GEMM_MR + 4] = in[4];
#endif
        }
        return;
    }
    gemm_pack(Ap + Ap_off, A + A_off, (size_t)lda, M, K, 0, GEMM_MR, kc, p);
}

/* Bp[q, k, c] = op(B)[k, q GEMM_NR + c]: items (kc, q), q < ceil(N / GEMM_NR).
 * Whole blocks move as vectors (element by element, PoCL packed at about a
 * third of the speed); blocks at an edge go through gemm_pack. */
__kernel void gemm_pack_b(__global float *Bp, uint Bp_off, __global const float *B, uint B_off,
                          int ldb, int tb, int N, int K)
{
    const size_t kc = get_global_id(0), q = get_global_id(1);
    if (kc * GEMM_PACK_K >= (size_t)K || q * GEMM_NR >= (size_t)N) return;
    const size_t k0 = kc * GEMM_PACK_K, j0 = q * GEMM_NR;
    if (k0 + GEMM_PACK_K <= (size_t)K && j0 + GEMM_NR <= (size_t)N) {
        __global float *out = Bp + Bp_off + (q * (size_t)K + k0) * GEMM_NR;
        __global const float *in = B + B_off;
        if (!tb) {
            for (size_t k = 0; k < GEMM_PACK_K; k++)
                for (int h = 0; h < 2; h++)
                    GEMM_VSTORE(GEMM_VLOAD(h, in + (k0 + k) * ldb + j0), h, out + k * GEMM_NR);
            return;
        }
        float t[GEMM_NR][GEMM_PACK_K]; /* B's rows j0.., GEMM_PACK_K values of k each */
        for (size_t c = 0; c < GEMM_NR; c++)
            vstore8(vload8(0, in + (j0 + c) * ldb + k0), 0, t[c]);
        for (size_t k = 0; k < GEMM_PACK_K; k++)
            for (size_t c = 0; c < GEMM_NR; c++) out[k * GEMM_NR + c] = t[c][k];
        return;
    }
    gemm_pack(Bp + Bp_off, B + B_off, (size_t)ldb, N, K, tb, GEMM_NR, kc, q);
}

/* FMCL_VW values of row v from column j (j < n), the ones past n read as 0. */
GEMM_VEC gemm_loadv(__global const float *v, size_t j, size_t n)
{
    if (j + FMCL_VW <= n) return GEMM_VLOAD(0, v + j);
    float t[FMCL_VW];
    for (size_t c = 0; c < FMCL_VW; c++) t[c] = j + c < n ? v[j + c] : 0.0f;
    return GEMM_VLOAD(0, t);
}

void gemm_storev(__global float *v, size_t j, size_t n, GEMM_VEC x)
{
    if (j + FMCL_VW <= n) {
        GEMM_VSTORE(x, 0, v + j);
        return;
    }
    float t[FMCL_VW];
    GEMM_VSTORE(x, 0, t);
    for (size_t c = 0; j + c < n; c++) v[j + c] = t[c];
}

/* act.cl's fmcl_sigmoid_pair on a vector. */
GEMM_VEC gemm_sigmoidv(GEMM_VEC z, GEMM_VEC *one_minus)
{
    const GEMM_VEC e = exp(-fabs(z));
    const GEMM_VEC r = 1.0f / (1.0f + e);
    const GEMM_VEC er = e * r;
    const GEMM_VINT pos = z >= 0.0f;
    *one_minus = select(r, er, pos);
    return select(er, r, pos);
}

/* What gemm_packed does with a block row of C, epi:
 *   GEMM_PLAIN      C = alpha acc + beta C (C not read when beta is 0);
 *   GEMM_BIAS       C = acc + v[j]: an output layer's forward;
 *   GEMM_BIAS_SILU  C = acc + v[j], H = silu(C): a hidden layer's forward,
 *                   act.cl's bias_silu_forward fused in;
 *   GEMM_SILU_GRAD  C = acc silu'(v[i, j]) (v: the pre-activations, ldc):
 *                   an input gradient through the layer below's SiLU, act.cl's
 *                   silu_backward fused in;
 *   GEMM_ROWSUM     C = acc + C and v[i] += the sum over k of op(A)[i, k], in
 *                   k order: a layer's weight gradient dW += dzᵀ x with its
 *                   bias gradient db += dz's column sums, the blocks of the
 *                   first B panel adding up the A values they broadcast.
 * The fused ones need alpha = 1 and beta = 0, GEMM_ROWSUM beta = 1
 * (gemm_packed.c checks). */
#define GEMM_PLAIN 0
#define GEMM_BIAS 1
#define GEMM_BIAS_SILU 2
#define GEMM_SILU_GRAD 3
#define GEMM_ROWSUM 4

/* The k loop of a register block; ROWSUM: also rs[r] += each A value. */
#define GEMM_KLOOP(ROWSUM)                                                                       \
    for (int k = 0; k < K; k++) {                                                                \
        const GEMM_VEC b0 = GEMM_VLOAD(0, b + (size_t)k * GEMM_NR);                               \
        const GEMM_VEC b1 = GEMM_VLOAD(1, b + (size_t)k * GEMM_NR);                               \
        _Pragma("unroll") for (int r = 0; r < GEMM_MR; r++) {                                    \
            const float ar = a[r][(size_t)k * sk];                                               \
            if (ROWSUM) rs[r] += ar;                                                             \
            const GEMM_VEC av = (GEMM_VEC)(ar);                                                  \
            acc[r][0] = fma(av, b0, acc[r][0]);                                                  \
            acc[r][1] = fma(av, b1, acc[r][1]);                                                  \
        }                                                                                        \
    }

/* Items (g, h), one work-item per group: panels of B q = g qb ... g qb + qb - 1
 * against panels of A p = h pa ... h pa + pa - 1, each pair one register block.
 * A work-item's panels stay in its core's cache while it sweeps them. */
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void gemm_packed(
    __global float *C, uint C_off, __global float *H, uint H_off, __global float *v,
    uint v_off, __global const float *A, uint A_off, int lda, int a_packed,
    __global const float *Bp, uint Bp_off, int M, int N, int K, int ldc, float alpha,
    float beta, int epi, int pa, int qb)
{
    const int q0 = (int)get_global_id(0) * qb, p0 = (int)get_global_id(1) * pa;
    /* Element (r, k) of the block's A rows: a[r][k sk]. In place, rows past
     * M repeat row M - 1 (read, never stored). */
    const size_t sk = a_packed ? GEMM_MR : 1;
    for (int q = q0; q < q0 + qb && q * GEMM_NR < N; q++)
        for (int p = p0; p < p0 + pa && p * GEMM_MR < M; p++) {
            __global const float *a[GEMM_MR];
#pragma unroll
            for (int r = 0; r < GEMM_MR; r++)
                a[r] = a_packed ? A + A_off + (size_t)p * K * GEMM_MR + r
                                : A + A_off + (size_t)min(p * GEMM_MR + r, M - 1) * lda;
            __global const float *b = Bp + Bp_off + (size_t)q * K * GEMM_NR;
            GEMM_VEC acc[GEMM_MR][2];
            float rs[GEMM_MR];
#pragma unroll
            for (int r = 0; r < GEMM_MR; r++) {
                acc[r][0] = acc[r][1] = (GEMM_VEC)(0.0f);
                rs[r] = 0.0f;
            }
            const int rowsum = epi == GEMM_ROWSUM && q == 0;
            if (rowsum) {
                GEMM_KLOOP(1)
            } else {
                GEMM_KLOOP(0)
            }
            for (int r = 0; r < GEMM_MR && p * GEMM_MR + r < M; r++) {
                const size_t row = (size_t)(p * GEMM_MR + r) * (size_t)ldc;
                for (int hv = 0; hv < 2 && q * GEMM_NR + FMCL_VW * hv < N; hv++) {
                    const size_t j = (size_t)(q * GEMM_NR + FMCL_VW * hv);
                    GEMM_VEC x = acc[r][hv], c;
                    if (epi == GEMM_BIAS || epi == GEMM_BIAS_SILU)
                        x += gemm_loadv(v + v_off, j, (size_t)N);
                    if (epi == GEMM_BIAS_SILU) {
                        gemm_storev(H + H_off + row, j, (size_t)N, x * gemm_sigmoidv(x, &c));
                    } else if (epi == GEMM_SILU_GRAD) {
                        const GEMM_VEC z = gemm_loadv(v + v_off + row, j, (size_t)N);
                        const GEMM_VEC s = gemm_sigmoidv(z, &c);
                        x *= s * (1.0f + z * c);
                    } else {
                        x = alpha * x;
                        if (beta != 0.0f) x += beta * gemm_loadv(C + C_off + row, j, (size_t)N);
                    }
                    gemm_storev(C + C_off + row, j, (size_t)N, x);
                }
                if (rowsum) v[v_off + p * GEMM_MR + r] += rs[r];
            }
        }
}
