/* Layer and optimiser ops on device tensors, each with a plain-C reference
 * (suffix _ref, double accumulation) used by the tests as the oracle.
 * Row-major activations: [B, N] means B rows (samples) of N features. */
#ifndef FMCL_NN_OPS_H
#define FMCL_NN_OPS_H

#include "runtime/reduce.h"
#include "runtime/runtime.h"

/* z: [B, N] (in place, z += b), h: [B, N] = silu(z), b: [N]. */
fmcl_status fmcl_bias_silu_forward(fmcl_ctx *ctx, fmcl_t z, fmcl_t h, fmcl_t b, int B, int N);
void fmcl_bias_silu_forward_ref(float *z, float *h, const float *b, int B, int N);

/* z: [B, N] += b: [N] (the output layer: no activation). */
fmcl_status fmcl_bias_forward(fmcl_ctx *ctx, fmcl_t z, fmcl_t b, int B, int N);
void fmcl_bias_forward_ref(float *z, const float *b, int B, int N);

/* dz: [B, N] = dh * silu'(z); dz may alias dh. */
fmcl_status fmcl_silu_backward(fmcl_ctx *ctx, fmcl_t dz, fmcl_t dh, fmcl_t z, int B, int N);
void fmcl_silu_backward_ref(float *dz, const float *dh, const float *z, int B, int N);

/* Rows per chunk of the column sums below (bias and narrow-layer gradients):
 * pass 1 sums each chunk's rows in index order, pass 2 adds the chunks in
 * order, the same on every device. */
#define FMCL_COLSUM_ROWS 64

/* db: [N] += sum over rows of dz: [B, N] (chunks as above), in two launches
 * (src/nn/linear.c); part: fmcl_linear_small_wgrad_scratch(B, N, 0) floats. */
fmcl_status fmcl_bias_backward(fmcl_ctx *ctx, fmcl_t db, fmcl_t dz, fmcl_t part, int B, int N);
void fmcl_bias_backward_ref(float *db, const float *dz, int B, int N);

/* h: [B, N] = silu(z), elementwise (after fmcl_linear_small_forward). */
fmcl_status fmcl_silu_forward(fmcl_ctx *ctx, fmcl_t h, fmcl_t z, int B, int N);
void fmcl_silu_forward_ref(float *h, const float *z, int B, int N);

/* Dropout with probability p in [0, 1) over n elements, its mask drawn from
 * Philox (rng.h's FMCL_STREAM_DROPOUT) and never stored: element i is kept
 * when u01(philox(seed; first + i, site, DROPOUT, step).x) >= p, site
 * numbering the network's dropout layers and first placing the n elements
 * in the whole batch's (a rank's share of a batch: the index of its first
 * element; 0 for a whole batch). Forward y = x keep / (1 - p); backward
 * dx = dy keep / (1 - p) with the same (seed, step, site, first) redraws
 * the forward's mask. The reference is the same map for both. */
fmcl_status fmcl_dropout_forward(fmcl_ctx *ctx, fmcl_t y, fmcl_t x, float p, uint64_t seed,
                                 uint32_t step, uint32_t site, uint32_t first, int n);
fmcl_status fmcl_dropout_backward(fmcl_ctx *ctx, fmcl_t dx, fmcl_t dy, float p, uint64_t seed,
                                  uint32_t step, uint32_t site, uint32_t first, int n);
void fmcl_dropout_ref(float *y, const float *x, float p, uint64_t seed, uint32_t step,
                      uint32_t site, uint32_t first, int n);

/* Linear layers with a narrow side (src/nn/linear.c), where GEMM tiles would
 * be mostly padding. x: [B, K], W: [N, K] (nn.Linear's layout), z, dz: [B, N].
 * Sums run in index order. Forward: z = x W^T + b. */
fmcl_status fmcl_linear_small_forward(fmcl_ctx *ctx, fmcl_t z, fmcl_t x, fmcl_t W, fmcl_t b, int B,
                                      int N, int K);
void fmcl_linear_small_forward_ref(float *z, const float *x, const float *W, const float *b, int B,
                                   int N, int K);
/* dW: [N, K] += dz^T x; db: [N] += column sums of dz. Two launches: sums
 * over chunks of rows into part (fmcl_linear_small_wgrad_scratch floats),
 * then the chunks added in order. */
size_t fmcl_linear_small_wgrad_scratch(int B, int N, int K);
fmcl_status fmcl_linear_small_wgrad(fmcl_ctx *ctx, fmcl_t dW, fmcl_t db, fmcl_t dz, fmcl_t x,
                                    fmcl_t part, int B, int N, int K);
void fmcl_linear_small_wgrad_ref(float *dW, float *db, const float *dz, const float *x, int B,
                                 int N, int K);
/* dx: [B, K] = dz W. */
fmcl_status fmcl_linear_small_dx(fmcl_ctx *ctx, fmcl_t dx, fmcl_t dz, fmcl_t W, int B, int N,
                                 int K);
void fmcl_linear_small_dx_ref(float *dx, const float *dz, const float *W, int B, int N, int K);

/* Deterministic reductions (runtime/reduce.h); partials: fmcl_reduce_partials(n) floats.
 * MSE over n = B*D elements: loss[0] = mean((p - u)^2), dp = 2 (p - u) / n. */
fmcl_status fmcl_mse_forward_backward(fmcl_ctx *ctx, fmcl_t dp, fmcl_t loss, fmcl_t p, fmcl_t u,
                                      fmcl_t partials, int n);
double fmcl_mse_forward_backward_ref(float *dp, const float *p, const float *u, int n);
/* The same over a share of n of the total elements of a batch split over
 * ranks (the whole batch's mean): loss[0] = sum((p - u)^2) / total,
 * dp = 2 (p - u) / total; summed over the shares, the whole batch's. */
fmcl_status fmcl_mse_share(fmcl_ctx *ctx, fmcl_t dp, fmcl_t loss, fmcl_t p, fmcl_t u,
                           fmcl_t partials, int n, int total);

/* out[0] = sum x^2 over n elements. */
fmcl_status fmcl_sumsq(fmcl_ctx *ctx, fmcl_t out, fmcl_t x, fmcl_t partials, int n);
double fmcl_sumsq_ref(const float *x, int n);

typedef struct {
    float lr, beta1, beta2, eps;
    float weight_decay; /* 0: Adam (PyTorch torch.optim.Adam); > 0: AdamW (decoupled) */
    float clip;         /* > 0: gradients scaled by min(1, clip / (||g|| + 1e-6)) first,
                           as torch.nn.utils.clip_grad_norm_; ||g||^2 read from normsq[0] */
    int zero_grad;      /* nonzero: g is cleared once read (a training step's zero-grad) */
} fmcl_adam_params;

/* One Adam(W) step over flat p, g, m, v of n elements; step counts from 1.
 * normsq is read only when clip > 0. g is left unchanged unless zero_grad. */
fmcl_status fmcl_adam_step(fmcl_ctx *ctx, fmcl_t p, fmcl_t g, fmcl_t m, fmcl_t v, fmcl_t normsq,
                           const fmcl_adam_params *ap, int step, int n);
void fmcl_adam_step_ref(float *p, float *g, float *m, float *v, double normsq,
                        const fmcl_adam_params *ap, int step, int n);

/* EMA of the weights: e[n] = decay e + (1 - decay) p, 0 <= decay <= 1. */
fmcl_status fmcl_ema_update(fmcl_ctx *ctx, fmcl_t e, fmcl_t p, float decay, int n);
void fmcl_ema_update_ref(float *e, const float *p, float decay, int n);
/* The decay of update number step (from 1) for a target decay ema: the
 * warm-up min(ema, (1 + step) / (10 + step)) lets early averages forget the
 * random initialisation. */
float fmcl_ema_decay(float ema, int step);

#endif
