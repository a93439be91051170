/* U-Net sampling for bench_unet --sample: a class-conditional default
 * U-Net (28x28x1, 10 classes, random weights) integrated from noise with
 * the midpoint solver, without and with classifier-free guidance (one
 * forward of 2 rows per point). */
#ifndef FMCL_UNET_SAMPLE_H
#define FMCL_UNET_SAMPLE_H

#include "runtime/runtime.h"

/* Samples n points in `steps` midpoint steps (guidance w; 0: none) after one
 * untimed warm-up run: *ms is the median of `repeats` timed runs, *mean the
 * samples' mean (a checksum). */
fmcl_status unet_sample_bench(fmcl_ctx *ctx, int n, int steps, float guidance, int repeats,
                              double *ms, double *mean);
/* The same in PyTorch (tools/bench_unet_torch.py --sample): ms per run, 0 when
 * the script gave none. */
double unet_sample_torch_ms(const char *py, int n, int steps, float guidance, int repeats);

#endif
