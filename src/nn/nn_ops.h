/* Layer and optimiser ops on device tensors, each with a plain-C reference
 * (suffix _ref, double accumulation) used by the tests as the oracle.
 * Row-major activations: [B, N] means B rows (samples) of N features. */
#ifndef FMCL_NN_OPS_H
#define FMCL_NN_OPS_H

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

/* db: [N] += sum over rows of dz: [B, N], rows added in index order. */
fmcl_status fmcl_bias_backward(fmcl_ctx *ctx, fmcl_t db, fmcl_t dz, int B, int N);
void fmcl_bias_backward_ref(float *db, const float *dz, int B, int N);

/* Deterministic reductions: n values -> partials (fixed FMCL_REDUCE_WG tree per
 * group) -> one value. Scratch for partials: fmcl_reduce_partials(n) floats. */
size_t fmcl_reduce_partials(size_t n);

/* MSE over n = B*D elements: loss[0] = mean((p - u)^2), dp = 2 (p - u) / n. */
fmcl_status fmcl_mse_forward_backward(fmcl_ctx *ctx, fmcl_t dp, fmcl_t loss, fmcl_t p, fmcl_t u,
                                      fmcl_t partials, int n);
double fmcl_mse_forward_backward_ref(float *dp, const float *p, const float *u, int n);

/* out[0] = sum x^2 over n elements. */
fmcl_status fmcl_sumsq(fmcl_ctx *ctx, fmcl_t out, fmcl_t x, fmcl_t partials, int n);
double fmcl_sumsq_ref(const float *x, int n);

/* x[n] = value. */
fmcl_status fmcl_fill(fmcl_ctx *ctx, fmcl_t x, float value, int n);

typedef struct {
    float lr, beta1, beta2, eps;
    float weight_decay; /* 0: Adam (PyTorch torch.optim.Adam); > 0: AdamW (decoupled) */
    float clip;         /* > 0: gradients scaled by min(1, clip / (||g|| + 1e-6)) first,
                           as torch.nn.utils.clip_grad_norm_; ||g||^2 read from normsq[0] */
} fmcl_adam_params;

/* One Adam(W) step over flat p, g, m, v of n elements; step counts from 1.
 * normsq is read only when clip > 0. g is left unchanged. */
fmcl_status fmcl_adam_step(fmcl_ctx *ctx, fmcl_t p, fmcl_t g, fmcl_t m, fmcl_t v, fmcl_t normsq,
                           const fmcl_adam_params *ap, int step, int n);
void fmcl_adam_step_ref(float *p, const float *g, float *m, float *v, double normsq,
                        const fmcl_adam_params *ap, int step, int n);

#endif
