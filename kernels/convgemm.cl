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
/* The register blocks' float vectors: FMCL_VW = 16 where the device
 * prefers float16 (AVX-512 under PoCL: twice float8's FMA rate), else 8
 * (runtime.h's fmcl_vector_width chooses; a build option). */
#ifndef FMCL_VW
#define FMCL_VW 8
#endif
#if FMCL_VW == 16
#define CONV_VEC float16
#define CONV_VLOAD vload16
#define CONV_VSTORE vstore16
#else
#define CONV_VEC float8
#define CONV_VLOAD vload8
#define CONV_VSTORE vstore8
#endif
#define CONV_NR (2 * FMCL_VW) /* output channels per weight panel: two vectors */
/* Pixels per register block of the forward: 7 with float16 (28, 14 and 7
 * pixel rows split evenly; 14 accumulators of the 32 registers; 8 ran
 * slower), 5 with float8 (ten of AVX2's sixteen). Taps per register block of
 * the weight gradient: 5 (6 was as fast, 7 to 9 slower). */
#if FMCL_VW == 16
#define CONV_MR 7
#define CONV_WIN3 1 /* CONV_WIN3_ROW's window: 9 more registers, which AVX2 lacks */
#else
#define CONV_MR 5
#define CONV_WIN3 0
#endif
#define CONV_WR 5
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
 * row `row`: kx = 0 .. KS - 1, weights from wr. EDGE: a pixel's column may
 * fall outside the image (ix = cx[i] + kx outside [0, W)): it reads 0 there.
 * UNROLL: _Pragma("unroll") where KS is a constant (5-8% faster at 3 x 3). */
#define CONV_TAP_ROW(EDGE, KS, UNROLL)                                                           \
    UNROLL for (int kx = 0; kx < (KS); kx++, wr += CONV_NR) {                                   \
        const CONV_VEC w0 = CONV_VLOAD(0, wr), w1 = CONV_VLOAD(1, wr);                                    \
        _Pragma("unroll") for (int i = 0; i < CONV_MR; i++) {                                   \
            const int ix = cx[i] + kx;                                                           \
            const CONV_VEC a = (CONV_VEC)(!(EDGE) || (uint)ix < (uint)W ? row[ix] : 0.0f);          \
            acc[i][0] = fma(a, w0, acc[i][0]);                                                   \
            acc[i][1] = fma(a, w1, acc[i][1]);                                                   \
        }                                                                                        \
    }

/* The tap row of a 3 x 3 convolution at stride 1 whose pixels all lie in
 * the image: pixel i at tap kx reads column c0 + i + kx, so the block needs
 * CONV_MR + 2 image values, each loaded once and broadcast to every tap that
 * shares it. Only the window's first and last columns may fall in the
 * padding (lok, hik say whether they are inside; 0 is read otherwise). */
#define CONV_WIN3_ROW                                                                            \
    {                                                                                            \
        float v[CONV_MR + 2];                                                                    \
        v[0] = lok ? row[c0] : 0.0f;                                                             \
        _Pragma("unroll") for (int t = 1; t <= CONV_MR; t++) v[t] = row[c0 + t];                \
        v[CONV_MR + 1] = hik ? row[c0 + CONV_MR + 1] : 0.0f;                                     \
        _Pragma("unroll") for (int kx = 0; kx < 3; kx++, wr += CONV_NR) {                       \
            const CONV_VEC w0 = CONV_VLOAD(0, wr), w1 = CONV_VLOAD(1, wr);                        \
            _Pragma("unroll") for (int i = 0; i < CONV_MR; i++) {                               \
                const CONV_VEC a = (CONV_VEC)(v[i + kx]);                                        \
                acc[i][0] = fma(a, w0, acc[i][0]);                                               \
                acc[i][1] = fma(a, w1, acc[i][1]);                                               \
            }                                                                                    \
        }                                                                                        \
    }

/* The packed-panel variant for CPU devices (vendor.c: PoCL), gemm.cl's
 * gemm_packed with the pixels as its rows: each work-item keeps a block of
 * CONV_MR neighbouring pixels of one output row x CONV_NR channels in
 * 2 CONV_MR CONV_VEC registers; per tap it loads two weight vectors and
 * broadcasts CONV_MR image values (3 x 3 at stride 1 with float16: the
 * window, CONV_MR + 2 values per tap row). A tap row that lies in the
 * padding is skipped (its fmas would add exact zeros: the chain's bits are
 * unchanged), so only the blocks at the left and right edges test columns
 * (or, in the window, its two end columns). Items (g, h): panels
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
            /* Pixels ox = c0 + 1 .. c0 + CONV_MR all in the image: the window. */
            const int c0 = bx * CONV_MR - pad, lok = c0 >= 0, hik = c0 + CONV_MR + 1 < W;
            const int win3 =
                CONV_WIN3 && ks == 3 && stride == 1 && c0 + 1 >= 0 && c0 + CONV_MR < W;
            __global const float *xi = x + x_off + (size_t)b * Ci * HW;
            __global const float *wr = Wp + Wp_off + (size_t)q * R * CONV_NR;
            CONV_VEC acc[CONV_MR][2];
#pragma unroll
            for (int i = 0; i < CONV_MR; i++) acc[i][0] = acc[i][1] = (CONV_VEC)(0.0f);
            for (int c = 0; c < Ci; c++)
                for (int ky = 0; ky < ks; ky++) {
                    const int iy = iy0 + ky;
                    if ((uint)iy >= (uint)H) {
                        wr += ks * CONV_NR;
                        continue;
                    }
                    __global const float *row = xi + (size_t)c * HW + (size_t)iy * W;
                    /* 3 x 3, the common case, with its taps unrolled. */
                    if (win3) {
                        CONV_WIN3_ROW
                    } else if (edge) {
                        CONV_TAP_ROW(1, ks, )
                    } else if (ks == 3) {
                        CONV_TAP_ROW(0, 3, _Pragma("unroll"))
                    } else {
                        CONV_TAP_ROW(0, ks, )
                    }
                }
            /* Unrolled, so that acc is indexed by constants only and stays in
             * registers through the loops above. */
#pragma unroll
            for (int i = 0; i < CONV_MR; i++) {
                if (bx * CONV_MR + i >= Wo) continue;
                float t[CONV_NR];
                CONV_VSTORE(acc[i][0], 0, t);
                CONV_VSTORE(acc[i][1], 1, t);
                const size_t at0 = (size_t)b * Ko * P + (size_t)oy * Wo + bx * CONV_MR + i;
                for (int j = 0; j < CONV_NR && q * CONV_NR + j < Ko; j++) {
                    const int o = q * CONV_NR + j;
                    convgemm_store(y + y_off, bias + bias_off, res + res_off,
                                   at0 + (size_t)o * P, o, mode, t[j]);
                }
            }
        }
}

#define CONV_TM 32
#define CONV_TN 32
#define CONV_TK 16
#define CONV_WG 64

/* Helpers of the two tiled kernels. X[m, r]: the image value pixel m reads
 * at tap r, 0 in the padding (or past M or R). */
float convgemm_x(__global const float *x, int m, int r, int M, int R, int P, int Wo, int Ci,
                 int H, int W, int ks, int stride, int pad)
{
    if (m >= M || r >= R) return 0.0f;
    int p, ox, t, kx;
    const int b = fmcl_divmod(m, P, &p), oy = fmcl_divmod(p, Wo, &ox);
    const int c = fmcl_divmod(r, ks * ks, &t), ky = fmcl_divmod(t, ks, &kx);
    const int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
    return (uint)iy < (uint)H && (uint)ix < (uint)W ? x[(size_t)(b * Ci + c) * H * W + iy * W + ix]
                                                   : 0.0f;
}

/* Element (l, o) of panels of CONV_NR columns, L rows each (Wp: l = r; Dp:
 * l = pixel), o < width (the panels' padded width), 0 past it or past L. */
float convgemm_panel(__global const float *pn, int l, int o, int L, int width)
{
    if (l >= L || o >= width) return 0.0f;
    int j;
    const int q = fmcl_divmod(o, CONV_NR, &j);
    return pn[((size_t)q * L + l) * CONV_NR + j];
}

/* acc[i][j] += a[k][ly + 8 i] b[k][lx + 8 j] for the first n steps k of a tile. */
void convgemm_tile_fma(float acc[4][4], __local const float (*a)[CONV_TM],
                       __local const float (*b)[CONV_TN], int n, int lx, int ly)
{
    for (int k = 0; k < n; k++)
        for (int i = 0; i < 4; i++) {
            const float av = a[k][ly + 8 * i];
            for (int j = 0; j < 4; j++) acc[i][j] = fma(av, b[k][lx + 8 * j], acc[i][j]);
        }
}


/* The local-memory tiled variant for GPUs: a work-group of CONV_WG = 64
 * items computes a tile of CONV_TM pixels x CONV_TN channels, each item a
 * 4 x 4 block (pixels ly + 8 i, channels lx + 8 j). Per step of CONV_TK taps
 * the group gathers the image values and weights of the tile into local
 * memory (zero past the edges), then every item runs its fma chains on
 * them. 1D launch of tiles_n x tiles_m groups; group id = tm tiles_n + tn. */
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
    const int P = Ho * Wo, M = B * P, R = Ci * ks * ks;
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
            xs[rr][c32] = convgemm_x(x + x_off, tm * CONV_TM + c32, r, M, R, P, Wo, Ci, H, W, ks,
                                     stride, pad);
            ws[rr][c32] = convgemm_panel(Wp + Wp_off, r, tn * CONV_TN + c32, R, Kp);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        convgemm_tile_fma(acc, xs, ws, min(CONV_TK, R - r0), lx, ly);
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

/* ---- The weight gradient: dW[o, r] += sum over pixels m of dy[m, o] X[m, r],
 * one fma chain per (o, r) over m = (b, oy, ox) in order, then one add into
 * dw (w's layout [Ko, R]). */

/* Dp[q, m, j] = dy[b, q CONV_NR + j, p] for m = b P + p, zero past Ko: the
 * output gradient as panels of CONV_NR channels per pixel. Items (m, q). */
__kernel void convgemm_pack_dy(__global float *Dp, uint Dp_off, __global const float *dy,
                               uint dy_off, int M, int Ko, int P)
{
    const int m = (int)get_global_id(0), q = (int)get_global_id(1);
    if (m >= M || q * CONV_NR >= Ko) return;
    int p;
    const int b = fmcl_divmod(m, P, &p);
    __global float *out = Dp + Dp_off + ((size_t)q * M + m) * CONV_NR;
    for (int j = 0; j < CONV_NR; j++) {
        const int o = q * CONV_NR + j;
        out[j] = o < Ko ? dy[dy_off + ((size_t)b * Ko + o) * P + p] : 0.0f;
    }
}

/* CONV_WR taps of one output row's pixels ox in [lo, hi), into acc: tap i
 * reads row[i][ox stride] (EDGE: 0 where its column ix = ox stride + cx[i]
 * or its row (rok[i]) lies outside the image); dp walks the dy panel. */
#define CONV_WGRAD_RUN(EDGE)                                                                     \
    for (int ox = lo; ox < hi; ox++, dp += CONV_NR) {                                           \
        const CONV_VEC d0 = CONV_VLOAD(0, dp), d1 = CONV_VLOAD(1, dp);                                    \
        _Pragma("unroll") for (int i = 0; i < CONV_WR; i++) {                                   \
            const int ix = ox * stride + cx[i];                                                  \
            const CONV_VEC a = (CONV_VEC)(!(EDGE) || (rok[i] && (uint)ix < (uint)W)                 \
                                          ? row[i][ox * stride] : 0.0f);                         \
            acc[i][0] = fma(a, d0, acc[i][0]);                                                   \
            acc[i][1] = fma(a, d1, acc[i][1]);                                                   \
        }                                                                                        \
    }

/* The packed variant for CPU devices: each work-item keeps CONV_WR taps x
 * CONV_NR channels of dW in ten CONV_VEC registers and sweeps every pixel;
 * per pixel it loads two dy vectors and broadcasts the CONV_WR taps' image
 * values. Within a row, the pixels whose taps all lie inside the image run
 * without tests. Items (q, g): channel panel q, taps g CONV_WR ... */
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void convgemm_wgrad_packed(
    __global float *dw, uint dw_off, __global const float *x, uint x_off,
    __global const float *Dp, uint Dp_off, int B, int Ci, int H, int W, int Ko, int Ho, int Wo,
    int ks, int stride, int pad)
{
    const int q = (int)get_global_id(0), g = (int)get_global_id(1);
    const int R = Ci * ks * ks, kk = ks * ks, HW = H * W, P = Ho * Wo;
    if (q * CONV_NR >= Ko || g * CONV_WR >= R) return;
    /* Tap i: (c, ky, kx); taps past R repeat the last (read, never stored). */
    int cy[CONV_WR], cx[CONV_WR], coff[CONV_WR], a0 = 0, a1 = Wo;
#pragma unroll
    for (int i = 0; i < CONV_WR; i++) {
        int t, kx;
        const int c = fmcl_divmod(min(g * CONV_WR + i, R - 1), kk, &t);
        const int ky = fmcl_divmod(t, ks, &kx);
        cy[i] = ky - pad;
        cx[i] = kx - pad;
        coff[i] = c * HW;
        /* Pixels with ox stride + cx in [0, W) for every tap: [a0, a1). */
        while (a0 < Wo && a0 * stride + cx[i] < 0) a0++;
        while (a1 > 0 && (a1 - 1) * stride + cx[i] >= W) a1--;
    }
    a1 = max(a0, a1);
    CONV_VEC acc[CONV_WR][2];
#pragma unroll
    for (int i = 0; i < CONV_WR; i++) acc[i][0] = acc[i][1] = (CONV_VEC)(0.0f);
    __global const float *dp = Dp + Dp_off + (size_t)q * B * P * CONV_NR;
    for (int b = 0; b < B; b++)
        for (int oy = 0; oy < Ho; oy++) {
            __global const float *row[CONV_WR];
            int rok[CONV_WR], all = 1;
#pragma unroll
            for (int i = 0; i < CONV_WR; i++) {
                const int iy = oy * stride + cy[i];
                rok[i] = (uint)iy < (uint)H;
                all = all && rok[i];
                /* The row's pixel ox reads row[i][ox stride] (only where valid). */
                row[i] = x + x_off + (size_t)b * Ci * HW + coff[i] + (rok[i] ? iy * W : 0) +
                         cx[i];
            }
            int lo = 0, hi = all ? a0 : Wo;
            CONV_WGRAD_RUN(1)
            if (all) {
                lo = a0, hi = a1;
                CONV_WGRAD_RUN(0)
                lo = a1, hi = Wo;
                CONV_WGRAD_RUN(1)
            }
        }
#pragma unroll
    for (int i = 0; i < CONV_WR; i++) { /* unrolled: acc stays in registers */
        if (g * CONV_WR + i >= R) continue;
        float t[CONV_NR];
        CONV_VSTORE(acc[i][0], 0, t);
        CONV_VSTORE(acc[i][1], 1, t);
        for (int j = 0; j < CONV_NR && q * CONV_NR + j < Ko; j++)
            dw[dw_off + (size_t)(q * CONV_NR + j) * R + g * CONV_WR + i] += t[j];
    }
}

/* The tiled variant for GPUs: a group of CONV_WG items computes 32 channels
 * x 32 taps of dW, each item 4 x 4 (channels ly + 8 i, taps lx + 8 j), over
 * steps of CONV_TK pixels gathered into local memory. 1D launch of
 * tiles_r x tiles_o groups; group id = to tiles_r + tr. */
__kernel __attribute__((reqd_work_group_size(CONV_WG, 1, 1))) void convgemm_wgrad_tiled(
    __global float *dw, uint dw_off, __global const float *x, uint x_off,
    __global const float *Dp, uint Dp_off, int B, int Ci, int H, int W, int Ko, int Ho, int Wo,
    int ks, int stride, int pad, int tiles_r)
{
    __local float ds[CONV_TK][CONV_TM]; /* [pixel][channel] */
    __local float xs[CONV_TK][CONV_TN]; /* [pixel][tap] */
    int lx, tr;
    const int l = (int)get_local_id(0), ly = fmcl_divmod(l, 8, &lx);
    const int to = fmcl_divmod((int)get_group_id(0), tiles_r, &tr);
    const int P = Ho * Wo, M = B * P, R = Ci * ks * ks;
    const int Kp = (Ko + CONV_NR - 1) / CONV_NR * CONV_NR;
    float acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
    for (int m0 = 0; m0 < M; m0 += CONV_TK) {
        for (int e = l; e < CONV_TK * CONV_TM; e += CONV_WG) {
            int c32;
            const int mm = fmcl_divmod(e, CONV_TM, &c32), m = m0 + mm;
            ds[mm][c32] = convgemm_panel(Dp + Dp_off, m, to * CONV_TM + c32, M, Kp);
            xs[mm][c32] = convgemm_x(x + x_off, m, tr * CONV_TN + c32, M, R, P, Wo, Ci, H, W, ks,
                                     stride, pad);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        convgemm_tile_fma(acc, ds, xs, min(CONV_TK, M - m0), lx, ly);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int i = 0; i < 4; i++) {
        const int o = to * CONV_TM + ly + 8 * i;
        for (int j = 0; j < 4; j++) {
            const int r = tr * CONV_TN + lx + 8 * j;
            if (o < Ko && r < R) dw[dw_off + (size_t)o * R + r] += acc[i][j];
        }
    }
}
