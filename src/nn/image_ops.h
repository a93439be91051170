/* Image layers on NCHW tensors (the U-Net's pieces), each with a plain-C
 * reference (suffix _ref, double accumulation) that the tests and the
 * self-check compare against. Layers come as forward/backward pairs: outputs
 * first, inputs next, shapes last. Every backward ACCUMULATES (+=) into all
 * the gradients it writes, input gradients included, so branches (skip
 * connections, residual sums) add up without extra kernels; the caller
 * zeroes them first (fmcl_fill). No launcher allocates: scratch is planned
 * by the caller from the size queries. */
#ifndef FMCL_IMAGE_OPS_H
#define FMCL_IMAGE_OPS_H

#include "runtime/runtime.h"

/* ---- 2D convolution (conv.c, kernels/conv.cl) ----------------------------
 * y[b, k, oy, ox] = bias[k] + sum over c, ky, kx of
 *     w[k, c, ky, kx] x[b, c, oy*stride - pad + ky, ox*stride - pad + kx]
 * (zero outside the image), as torch.nn.Conv2d; Ho = (H + 2 pad - ks)/stride + 1.
 * On the device, `chunk` images at a time are unfolded into columns
 * cols[C*ks*ks, chunk*Ho*Wo] (im2col) and multiplied by w[K, C*ks*ks] in one
 * GEMM; a larger chunk means fewer, larger GEMMs and more scratch. */
typedef struct {
    int B, C, H, W;         /* input x: [B, C, H, W] */
    int K;                  /* output channels: y is [B, K, Ho, Wo] */
    int ksize, stride, pad; /* 3, 1, 1 / 3, 2, 1 / 1, 1, 0 in the U-Net */
    int chunk;              /* images per GEMM, 1 to B */
} fmcl_conv_shape;

static inline int fmcl_conv_out_h(const fmcl_conv_shape *cs)
{
    return (cs->H + 2 * cs->pad - cs->ksize) / cs->stride + 1;
}
static inline int fmcl_conv_out_w(const fmcl_conv_shape *cs)
{
    return (cs->W + 2 * cs->pad - cs->ksize) / cs->stride + 1;
}

/* FMCL_OK when the shape is valid and every size fits the kernels' int
 * indices; otherwise FMCL_ERR_ARG with a message naming the bad field. */
fmcl_status fmcl_conv_validate(fmcl_ctx *ctx, const fmcl_conv_shape *cs);
/* Floats of scratch forward and backward need (one chunk's columns and
 * its GEMM output); 0 for an invalid shape. */
size_t fmcl_conv_scratch(const fmcl_conv_shape *cs);
/* Setup only: sizes the GEMM temporary buffer for every GEMM of this shape. */
fmcl_status fmcl_conv_reserve(fmcl_ctx *ctx, const fmcl_conv_shape *cs);

/* y: [B, K, Ho, Wo]; x: [B, C, H, W]; w: [K, C, ks, ks]; bias: [K]. */
fmcl_status fmcl_conv2d_forward(fmcl_ctx *ctx, fmcl_t y, fmcl_t x, fmcl_t w, fmcl_t bias,
                                fmcl_t scratch, const fmcl_conv_shape *cs);
void fmcl_conv2d_forward_ref(float *y, const float *x, const float *w, const float *bias,
                             const fmcl_conv_shape *cs);

/* dw: [K, C, ks, ks] +=, dbias: [K] +=, dx: [B, C, H, W] += (skipped when
 * dx.mem is NULL, e.g. for the first layer); dy: [B, K, Ho, Wo]. The columns
 * of x are recomputed into scratch, so the forward's scratch need not live on. */
fmcl_status fmcl_conv2d_backward(fmcl_ctx *ctx, fmcl_t dx, fmcl_t dw, fmcl_t dbias, fmcl_t dy,
                                 fmcl_t x, fmcl_t w, fmcl_t scratch, const fmcl_conv_shape *cs);
/* The implicit-GEMM pieces of the two launchers above (conv_gemm.c), taken
 * when the context's fmcl_conv_impl is not im2col: the forward, with res
 * (when res.mem is set) added in the store, y = conv(x) + bias + res; the
 * input gradient dx += of a stride-1 convolution; the weight gradient. Their
 * scratch holds the packed weights or the packed dy: fmcl_convgemm_scratch
 * floats (within fmcl_conv_scratch). */
size_t fmcl_convgemm_scratch(const fmcl_conv_shape *cs);
fmcl_status fmcl_convgemm_forward(fmcl_ctx *ctx, fmcl_t y, fmcl_t x, fmcl_t w, fmcl_t bias,
                                  fmcl_t res, fmcl_t scratch, const fmcl_conv_shape *cs);
fmcl_status fmcl_convgemm_dgrad(fmcl_ctx *ctx, fmcl_t dx, fmcl_t dy, fmcl_t w, fmcl_t scratch,
                                const fmcl_conv_shape *cs);
/* dw += the weight gradient (any stride). */
fmcl_status fmcl_convgemm_wgrad(fmcl_ctx *ctx, fmcl_t dw, fmcl_t dy, fmcl_t x, fmcl_t scratch,
                                const fmcl_conv_shape *cs);
/* dx may be NULL. */
void fmcl_conv2d_backward_ref(float *dx, float *dw, float *dbias, const float *dy, const float *x,
                              const float *w, const fmcl_conv_shape *cs);

/* ---- GroupNorm (norm.c, kernels/norm.cl) ---------------------------------
 * As torch.nn.GroupNorm(G, C, eps): per sample b and group g of C / G
 * channels, mean and biased variance over the group's channels and pixels;
 * y = (x - mean) / sqrt(var + eps) * gamma[c] + beta[c]. Tensors are
 * [B, C, HW] (HW = H * W); C must be a multiple of G. */
#define FMCL_GROUPNORM_EPS 1e-5f

/* y: [B, C, HW] = act(ss(GroupNorm(x))): GroupNorm of x: [B, C, HW] in G
 * groups (gamma, beta: [C]); then, when ss.mem is set, a residual block's
 * scale and shift (fmcl_scale_shift_forward_ref: ss [B, 2C]); then SiLU
 * when silu is nonzero. mean, rstd: [B, G] (saved for the backward; rstd =
 * 1 / sqrt(var + eps)). The U-Net's GroupNorm -> [scale-shift] -> SiLU in
 * one pass after the statistics (kernels/norm.cl). */
fmcl_status fmcl_groupnorm_forward(fmcl_ctx *ctx, fmcl_t y, fmcl_t mean, fmcl_t rstd, fmcl_t x,
                                   fmcl_t gamma, fmcl_t beta, fmcl_t ss, int silu, int B, int C,
                                   int HW, int G);
void fmcl_groupnorm_forward_ref(float *y, float *mean, float *rstd, const float *x,
                                const float *gamma, const float *beta, const float *ss, int silu,
                                int B, int C, int HW, int G);

/* Floats of scratch the backward needs. */
size_t fmcl_groupnorm_scratch(int B, int C, int HW);
/* dx: [B, C, HW] += (skipped when dx.mem is NULL), dgamma, dbeta: [C] +=,
 * with ss dss: [B, 2C] +=; dy: the gradient of y; x, mean, rstd, gamma,
 * beta, ss, silu as in the forward. */
fmcl_status fmcl_groupnorm_backward(fmcl_ctx *ctx, fmcl_t dx, fmcl_t dgamma, fmcl_t dbeta,
                                    fmcl_t dss, fmcl_t dy, fmcl_t x, fmcl_t mean, fmcl_t rstd,
                                    fmcl_t gamma, fmcl_t beta, fmcl_t ss, int silu, fmcl_t scratch,
                                    int B, int C, int HW, int G);
void fmcl_groupnorm_backward_ref(float *dx, float *dgamma, float *dbeta, float *dss,
                                 const float *dy, const float *x, const float *mean,
                                 const float *rstd, const float *gamma, const float *beta,
                                 const float *ss, int silu, int B, int C, int HW, int G);

/* ---- Resampling and skip connections (resample.c, kernels/resample.cl) -- */

/* y: [B, C, 2H, 2W] = nearest 2x upsampling of x: [B, C, H, W]. */
fmcl_status fmcl_upsample2x_forward(fmcl_ctx *ctx, fmcl_t y, fmcl_t x, int B, int C, int H, int W);
void fmcl_upsample2x_forward_ref(float *y, const float *x, int B, int C, int H, int W);
/* dx: [B, C, H, W] += the sum of each pixel's four children in dy. */
fmcl_status fmcl_upsample2x_backward(fmcl_ctx *ctx, fmcl_t dx, fmcl_t dy, int B, int C, int H,
                                     int W);
void fmcl_upsample2x_backward_ref(float *dx, const float *dy, int B, int C, int H, int W);

/* y: [B, Ca + Cb, HW] = a: [B, Ca, HW] and b: [B, Cb, HW] along channels. */
fmcl_status fmcl_concat_forward(fmcl_ctx *ctx, fmcl_t y, fmcl_t a, fmcl_t b, int B, int Ca, int Cb,
                                int HW);
void fmcl_concat_forward_ref(float *y, const float *a, const float *b, int B, int Ca, int Cb,
                             int HW);
/* da += dy[:, :Ca], db += dy[:, Ca:]. */
fmcl_status fmcl_concat_backward(fmcl_ctx *ctx, fmcl_t da, fmcl_t db, fmcl_t dy, int B, int Ca,
                                 int Cb, int HW);
void fmcl_concat_backward_ref(float *da, float *db, const float *dy, int B, int Ca, int Cb, int HW);

/* ---- Time conditioning (cond.c, kernels/cond.cl) -------------------------- */

/* emb: [B, D] = sinusoidal embedding of t: [B] (D even, as DDPM/ADM's
 * timestep_embedding with sin first): sin(t scale f_k) for k < D/2, then
 * cos(t scale f_k), f_k = exp(-ln(10000) k / (D/2)). Flow matching's t lies
 * in [0, 1]; the U-Net passes scale FMCL_TIME_SCALE so the frequencies span
 * the range of the DDPM/ADM timesteps (0 to 1000) they were designed for. */
#define FMCL_TIME_SCALE 1000.0f
fmcl_status fmcl_time_embedding(fmcl_ctx *ctx, fmcl_t emb, fmcl_t t, float scale, int B, int D);
void fmcl_time_embedding_ref(float *emb, const float *t, float scale, int B, int D);

/* Scale-and-shift conditioning of a residual block (ADM's
 * use_scale_shift_norm), on the device part of fmcl_groupnorm_forward:
 * y: [B, C, P] = h (1 + scale) + shift, with ss: [B, 2C] holding
 * scale[b, c] = ss[b, c] and shift[b, c] = ss[b, C + c]
 * (torch.chunk(ss, 2, dim=1)). y may alias h. */
void fmcl_scale_shift_forward_ref(float *y, const float *h, const float *ss, int B, int C, int P);
/* dh: [B, C, P] += dy (1 + scale); dss: [B, 2C] += (sum_p dy h, sum_p dy). */
void fmcl_scale_shift_backward_ref(float *dh, float *dss, const float *dy, const float *h,
                                   const float *ss, int B, int C, int P);

/* ---- Multi-head self-attention (attention.c, kernels/attention.cl) -------
 * The core of ADM's AttentionBlock (QKVAttention), between its two 1x1
 * convolutions (fmcl_conv2d with ksize 1). qkv: [B, 3C, P] (P = H * W) holds
 * q, k and v as the channel blocks [0, C), [C, 2C), [2C, 3C); head h uses
 * channels [h d, (h + 1) d) of each, d = C / heads. Per image and head:
 * A = softmax over s of (sum_c q[c, t] k[c, s]) / sqrt(d), att: [P(t), P(s)];
 * out[h d + c, t] = sum_s A[t, s] v[c, s]. On the device each product is one
 * launch over every image and head (three forward, five backward, softmaxes
 * included), each output a sum in a fixed order. */

/* Floats of backward scratch (the gradient of every att): B * heads * P * P. */
size_t fmcl_attention_scratch(int B, int P, int heads);
/* Setup only: checks the shape (the layer needs no GEMM scratch). */
fmcl_status fmcl_attention_reserve(fmcl_ctx *ctx, int B, int C, int P, int heads);

/* out: [B, C, P]; att: [B, heads, P, P] (the probabilities, kept for the
 * backward); qkv: [B, 3C, P]. */
fmcl_status fmcl_attention_forward(fmcl_ctx *ctx, fmcl_t out, fmcl_t att, fmcl_t qkv, int B, int C,
                                   int P, int heads);
void fmcl_attention_forward_ref(float *out, float *att, const float *qkv, int B, int C, int P,
                                int heads);
/* dqkv: [B, 3C, P] +=; dout: [B, C, P]; qkv and att from the forward. */
fmcl_status fmcl_attention_backward(fmcl_ctx *ctx, fmcl_t dqkv, fmcl_t dout, fmcl_t qkv, fmcl_t att,
                                    fmcl_t scratch, int B, int C, int P, int heads);
/* Recomputes the probabilities from qkv in double. */
void fmcl_attention_backward_ref(float *dqkv, const float *dout, const float *qkv, int B, int C,
                                 int P, int heads);

#endif
