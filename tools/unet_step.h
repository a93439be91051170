/* One training step of the default Fashion-MNIST U-Net (28x28x1, unet.h) on
 * noise, for the benchmarks (fmcl bench, bench_unet): forward, MSE against a
 * noise target, backward and an Adam update, all enqueued, no host sync.
 * The inputs come from Philox (seed 1), so every device does the same work
 * and reports the same loss to rounding. */
#ifndef FMCL_UNET_STEP_H
#define FMCL_UNET_STEP_H

#include "nn/unet.h"

typedef struct {
    fmcl_unet *u;
    fmcl_unet_acts a;
    fmcl_t buf; /* x, t, target, v, dv, grads, Adam m and v, loss partials */
    fmcl_t x, t, u_t, v, dv, g, m, s, loss, part;
    int B;
} unet_step;

/* Builds the network, its activations for batch B and the tensors; call
 * unet_step_free on *b whatever the result. */
fmcl_status unet_step_setup(fmcl_ctx *ctx, unet_step *b, int B);
/* Enqueues step k (k >= 1, Adam's step counter). */
fmcl_status unet_step_run(fmcl_ctx *ctx, unet_step *b, int k);
/* The last step's loss (waits for it). */
fmcl_status unet_step_loss(fmcl_ctx *ctx, unet_step *b, float *loss);
void unet_step_free(unet_step *b);

/* The same step in PyTorch (tools/bench_unet_torch.py through py, its
 * output echoed): milliseconds per step over `steps` timed steps, 0 when
 * the script gave none. */
double unet_step_torch_ms(const char *py, int B, int steps);
/* tools/bench_unet_torch.py with the given arguments through py, its output
 * echoed: the value of its line "key=..." (0 when none came). */
double unet_torch_ms(const char *py, const char *args, const char *key);

#endif
