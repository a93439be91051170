/* The FMA-peak kernel of `fmcl bench` (kernels/peak.cl) and its reference. */
#ifndef FMCL_PEAK_H
#define FMCL_PEAK_H

#include "runtime/runtime.h"

/* FLOP one work-item of peak_fma does per round. */
#define FMCL_PEAK_FLOP_PER_ITER 32

/* out[i] = sum of 16 chains x <- fma(x, a, b) run iters times from starts
 * that depend on i % 64. out[n]. */
fmcl_status fmcl_peak_fma(fmcl_ctx *ctx, fmcl_t out, float a, float b, int iters, int n);
void fmcl_peak_fma_ref(float *out, float a, float b, int iters, int n);

#endif
