/* What the files of src/bench share: the clock, checksums and the U-Net
 * training step that fmcl_bench_train_run times (unet.c). */
#ifndef FMCL_BENCH_WORKLOADS_H
#define FMCL_BENCH_WORKLOADS_H

#include <stdint.h>

#include "fmcl/bench.h"
#include "nn/unet.h"

/* Seconds on a monotonic clock. */
double fmcl_bench_now(void);
/* FNV-1a over len bytes, continuing from h (FMCL_BENCH_FNV_INIT to start). */
#define FMCL_BENCH_FNV_INIT 1469598103934665603ULL
uint64_t fmcl_bench_fnv1a(const void *data, size_t len, uint64_t h);
/* The median of n values (sorted in place). */
double fmcl_bench_median(double *v, int n);

/* The MLP 3 -> width x depth -> 2 of the 2D workloads (OT path, weights
 * from seed) and, when d is non-NULL, the checkerboard it trains on. */
fmcl_status fmcl_bench_mlp(fmcl_ctx *ctx, int width, int depth, uint64_t seed, fmcl_model **m,
                           fmcl_data **d);

/* One training step of the default 28x28x1 U-Net on noise: forward, MSE
 * against a noise target, backward and an Adam update, all enqueued. The
 * inputs come from Philox (seed 1), so every device does the same work and
 * reports the same loss to rounding. */
typedef struct {
    fmcl_unet *u;
    fmcl_unet_acts a;
    fmcl_t buf; /* x, t, target, v, dv, grads, Adam m and v, loss partials */
    fmcl_t x, t, u_t, v, dv, g, m, s, loss, part;
    int B;
} fmcl_bench_unet_step;

/* Builds the network, its activations for batch B and the tensors; call
 * fmcl_bench_unet_free on *b whatever the result. */
fmcl_status fmcl_bench_unet_setup(fmcl_ctx *ctx, fmcl_bench_unet_step *b, int B);
/* Enqueues step k (k >= 1, Adam's step counter). */
fmcl_status fmcl_bench_unet_run(fmcl_ctx *ctx, fmcl_bench_unet_step *b, int k);
/* The last step's loss (waits for it). */
fmcl_status fmcl_bench_unet_loss(fmcl_ctx *ctx, fmcl_bench_unet_step *b, float *loss);
void fmcl_bench_unet_free(fmcl_bench_unet_step *b);

#endif
