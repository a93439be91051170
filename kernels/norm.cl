#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* GroupNorm on NCHW (src/nn/norm.c), optionally followed by a residual
 * block's scale and shift and by SiLU, fused: the U-Net's GroupNorm ->
 * [scale-shift] -> SiLU in one elementwise pass after the statistics, and
 * one pass computing that tail's gradient (its exp once per element) before
 * GroupNorm's. The Cg = C / G channels of group g of sample b are
 * contiguous: n = Cg HW values from (b G + g) n; row bc = b C + c is channel
 * c of sample b, HW values.
 *
 * A work-item takes GN_W = 16 elements at a time, as explicit vectors: PoCL
 * ran the exp of SiLU's elementwise kernels, vectorised across work-items,
 * at a quarter of the speed of float16 code. Sums over a group or a row run
 * in one work-item, GN_W lanes in element order, then a fixed tree over the
 * lanes (gn_hsum): the order depends only on the shape, so every device adds
 * alike and repeats its bits. */
#define GN_W 16

/* Elements [j, j + GN_W) of a row of n values, 0 past n. */
float16 gn_load(__global const float *p, int j, int n)
{
    if (j + GN_W <= n) return vload16(0, p + j);
    float t[GN_W];
    for (int k = 0; k < GN_W; k++) t[k] = j + k < n ? p[j + k] : 0.0f;
    return vload16(0, t);
}

void gn_store(__global float *p, int j, int n, float16 v)
{
    if (j + GN_W <= n) {
        vstore16(v, 0, p + j);
        return;
    }
    float t[GN_W];
    vstore16(v, 0, t);
    for (int k = 0; j + k < n; k++) p[j + k] = t[k];
}

/* v's lanes past n - j set to 0. (Vectors are taken apart through private
 * arrays, not swizzles: Oclgrind 21.10's --uninitialized crashed on the
 * 16-wide shuffles.) */
float16 gn_mask(float16 v, int j, int n)
{
    const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return select((float16)(0.0f), v, lane < (int16)(n - j));
}

float gn_hsum(float16 v)
{
    float t[GN_W];
    vstore16(v, 0, t);
    for (int h = GN_W / 2; h > 0; h /= 2)
        for (int k = 0; k < h; k++) t[k] += t[k + h];
    return t[0];
}

/* Items bg < rows (= B G): mean = sum(x) / n, var = sum((x - mean)^2) / n
 * (biased, as PyTorch), rstd = 1 / sqrt(var + eps). */
__kernel void groupnorm_stats(__global float *mean, uint mean_off, __global float *rstd,
                              uint rstd_off, __global const float *x, uint x_off, int rows, int n,
                              float eps)
{
    const int bg = (int)get_global_id(0);
    if (bg >= rows) return;
    __global const float *p = x + x_off + (size_t)bg * n;
    float16 acc = (float16)(0.0f);
    for (int j = 0; j < n; j += GN_W) acc += gn_load(p, j, n);
    const float m = gn_hsum(acc) / (float)n;
    acc = (float16)(0.0f);
    for (int j = 0; j < n; j += GN_W) {
        const float16 d = gn_mask(gn_load(p, j, n) - m, j, n);
        acc += d * d;
    }
    mean[mean_off + bg] = m;
    rstd[rstd_off + bg] = 1.0f / sqrt(gn_hsum(acc) / (float)n + eps);
}

/* What the layers compute for one row's values, in their order: xn =
 * (x - mean) rstd gamma + beta, then with ss u = xn (1 + scale) + shift
 * (sc = 1 + scale, sh = shift), else u = xn. */
typedef struct {
    float m, r, ga, be, sc, sh;
    int ss, silu;
} gn_row;

gn_row gn_row_of(int row, int C, int G, __global const float *mean, __global const float *rstd,
                 __global const float *gamma, __global const float *beta,
                 __global const float *ss, int use_ss, int silu)
{
    int c;
    const int b = fmcl_divmod(row, C, &c), bg = b * G + c / (C / G);
    gn_row q = {mean[bg], rstd[bg], gamma[c], beta[c], 1.0f, 0.0f, use_ss, silu};
    if (use_ss) {
        q.sc = 1.0f + ss[(size_t)b * 2 * C + c];
        q.sh = ss[(size_t)b * 2 * C + C + c];
    }
    return q;
}

float16 gn_u(const gn_row *q, float16 x, float16 *xhat, float16 *xn)
{
    *xhat = (x - q->m) * q->r;
    *xn = *xhat * q->ga + q->be;
    return q->ss ? *xn * q->sc + q->sh : *xn;
}

/* act.cl's fmcl_sigmoid_pair on GN_W values. */
float16 gn_sigmoid(float16 z, float16 *one_minus)
{
    const float16 e = exp(-fabs(z));
    const float16 r = 1.0f / (1.0f + e);
    const float16 er = e * r;
    const int16 pos = z >= 0.0f;
    *one_minus = select(r, er, pos);
    return select(er, r, pos);
}

/* y = u, or silu(u) = u sigmoid(u). Items (k, row): elements [GN_W k,
 * GN_W k + GN_W) of row < rows (= B C). */
__kernel void groupnorm_act_forward(__global float *y, uint y_off, __global const float *x,
                                    uint x_off, __global const float *mean, uint mean_off,
                                    __global const float *rstd, uint rstd_off,
                                    __global const float *gamma, uint gamma_off,
                                    __global const float *beta, uint beta_off,
                                    __global const float *ss, uint ss_off, int rows, int C,
                                    int HW, int G, int use_ss, int silu)
{
    const int j = (int)get_global_id(0) * GN_W, row = (int)get_global_id(1);
    if (j >= HW || row >= rows) return;
    const gn_row q = gn_row_of(row, C, G, mean + mean_off, rstd + rstd_off, gamma + gamma_off,
                               beta + beta_off, ss + ss_off, use_ss, silu);
    const size_t at = (size_t)row * HW;
    float16 xhat, xn, c;
    float16 u = gn_u(&q, gn_load(x + x_off + at, j, HW), &xhat, &xn);
    if (silu) u *= gn_sigmoid(u, &c);
    gn_store(y + y_off + at, j, HW, u);
}

/* The tail's gradient, one item per row < rows (= B C): du = dy silu'(u) (or
 * dy), dxn = du (1 + scale) (or du) into dxn, and the row's sums into
 * part[row][0..3]: du xn and du (the scale's and shift's gradients), dxn
 * xhat and dxn (gamma's and beta's, and GroupNorm's input gradient). */
__kernel void groupnorm_act_backward_rows(__global float *dxn, uint dxn_off, __global float *part,
                                          uint part_off, __global const float *dy, uint dy_off,
                                          __global const float *x, uint x_off,
                                          __global const float *mean, uint mean_off,
                                          __global const float *rstd, uint rstd_off,
                                          __global const float *gamma, uint gamma_off,
                                          __global const float *beta, uint beta_off,
                                          __global const float *ss, uint ss_off, int rows, int C,
                                          int HW, int G, int use_ss, int silu)
{
    const int row = (int)get_global_id(0);
    if (row >= rows) return;
    const gn_row q = gn_row_of(row, C, G, mean + mean_off, rstd + rstd_off, gamma + gamma_off,
                               beta + beta_off, ss + ss_off, use_ss, silu);
    const size_t at = (size_t)row * HW;
    float16 a0 = (float16)(0.0f), a1 = a0, a2 = a0, a3 = a0;
    for (int j = 0; j < HW; j += GN_W) {
        float16 xhat, xn, c;
        const float16 u = gn_u(&q, gn_load(x + x_off + at, j, HW), &xhat, &xn);
        float16 du = gn_load(dy + dy_off + at, j, HW); /* 0 past HW: every sum adds 0 there */
        if (silu) {
            const float16 s = gn_sigmoid(u, &c);
            du *= s * (1.0f + u * c);
        }
        const float16 d = use_ss ? du * q.sc : du;
        gn_store(dxn + dxn_off + at, j, HW, d);
        a0 += du * xn;
        a1 += du;
        a2 += d * xhat;
        a3 += d;
    }
    __global float *o = part + part_off + (size_t)row * 4;
    o[0] = gn_hsum(a0);
    o[1] = gn_hsum(a1);
    o[2] = gn_hsum(a2);
    o[3] = gn_hsum(a3);
}

/* Items c < C: dgamma[c] += the sum over b of part[b C + c][2], dbeta[c]
 * likewise of [3]; with ss, dss[b, c] += part[b C + c][0] and dss[b, C + c]
 * += part[b C + c][1]. */
__kernel void groupnorm_act_backward_params(__global float *dgamma, uint dgamma_off,
                                            __global float *dbeta, uint dbeta_off,
                                            __global float *dss, uint dss_off,
                                            __global const float *part, uint part_off, int B,
                                            int C, int use_ss)
{
    const int c = (int)get_global_id(0);
    if (c >= C) return;
    float sg = 0.0f, sb = 0.0f;
    for (int b = 0; b < B; b++) {
        __global const float *o = part + part_off + ((size_t)b * C + c) * 4;
        sg += o[2];
        sb += o[3];
        if (use_ss) {
            dss[dss_off + (size_t)b * 2 * C + c] += o[0];
            dss[dss_off + (size_t)b * 2 * C + C + c] += o[1];
        }
    }
    dgamma[dgamma_off + c] += sg;
    dbeta[dbeta_off + c] += sb;
}

/* GroupNorm's input gradient from dxn: with g = gamma[c] dxn and the group's
 * means mg = sum(g) / n, mgx = sum(g xhat) / n (from the rows' sums, in
 * channel order), dx += rstd (g - mg - xhat mgx). Items (k, row) as the
 * forward's. */
__kernel void groupnorm_act_backward_input(__global float *dx, uint dx_off,
                                           __global const float *dxn, uint dxn_off,
                                           __global const float *part, uint part_off,
                                           __global const float *x, uint x_off,
                                           __global const float *mean, uint mean_off,
                                           __global const float *rstd, uint rstd_off,
                                           __global const float *gamma, uint gamma_off, int rows,
                                           int C, int HW, int G)
{
    const int j = (int)get_global_id(0) * GN_W, row = (int)get_global_id(1);
    if (j >= HW || row >= rows) return;
    /* The group's rows are row0 .. row0 + Cg - 1 (bg = b G + g = row / Cg),
     * split from row alone: a remainder of c would make LLVM add a freeze,
     * which Oclgrind's --uninitialized rejects (conv.cl's fmcl_divmod). */
    const int Cg = C / G;
    int i, gi;
    const int bg = fmcl_divmod(row, Cg, &i), row0 = bg * Cg;
    fmcl_divmod(bg, G, &gi);
    const int c0 = gi * Cg;
    float mg = 0.0f, mgx = 0.0f;
    for (int k = 0; k < Cg; k++) {
        __global const float *o = part + part_off + (size_t)(row0 + k) * 4;
        const float ga = gamma[gamma_off + c0 + k];
        mg += ga * o[3];
        mgx += ga * o[2];
    }
    const float n = (float)(Cg * HW);
    mg /= n;
    mgx /= n;
    const float m = mean[mean_off + bg], r = rstd[rstd_off + bg], ga = gamma[gamma_off + c0 + i];
    const size_t at = (size_t)row * HW;
    const float16 xhat = (gn_load(x + x_off + at, j, HW) - m) * r;
    const float16 g = ga * gn_load(dxn + dxn_off + at, j, HW);
    gn_store(dx + dx_off + at, j, HW,
             gn_load(dx + dx_off + at, j, HW) + r * (g - mg - xhat * mgx));
}
