#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Convolution as an implicit GEMM (src/nn/conv_gemm.c): no im2col buffer.
 * The product is Y[m, o] = sum over r of X[m, r] Wp[r, o] with m an output
 * pixel (b, oy, ox) of the M = B Ho Wo, o an output channel (Ko of them) and
 * r = (c, ky, kx) a tap of the R = Ci ks ks; X[m, r] is read straight from
 * the image, x[b, c, oy stride - pad + ky, ox stride - pad + kx], 0 outside.
 * The weights come packed (convgemm_pack_w) into panels of CONV_NR output
 * channels, r-major, zero past Ko: the forward's w[o, r], or for the input
 * gradient of a stride-1 convolution the flipped, transposed w (the input
 * gradient is then the convolution of dy with it, padded by ks - 1 - pad).
 *
 * Every output is one fma chain over r in order, then the store: mode
 * CONV_BIAS y = acc + bias[o] (the forward; the same bits as im2col and the
 * packed GEMM, whose chain is the same), CONV_BIAS_ADD y = acc + bias[o] +
 * res (a residual sum fused into the store), CONV_ACC y += acc (an input
 * gradient). Both variants below compute the same chain: the same bits. */
#define CONV_NR 16 /* output channels per weight panel: two float8 */
#define CONV_MR 5  /* pixels per register block (gemm.cl's GEMM_MR) */
#define CONV_PACK_R 8

#define CONV_BIAS 0
#define CONV_BIAS_ADD 1
#define CONV_ACC 2

/* Wp[q, r, j] = the weight of output channel o = q CONV_NR + j at tap r.
 * flip 0: w[o, r] (w is [Ko, R]). flip 1: w is [Ci, Ko, ks, ks] (the layer's
 * [K, C, ks, ks] with K = Ci, C = Ko) and tap r = (k, ky, kx) takes
 * w[k, o, ks - 1 - ky, ks - 1 - kx]. Items (rc, q): CONV_PACK_R taps of panel q. */
__kernel void convgemm_pack_w(__global float *Wp, uint Wp_off, __global const float *w,
                              uint w_off, int Ko, int R, int ks, int flip)
{
    const int rc = (int)get_global_id(0), q = (int)get_global_id(1);
    if (rc * CONV_PACK_R >= R || q * CONV_NR >= Ko) return;
    const int kk = ks * ks;
    for (int r = rc * CONV_PACK_R; r < min(rc * CONV_PACK_R + CONV_PACK_R, R); r++) {
        int t;
        const int k = fmcl_divmod(r, kk, &t);
        for (int j = 0; j < CONV_NR; j++) {
            const int o = q * CONV_NR + j;
            float v = 0.0f;
            if (o < Ko) v = flip ? w[w_off + ((size_t)k * Ko + o) * kk + (kk - 1 - t)]
                                 : w[w_off + (size_t)o * R + r];
            Wp[Wp_off + ((size_t)q * R + r) * CONV_NR + j] = v;
        }
    }
}

/* The store of output (m, o) = (b, p, o), p = oy Wo + ox, P = Ho Wo. */
void convgemm_store(__global float *y, __global const float *bias, __global const float *res,
                    size_t at, int o, int mode, float acc)
{
    if (mode == CONV_ACC) {
        y[at] += acc;
        return;
    }
    float v = acc + bias[o];
    if (mode == CONV_BIAS_ADD) v += res[at];
    y[at] = v;
}

/* One tap row (c, ky) of the block's CONV_MR pixels, which share the image
 * row `row`: kx = 0 .. ks - 1, weights from wr. EDGE: a pixel's column may
 * fall outside the image (ix = cx[i] + kx outside [0, W)): it reads 0 there. */
#define CONV_TAP_ROW(EDGE)                                                                       \
    for (int kx = 0; kx < ks; kx++, wr += CONV_NR) {                                            \
        const float8 w0 = vload8(0, wr), w1 = vload8(1, wr);                                    \
        _Pragma("unroll") for (int i = 0; i < CONV_MR; i++) {                                   \
            const int ix = cx[i] + kx;                                                           \
            const float8 a = (float8)(!(EDGE) || (uint)ix < (uint)W ? row[ix] : 0.0f);          \
            acc[i][0] = fma(a, w0, acc[i][0]);                                                   \
            acc[i][1] = fma(a, w1, acc[i][1]);                                                   \
        }                                                                                        \
    }

/* The packed-panel variant for CPU devices (vendor.c: PoCL), gemm.cl's
 * gemm_packed with the pixels as its rows: each work-item keeps a block of
 * CONV_MR neighbouring pixels of one output row x CONV_NR channels in ten
 * float8 registers; per tap it loads two weight vectors and broadcasts
 * CONV_MR image values. A tap row that lies in the padding is skipped (its
 * fmas would add exact zeros: the chain's bits are unchanged), so only the
 * blocks at the left and right edges test columns. Items (g, h): panels
 * q = g qb .. g qb + qb - 1 against blocks h pa .. h pa + pa - 1, a block
 * being (b, oy, bx): pixels ox = bx CONV_MR .. of row oy of image b. */
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void convgemm_packed(
    __global float *y, uint y_off, __global const float *x, uint x_off,
    __global const float *Wp, uint Wp_off, __global const float *bias, uint bias_off,
    __global const float *res, uint res_off, int B, int Ci, int H, int W, int Ko, int Ho,
    int Wo, int ks, int stride, int pad, int mode, int pa, int qb)
{
    const int q0 = (int)get_global_id(0) * qb, h0 = (int)get_global_id(1) * pa;
    const int P = Ho * Wo, R = Ci * ks * ks, HW = H * W;
    const int nbx = (Wo + CONV_MR - 1) / CONV_MR, nblocks = B * Ho * nbx;
    for (int q = q0; q < q0 + qb && q * CONV_NR < Ko; q++)
        for (int h = h0; h < h0 + pa && h < nblocks; h++) {
            int bx, oy;
            const int b = fmcl_divmod(fmcl_divmod(h, nbx, &bx), Ho, &oy);
            const int iy0 = oy * stride - pad;
            /* Pixel i's first column; pixels past Wo repeat the last (read,
             * never stored). */
            int cx[CONV_MR], edge = 0;
#pragma unroll
            for (int i = 0; i < CONV_MR; i++) {
                cx[i] = min(bx * CONV_MR + i, Wo - 1) * stride - pad;
                edge = edge || cx[i] < 0 || cx[i] + ks > W;
            }
            __global const float *xi = x + x_off + (size_t)b * Ci * HW;
            __global const float *wr = Wp + Wp_off + (size_t)q * R * CONV_NR;
            float8 acc[CONV_MR][2];
#pragma unroll
            for (int i = 0; i < CONV_MR; i++) acc[i][0] = acc[i][1] = (float8)(0.0f);
            for (int c = 0; c < Ci; c++)
                for (int ky = 0; ky < ks; ky++) {
                    const int iy = iy0 + ky;
                    if ((uint)iy >= (uint)H) {
                        wr += ks * CONV_NR;
                        continue;
                    }
                    __global const float *row = xi + (size_t)c * HW + (size_t)iy * W;
                    if (edge) {
                        CONV_TAP_ROW(1)
                    } else {
                        CONV_TAP_ROW(0)
                    }
                }
            for (int i = 0; i < CONV_MR && bx * CONV_MR + i < Wo; i++) {
                float t[CONV_NR];
                vstore8(acc[i][0], 0, t);
                vstore8(acc[i][1], 1, t);
                const size_t at0 = (size_t)b * Ko * P + (size_t)oy * Wo + bx * CONV_MR + i;
                for (int j = 0; j < CONV_NR && q * CONV_NR + j < Ko; j++) {
                    const int o = q * CONV_NR + j;
                    convgemm_store(y + y_off, bias + bias_off, res + res_off,
                                   at0 + (size_t)o * P, o, mode, t[j]);
                }
            }
        }
}

/* The local-memory tiled variant for GPUs: a work-group of CONV_WG = 64
 * items computes a tile of CONV_TM pixels x CONV_TN channels, each item a
 * 4 x 4 block (pixels ly + 8 i, channels lx + 8 j). Per step of CONV_TK taps
 * the group gathers the image values and weights of the tile into local
 * memory (zero past the edges), then every item runs its fma chains on
 * them. 1D launch of tiles_n x tiles_m groups; group id = tm tiles_n + tn. */
#define CONV_TM 32
#define CONV_TN 32
#define CONV_TK 16
#define CONV_WG 64

__kernel __attribute__((reqd_work_group_size(CONV_WG, 1, 1))) void convgemm_tiled(
    __global float *y, uint y_off, __global const float *x, uint x_off,
    __global const float *Wp, uint Wp_off, __global const float *bias, uint bias_off,
    __global const float *res, uint res_off, int B, int Ci, int H, int W, int Ko, int Ho,
    int Wo, int ks, int stride, int pad, int mode, int tiles_n)
{
    __local float xs[CONV_TK][CONV_TM];
    __local float ws[CONV_TK][CONV_TN];
    int lx;
    const int l = (int)get_local_id(0), ly = fmcl_divmod(l, 8, &lx);
    int tn;
    const int tm = fmcl_divmod((int)get_group_id(0), tiles_n, &tn);
    const int P = Ho * Wo, M = B * P, R = Ci * ks * ks, kk = ks * ks, HW = H * W;
    const int Kp = (Ko + CONV_NR - 1) / CONV_NR * CONV_NR; /* Wp's padded width */
    float acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
    for (int r0 = 0; r0 < R; r0 += CONV_TK) {
        /* 512 values of each tile, 8 per item; item l loads column l % 32 of
         * rows l / 32, l / 32 + 2, ... */
        for (int e = l; e < CONV_TK * CONV_TM; e += CONV_WG) {
            int c32;
            const int rr = fmcl_divmod(e, CONV_TM, &c32), r = r0 + rr;
            const int m = tm * CONV_TM + c32, o = tn * CONV_TN + c32;
            float xv = 0.0f, wv = 0.0f;
            if (r < R && m < M) {
                int p, ox, t, kx;
                const int b = fmcl_divmod(m, P, &p), oy = fmcl_divmod(p, Wo, &ox);
                const int c = fmcl_divmod(r, kk, &t), ky = fmcl_divmod(t, ks, &kx);
                const int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                if ((uint)iy < (uint)H && (uint)ix < (uint)W)
                    xv = x[x_off + (size_t)(b * Ci + c) * HW + iy * W + ix];
            }
            if (r < R && o < Kp) {
                int j;
                const int q = fmcl_divmod(o, CONV_NR, &j);
                wv = Wp[Wp_off + ((size_t)q * R + r) * CONV_NR + j];
            }
            xs[rr][c32] = xv;
            ws[rr][c32] = wv;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int rr = 0; rr < CONV_TK && r0 + rr < R; rr++)
            for (int i = 0; i < 4; i++) {
                const float a = xs[rr][ly + 8 * i];
                for (int j = 0; j < 4; j++) acc[i][j] = fma(a, ws[rr][lx + 8 * j], acc[i][j]);
            }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int i = 0; i < 4; i++) {
        const int m = tm * CONV_TM + ly + 8 * i;
        if (m >= M) continue;
        int p;
        const int b = fmcl_divmod(m, P, &p);
        for (int j = 0; j < 4; j++) {
            const int o = tn * CONV_TN + lx + 8 * j;
            if (o < Ko)
                convgemm_store(y + y_off, bias + bias_off, res + res_off,
                               ((size_t)b * Ko + o) * P + p, o, mode, acc[i][j]);
        }
    }
}
